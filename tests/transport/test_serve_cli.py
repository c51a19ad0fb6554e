"""``ondc-adapter serve`` key handling: dev keys only for the local registry."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ondc_adapter import keys
from ondc_adapter.cli import app as cli_app
from ondc_adapter.cli.serve import ensure_keys
from ondc_adapter.settings import Settings


def settings_for(tmp_path, env: str) -> Settings:
    return Settings(_env_file=None, keys_dir=tmp_path / "k", registry_env=env)  # type: ignore[call-arg]


def test_local_env_generates_test_only_keys(tmp_path) -> None:
    settings = settings_for(tmp_path, "local")
    notice = ensure_keys(settings)
    assert notice and "TEST-ONLY" in notice
    node = keys.load_keys(settings.keys_dir)
    assert (node.subscriber_id, node.unique_key_id) == (
        settings.subscriber_id,
        settings.unique_key_id,
    )
    assert ensure_keys(settings) is None  # existing keys are used, never replaced


def test_network_env_without_keys_is_an_error(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="keys generate"):
        ensure_keys(settings_for(tmp_path, "preprod"))
    assert not (tmp_path / "k").exists()


def test_serve_command_refuses_to_start_without_keys(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ONDC_REGISTRY_ENV", "staging")
    monkeypatch.setenv("ONDC_KEYS_DIR", str(tmp_path / "none"))
    result = CliRunner().invoke(cli_app, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert "no keys" in result.output
