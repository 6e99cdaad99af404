"""Departing employees and evidence: ledger, risk signals, retention, legal holds, handovers

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 00:09:06.776683
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# The ledger is append-only in the database itself, like the audit trail (revision 0004).
_SQLITE_GUARDS = [
    f"CREATE TRIGGER ledger_entries_no_{verb} BEFORE {verb.upper()} ON ledger_entries "
    "BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END"
    for verb in ("update", "delete")
]
_POSTGRES_GUARDS = [
    "CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'the ledger is append-only'; END $$",
    "CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger_entries "
    "FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only()",
]

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "detector_progress",
        sa.Column("detector", sa.String(length=32), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("detector", name=op.f("pk_detector_progress")),
    )
    op.create_table(
        "handovers",
        sa.Column(
            "handover_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("employee", sa.String(length=320), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("opened_by", sa.String(length=320), nullable=False),
        sa.Column("secured_at", sa.DateTime(), nullable=True),
        sa.Column("secured_by", sa.String(length=320), nullable=True),
        sa.Column("successor", sa.String(length=320), nullable=True),
        sa.Column("granted_at", sa.DateTime(), nullable=True),
        sa.Column("granted_by", sa.String(length=320), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by", sa.String(length=320), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("handover_id", name=op.f("pk_handovers")),
    )
    with op.batch_alter_table("handovers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_handovers_employee"), ["employee"], unique=False)

    op.create_table(
        "ledger_checkpoints",
        sa.Column(
            "checkpoint_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("mailed_to", sa.Text(), nullable=False),
        sa.Column("tsa_url", sa.String(length=1000), nullable=False),
        sa.Column("tsa_token", sa.LargeBinary(), nullable=True),
        sa.Column("tsa_time", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("checkpoint_id", name=op.f("pk_ledger_checkpoints")),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("entry_hash", name=op.f("uq_ledger_entries_entry_hash")),
        sa.UniqueConstraint("kind", "ref", name=op.f("uq_ledger_entries_kind_ref")),
    )
    op.create_table(
        "legal_holds",
        sa.Column(
            "hold_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=320), nullable=True),
        sa.Column("customer", sa.String(length=320), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("released_at", sa.DateTime(), nullable=True),
        sa.Column("released_by", sa.String(length=320), nullable=True),
        sa.PrimaryKeyConstraint("hold_id", name=op.f("pk_legal_holds")),
        sa.UniqueConstraint("name", name=op.f("uq_legal_holds_name")),
    )
    op.create_table(
        "retention_rules",
        sa.Column(
            "rule_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("keep_days", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=True),
        sa.Column("owner", sa.String(length=320), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("disabled_at", sa.DateTime(), nullable=True),
        sa.Column("disabled_by", sa.String(length=320), nullable=True),
        sa.PrimaryKeyConstraint("rule_id", name=op.f("pk_retention_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_retention_rules_name")),
    )
    op.create_table(
        "risk_signals",
        sa.Column(
            "signal_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("employee", sa.String(length=320), nullable=False),
        sa.Column("finding_key", sa.String(length=255), nullable=False),
        sa.Column("archive_ids", sa.JSON(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("found_at", sa.DateTime(), nullable=False),
        sa.Column("notified_at", sa.DateTime(), nullable=True),
        sa.Column("dismissed_at", sa.DateTime(), nullable=True),
        sa.Column("dismissed_by", sa.String(length=320), nullable=True),
        sa.Column("dismiss_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("signal_id", name=op.f("pk_risk_signals")),
        sa.UniqueConstraint("finding_key", name=op.f("uq_risk_signals_finding_key")),
    )
    with op.batch_alter_table("risk_signals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_signals_employee"), ["employee"], unique=False)
        batch_op.create_index(batch_op.f("ix_risk_signals_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_risk_signals_occurred_at"), ["occurred_at"], unique=False)

    with op.batch_alter_table("imap_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sync_requested_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("sync_requested_by", sa.String(length=320), nullable=True))

    guards = _POSTGRES_GUARDS if op.get_bind().dialect.name == "postgresql" else _SQLITE_GUARDS
    for statement in guards:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER ledger_entries_append_only ON ledger_entries")
        op.execute("DROP FUNCTION ledger_entries_append_only()")
    with op.batch_alter_table("imap_accounts", schema=None) as batch_op:
        batch_op.drop_column("sync_requested_by")
        batch_op.drop_column("sync_requested_at")
    with op.batch_alter_table("risk_signals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_signals_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_risk_signals_kind"))
        batch_op.drop_index(batch_op.f("ix_risk_signals_employee"))

    op.drop_table("risk_signals")
    op.drop_table("retention_rules")
    op.drop_table("legal_holds")
    op.drop_table("ledger_entries")
    op.drop_table("ledger_checkpoints")
    with op.batch_alter_table("handovers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handovers_employee"))

    op.drop_table("handovers")
    op.drop_table("detector_progress")
