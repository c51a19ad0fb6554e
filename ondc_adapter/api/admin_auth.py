"""API-key authentication for the seller admin endpoints (``X-API-Key`` header), and the one
rule every admin parameter shares: no NUL character (PostgreSQL cannot store or compare one
in text, so it would surface as a database error instead of a 400 naming the parameter)."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, Security
from fastapi.security import APIKeyHeader

from ondc_adapter.settings import Settings

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="seller admin key")


def require_admin(request: Request, api_key: str | None = Security(api_key_header)) -> None:
    """Dependency for admin routes; the app stores its ``Settings`` on ``app.state.settings``."""
    settings: Settings = request.app.state.settings
    expected = settings.admin_api_key
    if expected is None:
        raise HTTPException(status_code=503, detail="admin API disabled: set ONDC_ADMIN_API_KEY")
    # Bytes, not str: compare_digest raises TypeError on non-ASCII str, and header values
    # are whatever the client sent (latin-1); a wrong key must be a 401, never an error.
    if api_key is None or not hmac.compare_digest(
        api_key.encode("utf-8", "surrogateescape"),
        expected.get_secret_value().encode("utf-8"),
    ):
        raise HTTPException(status_code=401, detail="missing or wrong X-API-Key")

    _refuse_nul(request)


def _refuse_nul(request: Request) -> None:
    for name, value in request.path_params.items():
        if isinstance(value, str) and "\x00" in value:
            raise HTTPException(status_code=400, detail=f"path parameter {name!r}: {_NUL}")
    for name, value in request.query_params.multi_items():
        if "\x00" in name or "\x00" in value:
            raise HTTPException(status_code=400, detail=f"query parameter {name!r}: {_NUL}")


_NUL = "the NUL character (U+0000) is not allowed"
