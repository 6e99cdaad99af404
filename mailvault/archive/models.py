"""SQLAlchemy models of the archive metadata; every table is derived from stored raw messages
and the arrivals recorded with them. Schema changes go through an Alembic revision in migrations/."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"
    UNKNOWN = "unknown"  # no company domains configured, or no usable addresses


class SourceKind(StrEnum):
    SMTP = "smtp"
    IMAP = "imap"
    FILE = "file"


class Role(StrEnum):
    FROM = "from"
    SENDER = "sender"
    REPLY_TO = "reply_to"
    TO = "to"
    CC = "cc"
    BCC = "bcc"
    ENVELOPE_FROM = "envelope_from"
    ENVELOPE_TO = "envelope_to"


class Message(Base):
    """One logical message, however many times and routes it arrived by."""

    __tablename__ = "messages"

    archive_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64))  # the first raw copy archived
    size: Mapped[int] = mapped_column(BigInteger)
    dedup_key: Mapped[str] = mapped_column(String(64), unique=True)
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    date: Mapped[datetime | None] = mapped_column(DateTime, index=True)  # UTC
    subject: Mapped[str] = mapped_column(Text, default="")
    sender_addr: Mapped[str] = mapped_column(String(320), default="", index=True)
    sender_name: Mapped[str] = mapped_column(Text, default="")
    direction: Mapped[str] = mapped_column(String(16), default=Direction.UNKNOWN)
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    reference_ids: Mapped[str] = mapped_column(Text, default="")  # References, space-separated
    thread_id: Mapped[int | None] = mapped_column(BigInteger, index=True)  # set by conversations.py
    subject_key: Mapped[str | None] = mapped_column(String(255), index=True)  # subject minus Re:, folded
    attachment_count: Mapped[int] = mapped_column(Integer, default=0)
    parse_status: Mapped[str] = mapped_column(String(16))
    parse_problems: Mapped[str] = mapped_column(Text, default="")  # one per line
    archived_at: Mapped[datetime] = mapped_column(DateTime)


class ThreadLink(Base):
    """A Message-ID some archived message has or refers to, and the thread it belongs to."""

    __tablename__ = "thread_links"

    message_ref: Mapped[str] = mapped_column(String(998), primary_key=True)
    thread_id: Mapped[int] = mapped_column(BigInteger, index=True)


class Blob(Base):
    """One exact byte sequence in the blob store, and the message it is a copy of."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    archive_id: Mapped[int] = mapped_column(ForeignKey("messages.archive_id"), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    stored_size: Mapped[int] = mapped_column(BigInteger)
    stored_at: Mapped[datetime] = mapped_column(DateTime)


class Participant(Base):
    __tablename__ = "participants"
    __table_args__ = (UniqueConstraint("archive_id", "role", "address", "name"),)

    participant_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    archive_id: Mapped[int] = mapped_column(ForeignKey("messages.archive_id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(320), index=True)  # lower-cased, may be ""
    name: Mapped[str] = mapped_column(String(500), default="")
    domain: Mapped[str] = mapped_column(String(255), index=True, default="")


class Attachment(Base):
    __tablename__ = "attachments"

    attachment_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    archive_id: Mapped[int] = mapped_column(ForeignKey("messages.archive_id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(Text, default="")
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    inline: Mapped[bool] = mapped_column(Boolean, default=False)
    encoding: Mapped[str] = mapped_column(String(16), default="mime")


class Source(Base):
    """One arrival of a message: by SMTP (with envelope), from an IMAP folder, or from a file."""

    __tablename__ = "sources"
    __table_args__ = (Index("ix_sources_location", "kind", "origin", "folder", "uidvalidity", "uid"),)

    source_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source_key: Mapped[str] = mapped_column(String(64), unique=True)
    archive_id: Mapped[int] = mapped_column(ForeignKey("messages.archive_id"), index=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))  # the bytes that arrived
    kind: Mapped[str] = mapped_column(String(8))
    origin: Mapped[str] = mapped_column(String(1000))  # file path, IMAP account, SMTP client
    folder: Mapped[str] = mapped_column(String(1000), default="")
    owner: Mapped[str | None] = mapped_column(String(320), index=True)
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    uid: Mapped[int | None] = mapped_column(BigInteger)
    flags: Mapped[str] = mapped_column(String(500), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    arrived_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    # An IMAP location the message later disappeared from (the message stays archived):
    # when it was noticed, and how (VanishedHow); moved_to names the folder it reappeared in.
    vanished_at: Mapped[datetime | None] = mapped_column(DateTime)
    vanished_how: Mapped[str | None] = mapped_column(String(16))
    moved_to: Mapped[str | None] = mapped_column(String(1000))


class VanishedHow(StrEnum):
    DELETED = "deleted"  # gone from the folder and from every other folder of the account
    MOVED = "moved"  # gone from the folder, found in another folder of the same account
    RENUMBERED = "renumbered"  # the server changed the folder's UIDVALIDITY: every UID is new


# -- IMAP import state: accounts, and per folder an epoch (one UIDVALIDITY) with its checkpoint.


class ImapAccount(Base):
    """A mailbox mailvault imports from; `registered` ones are re-synced on their interval."""

    __tablename__ = "imap_accounts"

    account_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(320), unique=True)  # user@host: the sources' origin
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    security: Mapped[str] = mapped_column(String(8))  # tls, starttls, plain
    username: Mapped[str] = mapped_column(String(320))
    owner: Mapped[str] = mapped_column(String(320), index=True)  # the employee whose mailbox it is
    provider: Mapped[str | None] = mapped_column(String(32))
    secret: Mapped[str | None] = mapped_column(Text)  # the password, encrypted (imapsync/secrets.py)
    registered: Mapped[bool] = mapped_column(Boolean, default=False)
    interval_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    connections: Mapped[int] = mapped_column(Integer, default=2)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_sync_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Set when the server rejected the password: no more attempts until it is changed.
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Someone asked for a sync now (a handover's "secure" step): due until a sync ends after it.
    sync_requested_at: Mapped[datetime | None] = mapped_column(DateTime)
    sync_requested_by: Mapped[str | None] = mapped_column(String(320))


class ImapFolder(Base):
    """One folder of an account under one UIDVALIDITY (an epoch), and how far it is archived."""

    __tablename__ = "imap_folders"
    __table_args__ = (UniqueConstraint("account_id", "name", "uidvalidity"),)

    folder_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("imap_accounts.account_id"), index=True)
    name: Mapped[str] = mapped_column(String(1000))  # as the server spells it (modified UTF-7)
    display: Mapped[str] = mapped_column(String(1000))  # decoded: 已发送
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    # Every UID up to here is archived and durable, except those in `failed` (retried each sync).
    checkpoint_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    failed: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # str(uid) -> reason
    messages: Mapped[int] = mapped_column(Integer, default=0)  # in the folder at the last sync
    started_at: Mapped[datetime] = mapped_column(DateTime)
    synced_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)  # renumbered or gone
