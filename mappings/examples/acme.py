"""Acme: a custom attribute of Acme's own, stored in Workstream's `cost_center`.

Acme's Okta sends the cost code in an extension schema of Acme's own:

    "urn:ietf:params:scim:schemas:extension:acme:2.0:User": {"costCode": "CC-42"}

This module declares that schema (so the gateway understands the path, and
Acme's credential sees it in /Schemas and /ResourceTypes; no other org does)
and maps its `costCode` to `cost_center` in place of the enterprise
`costCenter`, so there is one source for the field.

Enable it for Acme's org (here org 17) in config.toml:

    [mappings.orgs]
    "17" = "mappings.examples.acme"

Check it: python -m gateway.mapping.check mappings.examples.acme \\
              mappings/examples/samples/acme-create.json
"""

from gateway.mapping import ENTERPRISE, Field, custom_extension
from mappings.default import USER as DEFAULT

ACME = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"

USER = DEFAULT.without(f"{ENTERPRISE}:costCenter").extend(
    Field(f"{ACME}:costCode", "cost_center"),
    extensions=[custom_extension(ACME, "Acme", "costCode")],
)
