"""Configuration: defaults without a file, precedence, one-line errors, and the example file."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailvault.config import example_toml, load_settings
from mailvault.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def test_defaults_need_no_file() -> None:
    settings = load_settings()
    assert settings.archive.data_dir == Path("data")
    assert settings.archive.resolved_database_url.endswith("/data/mailvault.sqlite3")
    assert settings.archive.resolved_blob_dir == Path("data/blobs")


def test_precedence_flag_over_environment_over_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[archive]\ndata_dir = "/from/file"\ncompression_level = 9\n[ingest]\nbatch_size = 50\n'
    )
    settings = load_settings(config)
    assert (settings.archive.data_dir, settings.archive.compression_level) == (
        Path("/from/file"),
        9,
    )

    monkeypatch.setenv("MAILVAULT_ARCHIVE__DATA_DIR", "/from/env")
    settings = load_settings(config)
    assert settings.archive.data_dir == Path("/from/env")
    assert settings.archive.compression_level == 9  # other keys of the section still from the file

    settings = load_settings(config, archive={"data_dir": "/from/flag"})
    assert settings.archive.data_dir == Path("/from/flag")
    assert settings.ingest.batch_size == 50


def test_config_file_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[archive]\ncompany_domains = ["huaqiang-elec.com.cn"]\n')
    monkeypatch.setenv("MAILVAULT_CONFIG", str(config))
    assert load_settings().archive.company_domains == ["huaqiang-elec.com.cn"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "[archive]\ncompression_level = 0\n",
            "[archive] compression_level = 0: Input should be greater",
        ),
        ("[archive]\ncompresion_level = 3\n", "[archive] compresion_level = 3: unknown option"),
        ("[nonsense]\nx = 1\n", "nonsense"),
        ("[archive\n", "is not valid TOML"),
    ],
)
def test_bad_file_is_one_line_naming_file_and_key(tmp_path: Path, content: str, message: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(content)
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    text = str(caught.value)
    assert message in text
    assert str(config) in text
    assert "\n" not in text


def test_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILVAULT_INGEST__BATCH_SIZE", "lots")
    with pytest.raises(ConfigError, match="environment variable MAILVAULT_INGEST__BATCH_SIZE"):
        load_settings()


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_example_file_lists_every_option_at_its_default() -> None:
    """config.example.toml is generated from the models; regenerate it when this fails:
    python -c 'from mailvault.config import example_toml; print(example_toml(), end="")' > config.example.toml
    """
    assert (REPO / "config.example.toml").read_text() == example_toml()
    assert load_settings(REPO / "config.example.toml") == load_settings()
