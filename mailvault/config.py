"""Every option mailvault has: pydantic-settings models, one table each in the TOML file.

Precedence, highest first: command-line flags, `MAILVAULT_SECTION__KEY` environment variables,
the TOML file (`--config`, `$MAILVAULT_CONFIG`, `/etc/mailvault/config.toml`), the defaults below.
"""

from __future__ import annotations

import json
import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from mailvault.errors import ConfigError

SYSTEM_CONFIG = Path("/etc/mailvault/config.toml")
ENV_PREFIX = "MAILVAULT_"

_toml_path: ContextVar[Path | None] = ContextVar("_toml_path", default=None)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class ArchiveSettings(_Section):
    data_dir: Path = Field(
        Path("data"),
        description="Folder for everything mailvault keeps; relative paths are from the working directory.",
    )
    database_url: str = Field(
        "",
        description=(
            "SQLAlchemy URL of the metadata database; empty means SQLite at "
            "<data_dir>/mailvault.sqlite3. PostgreSQL: postgresql+psycopg://user@host/db"
        ),
    )
    blob_dir: Path | None = Field(
        None, description="Folder of the raw message store; unset means <data_dir>/blobs."
    )
    compression_level: int = Field(
        3,
        ge=1,
        le=22,
        description="zstd level for stored messages (1 fastest, 22 smallest; above 3 gains little on mail).",
    )
    company_domains: list[str] = Field(
        default_factory=list,
        description=(
            'Mail domains of the company, e.g. ["example.com"]; decides whether a message is '
            "inbound, outbound or internal. Sub-domains are included."
        ),
    )

    @property
    def resolved_blob_dir(self) -> Path:
        return self.blob_dir if self.blob_dir is not None else self.data_dir / "blobs"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'mailvault.sqlite3').absolute()}"


class IngestSettings(_Section):
    batch_size: int = Field(
        200, ge=1, le=10_000, description="Messages written per database transaction on import."
    )
    parse_workers: int = Field(
        0,
        ge=0,
        le=64,
        description="Processes that parse MIME during import; 0 means one per CPU, 1 parses in-process.",
    )
    max_message_size: int = Field(
        200 * 1024 * 1024,
        ge=1024,
        description="Largest message in bytes an import reads; larger files are reported, not stored.",
    )


class ListenerSettings(_Section):
    address: str = Field("127.0.0.1", description="IP address to listen on.")
    port: int = Field(10025, ge=1, le=65535, description="TCP port to listen on.")
    mode: Literal["journal", "relay"] = Field(
        "journal",
        description=(
            "journal: archive and answer, pass nothing on (for BCC/journal copies); relay: archive, "
            "then hand the message to [smtp] next_hop and answer only when it has accepted it."
        ),
    )


class SmtpSettings(_Section):
    listeners: list[ListenerSettings] = Field(
        default_factory=lambda: [ListenerSettings()],
        description="Where the gateway listens, each with its mode.",
    )
    hostname: str = Field("", description="Name in the greeting and replies; empty means this host's FQDN.")
    allowed_networks: list[str] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"],
        description="Client networks that may connect; others are refused with 554.",
    )
    max_message_size: int = Field(
        10_240_000,
        ge=1024,
        description="Largest message accepted, in bytes (552 beyond it); match Postfix's message_size_limit.",
    )
    max_recipients: int = Field(1000, ge=1, description="Most RCPT TO per message (452 beyond it).")
    max_sessions: int = Field(100, ge=1, description="Most concurrent SMTP sessions (421 beyond it).")
    timeout: float = Field(
        300.0,
        gt=0,
        description="Seconds a session may stay silent; a DATA transfer still moving never times out.",
    )
    journal_domain: str = Field(
        "",
        description=(
            "Domain of address-encoded journal recipients: archive+user=example.com@<journal_domain> "
            "is recorded as user@example.com (Postfix recipient_bcc_maps/sender_bcc_maps)."
        ),
    )
    next_hop: str = Field(
        "", description="host:port that relay listeners hand messages to, e.g. 127.0.0.1:10026."
    )
    tls_cert: Path | None = Field(
        None, description="PEM certificate (chain) for STARTTLS; unset means no STARTTLS offered."
    )
    tls_key: Path | None = Field(None, description="PEM private key of tls_cert.")
    require_tls: bool = Field(False, description="Refuse mail from clients that did not use STARTTLS (530).")
    auth_users_file: Path | None = Field(
        None,
        description=(
            "File of `name:argon2-hash` lines (`mailvault smtp-passwd` writes it); set to offer "
            "SMTP AUTH, only ever over TLS."
        ),
    )
    require_auth: bool = Field(False, description="Refuse mail from clients that did not authenticate (530).")
    spool_dir: Path | None = Field(
        None, description="Folder of the gateway's receive journal; unset means <data_dir>/spool."
    )
    segment_size: int = Field(
        64 * 1024 * 1024, ge=1024 * 1024, description="Bytes after which the journal starts a new file."
    )
    grace: float = Field(
        30.0, ge=0, description="Seconds sessions in flight may take to finish after SIGTERM."
    )


