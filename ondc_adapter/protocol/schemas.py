"""Generate the JSON Schemas in ``schemas/`` from the Pydantic models.

``python -m ondc_adapter.protocol.schemas --write`` rewrites them; ``--check`` exits 1 when the
files differ from the models (tests do the same), so the published contract never drifts.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from pydantic import BaseModel

# Each module lists its published models in a module-level ``SCHEMA_MODELS`` dict
# ({file stem: model}). Add a module here when it publishes messages.
SCHEMA_MODULES = (
    "ondc_adapter.protocol.messages",
    "ondc_adapter.protocol.order",
    "ondc_adapter.protocol.catalog",
    "ondc_adapter.catalogue.rejections",
    "ondc_adapter.sandbox.registry_messages",
    "ondc_adapter.igm.models",
)

# ``data/schemas`` links to the repository's ``schemas/`` (see ``sandbox.SCENARIO_DIR``).
DEFAULT_DIR = Path(__file__).resolve().parents[1] / "data" / "schemas"


def collect() -> dict[str, type[BaseModel]]:
    models: dict[str, type[BaseModel]] = {}
    for name in SCHEMA_MODULES:
        module = importlib.import_module(name)
        for stem, model in module.SCHEMA_MODELS.items():
            if stem in models:
                raise ValueError(f"schema name {stem!r} published twice")
            models[stem] = model
    return dict(sorted(models.items()))


def render(model: type[BaseModel]) -> str:
    schema = model.model_json_schema(mode="validation")
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def expected_files() -> dict[str, str]:
    return {f"{stem}.schema.json": render(model) for stem, model in collect().items()}


def drift(directory: Path = DEFAULT_DIR) -> list[str]:
    """File names that are missing, stale or no longer generated."""
    expected = expected_files()
    problems = [
        name
        for name, text in expected.items()
        if not (directory / name).exists() or (directory / name).read_text() != text
    ]
    problems += [
        p.name for p in directory.glob("*.schema.json") if p.name not in expected
    ]
    return sorted(problems)


def write(directory: Path = DEFAULT_DIR) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    expected = expected_files()
    for stale in directory.glob("*.schema.json"):
        if stale.name not in expected:
            stale.unlink()
    for name, text in expected.items():
        (directory / name).write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args(argv)
    if args.write:
        write(args.dir)
        return 0
    problems = drift(args.dir)
    for name in problems:
        print(f"schema drift: {name}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
