# ruff: noqa: RUF002 (Markdown-ish prose: the multiplication sign and dashes are meant)
"""The peer queue the goals name, measured in the same run as the hub: pgqueuer on PostgreSQL.

``PERFORMANCE.md`` measured pgqueuer once, on another day; the machines drift by ±10–30 %
between invocations (and by 2× between hours), so a goal stated as "× pgqueuer" is only
meaningful when pgqueuer runs beside the hub, against the same sink, in the same invocation.
This file is that peer, as a user of pgqueuer would write it: one entrypoint that POSTs the job's
document to the sink, signed like the hub's webhook (HMAC-SHA256 over the body), the job id as
``webhook-id``.

Roles (``python bench/peer_pgqueuer.py <role> …``, the same JSON-lines protocol as
``bench/worker.py``):

- ``prefill``   install pgqueuer's schema and enqueue N documents (batches of 1,000);
- ``worker``    ``QueueManager.run`` from ``go`` to ``stop``: 64 POSTs in flight at most;
- ``producer``  the end-to-end load: one ``enqueue`` per document, C in flight, optionally paced.

Needs the ``bench`` dependency group (``uv sync --group bench``): pgqueuer and asyncpg.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import timedelta
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from peer_http import poster, signature
from worker import cpu_seconds, emit, expect_line, maxrss_mb, produce, request_ms, stdin_lines
from workload import plain_body

ENTRYPOINT = "deliver"


async def connect(dsn: str) -> Any:
    import asyncpg

    return await asyncpg.connect(dsn)


async def prefill(args: argparse.Namespace) -> None:
    from pgqueuer import AsyncpgDriver, Queries

    conn = await connect(args.dsn)
    queries = Queries(AsyncpgDriver(conn))
    await queries.install()
    t0 = time.perf_counter()
    for start in range(0, args.n, 1000):
        seqs = range(start, min(args.n, start + 1000))
        await queries.enqueue(
            [ENTRYPOINT] * len(seqs), [plain_body(i, args.run)[1] for i in seqs], [0] * len(seqs)
        )
    await conn.close()
    emit("result", n=args.n, seconds=time.perf_counter() - t0)


async def worker(args: argparse.Namespace) -> None:
    from pgqueuer import AsyncpgDriver, Queries, QueueManager
    from pgqueuer.models import Job

    reader = await stdin_lines()
    conn = await connect(args.dsn)
    qm = QueueManager(Queries(AsyncpgDriver(conn)))
    errors = 0
    post, close = poster(args.client, args.url, args.concurrency, "pgqueuer-peer")

    @qm.entrypoint(ENTRYPOINT)
    async def deliver(job: Job) -> None:
        nonlocal errors
        body = job.payload or b""
        wid = f"msg_{job.id}"
        ts = int(time.time())
        try:
            status = await post(
                body,
                {
                    "webhook-id": wid,
                    "webhook-timestamp": str(ts),
                    "webhook-signature": signature(wid, ts, body),
                },
            )
        except Exception:
            errors += 1
            raise
        if status != 200:
            errors += 1
            raise RuntimeError(f"sink answered {status}")

    emit("ready", pid=os.getpid())
    await expect_line(reader, "go")
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    running = asyncio.create_task(
        qm.run(
            batch_size=args.batch_size,
            max_concurrent_tasks=args.concurrency,
            dequeue_timeout=timedelta(seconds=5),
        )
    )
    stop = asyncio.create_task(expect_line(reader, "stop"))
    done, _ = await asyncio.wait({running, stop}, return_when=asyncio.FIRST_COMPLETED)
    cpu1, t1 = cpu_seconds(), time.perf_counter()
    if running in done:
        stop.cancel()
        emit("error", error=f"QueueManager.run ended early: {running.exception()!r}")
    qm.shutdown.set()
    await running
    await close()
    await conn.close()
    emit("result", cpu_s=cpu1 - cpu0, wall_s=t1 - t0, maxrss_mb=maxrss_mb(), errors=errors)


async def producer(args: argparse.Namespace) -> None:
    import asyncpg
    from pgqueuer import AsyncpgPoolDriver, Queries

    reader = await stdin_lines()
    pool = await asyncpg.create_pool(args.dsn, min_size=args.concurrency, max_size=args.concurrency)
    queries = Queries(AsyncpgPoolDriver(pool))
    emit("ready", pid=os.getpid())
    await expect_line(reader, "go")
    cpu0, t0 = cpu_seconds(), time.perf_counter()

    async def send(i: int) -> bool:
        try:
            await queries.enqueue(ENTRYPOINT, plain_body(i, args.run, t0=time.time())[1])
        except Exception:
            return False
        return True

    latencies, errors = await produce(args.n, args.concurrency, args.rate, send)
    cpu1, t1 = cpu_seconds(), time.perf_counter()
    await pool.close()
    emit(
        "result",
        cpu_s=cpu1 - cpu0,
        wall_s=t1 - t0,
        errors=errors,
        statuses={"201": len(latencies)},
        request_ms=request_ms(latencies),
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="role", required=True)
    p = sub.add_parser("prefill")
    p.add_argument("--dsn", required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--run", required=True)
    p = sub.add_parser("worker")
    p.add_argument("--dsn", required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--client", choices=["aiohttp", "httpx-aiohttp"], default="aiohttp")
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32)
    p = sub.add_parser("producer")
    p.add_argument("--dsn", required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--rate", type=float, default=0.0, help="documents per second; 0 = as fast")
    p.add_argument("--run", required=True)
    args = ap.parse_args()
    role = {"prefill": prefill, "worker": worker, "producer": producer}
    asyncio.run(role[args.role](args))


if __name__ == "__main__":
    main()
