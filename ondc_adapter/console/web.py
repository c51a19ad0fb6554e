"""The console's web plumbing: templates, who is signed in, CSRF, language, and the pages that
are not about the store (sign in, sign out, language).

Every page is plain server-rendered HTML (Jinja2, autoescaped) that works without JavaScript.
A request goes: session cookie -> ``Principal`` (or a redirect to ``/console/login``) ->
language -> the page. Every POST carries the session's CSRF token in a hidden field; the sign-in
form, which has no session yet, carries a double-submit token (cookie + field).

Records of another store answer 404 exactly as records that do not exist (``NotFound``), so a
seller cannot even learn which ids another store uses.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ondc_adapter.console import accounts
from ondc_adapter.console.accounts import Principal, SignInResult
from ondc_adapter.console.i18n import LANGUAGES, Locale, choose_language, locale_for
from ondc_adapter.logging import get_logger
from ondc_adapter.storage import Database

log = get_logger(__name__)

HERE = Path(__file__).parent
SESSION_COOKIE = "ondc_console"
LANGUAGE_COOKIE = "ondc_console_lang"
LOGIN_CSRF_COOKIE = "ondc_console_login"
MAX_FORM_BYTES = 64 * 1024  # every form but the catalogue upload

_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


class NotFound(Exception):
    """Unknown, or another store's: the same 404 page either way."""


class SignInRequired(Exception):
    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class BadToken(Exception):
    """A POST without the right CSRF token."""


class TooLarge(Exception):
    def __init__(self, limit: int) -> None:
        self.limit = limit


@dataclass(slots=True)
class Page:
    """One request's view of the console: who, in which language, and the means to answer."""

    request: Request
    who: Principal | None
    locale: Locale
    session_token: str | None = None

    @property
    def db(self) -> Database:
        return self.request.app.state.db  # type: ignore[no-any-return]

    @property
    def lang(self) -> str:
        return self.locale.code

    def _(self, message: str, **values: object) -> str:
        return self.locale.gettext(message, **values)

    def require(self) -> Principal:
        if self.who is None:
            raise SignInRequired(self.request.url.path)
        return self.who

    def render(
        self, template: str, status_code: int = 200, **values: Any
    ) -> HTMLResponse:
        page = _templates.get_template(template)
        html = page.render(
            _=self._,
            lang=self.lang,
            languages=LANGUAGES,
            money=self.locale.money,
            number=self.locale.number,
            when=self.locale.when,
            who=self.who,
            csrf=self.who.csrf_token if self.who else "",
            path=self.request.url.path,
            here=quote(str(self.request.url.path), safe="/"),
            **values,
        )
        response = HTMLResponse(html, status_code=status_code)
        # Pages hold a seller's business: never cached by a shared proxy, never framed.
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' https: data:; style-src 'self'; "
            "script-src 'none'; form-action 'self'; frame-ancestors 'none'"
        )
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    async def form(self, *, max_bytes: int = MAX_FORM_BYTES) -> dict[str, str]:
        """The POSTed form (text fields), after the CSRF check."""
        if declared_too_large(self.request, max_bytes):
            raise TooLarge(max_bytes)
        form = await self.request.form(max_files=0, max_fields=200)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        self.check_token(fields.get("csrf_token"))
        return fields

    def check_token(self, given: object) -> None:
        """``BadToken`` unless ``given`` is this session's CSRF token."""
        who = self.require()
        if not accounts.same_token(who.csrf_token, given if isinstance(given, str) else None):
            raise BadToken


def declared_too_large(request: Request, max_bytes: int, *, required: bool = False) -> bool:
    """The request's Content-Length says more than ``max_bytes`` (or is unreadable; or absent,
    when ``required``): refused before the body is read."""
    size = request.headers.get("content-length")
    if size is None:
        return required
    return not size.isdigit() or int(size) > max_bytes


def _now(request: Request) -> datetime:
    clock: Callable[[], datetime] | None = getattr(request.app.state, "clock", None)
    return clock() if clock else datetime.now(UTC)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def secure(request: Request) -> bool:
    """Cookies get ``Secure`` when the page was reached over TLS (uvicorn's proxy headers
    turn a TLS-terminating proxy's X-Forwarded-Proto into this scheme)."""
    return request.url.scheme == "https"


async def page_for(request: Request) -> Page:
    """The ``Page`` of a console request (a FastAPI dependency)."""
    token = request.cookies.get(SESSION_COOKIE)
    who = None
    if token:
        async with request.app.state.db.session() as session:
            who = await accounts.principal_for(session, token, now=_now(request))
    code = choose_language(
        request.cookies.get(LANGUAGE_COOKIE),
        who.language if who else None,
        request.headers.get("accept-language"),
    )
    return Page(request, who, locale_for(code), token if who else None)


def redirect(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303)


