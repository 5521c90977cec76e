"""Credentials, group externalIds, and the change counters processes poll.

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    versions = op.create_table(
        "state_versions",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(versions, [{"name": "credentials", "version": 0}])
    op.create_table(
        "credentials",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("org_id", sa.BigInteger, nullable=False),
        sa.Column("label", sa.String(100)),
        sa.Column("username", sa.String(128), unique=True),
        sa.Column("secret_hash", sa.Text),
        sa.Column("previous_hash", sa.Text),
        sa.Column("previous_valid_until", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_credentials_org_id", "credentials", ["org_id"])
    op.create_table(
        "group_external_ids",
        sa.Column("org_id", sa.BigInteger, primary_key=True),
        sa.Column("team_id", sa.BigInteger, primary_key=True),
        sa.Column("external_id", sa.Text, nullable=False),
        sa.UniqueConstraint("org_id", "external_id", name="uq_group_external_ids_value"),
    )


def downgrade() -> None:
    op.drop_table("group_external_ids")
    op.drop_index("ix_credentials_org_id", "credentials")
    op.drop_table("credentials")
    op.drop_table("state_versions")
