"""The catalogue's validation reasons in the seller's language.

The catalogue's rules (``catalogue.models``, the importer, pydantic) word their problems in
English for logs and the admin API. The console shows them to sellers: each known wording is
matched here and replaced by a translated message that keeps its values. A reason no pattern
knows is shown as it is, so nothing is ever hidden.
"""

from __future__ import annotations

import re
from typing import Protocol


class _Speaks(Protocol):
    def _(self, message: str, **values: object) -> str: ...


def N_(message: str) -> str:
    """Marks a msgid for extraction; translated where it is shown."""
    return message


# (pattern over the English reason, msgid with the pattern's named groups as {placeholders})
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), message)
    for pattern, message in (
        (r"^Field required$", N_("This field is required.")),
        (r"^must be a non-empty string$", N_("This field is required.")),
        (r"^String should have at least (?P<n>\d+) characters?$",
         N_("Enter at least {n} characters.")),
        (r"^String should have at most (?P<n>\d+) characters?$",
         N_("Enter at most {n} characters.")),
        (r"^Input should be greater than (?P<n>[\d.]+)$", N_("Enter a number above {n}.")),
        (r"^Input should be greater than or equal to (?P<n>[\d.]+)$",
         N_("Enter a number of at least {n}.")),
        (r"^Input should be less than or equal to (?P<n>[\d.]+)$",
         N_("Enter a number of at most {n}.")),
        (r"^Input should be a valid (integer|number|decimal).*$", N_("Enter a number.")),
        (r"^String should match pattern .*$", N_("This value is not in the expected format.")),
        (r"^Input should be (?P<choices>'.*')$", N_("Choose one of {choices}.")),
        (r"^selling price (?P<price>\S+) exceeds MRP (?P<mrp>\S+)$",
         N_("The selling price {price} is more than the MRP {mrp}.")),
        (r"^mandatory for (?P<category>.+)$", N_("Required for the category {category}.")),
        (r"^'(?P<value>.*)' is not an allowed value \((?P<allowed>.*)\)$",
         N_("'{value}' is not allowed here. Allowed: {allowed}.")),
        (r"^not an attribute of (?P<category>.+)$",
         N_("This is not a property of the category {category}.")),
        (r"^'(?P<category>.*)' is not a (?P<domain>ONDC:\w+) category$",
         N_("'{category}' is not a category of {domain}.")),
        (r"^must be 'name,email,phone'.*$",
         N_("Write the customer care contact as: name,email,phone (10 or 11 digit phone).")),
        (r"^this id is already in use$", N_("This id is already in use.")),
        (r"^EAN '(?P<code>\d+)' check digit is (?P<given>\d), expected (?P<expected>\d)$",
         N_("The barcode {code} has a wrong last digit: {given}, it should be {expected}.")),
        (r"^no store location '(?P<location>.*)'$", N_("Your store has no location '{location}'.")),
        (r"^another store's id: not yours to change$",
         N_("This row belongs to another store. Only your own store's rows can be uploaded.")),
        (r"^not code=value: (?P<line>.*)$", N_("Write each property as code=value: {line}")),
        (r"^not key=value: (?P<line>.*)$", N_("Write each statutory detail as key=value: {line}")),
        (r"^unknown keys (?P<keys>.*)$", N_("Unknown statutory details: {keys}")),
        (r"^must be MM/YYYY$", N_("Write the month as MM/YYYY.")),
        (r"^'(?P<product>.*)' is not an ODOP product of LGD district (?P<code>\d+)$",
         N_("'{product}' is not an ODOP product of district {code}.")),
    )
)


def explain(reason: str, page: _Speaks) -> str:
    for pattern, message in PATTERNS:
        match = pattern.match(reason)
        if match:
            return page._(message, **match.groupdict())
    return reason


MESSAGES = tuple(message for _pattern, message in PATTERNS)  # for the catalogue check
