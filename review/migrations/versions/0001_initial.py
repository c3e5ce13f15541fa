"""Users, scrutiny packs and their grants, reviews with per-tag verdicts, the audit log.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "packs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("folder", sa.Text, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
    )
    op.create_table(
        "pack_calls",
        sa.Column("pack_id", sa.Integer, sa.ForeignKey("packs.id"), primary_key=True),
        sa.Column("call_id", sa.String(200), primary_key=True),
    )
    op.create_table(
        "pack_grants",
        sa.Column("pack_id", sa.Integer, sa.ForeignKey("packs.id"), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("granted_at", _TS, nullable=False),
    )
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("call_id", sa.String(200), nullable=False),
        sa.Column("reviewer", sa.String(100), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("reviewed", sa.Boolean, nullable=False),
        sa.Column("corrected_primary_reason", sa.String(100), nullable=True),
        sa.Column("corrected_avoidable_category", sa.String(100), nullable=True),
        sa.Column("notes", sa.Text, nullable=False),
    )
    op.create_table(
        "review_tags",
        sa.Column("review_id", sa.Integer, sa.ForeignKey("reviews.id"), primary_key=True),
        sa.Column("tag", sa.String(100), primary_key=True),
        sa.Column("machine_value", sa.String(200), nullable=False),
        sa.Column("agree", sa.Boolean, nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", _TS, nullable=False),
        sa.Column("user_name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_reviews_call_id", "reviews", ["call_id"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_user_name", "audit_log", ["user_name"])
    op.create_index("ix_audit_log_action", "audit_log", ["action"])


def downgrade() -> None:
    for table in (
        "audit_log",
        "review_tags",
        "reviews",
        "pack_grants",
        "pack_calls",
        "packs",
        "users",
    ):
        op.drop_table(table)
