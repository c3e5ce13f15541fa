"""The coaching log: a lead's conversations with an agent, actions agreed, acknowledgement.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "coaching_entries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("agent_id", sa.String(100), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("held_on", sa.Date, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("discussed", sa.Text, nullable=False),
        sa.Column("agreed_actions", sa.Text, nullable=False, server_default=""),
        sa.Column("acknowledged", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("acknowledged_at", _TS, nullable=True),
    )
    op.create_index("ix_coaching_entries_agent_id", "coaching_entries", ["agent_id"])


def downgrade() -> None:
    op.drop_index("ix_coaching_entries_agent_id", "coaching_entries")
    op.drop_table("coaching_entries")
