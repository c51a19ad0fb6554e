"""The attack suite's "no state change" check can fail: ``AttackNode.fingerprint`` sees an
UPDATE of one column of one row (which ``counts()`` cannot), in a text, JSONB, bytea or
timestamp column, a deleted-and-reinserted row with a new key, and a dropped table; and it is
stable when nothing changed."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import orjson
from attack_node import ADMIN_KEY, AttackNode, changed_tables, record

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from catalogue.helpers import provider, ret16_item


def test_fingerprint_sees_edits_that_row_counts_miss(node: AttackNode, http: httpx.Client) -> None:
    admin = {"X-API-Key": ADMIN_KEY}
    body = provider("PFP")
    body.pop("type")
    assert http.post(f"{node.url}/admin/providers", json=body, headers=admin).status_code == 201
    item = ret16_item("IFP", provider_id="PFP")
    item.pop("type")
    assert http.post(f"{node.url}/admin/items", json=item, headers=admin).status_code == 201
    node.sql(
        "INSERT INTO inbox (action, bap_id, transaction_id, message_id, body, signer, "
        "received_at, status, attempts, next_attempt_at) VALUES ('select', 'b', 't', 'm', "
        "'\\x7b7d'::bytea, 'b', now(), 'received', 0, now())"
    )
    base, counts = node.fingerprint(), node.counts()
    assert node.fingerprint() == base  # stable: nothing changed, nothing differs

    edits = {
        # one character of a text column
        "catalogue_providers": (
            "UPDATE catalogue_providers SET name = name || '!' WHERE id = 'PFP'",
            "UPDATE catalogue_providers SET name = left(name, -1) WHERE id = 'PFP'",
        ),
        # a value inside a JSONB column
        "catalogue_items": (
            "UPDATE catalogue_items SET attributes = attributes || '{\"brand\": \"x\"}' "
            "WHERE id = 'IFP'",
            "UPDATE catalogue_items SET attributes = attributes - 'brand' "
            "|| jsonb_build_object('brand', 'Varanasi Weavers') WHERE id = 'IFP'",
        ),
        # one byte of a bytea column
        "inbox": (
            "UPDATE inbox SET body = '\\x7b20207d'::bytea WHERE message_id = 'm'",
            "UPDATE inbox SET body = '\\x7b7d'::bytea WHERE message_id = 'm'",
        ),
        # a timestamp, by a microsecond
        "catalogue_locations": (
            "UPDATE catalogue_locations SET updated_at = updated_at + interval '1 microsecond' "
            "WHERE provider_id = 'PFP'",
            "UPDATE catalogue_locations SET updated_at = updated_at - interval '1 microsecond' "
            "WHERE provider_id = 'PFP'",
        ),
    }
    for table, (edit, undo) in edits.items():
        record()
        node.sql(edit)
        after = node.fingerprint()
        assert node.counts() == counts  # the old check would have passed...
        assert changed_tables(base, after) == {table}  # ...this one does not
        node.sql(undo)
        assert node.fingerprint() == base, table

    # the same row deleted and written again under a new primary key
    record()
    node.sql(
        "WITH gone AS (DELETE FROM inbox WHERE message_id = 'm' RETURNING *) "
        "INSERT INTO inbox (action, bap_id, transaction_id, message_id, body, signer, "
        "received_at, status, attempts, next_attempt_at) SELECT action, bap_id, "
        "transaction_id, message_id, body, signer, received_at, status, attempts, "
        "next_attempt_at FROM gone"
    )
    assert node.counts() == counts
    assert changed_tables(base, node.fingerprint()) == {"inbox"}

    # a dropped table
    record()
    node.sql("CREATE TABLE scratch_fp (id int PRIMARY KEY)")
    with_scratch = node.fingerprint()
    node.sql("DROP TABLE scratch_fp")
    assert changed_tables(with_scratch, node.fingerprint()) == {"scratch_fp"}


def test_fingerprint_orders_rows_by_primary_key(node: AttackNode) -> None:
    """Physical row order (which an UPDATE changes in PostgreSQL) does not matter, content
    does: two equal catalogues give equal fingerprints whatever the heap order."""
    record()
    before = node.fingerprint()
    node.sql("UPDATE catalogue_items SET stock = stock WHERE true")  # new row versions
    assert node.fingerprint() == before
    assert orjson.dumps(sorted(before)) == orjson.dumps(sorted(node.tables()))
