"""Item ``descriptor.code`` values: ``"<type>:<code>"`` (1 EAN, 2 ISBN, 3 GTIN, 4 HSN, 5 UPC,
6 others). ONDC's log validator expects ``1:`` + EAN-8/13 for RET10/13/16/18, ``4:`` + a 4/6/8/10
digit HSN for RET12 and ``3:`` + GTIN-8/12/13/14 for RET14/15 (protocol.md 4.2). One stored
version of its ``utils/Retail/Search/on_search.ts`` wants ``3:`` in RET16 too; the validator ONDC
ran on this project's logs did not, and its newer versions want ``1:`` there again, so RET16 is
an EAN domain. An EAN given as ``1:`` in a GTIN domain is the same number written ``3:``.

We go one step further than the validator and check the GS1 check digit, because a wrong digit
is the commonest typo in seller sheets and a buyer app scanning codes would reject the item.
"""

from __future__ import annotations

EAN_DOMAINS = frozenset({"ONDC:RET10", "ONDC:RET13", "ONDC:RET16", "ONDC:RET18"})
HSN_DOMAINS = frozenset({"ONDC:RET12"})
GTIN_DOMAINS = frozenset({"ONDC:RET14", "ONDC:RET15"})


def gs1_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit of ``body`` (all digits but the last): weights 3,1,3,...
    from the right."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        total += int(ch) * (3 if i % 2 == 0 else 1)
    return (10 - total % 10) % 10


def with_check_digit(body: str) -> str:
    return body + str(gs1_check_digit(body))


def gtin_problem(value: str, lengths: tuple[int, ...]) -> str | None:
    if not value.isascii() or not value.isdigit():
        return "must contain digits only"
    if len(value) not in lengths:
        return f"must have {' or '.join(map(str, lengths))} digits, not {len(value)}"
    expected = gs1_check_digit(value[:-1])
    if int(value[-1]) != expected:
        return f"check digit is {value[-1]}, expected {expected}"
    return None


def ean_problem(value: str) -> str | None:
    """``None`` if ``value`` is a valid EAN-8 or EAN-13, else the reason."""
    return gtin_problem(value, (8, 13))


def hsn_problem(value: str) -> str | None:
    """``None`` if ``value`` is a 4, 6, 8 or 10 digit HSN code with a real chapter (01-99)."""
    if not value.isascii() or not value.isdigit():
        return "must contain digits only"
    if len(value) not in (4, 6, 8, 10):
        return f"must have 4, 6, 8 or 10 digits, not {len(value)}"
    if value[:2] == "00":
        return "chapter 00 does not exist"
    return None


def expected_code_type(domain: str) -> str | None:
    if domain in EAN_DOMAINS:
        return "1"
    if domain in HSN_DOMAINS:
        return "4"
    if domain in GTIN_DOMAINS:
        return "3"
    return None


def as_gtin(domain: str, code: str) -> str:
    """``code`` as ``domain`` wants it written: in a GTIN domain a valid ``1:<EAN-8/13>`` is
    the same number as a GTIN, so it becomes ``3:<digits>``; anything else is left as is."""
    kind, sep, value = code.partition(":")
    if domain in GTIN_DOMAINS and sep and kind == "1" and ean_problem(value) is None:
        return "3:" + value
    return code


def descriptor_code_problem(domain: str, code: str) -> str | None:
    """Why ``code`` is not an acceptable ``descriptor.code`` for ``domain`` (``None`` if it is)."""
    kind, sep, value = code.partition(":")
    if not sep:
        return "must be '<type>:<code>', e.g. '1:8901234567890' (EAN) or '4:5007' (HSN)"
    expected = expected_code_type(domain)
    if expected is not None and kind != expected:
        names = {"1": "1:<EAN-8/13>", "3": "3:<GTIN-8/12/13/14>", "4": "4:<HSN>"}
        hint = ""
        if expected == "3" and kind == "1":
            bad_ean = ean_problem(value)
            if bad_ean:  # the number itself is wrong: say that first
                return f"EAN {value!r} {bad_ean}"
            hint = f" (an EAN is a GTIN: write 3:{value})"
        return f"{domain} needs {names[expected]}, got type {kind!r}{hint}"
    if kind == "1":
        reason = ean_problem(value)
    elif kind == "4":
        reason = hsn_problem(value)
    elif kind == "3":
        reason = gtin_problem(value, (8, 12, 13, 14))
    elif kind in ("2", "5", "6"):
        reason = None if value.strip() else "code is empty"
    else:
        return f"unknown code type {kind!r} (1 EAN, 2 ISBN, 3 GTIN, 4 HSN, 5 UPC, 6 other)"
    if reason is None:
        return None
    label = {"1": "EAN", "3": "GTIN", "4": "HSN"}.get(kind, "code")
    return f"{label} {value!r} {reason}"
