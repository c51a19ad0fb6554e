"""Where the node's CPU time goes, from py-spy's raw (collapsed) stacks.

    py-spy record --pid PID --subprocesses --native --nonblocking --format raw -o prof.txt
    python bench/profile_stacks.py prof.txt [--top 25] [--json out.json]

(``python bench/throughput.py --py-spy DIR`` records such a file for each node during its
saturation search phase.) Each sample is one stack of a busy thread (py-spy leaves idle
samples out unless ``--idle``), so shares are shares of the CPU the node used.

Each sample gets:

* a task, from the outermost frame of the node's own loops: the ACK path (``api/pipeline.py``
  and the HTTP server under it), the inbox processor (``processor.py``: claim, seller logic,
  outbox writes), the dispatcher (``dispatcher.py``: claim, sign, POST, record), the admission
  sampler, the catalogue warm-up; what runs outside any of them (the event loop itself,
  scheduling, garbage collection) is "event loop / other", and SQLAlchemy's sync code run in
  a greenlet (its asyncio layer), whose stack does not show who awaits it, is a task of its own;
* a kind of work, from the innermost frame whose code is recognisable: the database driver
  (asyncpg, aiosqlite, sqlite3), SQLAlchemy (ORM, core), JSON (orjson, json), pydantic, signing
  (pynacl/libsodium, BLAKE2b), the HTTP client (httpx, httpcore, h11), the HTTP server (uvicorn,
  httptools, starlette), logging, asyncio, or the node's own module (``ondc_adapter.x.y``).
  With ``--native`` samples, C code (orjson, libsodium, the event loop) is seen as itself;
  without it, time in a C function is charged to the Python line that called it.

Prints the task x kind shares, the top kinds per task, the node's own functions by inclusive
time (in the stack at all), and the hottest leaf frames.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

# (substring of a frame, kind): the first match from the innermost frame outwards wins
KINDS: list[tuple[str, str]] = [
    ("asyncpg", "DB driver (asyncpg)"),
    ("aiosqlite", "DB driver (aiosqlite/sqlite3)"),
    ("sqlite3", "DB driver (aiosqlite/sqlite3)"),
    ("libsqlite", "DB driver (aiosqlite/sqlite3)"),
    ("sqlalchemy/orm", "SQLAlchemy ORM"),
    ("sqlalchemy", "SQLAlchemy core/engine"),
    ("libsodium", "signing (Ed25519, libsodium)"),
    ("nacl/", "signing (Ed25519, libsodium)"),
    ("_sodium", "signing (Ed25519, libsodium)"),
    ("blake2", "signing (BLAKE2b digest)"),
    ("ondc_adapter/signing.py", "signing (Ed25519, libsodium)"),
    ("orjson", "JSON (orjson)"),
    ("json/", "JSON (json)"),
    ("pydantic_core", "pydantic"),
    ("pydantic", "pydantic"),
    ("httpcore", "HTTP client (httpx/httpcore/h11)"),
    ("httpx", "HTTP client (httpx/httpcore/h11)"),
    ("h11", "HTTP client (httpx/httpcore/h11)"),
    ("anyio", "HTTP client (httpx/httpcore/h11)"),
    ("httptools", "HTTP server (uvicorn/httptools/starlette)"),
    ("uvicorn", "HTTP server (uvicorn/httptools/starlette)"),
    ("starlette", "HTTP server (uvicorn/httptools/starlette)"),
    ("fastapi", "HTTP server (uvicorn/httptools/starlette)"),
    ("structlog", "logging (structlog)"),
    ("logging/", "logging (structlog)"),
    ("prometheus_client", "metrics (prometheus_client)"),
    ("redis", "Redis client"),
    ("uvloop", "event loop (uvloop/asyncio)"),
    ("asyncio/", "event loop (uvloop/asyncio)"),
    ("ssl", "TLS/ssl"),
]
FRAME = re.compile(r"^(?P<func>.*?) \((?P<where>[^()]*)\)$")


def parse(line: str) -> tuple[list[tuple[str, str]], int] | None:
    stack, _, count = line.rstrip("\n").rpartition(" ")
    if not stack or not count.isdigit():
        return None
    frames = []
    for raw in stack.split(";"):
        match = FRAME.match(raw)
        if match:
            frames.append((match["func"], match["where"]))
        else:
            frames.append((raw, ""))
    return frames, int(count)


def module_of(where: str) -> str | None:
    path = where.rsplit(":", 1)[0]
    if "ondc_adapter/" not in path:
        return None
    mod = path.split("ondc_adapter/", 1)[1].removesuffix(".py").replace("/", ".")
    return f"ondc_adapter.{mod}"


def task_of(frames: list[tuple[str, str]]) -> str:
    for func, where in frames:  # outermost first
        path = where.rsplit(":", 1)[0]
        if path.endswith("ondc_adapter/processor.py"):
            return "processor"
        if path.endswith("ondc_adapter/dispatcher.py"):
            return "dispatcher"
        if path.endswith("ondc_adapter/admission.py"):
            return "admission sampler"
        if path.endswith("ondc_adapter/backlog.py"):
            return "backlog gauges"
        if path.endswith("catalogue/warmup.py"):
            return "catalogue warm-up"
        if path.endswith(("api/pipeline.py", "api/app.py")) or "httptools_impl" in path:
            return "ACK path (HTTP in, verify, inbox)"
        if func.startswith("gc_collect") or func in ("collect", "gc_collect_main"):
            return "garbage collector"
    if any("greenlet" in where or "greenlet::" in func for func, where in frames):
        # SQLAlchemy's asyncio layer runs its sync code in a greenlet: that stack does not
        # show the coroutine (processor, dispatcher, ACK path) that awaits it
        return "SQLAlchemy in a greenlet (caller not visible)"
    return "event loop / other"


def kind_of(frames: list[tuple[str, str]]) -> str:
    for func, where in reversed(frames):  # innermost first
        text = f"{func} {where}"
        for needle, kind in KINDS:
            if needle in text:
                return kind
        module = module_of(where)
        if module:
            return module
    leaf = frames[-1] if frames else ("?", "")
    return f"other ({leaf[1].rsplit(':', 1)[0].rsplit('/', 1)[-1] or leaf[0]})"


def summarise(path: Path, top: int) -> dict[str, object]:
    total = 0
    by_task: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    cell: dict[str, Counter[str]] = defaultdict(Counter)
    inclusive: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        parsed = parse(line)
        if parsed is None:
            continue
        frames, count = parsed
        total += count
        task, kind = task_of(frames), kind_of(frames)
        by_task[task] += count
        by_kind[kind] += count
        cell[task][kind] += count
        seen = set()
        for func, where in frames:
            module = module_of(where)
            if module and (module, func) not in seen:
                seen.add((module, func))
                inclusive[f"{module}.{func}"] += count
        func, where = frames[-1]
        leaves[f"{func} ({where})"] += count

    def pct(n: int) -> float:
        return round(100 * n / total, 1) if total else 0.0

    return {
        "samples": total,
        "tasks": {t: pct(n) for t, n in by_task.most_common()},
        "kinds": {k: pct(n) for k, n in by_kind.most_common()},
        "task_kinds": {
            t: {k: pct(n) for k, n in cell[t].most_common(top)} for t, _ in by_task.most_common()
        },
        "own_functions_inclusive": {f: pct(n) for f, n in inclusive.most_common(top * 2)},
        "leaves": {f: pct(n) for f, n in leaves.most_common(top)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("profile", type=Path, help="py-spy record --format raw output")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--json", type=Path, help="also write the summary here")
    args = parser.parse_args(argv)
    out = summarise(args.profile, args.top)
    print(f"{out['samples']} samples (CPU-busy stacks) in {args.profile}\n")
    print("by task (% of all samples):")
    for task, share in out["tasks"].items():  # type: ignore[union-attr]
        print(f"  {share:5.1f}%  {task}")
        for kind, part in out["task_kinds"][task].items():  # type: ignore[index]
            if part >= 0.5:
                print(f"           {part:5.1f}%  {kind}")
    print("\nby kind of work, all tasks:")
    for kind, share in out["kinds"].items():  # type: ignore[union-attr]
        if share >= 0.3:
            print(f"  {share:5.1f}%  {kind}")
    print("\nthe node's own functions, inclusive (in the stack at all):")
    for func, share in out["own_functions_inclusive"].items():  # type: ignore[union-attr]
        print(f"  {share:5.1f}%  {func}")
    print("\nhottest innermost frames (self time):")
    for leaf, share in out["leaves"].items():  # type: ignore[union-attr]
        print(f"  {share:5.1f}%  {leaf}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
