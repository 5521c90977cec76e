"""SCIM-unlink markers: people DELETEd through SCIM, hidden until a POST relinks them.

Revision ID: 0003_scim_links
Revises: 0002_audit_events
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_scim_links"
down_revision = "0002_audit_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sa.text("INSERT INTO state_versions (name, version) VALUES ('scim_unlinks', 0)"))
    op.create_table(
        "scim_unlinks",
        sa.Column("org_id", sa.BigInteger, primary_key=True),
        sa.Column("employee_id", sa.BigInteger, primary_key=True),
        sa.Column("unlinked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_name", sa.Text, nullable=False),
        sa.Column("user_name_key", sa.Text, nullable=False),
        sa.Column("external_id", sa.Text),
    )
    op.create_index("ix_scim_unlinks_user_name", "scim_unlinks", ["org_id", "user_name_key"])
    op.create_table(
        "scim_unlink_values",
        sa.Column("org_id", sa.BigInteger, primary_key=True),
        sa.Column("employee_id", sa.BigInteger, primary_key=True),
        sa.Column("field", sa.String(64), primary_key=True),
        sa.Column("value_key", sa.Text, nullable=False),
    )
    op.create_index("ix_scim_unlink_values_value", "scim_unlink_values",
                    ["org_id", "field", "value_key"])


def downgrade() -> None:
    op.drop_index("ix_scim_unlink_values_value", "scim_unlink_values")
    op.drop_table("scim_unlink_values")
    op.drop_index("ix_scim_unlinks_user_name", "scim_unlinks")
    op.drop_table("scim_unlinks")
    op.execute(sa.text("DELETE FROM state_versions WHERE name = 'scim_unlinks'"))
