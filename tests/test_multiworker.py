"""Several `hub run` processes on one PostgreSQL ledger share the work without double delivery."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.db.schema import attempts, deliveries, events
from hub.models import DocumentIn
from tests.fixtures import TEST_DATABASE
from tests.sink import WebhookSink
from tests.test_crash import _hub_env, _start, _until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(TEST_DATABASE != "postgresql", reason="several workers need PostgreSQL"),
]

N_DOCS = 2000


async def test_two_workers_never_deliver_the_same_attempt_twice(
    make_hub, database_url: str, tmp_path: Path
) -> None:
    sink = await WebhookSink(latency=0.005).start()
    routing = tmp_path / "routing.toml"
    routing.write_text('[fallback]\ndestinations = [{ connector = "webhook", target = "T" }]\n')
    hub = make_hub(
        rules={"fallback": {"destinations": [{"connector": "webhook", "target": "T"}]}},
        overrides={"webhook": {"endpoints": {"T": {"url": sink.url, "secret": sink.secret}}}},
    )
    env = _hub_env(database_url, sink, routing)
    env["HUB_DISPATCHER__LEASE_SECONDS"] = "120"  # no lease may expire: duplicates would be bugs
    env["HUB_DISPATCHER__BATCH_SIZE"] = "32"
    log = tmp_path / "hub.log"
    workers = [_start({**env, "HUB_WORKER_ID": f"w{i}"}, log) for i in range(2)]
    try:
        items = [
            hub.intake.prepare(DocumentIn(source="mw", external_id=f"doc-{i}", subject="multi"))
            for i in range(N_DOCS)
        ]
        # Trickle the documents in so that both workers are awake and competing.
        for i in range(0, N_DOCS, 100):
            await hub.intake.submit_many(items[i : i + 100])

        def delivered() -> int:
            with hub.reader.connect() as conn:
                return int(
                    conn.execute(
                        select(func.count()).where(deliveries.c.state == "delivered")
                    ).scalar()
                    or 0
                )

        await _until(lambda: delivered() == N_DOCS, 120, "every delivery delivered")
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        codes = [w.wait(30) for w in workers]
        await sink.stop()
    assert codes == [0, 0], log.read_text()[-2000:]

    assert len(sink.received) == N_DOCS
    assert max(sink.received.values()) == 1, "a document reached the sink twice"
    with hub.reader.connect() as conn:
        per_delivery = conn.execute(
            select(attempts.c.delivery_id, func.count()).group_by(attempts.c.delivery_id)
        ).all()
        claimers = {
            r[0]
            for r in conn.execute(
                select(events.c.actor).where(events.c.action == "claimed").distinct()
            )
        }
    assert len(per_delivery) == N_DOCS
    assert all(n == 1 for _, n in per_delivery), "an attempt was made twice"
    assert claimers == {"w0", "w1"}, "both workers took a share of the work"
