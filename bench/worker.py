"""The processes the benchmark starts, one role each (``python bench/worker.py <role> …``).

Every role talks to ``bench/run.py`` with JSON lines on stdout (``{"event": "ready"}``, then
``{"event": "result", …}``) and waits for ``go`` / ``stop`` lines on stdin, so the time and
the CPU it reports cover the measured work only — not the imports, not the start-up.

Roles:

- ``prefill``   write N documents through the hub's own intake preparation into the ledger;
- ``hub``       a dispatcher process: ``hub.runtime.Hub`` and ``run_workers()``, ``go`` to ``stop``;
- ``plain``     the ceiling: a plain client (aiohttp, httpx, or httpx on aiohttp's transport)
                POSTing N prepared ~1 KB bodies with at most C in flight;
- ``producer``  the end-to-end load: one document per ``POST /api/v1/documents``, C in flight,
                optionally paced to R documents per second (bearer token in ``BENCH_TOKEN``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from workload import TARGET, document_in, plain_body


def emit(event: str, **data: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **data}) + "\n")
    sys.stdout.flush()


def cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


async def produce(
    n: int, concurrency: int, rate: float, send: Callable[[int], Awaitable[bool]]
) -> tuple[list[float], int]:
    """The end-to-end load: documents ``0..n-1`` through ``concurrency`` lanes, paced to ``rate``
    per second when given; ``send(i)`` returns False when it failed. Returns each successful
    send's time in ms, and the number of failures."""
    latencies: list[float] = []
    errors = 0
    it = iter(range(n))
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def lane() -> None:
        nonlocal errors
        for i in it:
            if rate:
                delay = start + i / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            s = time.perf_counter()
            if await send(i):
                latencies.append((time.perf_counter() - s) * 1000.0)
            else:
                errors += 1

    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return latencies, errors


def request_ms(latencies: list[float]) -> dict[str, float | None]:
    """p50, p99 and max of a producer's request times (ms), as the results report them."""
    lat = sorted(latencies)

    def pct(p: float) -> float | None:
        return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] if lat else None

    return {"p50": pct(50), "p99": pct(99), "max": lat[-1] if lat else None}


async def stdin_lines() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def expect_line(reader: asyncio.StreamReader, word: str) -> None:
    while True:
        line = await reader.readline()
        if not line:
            raise SystemExit(f"stdin closed while waiting for {word!r}")
        if line.decode().strip() == word:
            return


def plugin_host(connector: str) -> Any:
    """Installed plugins, plus the benchmark-only what-if connector when it is the one asked."""
    from hub.plugins import create_plugin_host

    extra: list[object] = []
    if connector == "webhook_raw":
        from raw_aiohttp import RawAiohttpPlugin

        extra.append(RawAiohttpPlugin())
    return create_plugin_host(extra=extra)


def routing_rules(connector: str) -> Any:
    from hub.routing import RoutingRules

    dest: dict[str, Any] = {"connector": connector}
    if connector.startswith("webhook"):
        dest["target"] = TARGET
    return RoutingRules.model_validate({"fallback": {"department": "REG", "destinations": [dest]}})


# --- prefill ---------------------------------------------------------------------------------


async def prefill(args: argparse.Namespace) -> None:
    from prometheus_client import CollectorRegistry

    from hub.log import configure_logging
    from hub.models import DocumentIn
    from hub.runtime import Hub

    configure_logging("json", "WARNING")
    hub = Hub.create(
        host=plugin_host(args.connector),
        rules=routing_rules(args.connector),
        migrate=True,
        registry=CollectorRegistry(),
    )
    t0 = time.perf_counter()
    batch = []
    for i in range(args.n):
        batch.append(hub.intake.prepare(DocumentIn.model_validate(document_in(i, args.run))))
        if len(batch) >= 1000:
            hub.ledger.insert_documents(batch)
            batch = []
    if batch:
        hub.ledger.insert_documents(batch)
    await hub.aclose()
    emit("result", n=args.n, seconds=time.perf_counter() - t0)


# --- a hub dispatcher process ----------------------------------------------------------------


