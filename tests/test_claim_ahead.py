"""Claims ahead (``dispatcher.claim_ahead``): while a lane has a backlog and its claim is a round
trip (PostgreSQL; SQLite with its claims on the writer thread), it claims up to half its
concurrency more than it has free slots; those deliveries wait in the lane, oldest first, and a
freed slot starts the next one at once instead of waiting for the next claim. What waits, or
comes back from a claim that may not start, is given back to the ledger: at stop, when the
circuit opens, and when one waited so long that its lease would no longer cover an attempt.

Most tests run SQLite's claims on the writer thread (``sqlite_inline_bookkeeping: False``), where
they are round trips as on PostgreSQL; with SQLite's default (claims on the event loop while the
writer is idle) nothing is claimed ahead (the last test)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, cast

import pytest

from hub.db.engine import is_sqlite
from hub.dispatcher import Lane
from hub.errors import TransientError
from hub.models import Job, Receipt
from tests.fixtures import MakeHub
from tests.test_dispatcher import (
    ScriptedConnector,
    actions,
    build,
    delivery,
    sample,
    scripted,
    state_is,
    submit,
    until,
    workers,
)
from tests.test_handoff import held_until_set, spy_claims, standing_dispatcher, submit_one

#: Claims on the writer thread on SQLite too: round trips, as on PostgreSQL.
ON_THE_THREAD = {"sqlite_inline_bookkeeping": False}
#: Two slots, and the first failure opens the circuit (for a minute).
TRIPS_AT_ONCE = {"concurrency": 2, "circuit_failure_threshold": 1, "circuit_reset_seconds": 60}


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


async def the_next_claim_held(
    conn: ScriptedConnector, lane: Lane, gates: Gates, blocked: BlockedClaims
) -> None:
    """A lane of two slots with two in flight and one waiting: the first finishes, the waiting
    one starts in its slot, and the lane's next claim is held on the writer thread."""
    await until(lambda: conn.active == 2 and len(lane.waiting) == 1, "two in flight, 1 waiting")
    blocked.armed = True
    gates[1].set()
    await until(lambda: len(conn.calls) == 3, "the third started")
    await until(lambda: lane.claiming, "the next claim on its way")


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
                assert sample(hub, "hub_claimed_ahead", connector="ahead") == 2
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
                assert sample(hub, "hub_claimed_ahead", connector="ahead") == 0
                assert len(claimed) == 6
            else:
                await asyncio.sleep(0.2)
                assert len(conn.calls) == 4  # the freed slot waits for the held claim
            blocked.release()
            gates.open_all(10)
            await until(lambda: all(state_is(hub, d, "delivered") for d in docs), "all delivered")
    finally:
        blocked.release()
    assert conn.max_active == 4  # never more than the connector's concurrency
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


async def test_a_claim_that_lands_after_stop_is_given_back_whole(make_hub: MakeHub) -> None:
    hub = build(
        make_hub,
        "late",
        sections={"late": {"concurrency": 2}},
        dispatcher={"shutdown_grace_seconds": 0.1} | ON_THE_THREAD,
    )
    conn = scripted(hub, "late")
    gates = Gates()
    conn.script = gates.script
    blocked = BlockedClaims()
    spy_claims(hub, before=blocked)
    lane = hub.dispatcher.lanes["late"]
    docs = await submit(hub, 6)
    task = asyncio.create_task(hub.run_workers())
    try:
        await the_next_claim_held(conn, lane, gates, blocked)
        hub.stop()
        await asyncio.sleep(0.05)
    finally:
        blocked.release()  # the held claim comes back after stop
        await asyncio.wait_for(task, 30)
    assert len(conn.calls) == 3  # nothing it took was started
    for doc in docs[3:]:
        d = delivery(hub, doc)
        assert d["state"] == "pending" and d["attempts"] == 0, d


