"""The state database's tables, as SQLAlchemy Core metadata.

The migrations in `migrations/versions` are what create and change them; this
module is what the code queries with, and must describe the newest revision.
A later feature adds its tables here and in a new migration.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# One row per topic whose change every process must notice quickly (e.g. "credentials"):
# `version` is bumped in the same transaction as the change, and polled about every second.
versions = Table(
    "state_versions",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("version", BigInteger, nullable=False),
)

credentials = Table(
    "credentials",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),  # "basic" | "bearer"
    Column("org_id", BigInteger, nullable=False),
    Column("label", String(100)),
    Column("username", String(128), unique=True),  # Basic only
    Column("secret_hash", Text),  # JSON scrypt hash; NULL once revoked
    # The secret before the last rotation, accepted until previous_valid_until (the overlap).
    Column("previous_hash", Text),
    Column("previous_valid_until", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("rotated_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),
    Index("ix_credentials_org_id", "org_id"),
)

# A group's externalId: Workstream teams have no field for it, so this is its only home.
group_external_ids = Table(
    "group_external_ids",
    metadata,
    Column("org_id", BigInteger, primary_key=True),
    Column("team_id", BigInteger, primary_key=True),
    Column("external_id", Text, nullable=False),
    UniqueConstraint("org_id", "external_id", name="uq_group_external_ids_value"),
)

# A person DELETEd through SCIM: deactivated in Workstream (every field kept) and
# hidden from SCIM (404 by id, absent from lists and member lists) until a POST with
# the same userName relinks them. Only the gateway knows it, so this is its home.
scim_unlinks = Table(
    "scim_unlinks",
    metadata,
    Column("org_id", BigInteger, primary_key=True),
    Column("employee_id", BigInteger, primary_key=True),
    Column("unlinked_at", DateTime(timezone=True), nullable=False),
    Column("user_name", Text, nullable=False),  # as it was at unlink time
    Column("user_name_key", Text, nullable=False),  # casefolded: userName is caseExact false
    Column("external_id", Text),
    Index("ix_scim_unlinks_user_name", "org_id", "user_name_key"),
)

# The unique backend values an unlinked person still holds (email, employee_number),
# casefolded: a POST refused for one of them is told which unlinked person holds it.
scim_unlink_values = Table(
    "scim_unlink_values",
    metadata,
    Column("org_id", BigInteger, primary_key=True),
    Column("employee_id", BigInteger, primary_key=True),
    Column("field", String(64), primary_key=True),
    Column("value_key", Text, nullable=False),
    Index("ix_scim_unlink_values_value", "org_id", "field", "value_key"),
)

CREDENTIALS_TOPIC = "credentials"
# Bumped with every unlink and relink: processes drop their cached unlinked ids.
SCIM_UNLINKS_TOPIC = "scim_unlinks"