async def hub_worker(args: argparse.Namespace) -> None:
    from hub.log import configure_logging
    from hub.runtime import Hub

    configure_logging("json", os.environ.get("HUB_LOG_LEVEL", "INFO"))
    reader = await stdin_lines()
    hub = Hub.create(host=plugin_host(args.connector), rules=routing_rules(args.connector))
    await hub.start()
    emit("ready", pid=os.getpid())
    await expect_line(reader, "go")
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    task = asyncio.create_task(hub.run_workers())
    stop = asyncio.create_task(expect_line(reader, "stop"))
    done, _ = await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
    cpu1, t1 = cpu_seconds(), time.perf_counter()
    if task in done:
        stop.cancel()
        exc = task.exception()
        emit("error", error=f"run_workers ended early: {exc!r}")
    hub.stop()
    await task
    await hub.aclose()
    emit("result", cpu_s=cpu1 - cpu0, wall_s=t1 - t0, maxrss_mb=maxrss_mb())


# --- plain clients (the ceiling) -------------------------------------------------------------


async def plain(args: argparse.Namespace) -> None:
    bodies = [plain_body(i, args.run) for i in range(args.n)]
    reader = await stdin_lines()
    errors = 0

    async def drive(post: Any) -> None:
        nonlocal errors
        it = iter(bodies)

        async def lane() -> None:
            nonlocal errors
            for wid, body in it:
                headers = {"content-type": "application/json", "webhook-id": wid}
                if not await post(body, headers):
                    errors += 1

        await asyncio.gather(*(lane() for _ in range(args.concurrency)))

    if args.client == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency))

        async def post(body: bytes, headers: dict[str, str]) -> bool:
            async with session.post(args.url, data=body, headers=headers) as r:
                await r.read()
                return r.status == 200

        close: Any = session.close
    else:
        import httpx

        limits = httpx.Limits(
            max_connections=args.concurrency, max_keepalive_connections=args.concurrency
        )
        transport: httpx.AsyncBaseTransport
        if args.client == "httpx-aiohttp":
            from httpx_aiohttp import AiohttpTransport

            transport = AiohttpTransport(limits=limits, trust_env=False)
        else:
            transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
        client = httpx.AsyncClient(transport=transport, trust_env=False, timeout=30.0)

        async def post(body: bytes, headers: dict[str, str]) -> bool:
            r = await client.post(args.url, content=body, headers=headers)
            return r.status_code == 200

        close = client.aclose

    emit("ready", pid=os.getpid())
    await expect_line(reader, "go")
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    await drive(post)
    cpu1, t1 = cpu_seconds(), time.perf_counter()
    await close()
    emit("result", cpu_s=cpu1 - cpu0, wall_s=t1 - t0, maxrss_mb=maxrss_mb(), errors=errors)


# --- the end-to-end producer -----------------------------------------------------------------


async def producer(args: argparse.Namespace) -> None:
    import aiohttp

    reader = await stdin_lines()
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency))
    token = os.environ["BENCH_TOKEN"]
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    statuses: dict[int, int] = {}
    emit("ready", pid=os.getpid())
    await expect_line(reader, "go")
    cpu0, t0 = cpu_seconds(), time.perf_counter()

    urls = args.url

    async def send(i: int) -> bool:
        body = json.dumps(document_in(i, args.run, t0=time.time())).encode()
        try:
            # Several hub processes: their APIs take turns.
            async with session.post(urls[i % len(urls)], data=body, headers=headers) as r:
                await r.read()
                statuses[r.status] = statuses.get(r.status, 0) + 1
        except aiohttp.ClientError:
            return False
        return True

    latencies, errors = await produce(args.n, args.concurrency, args.rate, send)
    cpu1, t1 = cpu_seconds(), time.perf_counter()
    await session.close()
    emit(
        "result",
        cpu_s=cpu1 - cpu0,
        wall_s=t1 - t0,
        errors=errors,
        statuses={str(k): v for k, v in statuses.items()},
        request_ms=request_ms(latencies),
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="role", required=True)
    p = sub.add_parser("prefill")
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--connector", required=True)
    p.add_argument("--run", required=True)
    p = sub.add_parser("hub")
    p.add_argument("--connector", required=True)
    p = sub.add_parser("plain")
    p.add_argument("--client", choices=["aiohttp", "httpx", "httpx-aiohttp"], required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--run", required=True)
    p = sub.add_parser("producer")
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--url", action="append", required=True, help="once per hub process")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--rate", type=float, default=0.0, help="documents per second; 0 = as fast")
    p.add_argument("--run", required=True)
    args = ap.parse_args()
    role = {"prefill": prefill, "hub": hub_worker, "plain": plain, "producer": producer}
    if os.environ.get("BENCH_LOOP") == "uvloop":
        import uvloop

        uvloop.run(role[args.role](args))
    else:
        asyncio.run(role[args.role](args))


if __name__ == "__main__":
    main()
