"""Globex: no displayName is sent; it is built from given and family name.

When Globex's IdP leaves `displayName` out, Workstream's `display_name`
becomes "<givenName> <familyName>", and it follows a rename. A displayName
the IdP does send is used as sent.

Enable it for Globex's org (here org 31) in config.toml:

    [mappings.orgs]
    "31" = "mappings.examples.globex"

Check it: python -m gateway.mapping.check mappings.examples.globex \\
              mappings/examples/samples/globex-create.json
"""

from gateway.mapping import Field, joined
from mappings.default import USER as DEFAULT

USER = DEFAULT.extend(
    Field("displayName", "display_name", fallback=joined("name.givenName", "name.familyName")),
)