async def test_deliveries_waiting_in_the_lane_are_given_back_when_the_circuit_opens(
    make_hub: MakeHub,
) -> None:
    hub = build(
        make_hub,
        "tripping",
        sections={"tripping": TRIPS_AT_ONCE},
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


async def test_a_claim_that_lands_after_the_circuit_opened_is_given_back(
    make_hub: MakeHub,
) -> None:
    # A claim ahead may be larger than the free slots: starting it against an open circuit
    # would exceed the connector's concurrency and spend attempts on a service that is down.
    hub = build(
        make_hub,
        "opening",
        sections={"opening": TRIPS_AT_ONCE},
        dispatcher=ON_THE_THREAD,
    )
    conn = scripted(hub, "opening")
    gates = Gates()

    async def script(job: Job, n: int) -> Receipt:
        await gates[n].wait()
        if n == 2:
            raise TransientError("down")
        return Receipt()

    conn.script = script
    blocked = BlockedClaims()
    spy_claims(hub, before=blocked)
    lane = hub.dispatcher.lanes["opening"]
    docs = await submit(hub, 6)
    try:
        async with workers(hub):
            await the_next_claim_held(conn, lane, gates, blocked)
            gates[2].set()  # fails: the circuit opens while the claim is away
            await until(lambda: lane.breaker.state.value == "open", "the circuit open")
            blocked.release()
            await until(lambda: state_is(hub, docs[3], "pending"), "the claim given back")
            await asyncio.sleep(0.1)
            assert len(conn.calls) == 3  # nothing of it started
            assert conn.max_active <= 2
            gates[3].set()
    finally:
        blocked.release()
    d = delivery(hub, docs[3])
    assert d["attempts"] == 0
    assert "claim_released" in actions(hub, docs[3], d["id"])


async def test_a_delivery_that_waited_past_what_its_lease_covers_is_given_back(
    make_hub: MakeHub,
) -> None:
    # Given back, it is older than anything intake sends next, so the lane claims it again
    # before intake hands it anything. (How long one may wait follows from the lease and the
    # timeout: the last test; here it is set short, the attempts' timeout left long.)
    hub = build(
        make_hub,
        "slow",
        sections={"slow": {"concurrency": 8}},
        dispatcher=ON_THE_THREAD,
    )
    conn = scripted(hub, "slow")
    gates = Gates()
    conn.script = gates.script
    lane = hub.dispatcher.lanes["slow"]
    lane.may_wait = 0.2
    # Eight in flight and one waiting, and the lane caught up (asked for 12). One slot freed is
    # fewer than the lane claims for (a quarter): only the give-back's wake makes it claim.
    docs = await submit(hub, 9)
    async with workers(hub):
        await until(
            lambda: conn.active == 8 and len(lane.waiting) == 1, "eight in flight, 1 waiting"
        )
        assert lane.caught_up
        await asyncio.sleep(0.4)  # longer than it may wait
        gates[1].set()  # a slot frees: the waiting one is given back, not started
        released = delivery(hub, docs[8])["id"]
        await until(lambda: "claim_released" in actions(hub, docs[8], released), "given back")
        later = await submit_one(hub, "later")  # through the group commit's hand-off
        gates.open_all(12)
        await until(lambda: state_is(hub, later, "delivered"), "the later one delivered")
        await until(lambda: all(state_is(hub, d, "delivered") for d in docs), "all delivered")
    # Claimed again after it was given back, attempted once, and before the later document.
    assert [job.document.id for job in conn.calls] == [*docs, later]
    assert delivery(hub, docs[8])["attempts"] == 1


async def test_intake_hands_nothing_over_while_deliveries_wait_in_the_lane(
    make_hub: MakeHub,
) -> None:
    # They are older than anything intake sends: they take the next free slots first. So are
    # deliveries being given back, until the release is written and the lane claims them.
    hub, lane = await standing_dispatcher(make_hub, "queued")
    lane.caught_up = True
    lane.waiting.append((0.0, cast(Any, None)))
    handoff = hub.dispatcher.reserve({"queued": 1})
    assert handoff is not None and handoff.slots == {}
    hub.dispatcher.accept(handoff, committed=False)
    lane.waiting.clear()
    lane.caught_up = True
    lane.releasing = 1  # a give-back on its way to the ledger
    handoff = hub.dispatcher.reserve({"queued": 1})
    assert handoff is not None and handoff.slots == {}
    hub.dispatcher.accept(handoff, committed=False)
    lane.releasing = 0
    lane.caught_up = True
    handoff = hub.dispatcher.reserve({"queued": 1})
    assert handoff is not None and handoff.slots == {"queued": 1}
    hub.dispatcher.accept(handoff, committed=False)


async def test_nothing_is_claimed_ahead_where_claims_run_on_the_loop(
    make_hub: MakeHub, database_url: str
) -> None:
    # SQLite's default: claims run on the event loop while the writer thread is idle, at once,
    # and otherwise wait on the thread behind intake's commits; claiming ahead there made claims
    # smaller and cost CPU (docs/performance.md), so it is off. PostgreSQL's claims are round
    # trips: claimed ahead.
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


async def test_how_long_a_delivery_may_wait_follows_the_lease_and_the_timeout(
    make_hub: MakeHub,
) -> None:
    # Its lease must still cover the call and a reconcile (each up to the timeout) and a
    # quarter of the lease to record the outcome.
    hub = build(
        make_hub,
        "usual",
        sections={"usual": {"concurrency": 8, "timeout_seconds": 20}},
        dispatcher={"lease_seconds": 120.0} | ON_THE_THREAD,
    )
    lane = hub.dispatcher.lanes["usual"]
    assert (lane.ahead, lane.may_wait) == (4, 0.75 * 120 - 2 * 20)


async def test_a_lease_too_short_for_claims_ahead_claims_only_free_slots(
    make_hub: MakeHub,
) -> None:
    # 0.75 * 10 s - 2 * 30 s is not positive: nothing is claimed ahead, and what a claim takes
    # starts at once, however short the lease.
    hub = build(
        make_hub,
        "short",
        sections={"short": {"concurrency": 4}},
        dispatcher={"lease_seconds": 10.0} | ON_THE_THREAD,
    )
    conn = scripted(hub, "short")
    claimed = spy_claims(hub)
    lane = hub.dispatcher.lanes["short"]
    assert lane.ahead == 0
    docs = await submit(hub, 12)
    async with workers(hub):
        await until(lambda: all(state_is(hub, d, "delivered") for d in docs), "all delivered")
    assert len(claimed) == 12
    assert conn.max_active <= 4
    for d in docs:
        assert "claim_released" not in actions(hub, d, delivery(hub, d)["id"])
