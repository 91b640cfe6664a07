"""Nothing accepted is lost: SIGKILL a `hub run` mid-delivery, restart it, count at the sink."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.db.schema import deliveries
from hub.models import DocumentIn
from tests.sink import WebhookSink

pytestmark = pytest.mark.slow

N_DOCS = 2000
CONCURRENCY = 64


def _hub_env(database_url: str, sink: WebhookSink, routing: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        HUB_DATABASE_URL=database_url,
        HUB_ROUTING_FILE=str(routing),
        HUB_CONFIG_FILE=str(routing.parent / "absent.toml"),
        HUB_WEBHOOK__ENDPOINTS__T__URL=sink.url,
        HUB_WEBHOOK__ENDPOINTS__T__SECRET=sink.secret,
        HUB_WEBHOOK__CONCURRENCY=str(CONCURRENCY),
        HUB_DISPATCHER__LEASE_SECONDS="2",
        HUB_LOG_FORMAT="json",
        HUB_LOG_LEVEL="WARNING",
    )
    return env


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "hub.cli.main", "run", "--no-api"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def _until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_sigkill_mid_delivery_loses_nothing(
    make_hub, database_url: str, tmp_path: Path
) -> None:
    sink = await WebhookSink(latency=0.02).start()
    routing = tmp_path / "routing.toml"
    routing.write_text('[fallback]\ndestinations = [{ connector = "webhook", target = "T" }]\n')
    hub = make_hub(
        rules={"fallback": {"destinations": [{"connector": "webhook", "target": "T"}]}},
        overrides={"webhook": {"endpoints": {"T": {"url": sink.url, "secret": sink.secret}}}},
    )
    items = [
        hub.intake.prepare(DocumentIn(source="crash", external_id=f"doc-{i}", subject="x" * 200))
        for i in range(N_DOCS)
    ]
    for i in range(0, N_DOCS, 500):
        await hub.intake.submit_many(items[i : i + 500])

    def keys_in(state: str | None = None) -> set[str]:
        q = select(deliveries.c.idempotency_key)
        if state:
            q = q.where(deliveries.c.state == state)
        with hub.reader.connect() as conn:
            return {r[0] for r in conn.execute(q)}

    all_keys = keys_in()
    assert len(all_keys) == N_DOCS
    env = _hub_env(database_url, sink, routing)
    log = tmp_path / "hub.log"
    first = _start(env, log)
    try:
        await _until(lambda: len(sink.received) >= N_DOCS // 4, 90, "a quarter delivered")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    assert first.returncode == -signal.SIGKILL
    in_flight_at_kill = keys_in("in_flight")
    assert in_flight_at_kill, "the kill should catch deliveries in flight"
    assert len(sink.received) < N_DOCS, "the kill came too late to prove anything"

    second = _start(env, log)
    try:
        await _until(lambda: len(keys_in("delivered")) == N_DOCS, 120, "every delivery delivered")
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, log.read_text()[-2000:]
    finally:
        if second.poll() is None:
            second.kill()
        await sink.stop()

    assert set(sink.received) == all_keys, "every accepted document reached the sink"
    duplicated = {k for k, n in sink.received.items() if n > 1}
    assert duplicated <= in_flight_at_kill, "duplicates only among what was in flight at the kill"
    assert sink.bad_signatures == 0
