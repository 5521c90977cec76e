"""Umbrella: values translated on the way in, and back on the way out.

- Department codes: the IdP sends `ENG`/`FIN`, Workstream shows
  `Engineering`/`Finance`; reads give the code back. A code not in the table
  is refused with a SCIM 400 naming the attribute (never guessed); a
  department set in Workstream directly reads back as it is.
- Locales: `en_US` is stored as `en-US` (and read back as `en-US`).
- Work phone numbers: stored as digits with an optional leading `+`
  (`+1 (555) 010-0199` → `+15550100199`).

A PUT of what was read back changes nothing in Workstream.

Enable it for Umbrella's org (here org 42) in config.toml:

    [mappings.orgs]
    "42" = "mappings.examples.umbrella"

Check it: python -m gateway.mapping.check mappings.examples.umbrella \\
              mappings/examples/samples/umbrella-create.json
"""

from gateway.mapping import ENTERPRISE, Field
from gateway.mapping.translators import LOCALE_BCP47, PHONE_DIGITS, table
from mappings.default import USER as DEFAULT

DEPARTMENTS = table({
    "ENG": "Engineering",
    "FIN": "Finance",
})

USER = DEFAULT.extend(
    Field(f"{ENTERPRISE}:department", "department", translate=DEPARTMENTS),
    Field("locale", "locale", translate=LOCALE_BCP47),
    Field('phoneNumbers[type eq "work"].value', "phone", translate=PHONE_DIGITS),
)
