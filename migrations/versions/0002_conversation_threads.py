"""Conversation threads: messages.subject_key and thread_links.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 12:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("subject_key", sa.String(length=255), nullable=True))
        batch.create_index("ix_messages_subject_key", ["subject_key"])
    op.create_table(
        "thread_links",
        sa.Column("message_ref", sa.String(length=998), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("message_ref", name="pk_thread_links"),
    )
    op.create_index("ix_thread_links_thread_id", "thread_links", ["thread_id"])


def downgrade() -> None:
    op.drop_index("ix_thread_links_thread_id", table_name="thread_links")
    op.drop_table("thread_links")
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ix_messages_subject_key")
        batch.drop_column("subject_key")
