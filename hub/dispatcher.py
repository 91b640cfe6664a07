"""The dispatcher: claim due deliveries in batches, call connectors with bounded concurrency,
record outcomes in batches.

One *lane* per connector claims up to its free concurrency with a lease, starts one task per
delivery, and claims again when a quarter of its slots are free (or when woken). Where a claim
is a round trip (PostgreSQL), a lane with a backlog also claims up to half its concurrency
*ahead*: those deliveries wait in the lane, oldest first, one starts the moment a slot frees
instead of waiting for the next claim, and the lane claims again once a quarter of that room
is free. Outcomes go to one *recorder* that writes them in one transaction per batch. Per
delivery the database work is a share of three batched statements, which is what keeps the hub
near the plain-client limit.

What an attempt comes to (the one place that decides it):

=====================  ===================================================================
connector returns      delivered; receipt stored; waiting deliveries of the document released
``TransientError``     retry_scheduled after the policy's backoff (``Retry-After`` honoured),
(or any other error)   dead when attempts are exhausted
``PermanentError``     dead at once, reason kept
``AmbiguousError``     ``reconcile`` asked: a receipt → delivered (``reconciled``);
                       None → treated as transient
attempt timeout        ambiguous (the request may have been sent)
=====================  ===================================================================
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import functools
import math
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import DataError, IntegrityError

from hub.circuit import CircuitBreaker, CircuitState
from hub.connectors import Connector
from hub.db.ledger import HandOff, Ledger, Outcome
from hub.db.runner import DbRunner
from hub.errors import (
    AmbiguousError,
    DeliveryError,
    PermanentError,
    TransientError,
    parse_retry_after,
)
from hub.log import get_logger
from hub.metrics import CIRCUIT_VALUES, HubMetrics
from hub.models import DeliveryState, Job, Receipt
from hub.plugins import PluginHost
from hub.redaction import redact_text
from hub.settings import DispatcherSettings

__all__ = ["Dispatcher"]

log = get_logger("hub.dispatcher")


#: An outcome batch smaller than this waits ``coalesce_seconds`` for company before it is written.
COALESCE_BELOW = 32
#: The most deliveries a claim or an outcome batch may hold and still run on the event loop
#: (SQLite, :meth:`DbRunner.bookkeep`): a claim of 256 takes ~6 ms in a quiet process; a larger one
#: runs on the writer thread, which lets the loop take turns.
INLINE_AT_MOST = 256


def _status_code(value: object) -> int | None:
    """A connector's ``status_code`` as the attempts table stores it: a status from 100 to 999
    given as an int, a whole float or digits; anything else is none."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        code = int(value)
    except (ValueError, OverflowError):  # "5xx", nan, inf
        return None
    if isinstance(value, float) and value != code:
        return None
    return code if 100 <= code <= 999 else None


#: What the ledger raises for a value it will never take (not for being unreachable or busy).
_REFUSED = (DataError, IntegrityError, TypeError, ValueError)


def _bare(o: Outcome, exc: Exception) -> Outcome:
    """``o`` without what its connector added: what the ledger refused was among those."""
    return dataclasses.replace(
        o,
        status_code=None,
        error_type=None,
        message=None,
        remote_ref=None,
        receipt=None,
        reason=f"the ledger refused this attempt's details ({type(exc).__name__})",
    )


