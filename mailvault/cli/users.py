"""`mailvault users …` (who may use the web app, with which role) and `mailvault web`."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from pathlib import Path

import click

from mailvault.access import audit, users
from mailvault.access.audit import Action
from mailvault.access.models import GrantKind, UserRole
from mailvault.archive.db import Database
from mailvault.cli.context import State, pass_state, print_json
from mailvault.errors import ConfigError

PASSWORD_ENV = "MAILVAULT_USER_PASSWORD"  # noqa: S105 (the name of a variable, not a password)
_ROLES = click.Choice([r.value for r in UserRole])


def operator_name() -> str:
    """Who ran the command, for the audit trail: the system account."""
    try:
        return "cli:" + getpass.getuser()
    except (KeyError, OSError):
        return f"cli:uid {os.getuid()}"


def read_password(password_file: Path | None, username: str) -> str:
    """From a file, the environment or a prompt (twice): never from the command line."""
    if password_file is not None:
        try:
            return password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(f"cannot read the password file {password_file}: {exc.strerror}") from None
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if sys.stdin.isatty():
        return str(click.prompt(f"password for {username}", hide_input=True, confirmation_prompt=True))
    raise ConfigError(f"no password: give --password-file, set ${PASSWORD_ENV}, or run on a terminal")


password_file_option = click.option(
    "--password-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help=f"Read the password from this file (else ${PASSWORD_ENV}, else a prompt).",
)


@click.group("users")
def users_group() -> None:
    """People who may use the web app: admin, auditor, manager or employee."""


@users_group.command("add")
@click.argument("username")
@click.option("--role", type=_ROLES, required=True, help="admin, auditor, manager or employee.")
@click.option("--email", default="", help="Their own mail address (required for employees).")
@click.option("--name", "display_name", default="", help="Name shown in the web app.")
@password_file_option
@pass_state
def users_add(
    state: State, username: str, role: str, email: str, display_name: str, password_file: Path | None
) -> None:
    """Create a user. Managers then need grants (`mailvault users grant`) to read anyone's mail."""
    password = read_password(password_file, username)
    with state.archive() as archive:
        created = users.add_user(
            archive.db, username, password, UserRole(role), email=email, display_name=display_name
        )
        _audit(archive.db, f"added user {created.username} ({role})")
    click.echo(f"user {created.username} added as {role}")


@users_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_state
def users_list(state: State, as_json: bool) -> None:
    """Every user with role, state and grants."""
    with state.archive() as archive:
        found = users.list_users(archive.db)
    if as_json:
        print_json([u.as_dict() for u in found])
        return
    if not found:
        click.echo("no users yet: mailvault users add NAME --role admin")
    for user in found:
        status = "disabled" if user.disabled else "active"
        grants = ", ".join(f"{kind}:{value}" for kind, value in user.grants)
        line = f"{user.username:<24} {user.role:<9} {status:<8} {user.email}"
        click.echo(line + (f"  grants: {grants}" if grants else ""))


@users_group.command("disable")
@click.argument("username")
@pass_state
def users_disable(state: State, username: str) -> None:
    """Stop a user from signing in; their sessions end now. Their audit trail stays."""
    with state.archive() as archive:
        users.set_disabled(archive.db, username, True)
        _audit(archive.db, f"disabled user {username}")
    click.echo(f"user {username} disabled")


@users_group.command("enable")
@click.argument("username")
@pass_state
def users_enable(state: State, username: str) -> None:
    """Let a disabled user sign in again."""
    with state.archive() as archive:
        users.set_disabled(archive.db, username, False)
        _audit(archive.db, f"enabled user {username}")
    click.echo(f"user {username} enabled")


@users_group.command("passwd")
@click.argument("username")
@password_file_option
@pass_state
def users_passwd(state: State, username: str, password_file: Path | None) -> None:
    """Set a new password; the user's sessions end."""
    password = read_password(password_file, username)
    with state.archive() as archive:
        users.set_password(archive.db, username, password)
        _audit(archive.db, f"new password for {username}")
    click.echo(f"password of {username} changed")


@users_group.command("grant")
@click.argument("username")
@click.option(
    "--employee", "employees", multiple=True, help="An employee's address: their mail becomes readable."
)
@click.option(
    "--domain",
    "domains",
    multiple=True,
    help="A domain: all mail with someone there (customers or a branch).",
)
@pass_state
def users_grant(state: State, username: str, employees: tuple[str, ...], domains: tuple[str, ...]) -> None:
    """Let a manager read more: the mail of employees, or of everyone in a domain."""
    if not employees and not domains:
        raise click.UsageError("give --employee ADDRESS or --domain DOMAIN (or several)")
    with state.archive() as archive:
        for kind, values in ((GrantKind.EMPLOYEE, employees), (GrantKind.DOMAIN, domains)):
            for value in values:
                users.grant(archive.db, username, kind, value, by=operator_name())
                _audit(archive.db, f"granted {username} {kind}:{value}")
    click.echo(f"{username} may now read: " + ", ".join([*employees, *domains]))


@users_group.command("revoke")
@click.argument("username")
@click.option("--employee", "employees", multiple=True, help="An employee address granted before.")
@click.option("--domain", "domains", multiple=True, help="A domain granted before.")
@pass_state
def users_revoke(state: State, username: str, employees: tuple[str, ...], domains: tuple[str, ...]) -> None:
    """Take grants back; effective on the manager's next page."""
    with state.archive() as archive:
        for kind, values in ((GrantKind.EMPLOYEE, employees), (GrantKind.DOMAIN, domains)):
            for value in values:
                if users.revoke(archive.db, username, kind, value):
                    _audit(archive.db, f"revoked {username} {kind}:{value}")
                    click.echo(f"revoked {kind}:{value}")
                else:
                    click.echo(f"{username} had no grant {kind}:{value}")


def _audit(db: Database, what: str) -> None:
    audit.record(db, username=operator_name(), action=Action.USER_CHANGE, address="", target=what)


@click.command()
@pass_state
def web(state: State) -> None:
    """Run the web app ([web] address and port) with the search indexer beside it.

    Put it behind an HTTPS reverse proxy (cookies are Secure by default); see README "Web app".
    """
    from mailvault.web.worker import run_in_foreground

    with state.archive():  # fails now, in one line, when the database is unreachable or old
        pass
    asyncio.run(run_in_foreground(state.settings))
