"""``ondc-adapter catalogue sample`` / ``import`` end to end on SQLite (the default backend)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ondc_adapter.cli import app


def test_sample_then_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONDC_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    runner = CliRunner()
    out = tmp_path / "sample.jsonl"
    result = runner.invoke(app, ["catalogue", "sample", "--items", "1200", "--out", str(out)])
    assert result.exit_code == 0, result.output
    first = json.loads(out.read_text().splitlines()[0])
    assert first == {"type": "meta", "sample": True, "source": "ODOP list V31 (2025-07-07)",
                     "items": 1200, "seed": 7}
    result = runner.invoke(app, ["catalogue", "import", str(out)])
    assert result.exit_code == 0, result.output
    assert "1200 items (SAMPLE data)" in result.output

    bad = tmp_path / "bad.jsonl"
    lines = out.read_text().splitlines()
    record = json.loads(lines[800])
    record["price"] = "-5"
    lines[800] = json.dumps(record)
    bad.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["catalogue", "import", str(bad)])
    assert result.exit_code == 1
    assert f"row 801 (item {record['id']}): price:" in result.output
