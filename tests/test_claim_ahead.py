"""Claims ahead (``dispatcher.claim_ahead``): while a lane has a backlog and a claim is a round
trip (PostgreSQL; SQLite's writer thread), it claims up to half its concurrency more than it has
free slots; those deliveries wait in the lane, oldest first, and a freed slot starts the next
one at once instead of waiting for the next claim. What waits is given back to the ledger when
it may not start here: at stop, when the circuit opens, and when it waited so long that its
lease would no longer cover a whole attempt.

Most tests run SQLite's claims on the writer thread (``sqlite_inline_bookkeeping: False``), where
they are round trips as on PostgreSQL; a claim on the event loop is made at once, and nothing is
claimed ahead of it (the last test)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, cast

import pytest

from hub.db.engine import is_sqlite
from hub.errors import TransientError
from hub.models import Job, Receipt
from tests.fixtures import MakeHub
from tests.test_dispatcher import (
    actions,
    build,
    delivery,
    scripted,
    state_is,
    submit,
    until,
    workers,
)
from tests.test_handoff import held_until_set, spy_claims, standing_dispatcher

#: Claims on the writer thread on SQLite too: round trips, as on PostgreSQL.
ON_THE_THREAD = {"sqlite_inline_bookkeeping": False}


class Gates:
    """Each delivery (by call number, from 1) waits until its own gate is opened."""

    def __init__(self) -> None:
        self.events: dict[int, asyncio.Event] = {}

    def __getitem__(self, n: int) -> asyncio.Event:
        return self.events.setdefault(n, asyncio.Event())

    async def script(self, job: Job, n: int) -> Receipt:
        await self[n].wait()
        return Receipt()

    def open_all(self, upto: int) -> None:
        for n in range(1, upto + 1):
            self[n].set()


class BlockedClaims:
    """Once :attr:`armed`, every claim waits on the writer thread until :meth:`release`."""

    def __init__(self) -> None:
        self.armed = False
        self.opened = threading.Event()

    def __call__(self, limit: int) -> None:
        if self.armed:
            self.opened.wait(30)

    def release(self) -> None:
        self.opened.set()


@pytest.mark.parametrize("ahead", [True, False], ids=["claim-ahead", "no-claim-ahead"])
async def test_a_freed_slot_starts_the_next_delivery_without_waiting_for_a_claim(
    make_hub: MakeHub, ahead: bool
) -> None:
    # Claims run on the writer thread here, so that one can be held there without holding the
    # event loop (on SQLite they may otherwise run on the loop: DbRunner.bookkeep).
    hub = build(
        make_hub,
        "ahead",
        sections={"ahead": {"concurrency": 4}},
        dispatcher={"claim_ahead": ahead} | ON_THE_THREAD,
    )
    conn = scripted(hub, "ahead")
    gates = Gates()
    conn.script = gates.script
    blocked = BlockedClaims()
    claimed = spy_claims(hub, before=blocked)
    lane = hub.dispatcher.lanes["ahead"]
    docs = await submit(hub, 10)  # a backlog: the dispatcher is not running, nothing handed over
    try:
        async with workers(hub):
            await until(lambda: conn.active == 4, "four in flight")
            if ahead:
                # Half the concurrency claimed ahead, waiting in the lane.
                await until(lambda: len(lane.waiting) == 2, "two waiting")
            await asyncio.sleep(0.05)  # the lane has settled: nothing more to claim
            assert len(claimed) == (6 if ahead else 4)
            blocked.armed = True
            gates[1].set()
            if ahead:
                # Started from the lane while the next claim is held on the writer thread.
                await until(lambda: len(conn.calls) == 5, "the fifth started")
                gates[2].set()
                await until(lambda: len(conn.calls) == 6, "the sixth started")
                assert not lane.waiting
                assert len(claimed) == 6
            else:
                await asyncio.sleep(0.2)
                assert len(conn.calls) == 4  # the freed slot waits for the held claim
            blocked.release()
            gates.open_all(10)
            await until(lambda: all(state_is(hub, d, "delivered") for d in docs), "all delivered")
    finally:
        blocked.release()
    # Oldest first, whether a delivery waited in the lane or was claimed when a slot was free.
    assert [job.document.id for job in conn.calls] == docs
    assert sorted(claimed) == sorted(delivery(hub, d)["id"] for d in docs)


async def test_deliveries_waiting_in_the_lane_are_given_back_at_stop(make_hub: MakeHub) -> None:
    hub = build(
        make_hub,
        "stopping",
        sections={"stopping": {"concurrency": 2}},
        dispatcher={"shutdown_grace_seconds": 0.1} | ON_THE_THREAD,
    )
    conn = scripted(hub, "stopping")
    held_until_set(conn)  # never set: the two in flight are cut off at the grace period
    lane = hub.dispatcher.lanes["stopping"]
    docs = await submit(hub, 5)
    async with workers(hub):
        await until(lambda: conn.active == 2 and len(lane.waiting) == 1, "two in flight, 1 waiting")
        waiting = lane.waiting[0][1]
    assert len(conn.calls) == 2
    assert waiting.document.id == docs[2]  # the oldest after the two in flight
    given_back = delivery(hub, docs[2])
    assert given_back["state"] == "pending"
    assert given_back["attempts"] == 0  # never attempted
    assert given_back["lease_owner"] is None
    assert "claim_released" in actions(hub, docs[2], given_back["id"])


async def test_deliveries_waiting_in_the_lane_are_given_back_when_the_circuit_opens(
    make_hub: MakeHub,
) -> None:
    hub = build(
        make_hub,
        "tripping",
        sections={
            "tripping": {
                "concurrency": 2,
                "circuit_failure_threshold": 1,
                "circuit_reset_seconds": 60,
            }
        },
        dispatcher=ON_THE_THREAD,
    )
    conn = scripted(hub, "tripping")
    gate = asyncio.Event()

    async def fail(job: Job, n: int) -> Receipt:
        await gate.wait()
        raise TransientError("down")

    conn.script = fail
    lane = hub.dispatcher.lanes["tripping"]
    docs = await submit(hub, 5)
    async with workers(hub):
        await until(lambda: conn.active == 2 and len(lane.waiting) == 1, "two in flight, 1 waiting")
        gate.set()  # the first failure opens the circuit
        await until(lambda: state_is(hub, docs[2], "pending"), "the waiting one given back")
        assert not lane.waiting
        await asyncio.sleep(0.1)
        assert len(conn.calls) == 2  # nothing more attempted while the circuit is open
    given_back = delivery(hub, docs[2])
    assert given_back["attempts"] == 0
    assert "claim_released" in actions(hub, docs[2], given_back["id"])


async def test_a_delivery_that_waited_past_what_its_lease_covers_is_given_back(
    make_hub: MakeHub,
) -> None:
    # A lease of 2 s and a timeout of 0.9 s: a delivery claimed ahead may wait 0.2 s for a
    # slot (the lease must still cover the call and a reconcile, 0.9 s each).
    hub = build(
        make_hub,
        "slow",
        sections={"slow": {"concurrency": 2, "timeout_seconds": 0.9}},
        dispatcher={"lease_seconds": 2.0} | ON_THE_THREAD,
    )
    conn = scripted(hub, "slow")
    gates = Gates()
    conn.script = gates.script
    lane = hub.dispatcher.lanes["slow"]
    docs = await submit(hub, 3)
    async with workers(hub):
        await until(lambda: conn.active == 2 and len(lane.waiting) == 1, "two in flight, 1 waiting")
        await asyncio.sleep(0.4)  # longer than it may wait
        gates[1].set()  # a slot frees: the waiting one is given back, not started
        await until(
            lambda: "claim_released" in actions(hub, docs[2], delivery(hub, docs[2])["id"]),
            "given back",
        )
        gates.open_all(4)
        await until(lambda: all(state_is(hub, d, "delivered") for d in docs), "all delivered")
    # Claimed again after it was given back, and attempted once.
    assert [job.document.id for job in conn.calls] == docs
    assert delivery(hub, docs[2])["attempts"] == 1


async def test_intake_hands_nothing_over_while_deliveries_wait_in_the_lane(
    make_hub: MakeHub,
) -> None:
    # They are older than anything intake sends: they take the next free slots first.
    hub, lane = await standing_dispatcher(make_hub, "queued")
    lane.caught_up = True
    lane.waiting.append((0.0, cast(Any, None)))
    handoff = hub.dispatcher.reserve({"queued": 1})
    assert handoff is not None and handoff.slots == {}
    hub.dispatcher.accept(handoff, committed=False)
    lane.waiting.clear()
    lane.caught_up = True
    handoff = hub.dispatcher.reserve({"queued": 1})
    assert handoff is not None and handoff.slots == {"queued": 1}
    hub.dispatcher.accept(handoff, committed=False)


async def test_nothing_is_claimed_ahead_of_a_claim_made_on_the_loop(
    make_hub: MakeHub, database_url: str
) -> None:
    # SQLite with its writer thread idle: the claim runs on the event loop, at once, so there is
    # no round trip to hide, and claiming ahead would only make claims smaller. PostgreSQL's
    # claims are round trips: claimed ahead.
    hub = build(make_hub, "local", sections={"local": {"concurrency": 4}})
    conn = scripted(hub, "local")
    gate = held_until_set(conn)
    claimed = spy_claims(hub)
    lane = hub.dispatcher.lanes["local"]
    await submit(hub, 10)
    async with workers(hub):
        await until(lambda: conn.active == 4, "four in flight")
        await asyncio.sleep(0.1)  # the lane has settled
        on_the_loop = is_sqlite(database_url)
        assert len(lane.waiting) == (0 if on_the_loop else 2)
        assert len(claimed) == (4 if on_the_loop else 6)
        gate.set()
