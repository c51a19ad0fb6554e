"""Languages of the console: message catalogues (gettext ``.po`` files read with Babel), the
choice of language for a request, and number and date formats.

Every string a person reads is a msgid in ``locales/<lang>/LC_MESSAGES/console.po``; English is
the msgid itself. The ``.po`` files are compiled in memory when the console starts, so the
repository holds no binary ``.mo`` files. ``tests/console/test_i18n.py`` extracts every msgid
from the templates and the code and fails on one without a Hindi translation.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import Translations

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "console"
# code -> the language's own name, shown in the switcher
LANGUAGES: dict[str, str] = {"en": "English", "hi": "हिन्दी"}
DEFAULT_LANGUAGE = "en"
BABEL_LOCALE = {"en": "en_IN", "hi": "hi_IN"}
INDIA = ZoneInfo("Asia/Kolkata")


@cache
def catalogues() -> Mapping[str, Translations]:
    """Every language's compiled catalogue (English: the msgids themselves)."""
    out: dict[str, Translations] = {"en": Translations()}
    for code in LANGUAGES:
        po = LOCALES_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"
        if code == "en" or not po.exists():
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=code, domain=DOMAIN)
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        buffer.seek(0)
        out[code] = Translations(fp=buffer, domain=DOMAIN)
    return out


def parse_accept_language(header: str | None) -> list[str]:
    """Language codes in the order of the header's preference (q-values; ties keep order)."""
    if not header:
        return []
    ranked: list[tuple[float, int, str]] = []
    for n, part in enumerate(header.split(",")[:20]):
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary and q > 0:
            ranked.append((-q, n, primary))
    return [code for _q, _n, code in sorted(ranked)]


def choose_language(
    cookie: str | None, account: str | None, accept_language: str | None
) -> str:
    """The person's choice (cookie, then their account), else the browser's preference."""
    for choice in (cookie, account):
        if choice in LANGUAGES:
            return choice  # type: ignore[return-value]
    for code in parse_accept_language(accept_language):
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE


@dataclass(frozen=True, slots=True)
class Locale:
    """What a page needs to speak one language."""

    code: str
    translations: Translations

    def gettext(self, message: str, **values: object) -> str:
        text = self.translations.gettext(message)
        return text.format(**values) if values else text

    def money(self, amount: Decimal | str | float) -> str:
        return format_currency(Decimal(str(amount)), "INR", locale=BABEL_LOCALE[self.code])

    def number(self, value: int | Decimal) -> str:
        return format_decimal(value, locale=BABEL_LOCALE[self.code])

    def when(self, moment: datetime | None) -> str:
        if moment is None:
            return ""
        return format_datetime(
            moment.astimezone(INDIA), "d MMM y, HH:mm", locale=BABEL_LOCALE[self.code]
        )


def locale_for(code: str) -> Locale:
    return Locale(code, catalogues().get(code) or catalogues()["en"])


Translate = Callable[..., str]
