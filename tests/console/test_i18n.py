"""Message catalogues: every string the console shows has a Hindi translation that keeps its
placeholders, and the choice of language follows the person, then the browser."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ondc_adapter.console.i18n import choose_language, locale_for, parse_accept_language
from ondc_adapter.console.messages import read_catalogue, used_messages

PLACEHOLDER = re.compile(r"\{(\w+)\}")


def test_every_message_has_a_hindi_translation_with_the_same_placeholders() -> None:
    catalogue = read_catalogue("hi")
    missing, broken = [], []
    for msgid in sorted(used_messages()):
        entry = catalogue.get(msgid)
        if entry is None or not entry.string:
            missing.append(msgid)
        elif set(PLACEHOLDER.findall(msgid)) != set(PLACEHOLDER.findall(str(entry.string))):
            broken.append(msgid)
    assert missing == [], "run python -m ondc_adapter.console.messages --update, then translate"
    assert broken == []


def test_hindi_text_is_devanagari() -> None:
    hindi = locale_for("hi")
    assert hindi.gettext("Orders") == "ऑर्डर"
    assert hindi.gettext("Order {id}", id="O1") == "ऑर्डर O1"
    assert locale_for("en").gettext("Orders") == "Orders"
    assert hindi.money("1234.5").startswith("₹")


@pytest.mark.parametrize(
    ("cookie", "account", "header", "chosen"),
    [
        (None, None, None, "en"),
        (None, None, "hi-IN,hi;q=0.9,en;q=0.8", "hi"),
        (None, None, "en-GB,en;q=0.9,hi;q=0.8", "en"),
        (None, None, "fr;q=1, hi;q=0.5", "hi"),
        (None, "hi", "en", "hi"),
        ("en", "hi", "hi", "en"),
        ("xx", None, "hi", "hi"),
    ],
)
def test_choice_then_account_then_browser(cookie: str | None, account: str | None,
                                          header: str | None, chosen: str) -> None:
    assert choose_language(cookie, account, header) == chosen


@given(st.text(max_size=200))
def test_accept_language_parser_never_fails(header: str) -> None:
    for code in parse_accept_language(header):
        assert code == code.lower()
