"""Initech: userName is a login name (`jdoe`), not an email.

Workstream's `email` comes from the person's primary work email, and the
userName is kept in `employee_number` (so Initech's enterprise
employeeNumber is not mapped: one source per field). Okta's
`userName eq "jdoe"` lookups still work and stay fast: the gateway keeps
userName → person in its Redis index, since the backend can't search
`employee_number`. A userName taken by someone else is a 409.

Enable it for Initech's org (here org 23) in config.toml:

    [mappings.orgs]
    "23" = "mappings.examples.initech"

Check it: python -m gateway.mapping.check mappings.examples.initech \\
              mappings/examples/samples/initech-create.json
"""

from gateway.mapping import ENTERPRISE, Field
from mappings.default import USER as DEFAULT

# The default's `emails[type eq "work"].value → email` stays, and is now email's only source.
USER = DEFAULT.without(f"{ENTERPRISE}:employeeNumber").extend(
    Field("userName", "employee_number"),
)
