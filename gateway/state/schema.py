"""The state database's tables, as SQLAlchemy Core metadata.

The migrations in `migrations/versions` are what create and change them; this
module is what the code queries with, and must describe the newest revision.
A later feature adds its tables here and in a new migration.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
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

# The audit trail: one row per SCIM write request (see gateway/audit). SQLite only
# auto-increments an INTEGER PRIMARY KEY, hence the variant.
audit_events = Table(
    "audit_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("org_id", BigInteger, nullable=False),
    Column("credential_id", String(32)),
    Column("credential_label", String(100)),
    Column("request_id", String(128), nullable=False),
    Column("method", String(8), nullable=False),
    Column("path", Text, nullable=False),
    Column("action", String(200), nullable=False),  # space-separated: "update deactivate"
    Column("outcome", String(16), nullable=False),  # done | refused | unknown | failed
    Column("status", Integer, nullable=False),  # the SCIM answer
    Column("target_type", String(8)),  # "user" | "group"
    Column("target_id", String(64)),  # the employee or team id
    Column("target_name", Text),  # userName or displayName, as recorded
    Column("target_name_folded", Text),  # casefolded, for case-insensitive search
    Column("changes", JSON),  # {field: [old, new]}, sensitive values masked
    Column("members", JSON),  # {"added": [...], "removed": [...]}
    Column("backend_calls", JSON),  # [[route, status], ...]
    Column("retries", Integer, nullable=False),
    Column("mapping_module", String(200)),
    Column("mapping_version", String(12)),
    Index("ix_audit_events_org_at", "org_id", "at"),
    Index("ix_audit_events_org_target", "org_id", "target_type", "target_id"),
    Index("ix_audit_events_org_name", "org_id", "target_name_folded"),
    Index("ix_audit_events_at", "at"),  # retention pruning
)

# Which mapping module serves an org. An org without a row uses `mappings.default`;
# `source` says who set it: "config" (seeded from [mappings.orgs] at start-up) or "cli".
mapping_assignments = Table(
    "mapping_assignments",
    metadata,
    Column("org_id", BigInteger, primary_key=True),
    Column("module", String(200), nullable=False),
    Column("source", String(16), nullable=False),
    Column("assigned_at", DateTime(timezone=True), nullable=False),
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

# The durable userName / externalId → person index (gateway/state/user_index_entries.py);
# Redis caches it. `updated_at` is the claiming record's updated_at when the row was
# written: a write never takes a key from a row made from a more recently updated record.
user_index_entries = Table(
    "user_index_entries",
    metadata,
    Column("org_id", BigInteger, primary_key=True),
    Column("key", Text, primary_key=True),  # "userName:<casefolded>", "externalId:<as is>"
    Column("user_id", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True)),
    Index("ix_user_index_entries_user", "org_id", "user_id"),
)

# One row per org whose index has been built: catch-ups read what changed in Workstream
# since `watermark` ("<newest updated_at read> <when that read began>", ISO UTC).
user_index_marks = Table(
    "user_index_marks",
    metadata,
    Column("org_id", BigInteger, primary_key=True),
    Column("watermark", Text, nullable=False),
    Column("built_at", DateTime(timezone=True), nullable=False),
    Column("people", BigInteger, nullable=False),  # people read by the last full build
)

CREDENTIALS_TOPIC = "credentials"
MAPPINGS_TOPIC = "mappings"
# Bumped with every unlink and relink: processes drop their cached unlinked ids.
SCIM_UNLINKS_TOPIC = "scim_unlinks"
