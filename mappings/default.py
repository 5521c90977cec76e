"""The default mapping: SCIM User ⇄ Workstream employee, SCIM Group ⇄ team.

Ops: don't edit this file for one customer. Make a module of your own that
starts from `USER`/`GROUP` here and changes a few lines (see the examples
beside this file), then name it for the org in config.toml:

    [mappings.orgs]
    "17" = "mappings.acme"

Each line reads: SCIM attribute path → backend field.
"""

from gateway.mapping import ENTERPRISE, Computed, Field, GroupMapping, UserMapping, joined
from gateway.mapping.translators import ACTIVE_STATUS, USER_REFERENCE

USER = UserMapping([
    Field("userName", "email"),
    Field("name.givenName", "first_name"),
    Field("name.familyName", "last_name"),
    # No field holds a formatted name: reads build it as Entra's default mapping
    # does (Join(" ", givenName, surname)); a value sent for it is not kept.
    Computed("name.formatted", joined("name.givenName", "name.familyName")),
    Field("displayName", "display_name"),
    Field("title", "title"),
    Field('emails[type eq "work"].value', "email"),
    Field('phoneNumbers[type eq "work"].value', "phone"),
    Field("locale", "locale"),
    Field("timezone", "timezone"),
    Field("externalId", "sso_id"),
    Field(f"{ENTERPRISE}:department", "department"),
    Field(f"{ENTERPRISE}:employeeNumber", "employee_number"),
    Field(f"{ENTERPRISE}:costCenter", "cost_center"),
    Field(f"{ENTERPRISE}:manager.value", "manager_id", translate=USER_REFERENCE),
    # A PUT without `active` must never deactivate anyone.
    Field("active", "status", translate=ACTIVE_STATUS, keep_when_absent=True),
])

# A team has no field for a group's externalId: the gateway keeps it in Redis
# (gateway/provisioning/group_index.py says what happens if Redis loses it),
# and `members` are the team's memberships. Neither is a Field here.
GROUP = GroupMapping([
    Field("displayName", "name"),
])