class IndexSettings(_Section):
    engine: Literal["whoosh", "tantivy"] = Field(
        "whoosh",
        description="Search engine of a new index: whoosh (pure Python, small archives) or tantivy "
        "(pip install 'mailvault[tantivy]'; large ones). `mailvault reindex --engine` switches.",
    )
    index_dir: Path | None = Field(
        None, description="Folder of the search index; unset means <data_dir>/index."
    )
    batch_size: int = Field(
        500, ge=1, le=10_000, description="Messages the indexer reads and commits at a time (at most)."
    )
    poll_interval: float = Field(
        1.0, gt=0, le=60, description="Seconds between looks at the archive when the index is up to date."
    )
    workers: int = Field(
        0,
        ge=0,
        le=64,
        description="Processes that read and analyse messages for a rebuild or a large catch-up "
        "(0: one per CPU core).",
    )


class ImapSettings(_Section):
    secret_key_file: Path | None = Field(
        None,
        description="File with the key that encrypts stored IMAP passwords (created on first use, "
        "mode 0600); unset means <data_dir>/secrets/imap.key. Keep a copy: without it the stored "
        "passwords cannot be read and must be entered again.",
    )
    timeout: float = Field(
        60.0, gt=0, le=3600, description="Seconds without a byte from an IMAP server before a command fails."
    )
    connections: int = Field(
        2, ge=1, le=16, description="Connections per account, unless the provider's preset allows fewer."
    )
    window_messages: int = Field(
        200, ge=1, le=5_000, description="Messages asked for in one FETCH (keeps each response small)."
    )
    window_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024 * 1024,
        description="Bytes of mail asked for in one FETCH, at most (a larger message comes alone).",
    )
    sync_interval: int = Field(
        3600, ge=60, description="Seconds between syncs of an account registered with `accounts add`."
    )
    retries: int = Field(
        5, ge=0, le=50, description="Reconnections after a dropped connection or timeout, per sync run."
    )
    journal_dir: Path | None = Field(
        None,
        description="Folder of the import journals: downloaded mail is fsynced there before a folder's "
        "checkpoint moves, then archived; unset means <data_dir>/imap-journal.",
    )
    journal_backlog: int = Field(
        1024 * 1024 * 1024,
        ge=16 * 1024 * 1024,
        description="Bytes of journaled mail waiting to be archived, at most: downloading pauses above it "
        "(bounds the disk the journal takes while the archive catches up).",
    )


