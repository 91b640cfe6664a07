"""Where an end-to-end request spends its time: send → handler → commit → response, and
commit → sink, timed per document from the ledger (not a benchmark row: a diagnosis).

    uv run python bench/stages.py [--n 3000] [--concurrency 32]

Starts `hub run` on a fresh SQLite ledger with the webhook connector pointing at a sink in this
process, POSTs ``--n`` documents from ``--concurrency`` lanes, then reads each document's
``created_at`` (when the handler prepared it) and its ``received`` event (the intake commit),
and prints the medians and 90th percentiles of each stage (the first fifth is warm-up and
left out). This is how the 40 ms of Nagle's algorithm on the API's connections showed up as
"commit → response" (docs/performance.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from workload import WEBHOOK_SECRET, document_in

HUB = str(Path(sys.executable).parent / "hub")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    if not ordered:
        return "n/a"
    p50, p90 = ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.9)]
    return f"{p50 * 1000:.1f} / {p90 * 1000:.1f}"


async def main(n: int, concurrency: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="hub-stages-"))
    sink_port, port = free_port(), free_port()
    arrived: dict[str, float] = {}

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        arrived[request.headers["webhook-id"]] = time.time()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    sink = web.AppRunner(app, access_log=None)
    await sink.setup()
    await web.TCPSite(sink, "127.0.0.1", sink_port).start()
    (work / "routing.toml").write_text(
        '[fallback]\ndepartment = "REG"\n'
        'destinations = [{ connector = "webhook", target = "bench" }]\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")} | {
        "HUB_LOAD_PLUGINS": "webhook,noop",
        "HUB_CONFIG_FILE": str(work / "absent.toml"),
        "HUB_DATA_DIR": str(work / "data"),
        "HUB_LOG_FORMAT": "json",
        "HUB_LOG_LEVEL": "WARNING",
        "HUB_WEBHOOK__CONCURRENCY": "64",
        "HUB_WEBHOOK__ENDPOINTS__BENCH__URL": f"http://127.0.0.1:{sink_port}/hook",
        "HUB_WEBHOOK__ENDPOINTS__BENCH__SECRET": WEBHOOK_SECRET,
        "HUB_DATABASE_URL": f"sqlite:///{work / 'hub.db'}",
        "HUB_API_HOST": "127.0.0.1",
        "HUB_API_PORT": str(port),
        "HUB_ROUTING_FILE": str(work / "routing.toml"),
    }
    subprocess.run([HUB, "db", "upgrade"], env=env, cwd=work, check=True, capture_output=True)
    out = subprocess.run(
        [HUB, "token", "create", "--name", "stages", "--scope", "intake"],
        env=env,
        cwd=work,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    token = next(w for w in out.split() if w.startswith("hub_"))
    with open(work / "hub-run.log", "wb") as log:
        server = subprocess.Popen([HUB, "run"], env=env, cwd=work, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    sent: list[tuple[str, float, float]] = []
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:
            for _ in range(300):
                try:
                    async with http.get(f"{base}/healthz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
            todo = iter(range(n))

            async def lane() -> None:
                for i in todo:
                    t0 = time.time()
                    body = json.dumps(document_in(i, "stages", t0=t0)).encode()
                    async with http.post(
                        f"{base}/api/v1/documents", data=body, headers=headers
                    ) as r:
                        answer: dict[str, Any] = await r.json()
                    sent.append((answer["id"], t0, time.time()))

            started = time.time()
            await asyncio.gather(*(lane() for _ in range(concurrency)))
            wall = time.time() - started
        await asyncio.sleep(1.0)  # the last deliveries
    finally:
        server.terminate()
        server.wait(30)
        await sink.cleanup()

    db = sqlite3.connect(work / "hub.db")
    created = {
        d: datetime.fromisoformat(at + "+00:00").timestamp()
        for d, at in db.execute("SELECT id, created_at FROM documents")
    }
    committed = dict(db.execute("SELECT document_id, at FROM events WHERE action = 'received'"))
    keys = dict(db.execute("SELECT document_id, idempotency_key FROM deliveries"))
    stages: dict[str, list[float]] = {
        k: [] for k in ("send → handler", "handler → commit", "commit → response", "total")
    }
    to_sink: list[float] = []
    for doc, t0, t1 in sent[len(sent) // 5 :]:
        stages["send → handler"].append(created[doc] - t0)
        stages["handler → commit"].append(committed[doc] - created[doc])
        stages["commit → response"].append(t1 - committed[doc])
        stages["total"].append(t1 - t0)
        if keys.get(doc) in arrived:
            to_sink.append(arrived[keys[doc]] - committed[doc])
    print(f"{n / wall:,.0f} documents/s, {concurrency} in flight; ms p50 / p90:")
    for name, values in stages.items():
        print(f"  {name:<18} {percentiles(values)}")
    print(f"  {'commit → sink':<18} {percentiles(to_sink)}")
    # A delivery handed to the dispatcher by intake is claimed in the intake transaction: its
    # ``claimed`` event carries the ``received`` event's timestamp.
    (handed,) = db.execute(
        "SELECT count(*) FROM events c JOIN events r ON r.document_id = c.document_id "
        "WHERE c.action = 'claimed' AND r.action = 'received' AND c.at = r.at"
    ).fetchone()
    (claimed,) = db.execute("SELECT count(*) FROM events WHERE action = 'claimed'").fetchone()
    print(f"claims: {handed} of {claimed} handed over by intake, the rest claimed by the lane")
    print(f"(ledger and log in {work})")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=32)
    args = ap.parse_args()
    asyncio.run(main(args.n, args.concurrency))
