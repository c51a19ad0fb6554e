"""Hypothesis on the parsers hostile input reaches first: signature headers, ISO-8601
durations, RFC 3339 timestamps, request bodies, and catalogue import rows. Each either parses
or refuses with its own error type; a refused import writes nothing."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from attack_node import AttackNode, record
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import DBAPIError

from ondc_adapter.api.auth import parse_header
from ondc_adapter.api.body import parse_json
from ondc_adapter.api.nack import Rejection
from ondc_adapter.catalogue.importer import import_records
from ondc_adapter.protocol.durations import parse_duration, parse_timestamp
from ondc_adapter.signing import SignatureError, parse_signature_header

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from catalogue.helpers import provider, ret16_item

FAST = settings(max_examples=300, deadline=None, database=None)
PARAMS = st.sampled_from(["keyId", "algorithm", "created", "expires", "headers", "signature",
                          "KEYID", "x"])
header_text = st.one_of(
    st.text(max_size=300),
    st.lists(st.tuples(PARAMS, st.text(max_size=40)), max_size=8).map(
        lambda ps: "Signature " + ",".join(f'{k}="{v}"' for k, v in ps)
    ),
)


@FAST
@given(header_text)
def test_signature_header_parsers_only_raise_signature_error(value: str) -> None:
    record()
    for parse in (parse_header, parse_signature_header):
        try:
            parsed = parse(value)
        except SignatureError:
            continue
        assert parsed.subscriber_id and parsed.unique_key_id


@FAST
@given(st.text(max_size=40) | st.from_regex(r"P(\d+Y)?(\d+M)?(\d+D)?(T(\d+H)?(\d+M)?(\d+S)?)?"))
def test_duration_parser(value: str) -> None:
    record()
    try:
        parsed = parse_duration(value)
    except ValueError:
        return
    assert parsed.total_seconds() >= 0


@FAST
@given(st.text(max_size=40) | st.datetimes(timezones=st.just(UTC)).map(
    lambda d: d.isoformat().replace("+00:00", "Z")))
def test_timestamp_parser(value: str) -> None:
    record()
    try:
        parsed = parse_timestamp(value)
    except ValueError:
        return
    assert parsed.tzinfo is not None


@FAST
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_body_parser_refuses_with_a_nack(raw: bytes) -> None:
    record()
    try:
        data = parse_json(raw, max_depth=32)
    except Rejection as rejection:
        assert rejection.status == 400 and rejection.error.code == "30000"
        return
    assert isinstance(data, dict)


json_leaf = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=30)
             | st.floats(allow_nan=True))
any_json = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
ITEM_FIELDS = sorted(ret16_item("I1"))
PROVIDER_FIELDS = sorted(provider("P1"))


class _Rollback(Exception):
    pass


async def _import(node: AttackNode, rows: list[dict[str, Any]]) -> Any:
    assert node.db is not None
    try:
        async with node.db.session() as session:
            report = await import_records(session, iter(enumerate(rows, 1)),
                                          now=datetime.now(UTC))
            if not report.ok:
                raise _Rollback
            raise _Rollback  # never keep fuzz rows: later examples start from the same state
    except _Rollback:
        return report


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(
    target=st.sampled_from(["provider", "item"]),
    field=st.sampled_from(ITEM_FIELDS) | st.sampled_from(PROVIDER_FIELDS) | st.text(max_size=8),
    value=any_json,
)
def test_catalogue_import_rows(node: AttackNode, target: str, field: str, value: Any) -> None:
    """One field of an otherwise valid row replaced by anything: a report (rows accepted or
    row-level problems), never an exception, and nothing left behind."""
    rows = [provider("PF"), ret16_item("IF", provider_id="PF")]
    rows[0 if target == "provider" else 1][field] = value
    record()
    before = node.fingerprint()
    try:
        report = node.call(_import(node, rows))
    except DBAPIError as exc:  # a value the validators let through but the database refuses
        raise AssertionError(
            f"import reached the database with {field}={value!r}: {exc}"
        ) from None
    assert report.rows == 2
    if not report.ok:
        assert report.problems
    assert node.fingerprint() == before
