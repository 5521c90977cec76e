"""The durable userName / externalId → person index and its per-org marks.

Revision ID: 0005_user_index
Revises: 0004_mapping_assignments
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_user_index"
down_revision = "0004_mapping_assignments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_index_entries",
        sa.Column("org_id", sa.BigInteger, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_user_index_entries_user", "user_index_entries", ["org_id", "user_id"])
    op.create_table(
        "user_index_marks",
        sa.Column("org_id", sa.BigInteger, primary_key=True),
        sa.Column("watermark", sa.Text, nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("people", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("user_index_marks")
    op.drop_index("ix_user_index_entries_user", "user_index_entries")
    op.drop_table("user_index_entries")
