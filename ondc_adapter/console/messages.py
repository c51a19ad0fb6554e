"""The console's message catalogue, kept in step with the code: ``python -m
ondc_adapter.console.messages`` lists every msgid the templates and the console code use, and
with ``--update`` adds the missing ones (empty) to each language's ``.po`` file and drops none.
``tests/console/test_i18n.py`` fails while a msgid has no Hindi translation."""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from ondc_adapter.console.i18n import DOMAIN, LANGUAGES, LOCALES_DIR
from ondc_adapter.console.labels import data_messages

HERE = Path(__file__).parent
METHODS = [("templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"templates/**.html": {"trimmed": "true"}}
KEYWORDS = {"_": None, "N_": None, "gettext": None}


def used_messages() -> set[str]:
    found: set[str] = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(HERE), METHODS, OPTIONS, KEYWORDS
    ):
        if isinstance(message, str) and message:
            found.add(message)
    return found | data_messages()


def read_catalogue(code: str) -> Catalog:
    with (LOCALES_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as fh:
        return read_po(fh, locale=code, domain=DOMAIN)


def update() -> None:
    used = sorted(used_messages())
    for code in LANGUAGES:
        if code == "en":
            continue
        path = LOCALES_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"
        catalog = read_catalogue(code) if path.exists() else Catalog(locale=code, domain=DOMAIN)
        for msgid in used:
            if msgid not in catalog:
                catalog.add(msgid, "")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            write_po(fh, catalog, width=100, sort_output=True, omit_header=False)


if __name__ == "__main__":
    if "--update" in sys.argv:
        update()
    for message in sorted(used_messages()):
        print(message)