class WebSettings(_Section):
    address: str = Field("127.0.0.1", description="IP address the web app listens on.")
    port: int = Field(8080, ge=1, le=65535, description="TCP port of the web app.")
    time_zone: str = Field(
        "Asia/Shanghai", description="IANA time zone dates are shown in, e.g. Asia/Shanghai or Europe/Berlin."
    )
    default_language: Literal["zh", "en"] = Field(
        "zh", description="Interface language when the browser asks for neither Chinese nor English."
    )
    session_hours: float = Field(12, gt=0, le=24 * 30, description="A sign-in lasts at most this long.")
    idle_minutes: float = Field(60, gt=0, description="A session unused for this long ends.")
    secure_cookies: bool = Field(
        True,
        description="Mark cookies Secure (sent over HTTPS only). Put the app behind HTTPS (a reverse "
        "proxy); set false only to try it over plain HTTP on localhost.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description='Reverse proxies whose X-Forwarded-For header names the client, e.g. ["127.0.0.1"].',
    )
    login_failures_per_user: int = Field(
        5, ge=1, description="Failed sign-ins for one username that pause further attempts for it."
    )
    login_failures_per_address: int = Field(
        20, ge=1, description="Failed sign-ins from one client address that pause its attempts."
    )
    login_pause_minutes: float = Field(15, gt=0, description="How long those pauses last.")
    export_limit: int = Field(10_000, ge=1, description="Most messages one export (zip or mbox) may hold.")

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name like Asia/Shanghai") from None
        return value


class LedgerSettings(_Section):
    tsa_url: str = Field(
        "",
        description="RFC 3161 time-stamping authority that stamps each checkpoint of the ledger, e.g. "
        "http://timestamp.digicert.com; empty: checkpoints are not stamped.",
    )
    tsa_ca_file: Path | None = Field(
        None,
        description="PEM certificate(s) of the time-stamping authority, for `mailvault ledger verify-stamp`.",
    )
    checkpoint_mail_to: list[str] = Field(
        default_factory=list,
        description="Outside addresses each checkpoint is e-mailed to (through [notify] smtp_server), so a "
        "copy of the chain head exists beyond the administrators' reach.",
    )


class SignalSettings(_Section):
    free_mail_domains: list[str] = Field(
        default_factory=lambda: [
            "163.com",
            "126.com",
            "yeah.net",
            "qq.com",
            "foxmail.com",
            "sina.com",
            "sina.cn",
            "sohu.com",
            "aliyun.com",
            "139.com",
            "189.cn",
            "gmail.com",
            "googlemail.com",
            "hotmail.com",
            "outlook.com",
            "live.com",
            "msn.com",
            "yahoo.com",
            "yahoo.com.cn",
            "icloud.com",
            "me.com",
            "proton.me",
            "protonmail.com",
            "gmx.com",
            "gmx.de",
            "mail.com",
            "yandex.com",
            "zoho.com",
        ],
        description="Personal (free-mail) domains, sub-domains included: company mail forwarded or secretly "
        "copied to an address there that is not a customer's is a risk signal (docs/signals.md).",
    )
    company_bank_accounts: list[str] = Field(
        default_factory=list,
        description="The company's own bank account numbers, IBANs and SWIFT/BIC codes (spaces and dashes "
        "ignored); outbound mail asking a customer to pay into any other is a risk signal. Empty: that "
        "check is off.",
    )
    bulk_forward_messages: int = Field(
        10,
        ge=2,
        description="Customer messages one employee forwards outside the company within the window "
        "that count as bulk forwarding.",
    )
    bulk_forward_hours: float = Field(24, gt=0, description="The window for bulk forwarding, in hours.")
    mass_deletion_messages: int = Field(
        50,
        ge=1,
        description="Messages deleted or moved in one mailbox within the window that count as mass deletion.",
    )
    mass_deletion_hours: float = Field(24, gt=0, description="The window for mass deletion, in hours.")
    scan_interval: float = Field(
        300, ge=5, description="Seconds between runs of the detectors in `mailvault serve`."
    )
    notify_managers: bool = Field(
        False, description="E-mail each new signal to the managers who may read the employee's mail."
    )


class NotifySettings(_Section):
    smtp_server: str = Field(
        "127.0.0.1:25",
        description="host:port of the mail server that delivers mailvault's own mail (checkpoints, signals).",
    )
    from_address: str = Field(
        "", description="From address of mailvault's own mail; empty: mailvault@<host>."
    )


class LogSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO",
        description="Lowest level written to the log (stderr, or the journal under systemd).",
    )


class Settings(BaseSettings):
    """The loaded configuration; code receives it as `settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    archive: ArchiveSettings = Field(default_factory=ArchiveSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    imap: ImapSettings = Field(default_factory=ImapSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    ledger: LedgerSettings = Field(default_factory=LedgerSettings)
    signals: SignalSettings = Field(default_factory=SignalSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    log: LogSettings = Field(default_factory=LogSettings)

    @property
    def resolved_index_dir(self) -> Path:
        return self.index.index_dir or self.archive.data_dir / "index"

    @property
    def resolved_spool_dir(self) -> Path:
        return self.smtp.spool_dir or self.archive.data_dir / "spool"

    @property
    def resolved_imap_journal_dir(self) -> Path:
        return self.imap.journal_dir or self.archive.data_dir / "imap-journal"

    @property
    def resolved_imap_key_file(self) -> Path:
        return self.imap.secret_key_file or self.archive.data_dir / "secrets" / "imap.key"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _toml_path.get()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


def find_config_file(explicit: Path | None) -> Path | None:
    """The TOML file to read: `--config`, else `$MAILVAULT_CONFIG`, else the system file if present."""
    if explicit is not None:
        return explicit
    from_env = os.environ.get("MAILVAULT_CONFIG")
    if from_env:
        return Path(from_env)
    return SYSTEM_CONFIG if SYSTEM_CONFIG.is_file() else None


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Load and validate the configuration, raising ConfigError with one readable line."""
    path = find_config_file(config_file)
    if path is not None:
        _check_readable_toml(path)
    token = _toml_path.set(path)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None
    finally:
        _toml_path.reset(token)


def _check_readable_toml(path: Path) -> None:
    try:
        with path.open("rb") as fh:
            tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; create it or drop --config") from None
    except PermissionError:
        raise ConfigError(f"config file {path} is not readable by this user") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _describe(exc: ValidationError, path: Path | None) -> str:
    """First validation error as `where: [section] key = value: reason`."""
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    env_name = ENV_PREFIX + "__".join(part.upper() for part in loc)
    if env_name in os.environ:
        where = f"environment variable {env_name}"
    elif path is not None:
        where = f"config file {path}"
    else:
        where = "configuration"
    key = f"[{'.'.join(loc[:-1])}] {loc[-1]}" if len(loc) > 1 else (loc[0] if loc else "?")
    value = error.get("input")
    shown = "" if isinstance(value, dict) else f" = {value!r}"
    reason = error["msg"]
    if error["type"] == "extra_forbidden":
        reason = "unknown option (see config.example.toml for the valid ones)"
    return f"{where}: {key}{shown}: {reason}"


def example_toml() -> str:
    """config.example.toml: every option at its default, with its description."""
    lines = [
        "# mailvault configuration: every option, at its default.",
        "# Copy to /etc/mailvault/config.toml (or pass --config) and change what you need.",
        "# Any option can also be set as MAILVAULT_<SECTION>__<KEY>, e.g. MAILVAULT_ARCHIVE__DATA_DIR.",
    ]
    for section, field in Settings.model_fields.items():
        model = field.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise TypeError(f"[{section}] must be a model")  # a programming error, not config
        lines += ["", f"[{section}]"]
        defaults = model()
        for key, option in model.model_fields.items():
            for chunk in _wrap(option.description or ""):
                lines.append(f"# {chunk}")
            value = getattr(defaults, key)
            lines.append(f"{key} = {_toml_value(value)}" if value is not None else f"# {key} =")
    return "\n".join(lines) + "\n"


def _wrap(text: str, width: int = 96) -> list[str]:
    out: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*out, line] if line else out


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Path):
        return json.dumps(str(value))
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, BaseModel):
        items = ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.model_dump().items())
        return "{ " + items + " }"
    return json.dumps(str(value), ensure_ascii=False)
