"""Registrations per second through a real hub against the WEBCON simulator (a benchmark, not a
test).

The simulator runs in its own process (``python -m hub_webcon.simulator``; request bodies are
validated against the OpenAPI document, its own answers are not) with a fixed latency
per API call (50 ms by default, a realistic round trip to a WEBCON portal), so it does not share
the hub's CPU. For each concurrency the script builds a hub on a fresh SQLite ledger, takes in
``--per-slot`` times ``concurrency`` documents, then starts the dispatcher and times until every
``webcon`` delivery is delivered. One registration is one ``POST …/elements`` (attachments
inline), so a connector that keeps its slots busy reaches about ``concurrency / latency``.

    uv run python plugins/webcon/bench_registrations.py --latency-ms 50 --concurrency 4 16 64
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from hub.plugins import create_plugin_host
from hub.routing import RoutingRules
from hub.runtime import Hub
from hub.settings import load_settings
from hub.testing.factories import make_document_in


async def start_simulator(latency_ms: float) -> tuple[asyncio.subprocess.Process, dict[str, Any]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub_webcon.simulator",
        "--port",
        "0",
        "--json",
        "--latency-ms",
        str(latency_ms),
        "--no-validate-responses",
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    section = json.loads(await asyncio.wait_for(proc.stdout.readline(), 30))
    return proc, section


def _attempt_seconds(hub: Hub) -> tuple[float, float]:
    """(sum, count) of the dispatcher's attempt-duration histogram for ``webcon``."""
    total = count = 0.0
    for metric in hub.metrics.attempt_seconds.collect():
        for sample in metric.samples:
            if sample.labels.get("connector") != "webcon":
                continue
            if sample.name.endswith("_sum"):
                total = sample.value
            elif sample.name.endswith("_count"):
                count = sample.value
    return total, count


async def run_once(
    section: dict[str, Any], concurrency: int, count: int
) -> tuple[float, float, float]:
    """Seconds to register ``count`` documents at ``concurrency``; the mean attempt (s); and how
    busy the slots were (time in ``deliver`` / (wall time x concurrency))."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        host = create_plugin_host()
        webcon = dict(section, concurrency=concurrency, status_sync={"enabled": False})
        settings = load_settings(
            host.settings_sections(),
            database_url=f"sqlite:///{data / 'hub.db'}",
            data_dir=data,
            sqlite_synchronous="NORMAL",
            webcon=webcon,
        )
        only_webcon = {"fallback": {"destinations": [{"connector": "webcon"}]}}
        rules = RoutingRules.model_validate(only_webcon)
        hub = Hub(settings, host, rules=rules, registry=CollectorRegistry(), migrate=True)
        try:
            await hub.start()
            docs = [
                hub.intake.prepare(make_document_in(subject=f"Cerere de benchmark {i}"))
                for i in range(count)
            ]
            await hub.intake.submit_many(docs)
            started = time.perf_counter()
            dispatching = asyncio.create_task(hub.dispatcher.run())
            while True:
                stats = (await hub.runner.read(hub.ledger.connector_stats)).get("webcon", {})
                if stats.get("delivered", 0) + stats.get("dead", 0) >= count:
                    break
                await asyncio.sleep(0.01)
            elapsed = time.perf_counter() - started
            hub.stop()
            await dispatching
            if stats.get("dead"):
                raise SystemExit(f"{stats['dead']} registrations failed")
            busy, attempts = _attempt_seconds(hub)
            return elapsed, busy / max(attempts, 1.0), busy / (elapsed * concurrency)
        finally:
            await hub.aclose()


async def main(args: argparse.Namespace) -> None:
    proc, section = await start_simulator(args.latency_ms)
    latency = args.latency_ms / 1000.0
    rows = []
    try:
        for c in args.concurrency:
            count = max(c * args.per_slot, 50)
            elapsed, mean_attempt, busy = await run_once(section, c, count)
            rows.append((c, count, elapsed, count / elapsed, c / latency, mean_attempt, busy))
    finally:
        proc.terminate()
        with contextlib.suppress(ProcessLookupError):
            await proc.wait()
    print(
        f"WEBCON simulator latency {args.latency_ms:g} ms per call; CPU {os.cpu_count()} cores; "
        "SQLite ledger (synchronous=NORMAL)"
    )
    print(
        f"{'concurrency':>11} {'documents':>9} {'seconds':>8} {'reg/s':>8} {'c/latency':>9} "
        f"{'ratio':>6} {'attempt ms':>10} {'c/attempt':>9} {'slots busy':>10}"
    )
    for c, count, elapsed, rate, ideal, attempt, busy in rows:
        print(
            f"{c:>11} {count:>9} {elapsed:>8.2f} {rate:>8.1f} {ideal:>9.0f} {rate / ideal:>6.2f} "
            f"{attempt * 1000:>10.1f} {c / attempt:>9.0f} {busy:>10.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4, 16, 64, 128])
    parser.add_argument("--per-slot", type=int, default=20, help="documents per concurrency slot")
    import uvloop

    uvloop.run(main(parser.parse_args()))
