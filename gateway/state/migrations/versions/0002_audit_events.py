"""The audit trail: one row per SCIM write request, indexed by org + time and org + target.

Revision ID: 0002_audit_events
Revises: 0001
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_audit_events"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.BigInteger, nullable=False),
        sa.Column("credential_id", sa.String(32)),
        sa.Column("credential_label", sa.String(100)),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("target_type", sa.String(8)),
        sa.Column("target_id", sa.String(64)),
        sa.Column("target_name", sa.Text),
        sa.Column("target_name_folded", sa.Text),
        sa.Column("changes", sa.JSON),
        sa.Column("members", sa.JSON),
        sa.Column("backend_calls", sa.JSON),
        sa.Column("retries", sa.Integer, nullable=False),
        sa.Column("mapping_module", sa.String(200)),
        sa.Column("mapping_version", sa.String(12)),
    )
    op.create_index("ix_audit_events_org_at", "audit_events", ["org_id", "at"])
    op.create_index("ix_audit_events_org_target", "audit_events",
                    ["org_id", "target_type", "target_id"])
    op.create_index("ix_audit_events_org_name", "audit_events", ["org_id", "target_name_folded"])
    op.create_index("ix_audit_events_at", "audit_events", ["at"])


def downgrade() -> None:
    op.drop_table("audit_events")
