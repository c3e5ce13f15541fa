"""Review work: what a lead did about a safeguarding call, and calls assigned to reviewers.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reviews") as batch:
        batch.add_column(sa.Column("safeguarding_action", sa.String(40), nullable=True))
        batch.add_column(sa.Column("safeguarding_note", sa.Text, nullable=False, server_default=""))
    op.create_table(
        "assignments",
        sa.Column("call_id", sa.String(200), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("assigned_by", sa.String(100), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_assignments_user_id", "assignments", ["user_id"])


def downgrade() -> None:
    op.drop_table("assignments")
    with op.batch_alter_table("reviews") as batch:
        batch.drop_column("safeguarding_note")
        batch.drop_column("safeguarding_action")
