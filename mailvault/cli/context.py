"""The top-level command group and what subcommands share: settings, the opened archive."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from mailvault import __version__
from mailvault.archive.ingest import ParseMap, parse_in_process
from mailvault.archive.store import Archive
from mailvault.config import Settings, load_settings
from mailvault.log import setup_logging


@dataclass
class State:
    config_file: Path | None
    overrides: dict[str, Any]
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_file, **self.overrides)
            setup_logging(self.overrides.get("log", {}).get("level") or self._settings.log.level)
        return self._settings

    @contextmanager
    def archive(self, parse_map: ParseMap = parse_in_process) -> Iterator[Archive]:
        with Archive(self.settings, parse_map=parse_map) as archive:
            yield archive


pass_state = click.make_pass_decorator(State)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mailvault")
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="TOML configuration file (default: $MAILVAULT_CONFIG, then /etc/mailvault/config.toml).",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Overrides [archive] data_dir: where the archive lives (default ./data).",
)
@click.option("--database-url", help="Overrides [archive] database_url.")
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="Overrides [log] level.",
)
@click.pass_context
def cli(
    ctx: click.Context,
    config_file: Path | None,
    data_dir: Path | None,
    database_url: str | None,
    log_level: str | None,
) -> None:
    """mailvault: company mail gateway and archiver.

    Every business message is kept by the company, unaltered and searchable.
    """
    archive: dict[str, Any] = {}
    if data_dir is not None:
        archive["data_dir"] = data_dir
    if database_url is not None:
        archive["database_url"] = database_url
    overrides: dict[str, Any] = {}
    if archive:
        overrides["archive"] = archive
    if log_level:
        overrides["log"] = {"level": log_level.upper()}
    ctx.obj = State(config_file=config_file, overrides=overrides)


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")
