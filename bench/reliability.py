"""The reliability suite's own command: run fault scenarios against a real seller node and
print, for each, what was sent, delivered, lost (must be 0) and duplicated (must be 0).

    python bench/reliability.py                      # every scenario, default traffic
    python bench/reliability.py --only kill postgres --requests 50 --kill-requests 100
    python bench/reliability.py --only orders-kill --buyers 8 --orders 60 --order-kills 4
    python bench/reliability.py --json report.json

Scenarios (tests/reliability/reliability_scenarios.py). kill ... registry test the transport:
their node runs the not-supported handlers (every request gets one error on_* callback, no
business state). orders-kill and orders-postgres run the real seller logic.
  kill      SIGKILL of a node process (tests/transport/node_process.py: the serve app with
            the not-supported handlers) while callbacks are in flight (repeat with --rounds),
            restart: every ACKed request's callback arrives, none twice
  postgres  a private PostgreSQL cluster (initdb + pg_ctl on a free port) stopped right after a
            burst and started again: 503 + 31001 while down, never 500, recovery without restart
  redis     a private redis-server killed and restarted: direct registry lookups and database
            de-duplication while down, cache filled again afterwards
  buyer     buyer app slower than the callback timeout, answering 500, answering NACK, down past
            the TTL: retried and delivered / recorded once / expired
  registry  registry slower than the lookup timeout, then refusing connections: uncached signer
            503 + Retry-After, cached signer ACKed, recovery afterwards
  orders-kill
            the real `ondc-adapter serve` (catalogue search + orders handlers, a small imported
            catalogue) SIGKILLed --order-kills times while --buyers concurrent buyers run
            search/select/init/confirm, the seller advances each order (admin API, on_status
            push) and the buyer asks status: every callback once, one order row per confirmed
            order, stock = initial - sold, same quote select -> init -> confirm
  orders-postgres
            the same traffic against an in-process node with the real seller logic on a
            private PostgreSQL cluster stopped mid-transaction and started again

Needs PostgreSQL server binaries (initdb, pg_ctl), redis-server, and a PostgreSQL server for
scratch databases (ONDC_TEST_POSTGRES_DSN, default postgresql://postgres@127.0.0.1:5432/test;
that server is never stopped). Exit status 1 when any scenario loses, duplicates, answers
500, or fails one of its checks. ``resent`` counts at-least-once re-sends of identical bytes
whose ACK the node never saw (buyer answered after the timeout, or the node died between the
buyer's ACK and its own record): reported, not counted as duplicates.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "reliability"), str(ROOT / "tests" / "transport"), str(ROOT)]

from reliability_scenarios import SCENARIOS, Env, Scale, ScenarioResult, run  # noqa: E402

from ondc_adapter.logging import configure_logging  # noqa: E402

COLUMNS = (
    "sent",
    "acked",
    "delivered",
    "refused_by_buyer",
    "expired",
    "lost",
    "duplicates",
    "resent",
    "retryable_nacks",
    "server_errors",
)


def table(results: list[ScenarioResult]) -> str:
    head = ["scenario", *COLUMNS, "ok"]
    rows = [
        [r.name, *(str(getattr(r.tally, c)) for c in COLUMNS), "yes" if r.ok else "NO"]
        for r in results
    ]
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    return "\n".join(out + [line(r) for r in rows])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(SCENARIOS),
        default=list(SCENARIOS),
        help="scenarios to run (default: all)",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=20,
        help="requests per phase in the postgres/redis/buyer/registry scenarios",
    )
    parser.add_argument(
        "--kill-requests",
        type=int,
        default=60,
        help="requests in flight per kill in the kill scenario",
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="kills before the final restart in the kill scenario"
    )
    parser.add_argument(
        "--buyers", type=int, default=8, help="concurrent buyers in the orders scenarios"
    )
    parser.add_argument(
        "--orders", type=int, default=60, help="transactions started in the orders scenarios"
    )
    parser.add_argument(
        "--order-kills",
        type=int,
        default=5,
        help="SIGKILLs of serve in orders-kill (aimed in turn at a confirm POST, "
        "an admin POST, a confirm, an init, a select in flight)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--pg-admin-dsn",
        default=os.environ.get(
            "ONDC_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    configure_logging("ERROR", json=False)
    scale = Scale(
        requests=args.requests,
        kill_requests=args.kill_requests,
        rounds=args.rounds,
        buyers=args.buyers,
        orders=args.orders,
        order_kills=args.order_kills,
    )
    with tempfile.TemporaryDirectory(prefix="ondc-reliability-") as tmp:
        results = asyncio.run(run(args.only, Env(args.pg_admin_dsn, Path(tmp)), scale))
    print(table(results))
    for r in results:
        print(f"\n{r.name}: {json.dumps(r.figures, default=str)}")
        for what, ok in r.checks:
            print(f"  [{'ok' if ok else 'FAIL'}] {what}")
        for problem in r.failures():
            print(f"  ! {problem}")
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "name": r.name,
                        **r.tally.row(),
                        "ok": r.ok,
                        "checks": r.checks,
                        "figures": r.figures,
                    }
                    for r in results
                ],
                indent=2,
                default=str,
            )
        )
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
