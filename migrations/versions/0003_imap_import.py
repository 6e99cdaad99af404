"""IMAP import: accounts, folder epochs with checkpoints, and how a location vanished.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 14:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("vanished_how", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("moved_to", sa.String(length=1000), nullable=True))
    op.create_table(
        "imap_accounts",
        sa.Column("account_id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=320), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("security", sa.String(length=8), nullable=False),
        sa.Column("username", sa.String(length=320), nullable=False),
        sa.Column("owner", sa.String(length=320), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=True),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("registered", sa.Boolean(), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("connections", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_sync_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("stopped_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("account_id", name="pk_imap_accounts"),
        sa.UniqueConstraint("name", name="uq_imap_accounts_name"),
    )
    op.create_index("ix_imap_accounts_owner", "imap_accounts", ["owner"])
    op.create_table(
        "imap_folders",
        sa.Column("folder_id", _ID, autoincrement=True, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=1000), nullable=False),
        sa.Column("display", sa.String(length=1000), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("checkpoint_uid", sa.BigInteger(), nullable=False),
        sa.Column("failed", sa.JSON(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("synced_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["imap_accounts.account_id"], name="fk_imap_folders_account_id_imap_accounts"
        ),
        sa.PrimaryKeyConstraint("folder_id", name="pk_imap_folders"),
        sa.UniqueConstraint(
            "account_id", "name", "uidvalidity", name="uq_imap_folders_account_id_name_uidvalidity"
        ),
    )
    op.create_index("ix_imap_folders_account_id", "imap_folders", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_imap_folders_account_id", table_name="imap_folders")
    op.drop_table("imap_folders")
    op.drop_index("ix_imap_accounts_owner", table_name="imap_accounts")
    op.drop_table("imap_accounts")
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("moved_to")
        batch.drop_column("vanished_how")