def safe_next(value: str | None) -> str:
    """Only paths inside the console: never an open redirect."""
    if value and value.startswith("/console/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/console/orders"


router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    return redirect("/console/orders")


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str | None = None) -> Response:
    page = await page_for(request)
    if page.who is not None:
        return redirect(safe_next(next))
    return _login_page(page, next=safe_next(next))


def _login_page(
    page: Page, *, next: str, error: str | None = None, status_code: int = 200
) -> Response:
    token = secrets.token_urlsafe(24)
    response = page.render(
        "login.html", status_code=status_code, next=next, error=error, login_token=token
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure(page.request),
        path="/console/login", max_age=3600,
    )
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    page = await page_for(request)
    if declared_too_large(request, MAX_FORM_BYTES):
        return _login_page(page, next="/console/orders", error=page._("The form is too large."),
                           status_code=413)
    form = await request.form(max_files=0, max_fields=20)
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    next_path = safe_next(fields.get("next"))
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not expected or not accounts.same_token(expected, fields.get("login_token")):
        return _login_page(
            page, next=next_path, status_code=403,
            error=page._("The sign-in form had expired. Please try again."),
        )
    username = fields.get("username", "").strip()
    password = fields.get("password", "")
    now = _now(request)
    async with page.db.session() as session:
        result, user = await accounts.sign_in(
            session, username, password, address=client_address(request), now=now
        )
        token = await accounts.open_session(session, user, now=now) if user else None
    if result == SignInResult.LOCKED:
        log.warning("console.login_locked", username=username[:64])
        return _login_page(
            page, next=next_path, status_code=429,
            error=page._("Too many failed attempts. Wait 15 minutes and try again."),
        )
    if token is None:
        log.info("console.login_failed", username=username[:64])
        return _login_page(
            page, next=next_path, status_code=401,
            error=page._("Wrong username or password."),
        )
    log.info("console.login", username=username)
    response = redirect(next_path)
    # A new token at every sign-in: whatever cookie the browser had before is replaced.
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="lax", secure=secure(request),
        path="/console", max_age=int(accounts.SESSION_LIFETIME.total_seconds()),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console/login")
    return response


@router.post("/logout", response_class=HTMLResponse)
async def logout(request: Request) -> Response:
    page = await page_for(request)
    if page.who is not None:
        await page.form()
        async with page.db.session() as session:
            await accounts.close_session(session, page.session_token or "")
    response = redirect("/console/login")
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


@router.get("/language", response_class=HTMLResponse)
async def language_form(request: Request) -> Response:
    page = await page_for(request)
    return page.render("language.html", next=safe_next(request.query_params.get("next")))


@router.post("/language", response_class=HTMLResponse)
async def set_language(request: Request) -> Response:
    """Remembered in a cookie (also before sign-in) and, when signed in, on the account."""
    page = await page_for(request)
    if declared_too_large(request, MAX_FORM_BYTES):
        raise TooLarge(MAX_FORM_BYTES)
    form = await request.form(max_files=0, max_fields=10)
    choice = str(form.get("lang", ""))
    next_path = str(form.get("next", ""))
    if page.who is not None:
        page.check_token(form.get("csrf_token", ""))
        if choice in LANGUAGES:
            async with page.db.session() as session:
                await accounts.set_language(session, page.who.user_id, choice)
    target = (
        next_path if next_path == "/console/login" else safe_next(next_path)
    )
    response = redirect(target)
    if choice in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE, choice, httponly=True, samesite="lax", secure=secure(request),
            path="/console", max_age=365 * 86400,
        )
    return response


def add_console(app: FastAPI) -> None:
    """Mount the console: its pages, its static files, and its answers to refusals."""
    from ondc_adapter.console import issues, items, offers, orders, rejections, store

    app.include_router(router)
    app.include_router(items.router)
    app.include_router(orders.router)
    app.include_router(issues.router)
    app.include_router(store.router)
    app.include_router(offers.router)
    app.include_router(rejections.router)
    app.mount(
        "/console/static", StaticFiles(directory=HERE / "static"), name="console-static"
    )

    async def signed_out(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequired)
        return redirect(f"/console/login?next={quote(exc.next_path, safe='/')}")

    async def not_found(request: Request, exc: Exception) -> Response:
        page = await page_for(request)
        return page.render("not_found.html", status_code=404)

    async def bad_token(request: Request, exc: Exception) -> Response:
        page = await page_for(request)
        return page.render(
            "message.html", status_code=403, title=page._("Form expired"),
            message=page._("This form was not sent from your current session. "
                           "Go back, reload the page and try again."),
        )

    async def too_large(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, TooLarge)
        page = await page_for(request)
        return page.render(
            "message.html", status_code=413, title=page._("File too large"),
            message=page._("The file is larger than {limit} KB. Nothing was imported.",
                           limit=exc.limit // 1024),
        )

    app.add_exception_handler(SignInRequired, signed_out)
    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(BadToken, bad_token)
    app.add_exception_handler(TooLarge, too_large)