def _seconds(value: object) -> float | None:
    """A connector's ``retry_after`` as the retry policy takes it: finite seconds, not negative
    (text as a ``Retry-After`` header gives it, :func:`hub.errors.parse_retry_after`); anything
    else is none (the policy's own delay applies)."""
    if isinstance(value, str):
        value = parse_retry_after(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:  # an int too large for a float
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _short(value: object, limit: int = 64) -> str | None:
    """A connector's ``error_type`` or ``remote_ref`` as text that fits its column."""
    return None if value is None else str(value)[:limit]


@dataclass
class Lane:
    connector: Connector
    breaker: CircuitBreaker
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    inflight: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    slot_freed: asyncio.Event = field(default_factory=asyncio.Event)
    last_success: float | None = None
    #: Slots promised to intake for deliveries it claims at commit (:meth:`Dispatcher.reserve`).
    reserved: int = 0
    #: What the lane's claim on its way asked for: slots it may fill, not free for intake
    #: meanwhile (:meth:`Dispatcher.reserve`), though what waits in the lane may take them.
    claiming: int = 0
    #: The last claim found fewer due deliveries than it asked for: nothing older is waiting,
    #: so new documents may go straight from intake to this lane.
    caught_up: bool = False
    #: Deliveries intake left due in the ledger since the last claim that found everything
    #: (no free slot when it committed): the lane claims them before intake hands it anything
    #: newer (:meth:`Dispatcher._takes_hand_off`).
    left_behind: int = 0
    #: Deliveries of intake commits reserved for and not yet accepted: a claim queued now runs
    #: after those commits (one writer thread), so it must have room for what they may leave.
    incoming: int = 0
    #: While a claim is on its way that has room for every delivery left behind so far and in
    #: the commits queued ahead of it: how many that is. Intake may hand over meanwhile (its
    #: commit runs after the claim) while no more than that were left behind.
    covering: int | None = None
    #: How many deliveries the lane may claim beyond its free slots while it has a backlog
    #: (``claim_ahead``; 0: none), and how long one may wait for a slot after its claim.
    ahead: int = 0
    may_wait: float = math.inf
    #: Give-backs on their way to the ledger (:meth:`Dispatcher._give_back`): until they are
    #: written, what they release is older than anything intake would hand over.
    releasing: int = 0
    #: Claimed ahead of a free slot, oldest first, each with the ``time.monotonic()`` of its
    #: claim. A freed slot starts the first at once (:meth:`Dispatcher._fill`).
    waiting: collections.deque[tuple[float, Job]] = field(default_factory=collections.deque)
    # Labelled metric children, looked up once per connector rather than once per attempt.
    trickle: bool = False  # the last claim found only a few due deliveries
    observe_seconds: Callable[[float], None] | None = None
    counters: dict[str, Callable[[], None]] = field(default_factory=dict)

    @property
    def free(self) -> int:
        """Slots neither running an attempt nor promised to intake."""
        return self.connector.settings.concurrency - len(self.inflight) - self.reserved


class Dispatcher:
    def __init__(
        self,
        *,
        ledger: Ledger,
        runner: DbRunner,
        connectors: dict[str, Connector],
        host: PluginHost,
        metrics: HubMetrics,
        settings: DispatcherSettings,
        worker_id: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ledger = ledger
        self.runner = runner
        self.host = host
        self.metrics = metrics
        self.settings = settings
        self.worker_id = worker_id
        self.clock = clock
        self.hooks = host.has_delivery_hooks()
        self.lanes: dict[str, Lane] = {}
        for name, conn in connectors.items():
            if not conn.settings.enabled:
                continue
            # A delivery claimed ahead starts only while its lease still covers the call and a
            # reconcile (each up to the timeout) and a quarter of the lease to record the
            # outcome. Claims that run on the event loop (SQLite, DbRunner.bookkeep) are done
            # at once or wait behind intake's commits: claiming ahead there only made claims
            # smaller (docs/performance.md).
            may_wait = 0.75 * settings.lease_seconds - 2 * conn.settings.timeout_seconds
            ahead = settings.claim_ahead and not runner.inlines and may_wait > 0
            self.lanes[name] = Lane(
                conn,
                CircuitBreaker(
                    failure_threshold=conn.settings.circuit_failure_threshold,
                    reset_seconds=conn.settings.circuit_reset_seconds,
                ),
                ahead=conn.settings.concurrency // 2 if ahead else 0,
                # Without claims ahead a claim asks for free slots only: nothing waits.
                may_wait=may_wait if ahead else math.inf,
            )
            metrics.circuit_state.labels(name).set(0)
            # Read when scraped: nothing to update on the hot path.
            metrics.claimed_ahead.labels(name).set_function(
                functools.partial(len, self.lanes[name].waiting)
            )
        self._outcomes: list[Outcome] = []
        self._outcome_ready = asyncio.Event()
        self._stopping = asyncio.Event()
        self._drained = False
        self._running = False
        self._background: set[asyncio.Task[None]] = set()

    # --- public -------------------------------------------------------------------------------

    def wake(self, connector: str | None = None) -> None:
        """New work may be due (an intake commit, a NOTIFY, a replay, released or recovered
        deliveries). ``connector``: only that lane (none if it does not run here); None: all.
        Until the woken lane has claimed again, intake hands it nothing: older work first."""
        if connector is None:
            lanes: Iterable[Lane] = self.lanes.values()
        elif connector in self.lanes:
            lanes = (self.lanes[connector],)
        else:
            return
        for lane in lanes:
            lane.caught_up = False
            lane.wake.set()

    def circuit_states(self) -> dict[str, str]:
        return {name: lane.breaker.state.value for name, lane in self.lanes.items()}

    def last_success(self) -> dict[str, float | None]:
        return {name: lane.last_success for name, lane in self.lanes.items()}

    def stop(self) -> None:
        self._stopping.set()
        self.wake()

    def reserve(self, wanted: dict[str, int]) -> HandOff | None:
        """Free slots that intake may fill at its next commit, per connector (at most
        ``wanted``): deliveries written and claimed in one transaction, started by
        :meth:`accept` without a claim or a read-back. Only lanes that are running, caught up
        (no older due deliveries wait in the ledger, or only those a claim on its way covers,
        and none claimed ahead waits in the lane: :meth:`_takes_hand_off`) and whose circuit is
        closed take part. While running it returns a hand-off even without a slot: the commit
        then counts, per lane, what it leaves due (``incoming`` now, ``left_behind`` at
        :meth:`accept`)."""
        if not (self._running and self.settings.intake_handoff) or self._stopping.is_set():
            return None
        slots: dict[str, int] = {}
        incoming: dict[str, int] = {}
        for name, count in wanted.items():
            lane = self.lanes.get(name)
            if lane is None:
                continue
            lane.incoming += count
            incoming[name] = count
            if not self._takes_hand_off(lane):
                continue
            take = min(count, lane.free - lane.claiming)
            if take > 0:
                slots[name] = take
                lane.reserved += take
        # Even with no slot: the commit then counts what it leaves behind (accept()).
        return HandOff(self.worker_id, self.settings.lease_seconds, slots, incoming=incoming)

    @staticmethod
    def _takes_hand_off(lane: Lane) -> bool:
        """Caught up, circuit closed, nothing claimed ahead waiting in the lane or being given
        back, and nothing left behind that no claim on its way covers: a new document never
        overtakes an older due delivery of its lane."""
        if (
            not lane.caught_up
            or lane.breaker.state is not CircuitState.CLOSED
            or lane.waiting
            or lane.releasing
        ):
            return False
        return lane.left_behind == 0 or (
            lane.covering is not None and lane.covering >= lane.left_behind
        )

    def accept(self, handoff: HandOff, *, committed: bool = True) -> None:
        """After the intake commit: start the jobs it claimed, free the reservation, and count
        and wake for what it left due. With ``committed=False`` (the commit failed, or may still
        land) the reservation is freed and the lanes claim before handing over again."""
        for name, count in handoff.slots.items():
            lane = self.lanes[name]
            lane.reserved -= count
            lane.slot_freed.set()  # a slot not filled after all is the lane's again
        for name, count in handoff.incoming.items():
            lane = self.lanes[name]
            lane.incoming -= count
            if not committed:
                # Failed, or cancelled while the write may still land (``pending`` may be half
                # written meanwhile: not read): claim before handing anything over again.
                lane.caught_up = False
                lane.wake.set()
        if committed:
            for name, left in handoff.pending.items():
                behind = self.lanes.get(name)
                if behind is not None:
                    # Due deliveries were left in the ledger: the lane claims them before
                    # intake hands it anything newer (_takes_hand_off).
                    behind.left_behind += left
                    behind.wake.set()
            give_back: dict[str, list[int]] = {}
            for job in handoff.jobs:
                lane = self.lanes[job.connector]
                if self._stopping.is_set() or lane.breaker.state is not CircuitState.CLOSED:
                    # Stopped, or the circuit opened, while the commit ran: give the claim back.
                    give_back.setdefault(job.connector, []).append(job.delivery_id)
                else:
                    self._start(lane, job)
            for name, ids in give_back.items():
                self._give_back(self.lanes[name], ids)
        for name in handoff.slots:
            lane = self.lanes[name]
            if lane.waiting:
                # Once the hand-off's own jobs have their slots: what waits takes the rest.
                self._fill(lane)

    async def run(self) -> None:
        """Until :meth:`stop`: lanes, recorder and lease recovery. Then drain gracefully."""
        await self.runner.write(self.ledger.recover_expired_leases, self.worker_id)
        self._running = True
        recorder = asyncio.create_task(self._recorder(), name="hub-recorder")
        lanes = [
            asyncio.create_task(self._lane(name, lane), name=f"hub-lane-{name}")
            for name, lane in self.lanes.items()
        ]
        janitor = asyncio.create_task(self._janitor(), name="hub-janitor")
        try:
            await self._stopping.wait()
        finally:
            self._running = False
            janitor.cancel()
            await asyncio.gather(*lanes, return_exceptions=True)
            for lane in self.lanes.values():
                self._give_back_waiting(lane)
            await self._drain()
            # Let the recorder finish the batch it holds: cancelling it mid-write would drop a
            # batch whose write was queued but not started. Then flush whatever is left.
            self._drained = True
            self._outcome_ready.set()
            await recorder
            await self._flush()
            if self._background:  # circuit events, claims given back at stop
                await asyncio.gather(*self._background, return_exceptions=True)

    # --- lanes --------------------------------------------------------------------------------

    async def _lane(self, name: str, lane: Lane) -> None:
        conn = lane.connector
        capacity = conn.settings.concurrency
        threshold = max(1, capacity // 4)
        batch = self.settings.batch_size
        while not self._stopping.is_set():
            if lane.trickle and self.settings.coalesce_seconds:
                # Documents arrive one by one (intake): let a few gather, so that one claim
                # transaction takes several instead of one each (docs/performance.md). Then
                # look at the breaker and the free slots again: they may have changed.
                lane.trickle = False
                await asyncio.sleep(self.settings.coalesce_seconds)
                continue
            if not lane.breaker.allows():
                # A wake cannot be acted on until the circuit lets a probe through: clear it, or
                # this sleep would return at once, over and over.
                lane.wake.clear()
                await self._sleep(lane.wake, min(1.0, lane.breaker.reset_seconds))
                continue
            if lane.waiting:
                self._fill(lane)
            free = lane.free
            ahead = 0
            if lane.breaker.state is CircuitState.HALF_OPEN:
                free = 1 if not lane.inflight else 0  # one probe at a time
            elif not lane.caught_up:
                # A backlog: claim ahead, so that freed slots need not wait for the next claim.
                # (A caught-up lane gets new work from intake's hand-off instead.)
                ahead = lane.ahead
            room = free + ahead - len(lane.waiting)
            if room < threshold and lane.inflight and lane.breaker.state is CircuitState.CLOSED:
                lane.slot_freed.clear()
                await self._sleep(lane.slot_freed, self.settings.idle_poll_seconds)
                continue
            if room <= 0:
                lane.slot_freed.clear()
                await self._sleep(lane.slot_freed, self.settings.idle_poll_seconds)
                continue
            lane.wake.clear()
            asked = min(room, batch)
            claimed_at = time.monotonic()
            covering: int | None = None
            if lane.caught_up and lane.left_behind:
                # Only what intake left behind is due, here and in the commits queued ahead of
                # this claim: ask for that and one more (fewer back means nothing else was),
                # and leave the other free slots to intake, which may hand over meanwhile.
                asked = min(asked, lane.left_behind + lane.incoming + 1)
                covering = asked - 1
            lane.covering = covering
            # The slots this claim may fill are not free for intake meanwhile (reserve()).
            lane.claiming = asked
            dead: list[int] = []  # claimed, and dead-lettered at once (:meth:`_dead_at_claim`)
            # Not on the loop while an intake commit reserved for is still to be accepted: its
            # accept() counts what it left behind, which must come before this claim's
            # reckoning below, as it does behind it on the writer thread.
            claim = self._bookkeeper(asked, may_inline=lane.incoming == 0)
            try:
                jobs: list[Job] = await claim(
                    self.ledger.claim,
                    name,
                    asked,
                    self.worker_id,
                    self.settings.lease_seconds,
                    on_dead=functools.partial(self._dead_at_claim, name, dead),
                )
            except Exception as exc:
                log.error(
                    "hub.dispatcher.claim_failed", connector=name, error_type=type(exc).__name__
                )
                lane.caught_up = False  # what it was to take is still due: claim it first
                await self._sleep(self._stopping, 1.0)
                continue
            finally:
                lane.claiming = 0
                lane.covering = None
            taken = len(jobs) + len(dead)
            lane.trickle = 0 < taken < threshold
            if taken < asked:
                # Everything due when the claim ran was taken. Every commit accepted so far ran
                # before it (writes take effect in the order submitted, hub.db.runner), so
                # nothing they left is still due.
                lane.caught_up = True
                lane.left_behind = 0
            elif covering is not None and taken < lane.left_behind:
                # As many as asked, and fewer than intake left behind (the count includes the
                # commits that ran ahead of this claim): the rest waits for the next claim,
                # which the accepting commit has woken. Exactly as many, when the free slots
                # capped the claim there, cannot tell that nothing else is due (it may have
                # taken retries instead): that case ends the caught-up state below.
                lane.left_behind -= taken
            else:
                # More was due than intake left behind (retries come due by time; on
                # PostgreSQL, other processes' work): claim it all before handing over again.
                lane.caught_up = False
            self._start_or_wait(lane, jobs, claimed_at)
            if not taken:
                await self._sleep(lane.wake, self.settings.idle_poll_seconds)

    def _bookkeeper(
        self, deliveries: int, *, may_inline: bool = True
    ) -> Callable[..., Awaitable[Any]]:
        """Where a claim or an outcome batch of ``deliveries`` runs: on the loop when it can
        (SQLite, :meth:`DbRunner.bookkeep`) and is at most :data:`INLINE_AT_MOST`, else on the
        writer thread."""
        if may_inline and deliveries <= INLINE_AT_MOST:
            return self.runner.bookkeep
        return self.runner.write

    def _dead_at_claim(self, name: str, dead: list[int], delivery_id: int, reason: str) -> None:
        """On the ledger's writer thread or the loop (:meth:`DbRunner.bookkeep`): a claimed
        delivery was dead-lettered because its stored document no longer reads
        (:meth:`Ledger.claim`)."""
        dead.append(delivery_id)
        self._dead_letter(name, delivery_id, reason, "UnreadableDocument")

    def _dead_letter(
        self, name: str, delivery_id: int, reason: str | None, error_type: str | None
    ) -> None:
        """Count and alert a dead letter, once, whatever made it one."""
        self.metrics.deliveries.labels(name, "dead").inc()
        self.metrics.alerts.labels(name, "dead_letter").inc()
        log.warning(
            "hub.alert.dead_letter",
            connector=name,
            delivery_id=delivery_id,
            reason=reason,
            error_type=error_type,
        )

    def _start(self, lane: Lane, job: Job) -> None:
        task = asyncio.create_task(self._attempt(lane, job))
        lane.inflight[job.delivery_id] = task
        task.add_done_callback(functools.partial(self._done, lane, job.delivery_id))

    def _start_or_wait(self, lane: Lane, jobs: list[Job], claimed_at: float) -> None:
        """A claim's jobs, oldest first: into the lane's free slots, the rest waiting for one.
        A claim that comes back after stop, or to an open circuit, is given back whole; to a
        half-open one, all but its probe."""
        if self._stopping.is_set() or lane.breaker.state is CircuitState.OPEN:
            self._give_back(lane, [job.delivery_id for job in jobs])
            return
        if lane.breaker.state is CircuitState.HALF_OPEN:
            probe = 0 if lane.inflight else 1
            for job in jobs[:probe]:
                self._start(lane, job)
            if jobs[probe:]:
                self._give_back(lane, [job.delivery_id for job in jobs[probe:]])
            return
        lane.waiting.extend((claimed_at, job) for job in jobs)
        self._fill(lane)

    def _fill(self, lane: Lane) -> None:
        """Start what waits in the lane, oldest first, while it has free slots; give back one
        that waited longer than ``may_wait`` instead, and all of them if the lane may not start
        any (stopping, circuit not closed)."""
        if self._stopping.is_set() or lane.breaker.state is not CircuitState.CLOSED:
            self._give_back_waiting(lane)
            return
        free = lane.free
        if free <= 0:
            return
        now = time.monotonic()
        stale: list[tuple[float, Job]] = []
        while lane.waiting and free > 0:
            claimed_at, job = lane.waiting.popleft()
            if now - claimed_at > lane.may_wait:
                stale.append((claimed_at, job))
                continue
            self._start(lane, job)
            free -= 1
        if stale:
            self._give_back_entries(lane, stale)

    def _give_back_waiting(self, lane: Lane) -> None:
        if lane.waiting:
            entries = list(lane.waiting)
            lane.waiting.clear()
            self._give_back_entries(lane, entries)

    def _give_back_entries(self, lane: Lane, entries: list[tuple[float, Job]]) -> None:
        """Waiting deliveries that will not start here. One whose claim is less than half a
        lease old is given back (:meth:`_give_back`): its lease cannot expire, and the delivery
        be claimed again, before the release runs. An older one (only if the event loop stalled
        that long) is left to its lease, and the lease recovery makes it due again."""
        now = time.monotonic()
        young = [j.delivery_id for at, j in entries if now - at < self.settings.lease_seconds / 2]
        if len(young) < len(entries):
            log.warning(
                "hub.dispatcher.left_to_lease",
                connector=lane.connector.name,
                count=len(entries) - len(young),
            )
        if young:
            self._give_back(lane, young)

    def _give_back(self, lane: Lane, delivery_ids: list[int]) -> None:
        """Claims that will not start here: pending again at once, for this or another worker
        (:meth:`Ledger.release_leases`); if that write fails, their leases expire instead.
        They are older than anything intake sends next, so the lane takes no hand-off until it
        has claimed again: none while the release is on its way (``releasing``), and
        :meth:`wake` once it is written."""
        lane.releasing += 1
        self._in_background(self._release(lane, delivery_ids))

    async def _release(self, lane: Lane, delivery_ids: list[int]) -> None:
        try:
            released = await self.runner.write(
                self.ledger.release_leases, self.worker_id, delivery_ids
            )
        finally:
            lane.releasing -= 1
        if released and not self._stopping.is_set():
            self.wake(lane.connector.name)

    def _in_background(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # e.g. claims given back at stop: their leases expire instead (nothing is lost)
            log.error(
                "hub.dispatcher.background_failed", error_type=type(task.exception()).__name__
            )

    def _done(self, lane: Lane, delivery_id: int, _task: asyncio.Task[None]) -> None:
        lane.inflight.pop(delivery_id, None)
        if lane.waiting:
            self._fill(lane)
        lane.slot_freed.set()

    async def _sleep(self, event: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)

    # --- one attempt --------------------------------------------------------------------------

    async def _attempt(self, lane: Lane, job: Job) -> None:
        conn = lane.connector
        name = conn.name
        started = self.clock()
        t0 = time.perf_counter()
        receipt: Receipt | None = None
        error: DeliveryError | None = None
        outcome_label = "delivered"
        try:
            if self.hooks:
                self.host.before_delivery(job)
            try:
                # asyncio.timeout, not wait_for: no extra task per attempt.
                async with asyncio.timeout(conn.settings.timeout_seconds):
                    receipt = await conn.deliver(job)
            except TimeoutError:
                raise AmbiguousError(
                    f"no answer within {conn.settings.timeout_seconds:g} s"
                ) from None
        except AmbiguousError as exc:
            error = exc
            try:
                receipt = await asyncio.wait_for(
                    conn.reconcile(job, exc), conn.settings.timeout_seconds
                )
            except Exception as rexc:  # reconcile failing leaves it ambiguous: retry
                log.warning(
                    "hub.delivery.reconcile_failed",
                    connector=name,
                    delivery_id=job.delivery_id,
                    error_type=type(rexc).__name__,
                )
                receipt = None
            if receipt is not None:
                outcome_label = "reconciled"
                error = None
        except DeliveryError as exc:
            error = exc
        except asyncio.CancelledError:
            error = TransientError("attempt interrupted by shutdown")
            self._finish(lane, job, started, t0, None, error, "transient")
            raise
        except Exception as exc:
            # A connector bug or an unmapped library error: retry, keep only the type.
            error = TransientError(f"unexpected {type(exc).__name__} in connector")
        if error is not None:
            outcome_label = error.outcome
        self._finish(lane, job, started, t0, receipt, error, outcome_label)

    def _finish(
        self,
        lane: Lane,
        job: Job,
        started: float,
        t0: float,
        receipt: Receipt | None,
        error: DeliveryError | None,
        outcome_label: str,
    ) -> None:
        name = lane.connector.name
        duration = time.perf_counter() - t0
        if lane.observe_seconds is None:
            lane.observe_seconds = self.metrics.attempt_seconds.labels(name).observe
        lane.observe_seconds(duration)
        count = lane.counters.get(outcome_label)
        if count is None:
            count = lane.counters[outcome_label] = self.metrics.deliveries.labels(
                name, outcome_label
            ).inc
        count()
        out = Outcome(
            delivery_id=job.delivery_id,
            document_id=job.document.id,
            connector=name,
            attempt=job.attempt,
            state=DeliveryState.DELIVERED.value,
            started_at=started,
            duration_ms=duration * 1000.0,
            worker=self.worker_id,
        )
        if error is None and receipt is not None:
            out.receipt = receipt.model_dump(mode="json", exclude_none=True)
            lane.last_success = self.clock()
            if lane.breaker.record_success():
                self._circuit_changed(name, lane)
            if self.hooks:
                self._hook(self.host.after_delivery, job, receipt)
        else:
            assert error is not None
            message = redact_text(error.message)[:1000]
            # What a connector put on its error is stored as the attempt's columns: made to fit
            # them here, or one plugin's odd value would fail the whole batch's record.
            out.status_code = _status_code(error.status_code)
            out.error_type = _short(error.error_type) or type(error).__name__
            out.message = message
            out.remote_ref = _short(error.remote_ref)
            if isinstance(error, PermanentError):
                out.state = DeliveryState.DEAD.value
                out.reason = message
            else:
                delay = lane.connector.settings.retry.next_delay(
                    job.attempt, _seconds(error.retry_after)
                )
                if delay is None:
                    out.state = DeliveryState.DEAD.value
                    out.reason = f"attempts exhausted ({job.attempt}): {message}"
                else:
                    out.state = DeliveryState.RETRY_SCHEDULED.value
                    out.next_attempt_at = self.clock() + delay
                    out.reason = message
                if lane.breaker.record_failure():
                    self._circuit_changed(name, lane)
            if out.state == DeliveryState.DEAD.value:
                self._dead_letter(name, job.delivery_id, out.reason, out.error_type)
            if self.hooks:
                self._hook(self.host.on_delivery_error, job, error)
        self._outcomes.append(out)
        self._outcome_ready.set()

    def _hook(self, fn: Callable[..., None], *args: object) -> None:
        try:
            fn(*args)
        except Exception as exc:  # a plugin's hook must not lose an outcome
            log.error("hub.plugin.hook_failed", hook=fn.__name__, error_type=type(exc).__name__)

    def _circuit_changed(self, name: str, lane: Lane) -> None:
        state = lane.breaker.state
        self.metrics.circuit_state.labels(name).set(CIRCUIT_VALUES[state.value])
        if state is CircuitState.OPEN:
            self._give_back_waiting(lane)  # not attempted while the circuit is open
            self.metrics.alerts.labels(name, "circuit_open").inc()
            log.warning(
                "hub.alert.circuit_open",
                connector=name,
                reset_seconds=lane.breaker.reset_seconds,
            )
        else:
            log.info("hub.connector.circuit_closed", connector=name)
        # The audit trail records the trip and the recovery too (one event each, not per attempt).
        self._in_background(
            self.runner.write(
                self.ledger.record_event, f"circuit_{state.value}", self.worker_id, name
            )
        )

    # --- recording ----------------------------------------------------------------------------

    async def _recorder(self) -> None:
        coalesce = self.settings.coalesce_seconds
        while not self._drained:
            await self._outcome_ready.wait()
            if coalesce and len(self._outcomes) < COALESCE_BELOW and not self._drained:
                # Few outcomes (documents trickle in): let more join this transaction.
                await asyncio.sleep(coalesce)
            self._outcome_ready.clear()
            await self._flush()

    async def _flush(self) -> None:
        while self._outcomes:
            batch, self._outcomes = self._outcomes, []
            try:
                released = await self._write(batch)
            except _REFUSED as exc:
                # The ledger refuses a value in this batch: retrying will not change that, and
                # waiting for it would hold every other outcome back.
                log.error(
                    "hub.dispatcher.record_refused", error_type=type(exc).__name__, count=len(batch)
                )
                released = await self._record_one_by_one(batch)
            if released:
                self.wake()

    async def _write(self, outcomes: list[Outcome]) -> int:
        """Record ``outcomes`` in one transaction, as long as it takes while the ledger is
        unreachable or busy: the outcomes wait in memory, and if the process dies meanwhile the
        leases expire and the deliveries are attempted again. Raises what the ledger refuses
        (:data:`_REFUSED`): no retry would change that."""
        tries = 0
        while True:
            tries += 1
            try:
                record = self._bookkeeper(len(outcomes))
                released: int = await record(self.ledger.record_outcomes, outcomes)
                return released
            except _REFUSED:
                raise
            except Exception as exc:
                log.error(
                    "hub.dispatcher.record_failed",
                    error_type=type(exc).__name__,
                    count=len(outcomes),
                    tries=tries,
                )
                await asyncio.sleep(min(5.0, 0.1 * tries))

    async def _record_one_by_one(self, batch: list[Outcome]) -> int:
        """Record a refused batch outcome by outcome; one still refused is recorded without
        what its connector added (status, error type and message, reference, receipt), with
        its refusal as the reason, and what the receipt named is logged (ids and registration
        numbers, no personal data). One refused even so is left to its lease: the delivery is
        attempted again (never lost), and the error says so."""
        released = 0
        for o in batch:
            try:
                released += await self._write([o])
            except _REFUSED as exc:
                released += await self._record_bare(o, exc)
        return released

    async def _record_bare(self, o: Outcome, exc: Exception) -> int:
        """``o``, refused alone, recorded without its connector's details (:func:`_bare`)."""
        self.metrics.alerts.labels(o.connector, "outcome_refused").inc()
        receipt = o.receipt or {}
        log.error(
            "hub.dispatcher.outcome_refused",
            delivery_id=o.delivery_id,
            error_type=type(exc).__name__,
            remote_id=_short(receipt.get("remote_id"), 200),
            registration_number=_short(receipt.get("registration_number"), 200),
        )
        try:
            return await self._write([_bare(o, exc)])
        except _REFUSED as again:
            log.error(
                "hub.dispatcher.outcome_left_to_its_lease",
                delivery_id=o.delivery_id,
                error_type=type(again).__name__,
            )
            return 0

    async def _drain(self) -> None:
        pending = [t for lane in self.lanes.values() for t in lane.inflight.values()]
        if not pending:
            return
        log.info("hub.dispatcher.draining", in_flight=len(pending))
        _, still = await asyncio.wait(pending, timeout=self.settings.shutdown_grace_seconds)
        for t in still:
            t.cancel()
        if still:
            await asyncio.gather(*still, return_exceptions=True)

    async def _janitor(self) -> None:
        """Recover leases of dead workers; refresh circuit gauges."""
        interval = max(1.0, self.settings.lease_seconds / 4)
        while True:
            await asyncio.sleep(interval)
            try:
                recovered = await self.runner.write(
                    self.ledger.recover_expired_leases, self.worker_id
                )
            except Exception as exc:
                log.error("hub.dispatcher.recovery_failed", error_type=type(exc).__name__)
                continue
            if recovered:
                log.warning("hub.dispatcher.leases_recovered", count=recovered)
                self.wake()
            for name, lane in self.lanes.items():
                self.metrics.circuit_state.labels(name).set(
                    CIRCUIT_VALUES[lane.breaker.state.value]
                )
