"""structlog JSON logging. Key material never reaches a log line: fields whose names look
like secrets are masked by a processor, whatever the caller passes, at any depth (a dict or
list passed as a field is masked inside too)."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

_SECRET_NAME = re.compile(
    r"(private|secret|password|passwd|api_key|apikey|seed|authorization|signature)", re.I
)
_REDACTED = "[redacted]"


def _masked(value: Any, depth: int = 0) -> Any:
    if depth > 8:  # log fields are small; a deeper structure is not worth walking
        return value
    if isinstance(value, dict):
        return {
            k: _REDACTED if isinstance(k, str) and _SECRET_NAME.search(k)
            else _masked(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_masked(v, depth + 1) for v in value]
    return value


def redact_secrets(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    for name in list(event):
        if _SECRET_NAME.search(name):
            event[name] = _REDACTED
        elif isinstance(event[name], dict | list | tuple):
            event[name] = _masked(event[name])
    return event


def configure_logging(level: str = "INFO", *, json: bool = True, stream: Any = None) -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_secrets,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
