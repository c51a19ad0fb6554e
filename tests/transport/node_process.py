"""A seller node in its own process, for the kill -9 tests (``test_crash_recovery.py`` and the
reliability ``kill`` scenario): settings from ``ONDC_*`` variables, the not-supported handlers
(so every request deterministically yields one error callback and no business state), uvicorn
on the port given as the only argument. Equivalent to ``ondc-adapter serve`` minus the choice
of handlers. The reliability ``orders-kill`` scenario kills the real ``ondc-adapter serve``
(catalogue and orders logic) instead."""

from __future__ import annotations

import sys

import uvicorn

from ondc_adapter.api.app import create_app
from ondc_adapter.handlers import not_supported_handlers
from ondc_adapter.settings import Settings

if __name__ == "__main__":
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    app = create_app(settings, handlers=not_supported_handlers())
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
