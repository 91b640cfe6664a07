"""Intake hands new documents straight to the dispatcher of its process.

When the dispatcher runs beside the API, an intake commit claims the new deliveries it has room
for in the same transaction and the dispatcher starts them without a claim query or reading the
document back (docs/performance.md). These tests pin what must not change because of it: the
audit trail, the document a connector sees, the concurrency bound, no queue-jumping over older
deliveries, and nothing lost when the commit fails or the hub stops meanwhile.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from hub.db.ledger import HandOff, PreparedDocument
from hub.dispatcher import Lane
from hub.models import DocumentIn, Job, Receipt, Sender
from hub.runtime import Hub
from tests.fixtures import MakeHub
from tests.test_dispatcher import (
    ScriptedConnector,
    actions,
    build,
    delivery,
    scripted,
    state_is,
    submit,
    until,
    workers,
)


def spy_claims(hub: Hub, before: Callable[[int], object] | None = None) -> list[int]:
    """Delivery ids the dispatcher claimed from the ledger (not handed over by intake).
    ``before(limit)``, if given, runs ahead of each claim, where the claim runs (the writer
    thread, or the loop: :meth:`hub.db.runner.DbRunner.bookkeep`)."""
    claimed: list[int] = []
    original = hub.ledger.claim

    def claim(name: str, limit: int, *args: Any, **kwargs: Any) -> list[Job]:
        if before is not None:
            before(limit)
        jobs = original(name, limit, *args, **kwargs)
        claimed.extend(j.delivery_id for j in jobs)
        return jobs

    hub.ledger.claim = claim  # type: ignore[method-assign]
    return claimed


async def submit_one(hub: Hub, external_id: str, **fields: Any) -> str:
    doc = DocumentIn(source="test", external_id=external_id, **fields)
    return (await hub.intake.submit(hub.intake.prepare(doc))).document_id


def held_until_set(conn: ScriptedConnector) -> asyncio.Event:
    """Every delivery of ``conn`` waits until the returned event is set."""
    gate = asyncio.Event()

    async def held(job: Job, n: int) -> Receipt:
        await gate.wait()
        return Receipt()

    conn.script = held
    return gate


async def standing_dispatcher(make_hub: MakeHub, name: str) -> tuple[Hub, Lane]:
    """A started hub whose dispatcher counts as running (as ``run()`` sets it) but whose lanes
    do not run: ``reserve``/``accept``/``wake`` are driven by the test alone."""
    hub = build(make_hub, name, sections={name: {"concurrency": 4}})
    await hub.start()
    hub.dispatcher._running = True
    return hub, hub.dispatcher.lanes[name]


async def caught_up(hub: Hub, name: str) -> None:
    lane = hub.dispatcher.lanes[name]
    await until(lambda: lane.caught_up, f"lane {name} caught up")


async def test_a_new_document_goes_from_intake_to_the_connector_without_a_claim(
    make_hub: MakeHub,
) -> None:
    hub = build(make_hub, "direct")
    conn = scripted(hub, "direct")
    claimed = spy_claims(hub)
    async with workers(hub):
        await caught_up(hub, "direct")
        doc = await submit_one(
            hub,
            "h-1",
            subject="Cerere de informații publice",
            sender=Sender(type="pf", name="Ana Pop-Test", email="ana.pop-test@example.test"),
            # An offset other than UTC: the connector must see what the ledger gives back.
            received_at=datetime(2026, 11, 27, 9, 30, tzinfo=timezone(timedelta(hours=2))),
            metadata={"dosar": "12/2026"},
        )
        await until(lambda: state_is(hub, doc, "delivered"), "delivered")
    d = delivery(hub, doc)
    assert d["id"] not in claimed
    assert d["attempts"] == 1
    assert actions(hub, doc, d["id"]) == ["claimed", "delivered"]
    [claim_event] = [
        e
        for e in hub.ledger.timeline(doc)["events"]
        if e["delivery_id"] == d["id"] and e["action"] == "claimed"
    ]
    assert claim_event["actor"] == hub.worker_id
    assert (claim_event["from_state"], claim_event["to_state"]) == ("pending", "in_flight")
    [job] = conn.calls
    assert job.attempt == 1
    assert job.idempotency_key == d["idempotency_key"]
    stored = hub.ledger.get_document(doc)
    assert stored is not None
    assert job.document == stored
    assert job.document.received_at == datetime(2026, 11, 27, 7, 30, tzinfo=UTC)


async def test_no_room_leaves_the_delivery_to_a_claim(make_hub: MakeHub) -> None:
    hub = build(make_hub, "single", sections={"single": {"concurrency": 1}})
    conn = scripted(hub, "single")
    gate = held_until_set(conn)
    claimed = spy_claims(hub)
    async with workers(hub):
        await caught_up(hub, "single")
        first = await submit_one(hub, "busy-1")
        await until(lambda: conn.active == 1, "first in flight")
        second = await submit_one(hub, "busy-2")
        assert state_is(hub, second, "pending")  # no free slot: not taken at intake
        gate.set()
        await until(
            lambda: state_is(hub, first, "delivered") and state_is(hub, second, "delivered"),
            "both delivered",
        )
    assert delivery(hub, first)["id"] not in claimed
    assert delivery(hub, second)["id"] in claimed
    assert conn.max_active == 1


async def test_only_a_caught_up_lane_with_free_slots_and_a_closed_circuit_takes_part(
    make_hub: MakeHub,
) -> None:
    hub, lane = await standing_dispatcher(make_hub, "backlog")
    # No claim has run yet: older due deliveries may wait in the ledger, and new documents
    # must not overtake them. (A hand-off with no slot still counts what the commit leaves.)
    assert slots(hub, {"backlog": 1}) == {}
    lane.caught_up = True
    handoff = hub.dispatcher.reserve({"backlog": 10})
    assert handoff is not None
    assert handoff.slots == {"backlog": 4}  # never more than the free concurrency
    assert lane.reserved == 4
    assert slots(hub, {"backlog": 1}) == {}  # the slots are promised
    hub.dispatcher.accept(handoff, committed=False)
    assert lane.reserved == 0
    lane.caught_up = True  # as after a claim: only the circuit stands in the way now
    for _ in range(lane.breaker.failure_threshold):
        lane.breaker.record_failure()
    assert slots(hub, {"backlog": 1}) == {}  # circuit open: nothing handed over


def slots(hub: Hub, wanted: dict[str, int]) -> dict[str, int]:
    """What intake may hand over now (the reservation given back at once)."""
    handoff = hub.dispatcher.reserve(wanted)
    assert handoff is not None  # a running dispatcher always answers
    taken = dict(handoff.slots)
    hub.dispatcher.accept(handoff)  # as a commit that took nothing and left nothing behind
    return taken


async def test_a_failed_commit_gives_the_reservation_back(make_hub: MakeHub) -> None:
    hub = build(make_hub, "fragile")
    lane = hub.dispatcher.lanes["fragile"]
    original = hub.ledger.insert_documents
    seen: list[HandOff | None] = []

    def broken(batch: list[PreparedDocument], **kw: Any) -> Any:
        seen.append(kw.get("handoff"))
        raise RuntimeError("disk full")

    async with workers(hub):
        await caught_up(hub, "fragile")
        hub.ledger.insert_documents = broken  # type: ignore[method-assign]
        with pytest.raises(RuntimeError):
            await submit_one(hub, "f-1")
        assert seen and seen[0] is not None and seen[0].slots == {"fragile": 1}
        assert lane.reserved == 0
        assert lane.incoming == 0
        assert lane.left_behind == 0  # a failed commit left nothing behind to count
        hub.ledger.insert_documents = original  # type: ignore[method-assign]
        doc = await submit_one(hub, "f-1")
        await until(lambda: state_is(hub, doc, "delivered"), "delivered after all")
    assert lane.reserved == 0


async def test_a_stop_during_the_commit_gives_the_claims_back(make_hub: MakeHub) -> None:
    hub = build(make_hub, "late")
    conn = scripted(hub, "late")
    task = asyncio.create_task(hub.run_workers())
    try:
        await caught_up(hub, "late")
        handoff = hub.dispatcher.reserve({"late": 1})
        assert handoff is not None
        item = hub.intake.prepare(DocumentIn(source="test", external_id="late-1"))
        [res] = await hub.runner.write(hub.ledger.insert_documents, [item], handoff=handoff)
        assert state_is(hub, res.document_id, "in_flight")
        hub.stop()  # the hub stops while the commit was on its way
        hub.dispatcher.accept(handoff)
    finally:
        hub.stop()
        await asyncio.wait_for(task, 30)
    d = delivery(hub, res.document_id)
    assert (d["state"], d["attempts"], d["lease_owner"]) == ("pending", 0, None)
    assert conn.calls == []


async def test_the_hand_off_can_be_switched_off(make_hub: MakeHub) -> None:
    hub = build(make_hub, "claimed")
    hub.dispatcher.settings = hub.dispatcher.settings.model_copy(update={"intake_handoff": False})
    claimed = spy_claims(hub)
    async with workers(hub):
        await caught_up(hub, "claimed")
        doc = await submit_one(hub, "off-1")
        await until(lambda: state_is(hub, doc, "delivered"), "delivered")
    assert delivery(hub, doc)["id"] in claimed


async def test_a_handed_off_document_carries_its_metadata_as_the_ledger_stores_it(
    make_hub: MakeHub,
) -> None:
    hub = build(make_hub, "typed")
    conn = scripted(hub, "typed")
    claimed = spy_claims(hub)
    async with workers(hub):
        await caught_up(hub, "typed")
        # A source or plugin may put values in metadata that JSON stores as strings.
        doc = await submit_one(
            hub, "meta-1", metadata={"termen": datetime(2026, 12, 3, 9, 0, tzinfo=UTC)}
        )
        await until(lambda: state_is(hub, doc, "delivered"), "delivered")
    [job] = conn.calls
    assert delivery(hub, doc)["id"] not in claimed  # handed off, not read back
    stored = hub.ledger.get_document(doc)
    assert stored is not None
    assert job.document.metadata == stored.metadata == {"termen": "2026-12-03T09:00:00+00:00"}


async def test_a_claim_on_its_way_keeps_its_slots_from_intake(make_hub: MakeHub) -> None:
    # On the writer thread, where a claim takes a while (SQLite runs an idle writer's on the
    # loop, where it cannot be "on its way" while intake runs).
    hub = build(
        make_hub,
        "pair",
        sections={"pair": {"concurrency": 2}},
        dispatcher={"sqlite_inline_bookkeeping": False},
    )
    conn = scripted(hub, "pair")
    gate = held_until_set(conn)
    original = hub.ledger.claim

    def slow_claim(*args: Any, **kwargs: Any) -> list[Job]:
        time.sleep(0.3)  # the writer thread is busy with the claim for a while
        return original(*args, **kwargs)

    hub.ledger.claim = slow_claim  # type: ignore[method-assign]
    lane = hub.dispatcher.lanes["pair"]
    async with workers(hub):
        await caught_up(hub, "pair")
        await submit(hub, 2, prefix="old")  # due in the ledger; the lane claims them (slowly)
        await asyncio.sleep(0.05)
        lane.caught_up = True  # as after its previous claim: intake may take free slots
        await asyncio.gather(*(submit_one(hub, f"new-{i}") for i in range(2)))
        await until(lambda: len(conn.calls) >= 2, "two attempts")
        await asyncio.sleep(0.4)  # the claim has landed
        assert conn.max_active == 2  # never more than the connector's concurrency
        gate.set()
    assert lane.reserved == 0


async def test_left_behind_deliveries_and_wakes_stop_the_hand_off_until_the_next_claim(
    make_hub: MakeHub,
) -> None:
    hub, lane = await standing_dispatcher(make_hub, "order")
    lane.caught_up = True
    handoff = hub.dispatcher.reserve({"order": 3})
    assert handoff is not None
    # A claim queued while this commit is on its way must have room for what it may leave.
    assert lane.incoming == 3
    handoff.pending["order"] = 2  # the commit left two due deliveries of this lane untaken
    hub.dispatcher.accept(handoff)
    assert lane.incoming == 0
    assert lane.left_behind == 2
    assert lane.wake.is_set()  # the lane is told to claim them
    assert slots(hub, {"order": 1}) == {}  # nothing newer overtakes them
    lane.covering = 2  # a claim for both is queued ahead of the next commit: it may go on
    assert slots(hub, {"order": 1}) == {"order": 1}
    lane.left_behind = 3  # one more left behind since that claim was queued: it may not
    assert slots(hub, {"order": 1}) == {}
    lane.covering, lane.left_behind = None, 0
    hub.dispatcher.wake("order")  # released, recovered or notified work: claim it first
    assert not lane.caught_up
    assert slots(hub, {"order": 1}) == {}
    lane.caught_up = True
    hub.dispatcher.wake("not-here")  # a connector this process does not run: nothing
    assert lane.caught_up


async def test_a_claim_for_what_intake_left_behind_asks_for_one_more(
    make_hub: MakeHub,
) -> None:
    # Under load the lane claims just the deliveries intake left behind (and one more, to know
    # that nothing else is due), leaving its other free slots to intake; then it is caught up
    # and intake hands it new documents again.
    hub = build(make_hub, "behind", sections={"behind": {"concurrency": 8}})
    conn = scripted(hub, "behind")
    asked: list[int] = []
    claimed = spy_claims(hub, before=asked.append)
    lane = hub.dispatcher.lanes["behind"]
    async with workers(hub):
        await caught_up(hub, "behind")
        asked.clear()
        lane.left_behind = 1  # as if an earlier commit had left one behind, unclaimed so far
        docs = [await submit_one(hub, f"behind-{i}") for i in range(3)]
        await until(lambda: len(conn.calls) == 3, "the three claimed and attempted")
        await until(lambda: lane.caught_up and lane.left_behind == 0, "caught up again")
        assert asked[0] < 8  # not every free slot: what was left behind, and one more
        # The first was left behind and claimed; the next ones may be handed over while that
        # claim is queued ahead of their commits, so they never start before it.
        assert delivery(hub, docs[0])["id"] in claimed
        assert conn.calls[0].document.id == docs[0]
        later = await submit_one(hub, "behind-later")
        await until(lambda: state_is(hub, later, "delivered"), "the later one delivered")
    assert delivery(hub, later)["id"] not in claimed  # handed over by intake again


async def test_intake_hands_over_while_a_claim_for_what_it_left_behind_is_queued_ahead(
    make_hub: MakeHub,
) -> None:
    # A claim queued on the writer thread: where SQLite's claims run while that thread is busy
    # (an idle one runs them on the loop at once, with nothing to overtake: hub.db.runner).
    hub = build(
        make_hub,
        "ahead",
        sections={"ahead": {"concurrency": 8}},
        dispatcher={"sqlite_inline_bookkeeping": False},
    )
    conn = scripted(hub, "ahead")
    gate = threading.Event()
    # The claim for what intake left behind (fewer than every free slot) is held on the writer.
    claimed = spy_claims(hub, before=lambda limit: limit < 8 and gate.wait(10))
    lane = hub.dispatcher.lanes["ahead"]
    async with workers(hub):
        await caught_up(hub, "ahead")
        lane.left_behind = 1  # as if an earlier commit had left one behind
        first = await submit_one(hub, "first")  # left behind too: the lane claims both
        await until(lambda: lane.covering is not None, "the claim queued")
        second = asyncio.create_task(submit_one(hub, "second"))  # queued behind that claim
        await asyncio.sleep(0.1)
        gate.set()
        second_id = await second
        await until(
            lambda: state_is(hub, first, "delivered") and state_is(hub, second_id, "delivered"),
            "both delivered",
        )
    assert delivery(hub, first)["id"] in claimed
    assert delivery(hub, second_id)["id"] not in claimed  # handed over, not claimed
    assert [j.document.id for j in conn.calls] == [first, second_id]  # the older one first
    assert conn.max_active <= 8


class QuietlyDue:
    """Due work the lane is not told of (as retries come due by time, without a wake): three
    documents written on the writer thread just ahead of the next claim that asks for
    ``limit`` once :attr:`armed`, so older than anything intake sends next. Their ids are in
    :attr:`ids`."""

    def __init__(self, hub: Hub, limit: int) -> None:
        self.hub = hub
        self.limit = limit
        self.armed = False
        self.ids: list[str] = []
        spy_claims(hub, before=self)

    def __call__(self, limit: int) -> None:
        if self.armed and limit == self.limit:
            self.armed = False
            docs = [
                self.hub.intake.prepare(DocumentIn(source="test", external_id=f"quiet-{i}"))
                for i in range(3)
            ]
            self.ids.extend(r.document_id for r in self.hub.ledger.insert_documents(docs))


async def test_more_due_than_intake_left_behind_ends_the_caught_up_state(
    make_hub: MakeHub,
) -> None:
    # Retries come due by time, without a wake: a claim sized to what intake left behind that
    # comes back full of other work must make the lane claim the rest before intake hands it
    # anything new, even when the lane has too few free slots to claim again at once.
    # Without claims ahead, which would take the third at once (a lane with a backlog claims
    # into its waiting line).
    hub = build(
        make_hub,
        "busy",
        sections={"busy": {"concurrency": 8}},
        dispatcher={"claim_ahead": False},
    )
    hub.dispatcher.settings.idle_poll_seconds = 30  # no idle claim in the way
    conn = scripted(hub, "busy")
    gate = held_until_set(conn)
    quiet = QuietlyDue(hub, limit=2)  # the claim for the one left behind (and one more)
    lane = hub.dispatcher.lanes["busy"]
    async with workers(hub):
        await caught_up(hub, "busy")
        for i in range(5):
            await submit_one(hub, f"held-{i}")  # handed over, held: 3 slots free
        await until(lambda: conn.active == 5, "five in flight")
        quiet.armed = True
        lane.left_behind = 1
        lane.wake.set()  # asks for 2, gets 2 of the 3 unannounced: 1 slot free, too few
        await until(lambda: conn.active == 7, "two of the unannounced started")
        later = await submit_one(hub, "later")
        await asyncio.sleep(0.1)
        gate.set()
        await until(lambda: state_is(hub, later, "delivered"), "delivered")
    started = [j.document.id for j in conn.calls]
    assert set(started[5:8]) == set(quiet.ids)  # the third unannounced before the later one
    assert started[8] == later


async def test_a_claim_capped_at_what_was_left_behind_that_takes_other_work_ends_caught_up(
    make_hub: MakeHub,
) -> None:
    # The free slots cap the claim for what intake left behind at exactly that count, and the
    # claim comes back full of other due work: it cannot tell that nothing else is due, so the
    # lane must claim again before intake hands it anything newer.
    # Without claims ahead, as above.
    hub = build(
        make_hub,
        "capped",
        sections={"capped": {"concurrency": 8}},
        dispatcher={"claim_ahead": False},
    )
    hub.dispatcher.settings.idle_poll_seconds = 30  # no idle claim in the way
    conn = scripted(hub, "capped")
    first_done = asyncio.Event()
    rest_done = asyncio.Event()

    async def held(job: Job, n: int) -> Receipt:
        await (first_done if n == 1 else rest_done).wait()
        return Receipt()

    conn.script = held
    quiet = QuietlyDue(hub, limit=2)  # capped by the two free slots, at what was left behind
    lane = hub.dispatcher.lanes["capped"]
    async with workers(hub):
        await caught_up(hub, "capped")
        for i in range(6):
            await submit_one(hub, f"held-{i}")  # handed over, held: 2 slots free
        await until(lambda: conn.active == 6, "six in flight")
        quiet.armed = True
        lane.left_behind = 2
        lane.wake.set()  # asks for 2 (the free slots), gets 2 of the 3 unannounced
        await until(lambda: conn.active == 8, "two of the unannounced started")
        first_done.set()  # one slot frees: intake could hand over into it
        await until(lambda: conn.active == 7, "the first one done")
        later = await submit_one(hub, "later")
        await asyncio.sleep(0.1)
        rest_done.set()
        await until(lambda: state_is(hub, later, "delivered"), "delivered")
    started = [j.document.id for j in conn.calls]
    assert set(started[6:9]) == set(quiet.ids)  # the third unannounced before the later one
    assert started[9] == later


async def test_a_lane_with_an_open_circuit_sleeps_through_wakes(make_hub: MakeHub) -> None:
    # Intake keeps leaving deliveries behind while the circuit is open, and each commit wakes
    # the lane: the lane must not spin on a wake it cannot act on until a probe is allowed.
    hub = build(make_hub, "down", sections={"down": {"circuit_reset_seconds": 30}})
    lane = hub.dispatcher.lanes["down"]
    asked = 0
    allows = lane.breaker.allows

    def counting() -> bool:
        nonlocal asked
        asked += 1
        return allows()

    lane.breaker.allows = counting  # type: ignore[method-assign]
    async with workers(hub):
        await caught_up(hub, "down")
        for _ in range(lane.breaker.failure_threshold):
            lane.breaker.record_failure()
        before = asked
        for i in range(3):
            await submit_one(hub, f"down-{i}")  # left behind: the circuit is open
        await asyncio.sleep(0.3)
        assert lane.left_behind == 3
        assert asked - before <= 4  # a look per wake at most, not thousands


async def test_a_circuit_opened_during_the_commit_gives_the_claims_back(
    make_hub: MakeHub,
) -> None:
    hub = build(make_hub, "tripped")
    conn = scripted(hub, "tripped")
    lane = hub.dispatcher.lanes["tripped"]
    async with workers(hub):
        await caught_up(hub, "tripped")
        handoff = hub.dispatcher.reserve({"tripped": 1})
        assert handoff is not None
        item = hub.intake.prepare(DocumentIn(source="test", external_id="trip-1"))
        [res] = await hub.runner.write(hub.ledger.insert_documents, [item], handoff=handoff)
        for _ in range(lane.breaker.failure_threshold):
            lane.breaker.record_failure()  # other attempts failed meanwhile
        hub.dispatcher.accept(handoff)
        await until(lambda: state_is(hub, res.document_id, "pending"), "claim given back")
    assert conn.calls == []
    d = delivery(hub, res.document_id)
    assert (d["attempts"], d["lease_owner"]) == (0, None)
    assert actions(hub, res.document_id, d["id"])[:2] == ["claimed", "claim_released"]


async def test_a_naive_reception_time_is_utc_handed_off_or_read_back(make_hub: MakeHub) -> None:
    hub = build(make_hub, "naive")
    conn = scripted(hub, "naive")
    async with workers(hub):
        await caught_up(hub, "naive")
        doc = await submit_one(hub, "naive-1", received_at=datetime(2026, 11, 27, 9, 30))
        await until(lambda: state_is(hub, doc, "delivered"), "delivered")
    [job] = conn.calls
    stored = hub.ledger.get_document(doc)
    assert stored is not None
    assert (
        job.document.received_at == stored.received_at == datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
    )
