"""Org → mapping module assignments, and their change counter.

Revision ID: 0004_mapping_assignments
Revises: 0003_scim_links
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_mapping_assignments"
down_revision = "0003_scim_links"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mapping_assignments",
        sa.Column("org_id", sa.BigInteger, primary_key=True),
        sa.Column("module", sa.String(200), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
    )
    versions = sa.table("state_versions", sa.column("name", sa.String),
                        sa.column("version", sa.BigInteger))
    op.bulk_insert(versions, [{"name": "mappings", "version": 0}])


def downgrade() -> None:
    op.execute("DELETE FROM state_versions WHERE name = 'mappings'")
    op.drop_table("mapping_assignments")
