"""Server-side sessions, per-listen audio tokens, sign-in throttling, lead scopes, pack numbers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("last_seen_at", _TS, nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_table(
        "listens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("session_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("call_id", sa.String(200), nullable=False),
        sa.Column("pack_id", sa.Integer, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("first_used_at", _TS, nullable=True),
    )
    op.create_index("ix_listens_session_hash", "listens", ["session_hash"])
    op.create_index("ix_listens_expires_at", "listens", ["expires_at"])
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("window_start", _TS, nullable=False),
        sa.Column("next_allowed_at", _TS, nullable=False),
    )
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("scope", sa.Text, nullable=False, server_default=""))
    with op.batch_alter_table("pack_calls") as batch:
        batch.add_column(sa.Column("number", sa.Integer, nullable=True))
    # Packs made before numbers existed: number their calls in call-id order.
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT pack_id, call_id FROM pack_calls ORDER BY pack_id, call_id")
    )
    counters: dict[int, int] = {}
    for pack_id, call_id in rows.fetchall():
        counters[pack_id] = counters.get(pack_id, 0) + 1
        conn.execute(
            sa.text("UPDATE pack_calls SET number = :n WHERE pack_id = :p AND call_id = :c"),
            {"n": counters[pack_id], "p": pack_id, "c": call_id},
        )


def downgrade() -> None:
    with op.batch_alter_table("pack_calls") as batch:
        batch.drop_column("number")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("scope")
    for table in ("login_throttle", "listens", "sessions"):
        op.drop_table(table)
