"""The other peer ``PERFORMANCE.md`` names: a naive outbox on SQLite, measured beside the hub.

About a hundred lines, as the brief describes it: one SQLite table in WAL mode, a batch claim
(``UPDATE … RETURNING``), at most 64 POSTs in flight, the done marks written in batches — and
nothing else: no audit trail, no attempts table, no retries, no leases recovered, no metrics,
the SQLite calls made on the event loop. It is the floor of what any outbox costs, so the hub's
distance to it is the price of what the hub does besides.

Roles (``python bench/peer_outbox.py <role> …``, the JSON-lines protocol of ``bench/worker.py``):

- ``prefill``  create the table and insert N documents;
- ``worker``   drain it from ``go`` to ``stop`` (aiohttp, or httpx on httpx-aiohttp's transport).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from peer_http import poster, signature
from worker import cpu_seconds, emit, expect_line, maxrss_mb, stdin_lines
from workload import plain_body

PENDING, CLAIMED, DONE = 0, 1, 2


def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


async def prefill(args: argparse.Namespace) -> None:
    conn = connect(args.dsn)
    conn.execute(
        "CREATE TABLE outbox (id INTEGER PRIMARY KEY, body BLOB NOT NULL,"
        " state INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0)"
    )
    conn.execute("CREATE INDEX outbox_state ON outbox (state, id)")
    t0 = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO outbox (body) VALUES (?)",
        ((plain_body(i, args.run)[1],) for i in range(args.n)),
    )
    conn.execute("COMMIT")
    conn.close()
    emit("result", n=args.n, seconds=time.perf_counter() - t0)


async def worker(args: argparse.Namespace) -> None:
    reader = await stdin_lines()
    conn = connect(args.dsn)
    post, close = poster(args.client, args.url, args.concurrency, "outbox-peer")

    done: list[int] = []
    errors = 0

    async def deliver(row_id: int, body: bytes) -> None:
        nonlocal errors
        wid, ts = f"msg_{row_id}", int(time.time())
        sig = signature(wid, ts, body)
        try:
            status = await post(
                body, {"webhook-id": wid, "webhook-timestamp": str(ts), "webhook-signature": sig}
            )
        except Exception:
            status = 0
        if status == 200:
            done.append(row_id)
        else:
            errors += 1

    def flush() -> None:
        if done:
            marks = ",".join(str(i) for i in done)
            conn.execute(f"UPDATE outbox SET state = {DONE} WHERE id IN ({marks})")
            done.clear()

    def claim(limit: int) -> list[tuple[int, bytes]]:
        return conn.execute(
            f"UPDATE outbox SET state = {CLAIMED}, attempts = attempts + 1 WHERE id IN"
            f" (SELECT id FROM outbox WHERE state = {PENDING} ORDER BY id LIMIT ?)"
            " RETURNING id, body",
            (limit,),
        ).fetchall()

    emit("ready", pid=os.getpid())
    await expect_line(reader, "go")
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    stop = asyncio.create_task(expect_line(reader, "stop"))
    inflight: set[asyncio.Task[None]] = set()
    while not stop.done():
        free = args.concurrency - len(inflight)
        if free >= args.concurrency // 4:
            flush()
            for row_id, body in claim(free):
                inflight.add(asyncio.create_task(deliver(row_id, body)))
        if inflight:
            _, inflight = await asyncio.wait(inflight, return_when=asyncio.FIRST_COMPLETED)
        else:
            flush()
            await asyncio.wait({stop}, timeout=0.005)
    cpu1, t1 = cpu_seconds(), time.perf_counter()
    await asyncio.gather(*inflight)
    flush()
    await close()
    conn.close()
    emit("result", cpu_s=cpu1 - cpu0, wall_s=t1 - t0, maxrss_mb=maxrss_mb(), errors=errors)


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="role", required=True)
    p = sub.add_parser("prefill")
    p.add_argument("--dsn", required=True, help="the SQLite file")
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--run", required=True)
    p = sub.add_parser("worker")
    p.add_argument("--dsn", required=True, help="the SQLite file")
    p.add_argument("--url", required=True)
    p.add_argument("--client", choices=["aiohttp", "httpx-aiohttp"], default="aiohttp")
    p.add_argument("--concurrency", type=int, default=64)
    args = ap.parse_args()
    asyncio.run({"prefill": prefill, "worker": worker}[args.role](args))


if __name__ == "__main__":
    main()
