"""`sandbox up` / `sandbox run` take the adapter's database and Redis from the project's Settings
(``ONDC_DATABASE_URL`` / ``ONDC_REDIS_URL`` from the environment or a ``.env`` file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ondc_adapter.sandbox.network import NetworkOptions, start_network, storage_urls
from ondc_adapter.settings import Settings


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("ONDC_DATABASE_URL", "ONDC_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # Settings reads ./.env
    return tmp_path


def test_dot_env_names_the_database_and_redis(clean_env: Path) -> None:
    (clean_env / ".env").write_text(
        "ONDC_DATABASE_URL=postgresql+asyncpg://sandbox@127.0.0.1:5432/from_env\n"
        "ONDC_REDIS_URL=redis://127.0.0.1:6379/9\n"
    )
    work = clean_env / "net"
    assert storage_urls(NetworkOptions(), Settings(), work) == (
        "postgresql+asyncpg://sandbox@127.0.0.1:5432/from_env", "redis://127.0.0.1:6379/9"
    )
    # explicit options still win
    opts = NetworkOptions(database_url="sqlite+aiosqlite:///x.db", redis_url="redis://other/1")
    assert storage_urls(opts, Settings(), work) == ("sqlite+aiosqlite:///x.db", "redis://other/1")


def test_environment_beats_dot_env(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / ".env").write_text("ONDC_DATABASE_URL=sqlite+aiosqlite:///from-file.db\n")
    monkeypatch.setenv("ONDC_DATABASE_URL", "sqlite+aiosqlite:///from-env.db")
    url, redis = storage_urls(NetworkOptions(), Settings(), clean_env)
    assert (url, redis) == ("sqlite+aiosqlite:///from-env.db", None)


def test_nothing_configured_means_sqlite_in_the_work_dir(clean_env: Path) -> None:
    # Settings' own default (./ondc-adapter.db, the seller's database) is not used
    url, redis = storage_urls(NetworkOptions(), Settings(), clean_env / "net")
    assert (url, redis) == (f"sqlite+aiosqlite:///{clean_env / 'net' / 'adapter.db'}", None)


async def test_network_uses_the_dot_env_database(clean_env: Path) -> None:
    """What `sandbox up` does (start_network with the Settings it builds): the adapter's tables
    land in the database the .env file names."""
    db_file = clean_env / "from-dot-env.db"
    (clean_env / ".env").write_text(f"ONDC_DATABASE_URL=sqlite+aiosqlite:///{db_file}\n")
    opts = NetworkOptions(domains=["ONDC:RET16"], work_dir=clean_env / "net")
    async with start_network(opts) as net:
        assert net.adapter_settings is not None
        assert net.adapter_settings.database_url == f"sqlite+aiosqlite:///{db_file}"
    assert db_file.exists()
    assert not (clean_env / "net" / "adapter.db").exists()
