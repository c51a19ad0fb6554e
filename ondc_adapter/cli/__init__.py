"""The ``ondc-adapter`` command line. Each command group lives in its own module and is wired
here; commands are thin: they parse arguments, build settings and call the library.

Start-up is kept cheap: a command's module (and what it imports: FastAPI, SQLAlchemy, the
sandbox network...) is imported only when that command runs (see ``lazy.py``)."""

from __future__ import annotations

import sys

import typer

from ondc_adapter.cli import lazy

app = typer.Typer(
    name="ondc-adapter",
    help="ONDC seller node (Beckn BPP) for One District One Product sellers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=lazy.LazyGroup,
)


@app.callback()
def _root() -> None:
    """The commands themselves are added by ``lazy.LazyGroup`` when used."""


def main() -> None:
    lazy.ENTRY_POINT = True
    # httpcore imports trio, when it is installed, to support trio event loops (~0.2 s on a
    # loaded 2-core machine). This process runs asyncio only; tests and library users are not
    # affected (this is the entry point only).
    if "trio" not in sys.modules:
        sys.modules["trio"] = None  # type: ignore[assignment]
    app()
