# ruff: noqa: RUF001 (the report uses the multiplication sign and en dashes)
"""What one intake request costs the API path, in process: the ASGI app called directly.

    uv run python bench/api_path.py                 # 5 runs of 3,000 requests, 32 in flight
    uv run python bench/api_path.py --runs 7 --n 5000

No sockets, no uvicorn, no dispatcher: the app (middleware, routing, authentication, parsing,
``prepare``) and the intake group commit on an SQLite ledger, which is what ``hub run`` adds
per document on top of the HTTP server. Prints the CPU of the whole process per request (the
writer thread's included) and the wall time, median and range over the runs. Compare commits
with ``bench/ab.sh BASE ROUNDS OUT -- python bench/api_path.py --runs 1`` (interleaved).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workload import document_in


async def one_run(n: int, concurrency: int, root: Path) -> dict[str, float]:
    from prometheus_client import CollectorRegistry

    from hub.api.app import create_app
    from hub.db.engine import make_engines
    from hub.db.migrate import upgrade
    from hub.plugins import create_plugin_host
    from hub.routing import RoutingRules
    from hub.runtime import Hub
    from hub.settings import load_settings

    url = f"sqlite:///{root / 'hub.db'}"
    engine, reader = make_engines(url)
    upgrade(engine)
    engine.dispose()
    reader.dispose()
    host = create_plugin_host(entry_points=False)
    settings = load_settings(host.settings_sections(), database_url=url, data_dir=root / "data")
    rules = RoutingRules.model_validate({"fallback": {"department": "REG", "destinations": []}})
    hub = Hub(settings, host, rules=rules, registry=CollectorRegistry())
    try:
        await hub.start()
        token = hub.ledger.create_token("bench", ["intake"])
        app = create_app(hub)
        run = f"api{time.time_ns()}"
        bodies = [orjson.dumps(document_in(i, run)) for i in range(n)]
        headers = [
            (b"host", b"127.0.0.1"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
        ]
        statuses: dict[int, int] = {}

        async def post(body: bytes) -> None:
            scope: dict[str, Any] = {
                "type": "http",
                "asgi": {"version": "3.0", "spec_version": "2.3"},
                "http_version": "1.1",
                "method": "POST",
                "scheme": "http",
                "path": "/api/v1/documents",
                "raw_path": b"/api/v1/documents",
                "root_path": "",
                "query_string": b"",
                "headers": [*headers, (b"content-length", str(len(body)).encode())],
                "client": ("127.0.0.1", 40000),
                "server": ("127.0.0.1", 8000),
                "state": {},
            }
            sent = False

            async def receive() -> dict[str, Any]:
                nonlocal sent
                if sent:
                    await asyncio.Event().wait()  # a client that stays connected
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    statuses[message["status"]] = statuses.get(message["status"], 0) + 1

            await app(scope, receive, send)

        queue = iter(bodies)

        async def client() -> None:
            for body in queue:
                await post(body)

        # Warm up (first requests build caches), then measure.
        for body in [orjson.dumps(document_in(n + i, run)) for i in range(50)]:
            await post(body)
        statuses.clear()
        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
        if statuses != {201: n}:
            raise SystemExit(f"unexpected answers: {statuses}")
        return {"cpu_us": cpu * 1e6 / n, "wall_us": wall * 1e6 / n}
    finally:
        await hub.aclose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--json", action="store_true", help="one JSON line per run, for bench/ab.sh")
    args = ap.parse_args()
    results = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            res = asyncio.run(one_run(args.n, args.concurrency, Path(tmp)))
        results.append(res)
        if args.json:
            print(json.dumps(res), flush=True)
    cpu = [r["cpu_us"] for r in results]
    wall = [r["wall_us"] for r in results]
    print(
        f"API path, {args.n} requests × {args.runs}, {args.concurrency} in flight: "
        f"CPU {statistics.median(cpu):.0f} µs/request ({min(cpu):.0f}–{max(cpu):.0f}), "
        f"wall {statistics.median(wall):.0f} µs/request ({min(wall):.0f}–{max(wall):.0f})"
    )


if __name__ == "__main__":
    main()
