"""The JSON Schemas in schemas/ are generated from the models; this fails when they drift."""

from ondc_adapter.protocol import schemas


def test_schemas_match_models() -> None:
    problems = schemas.drift()
    assert problems == [], (
        f"schemas/ is out of date for {problems}; "
        "run python -m ondc_adapter.protocol.schemas --write"
    )


def test_drift_is_detected(tmp_path) -> None:
    schemas.write(tmp_path)
    assert schemas.drift(tmp_path) == []
    victim = next(tmp_path.glob("*.schema.json"))
    victim.write_text(victim.read_text().replace('"type"', '"kind"', 1))
    (tmp_path / "orphan.schema.json").write_text("{}")
    assert schemas.drift(tmp_path) == sorted([victim.name, "orphan.schema.json"])
