"""The ``ondc-adapter`` command line. Each command group lives in its own module and is wired
here; commands are thin: they parse arguments, build settings and call the library."""

from __future__ import annotations

import typer

from ondc_adapter.cli import catalogue, crypto, orders, registry, sandbox, serve

app = typer.Typer(
    name="ondc-adapter",
    help="ONDC seller node (Beckn BPP) for One District One Product sellers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
for group in (crypto, serve, catalogue, orders, sandbox, registry):
    group.register(app)


def main() -> None:
    app()
