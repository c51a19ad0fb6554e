"""Start-up cost of the command line: command groups imported only when used, and the
process's age for an honest "wall time".

``ondc-adapter --help`` and every command import only the module that defines the command
(``sandbox run`` pulls in the sandbox network, ``serve`` the FastAPI app, ``orders``
SQLAlchemy...). The top-level help is drawn from the table below, so listing the commands
imports none of them; ``tests/sandbox/test_sandbox_cli.py`` checks the table against the
modules.
"""

from __future__ import annotations

import importlib
import os
import time
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

# command name -> (module under ondc_adapter.cli whose register() adds it, one-line help)
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "sign": ("crypto", "Print the Authorization header value for a body."),
    "verify": (
        "crypto",
        "Exit 0 if the header is a valid signature of the body, else 1 with the reason.",
    ),
    "serve": ("serve", "Run the seller node (BPP): protocol endpoints, callbacks, admin API."),
    "keys": ("crypto", "Generate and inspect node keys."),
    "challenge": ("crypto", "Registry on_subscribe challenge tools."),
    "catalogue": ("catalogue", "ODOP registry and seller catalogue."),
    "orders": ("orders", "Orders: list, show, accept, advance, cancel."),
    "issues": (
        "issues",
        "Issues (IGM): list, show, process, ask-info, propose, resolve; raise, complaint; "
        "officers.",
    ),
    "sandbox": ("sandbox", "Local ONDC network for testing the adapter."),
    "registry": ("registry", "ONDC registry: subscribe and lookup."),
    "console": ("console", "Seller console: accounts of sellers and operators."),
    "validate": (
        "validate",
        "Run ONDC's log-validator rules (ported: retail 1.2.0, IGM 2.0.0) on a bundle; exit 1 on "
        "findings.",
    ),
}


def load_module_commands(module: str) -> dict[str, Any]:
    """The click commands ``ondc_adapter.cli.<module>`` registers, by name."""
    mod = importlib.import_module(f"ondc_adapter.cli.{module}")
    holder = typer.Typer()
    mod.register(holder)
    return dict(typer.main.get_group(holder).commands)


class LazyGroup(TyperGroup):
    """The root group: a command's module is imported on first use (to run it, or for its own
    ``--help``), not to list it in the root ``--help``."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        eager = [name for name in super().list_commands(ctx) if name not in LAZY_COMMANDS]
        return [*eager, *LAZY_COMMANDS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = self.commands.get(cmd_name)
        if command is not None or cmd_name not in LAZY_COMMANDS:
            return command
        module, short_help = LAZY_COMMANDS[cmd_name]
        if self._listing:  # the root help shows the name and one line: no import needed
            return TyperCommand(cmd_name, help=short_help, short_help=short_help)
        for name, loaded in load_module_commands(module).items():
            self.commands.setdefault(name, loaded)
        return self.commands.get(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


# Set by ``main()`` (the installed ``ondc-adapter`` script and ``python -m ondc_adapter.cli``):
# then the process's own start is the honest zero of "wall time". Under a test's CliRunner the
# process is the test runner, so commands measure from their own start instead.
ENTRY_POINT = False
_IMPORTED_AT = time.perf_counter()


def process_age_at_import() -> float | None:
    """Seconds between this process's start (``/proc/self/stat`` field 22, in clock ticks
    since boot) and the import of this module; None where /proc is not there."""
    try:
        with open("/proc/self/stat", encoding="ascii") as handle:
            stat = handle.read()
        started_ticks = int(stat.rsplit(")", 1)[1].split()[19])
        boot_now = time.clock_gettime(time.CLOCK_BOOTTIME)
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    age = boot_now - started_ticks / os.sysconf("SC_CLK_TCK") - (
        time.perf_counter() - _IMPORTED_AT
    )
    return max(age, 0.0)


_AGE_AT_IMPORT = process_age_at_import()


def elapsed_since_start(command_started: float) -> tuple[float, str]:
    """(seconds, what they measure): from process start when run as ``ondc-adapter`` (or
    ``python -m ondc_adapter.cli``) on Linux, else from ``command_started``
    (a ``time.perf_counter()`` value)."""
    now = time.perf_counter()
    if ENTRY_POINT and _AGE_AT_IMPORT is not None:
        return now - _IMPORTED_AT + _AGE_AT_IMPORT, "since process start"
    return now - command_started, "since command start"
