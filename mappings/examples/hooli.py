"""Hooli: job titles are managed in Workstream, not by the IdP.

A `title` the IdP sends is ignored on create, PUT and PATCH (no error: the
rest of the request applies), and reads still return Workstream's title.

Enable it for Hooli's org (here org 57) in config.toml:

    [mappings.orgs]
    "57" = "mappings.examples.hooli"

Check it: python -m gateway.mapping.check mappings.examples.hooli \\
              mappings/examples/samples/okta-create.json
"""

from mappings.default import USER as DEFAULT

USER = DEFAULT.read_only("title")
