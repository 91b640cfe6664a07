"""Where ledger calls run (hub.db.runner): writes on the writer thread, in order; SQLite's
bookkeeping on the event loop while that thread is idle, behind it otherwise, and never
waiting on the loop for another process's write lock."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.db.engine import is_sqlite, make_bookkeeping_engine, make_engines, make_inline_engine
from hub.db.ledger import Ledger, Outcome
from hub.db.migrate import upgrade
from hub.db.runner import CHECKPOINT_EVERY, DbRunner, LedgerBusy
from tests.fixtures import MakeHub
from tests.test_dispatcher import build, scripted, submit, until, workers
from tests.test_handoff import spy_claims
from tests.test_ledger import event_rows, prepared

LOOP = "loop"


def where() -> str:
    """The thread a call runs on: the loop's (this test's), or the thread's name."""
    thread = threading.current_thread()
    return LOOP if thread is threading.main_thread() else thread.name


@contextlib.contextmanager
def inline_context() -> Iterator[None]:
    yield


@pytest.fixture
async def runner() -> Any:
    r = DbRunner(inline=inline_context)
    yield r
    r.close()


async def test_bookkeeping_runs_on_the_loop_while_the_writer_thread_is_idle(
    runner: DbRunner,
) -> None:
    assert await runner.bookkeep(where) == LOOP
    assert (await runner.write(where)).startswith("hub-db-write")
    assert runner.writer_idle()
    assert await runner.bookkeep(where) == LOOP  # idle again once the write finished


async def test_without_an_inline_context_bookkeeping_is_a_write() -> None:
    plain = DbRunner()
    try:
        assert (await plain.bookkeep(where)).startswith("hub-db-write")
    finally:
        plain.close()


async def test_bookkeeping_queues_behind_writes_submitted_before_it(runner: DbRunner) -> None:
    order: list[tuple[str, str]] = []
    release = threading.Event()

    def slow_write() -> None:
        release.wait(10)
        order.append(("write", where()))

    def bookkeeping() -> None:
        order.append(("bookkeeping", where()))

    first = asyncio.create_task(runner.write(slow_write))
    await asyncio.sleep(0)  # the write is submitted (and blocked in the thread)
    assert not runner.writer_idle()
    second = asyncio.create_task(runner.bookkeep(bookkeeping))
    await asyncio.sleep(0.05)
    assert order == []  # not run ahead of the write on the loop
    release.set()
    await asyncio.gather(first, second)
    assert [what for what, _ in order] == ["write", "bookkeeping"]
    assert all(thread.startswith("hub-db-write") for _, thread in order)
    assert runner.writer_idle()


async def test_bookkeeping_that_would_wait_for_a_lock_goes_to_the_thread() -> None:
    calls: list[str] = []

    tries = 0

    @contextlib.contextmanager
    def busy() -> Iterator[None]:
        # As Ledger.without_waiting: BEGIN IMMEDIATE fails before the call has done anything.
        nonlocal tries
        tries += 1
        raise LedgerBusy("another process holds the write lock")
        yield

    def call() -> str:
        calls.append(where())
        return "done"

    r = DbRunner(inline=busy)
    try:
        assert await r.bookkeep(call) == "done"
    finally:
        r.close()
    assert tries == 1
    assert len(calls) == 1 and calls[0].startswith("hub-db-write")


async def test_a_write_cancelled_in_the_queue_leaves_the_thread_idle_once_the_rest_is_done(
    runner: DbRunner,
) -> None:
    release = threading.Event()
    running = asyncio.create_task(runner.write(release.wait, 10))
    await asyncio.sleep(0.05)  # started on the thread
    queued = asyncio.create_task(runner.write(where))  # waits behind it
    await asyncio.sleep(0)
    queued.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await queued
    assert not runner.writer_idle()  # the first is still running
    release.set()
    await running
    assert runner.writer_idle()
    assert await runner.bookkeep(where) == LOOP


async def test_a_runner_keeps_no_finished_write(runner: DbRunner) -> None:
    plain = DbRunner()  # as on PostgreSQL: nobody asks whether the thread is idle
    try:
        for r in (plain, runner):
            for _ in range(100):
                await r.write(where)
            assert len(r._queued) <= 1  # each write's future (and result) let go
    finally:
        plain.close()


async def test_a_closed_runner_runs_nothing_inline(runner: DbRunner) -> None:
    runner.close()
    with pytest.raises(RuntimeError):
        await runner.bookkeep(where)


# --- on a real SQLite ledger ------------------------------------------------------------------


@pytest.fixture
def sqlite_ledger(tmp_path: Path) -> Iterator[Ledger]:
    """A SQLite ledger built as the hub builds it, whatever database this test run uses: the
    inline engine is SQLite's alone."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    writer, reader = make_engines(url)
    upgrade(writer)
    bookkeeping, inline = make_bookkeeping_engine(url), make_inline_engine(url)
    yield Ledger(writer, reader, bookkeeping=bookkeeping, inline=inline)
    for engine in (inline, bookkeeping, writer, reader):
        engine.dispose()


@contextlib.contextmanager
def another_process_writing(ledger: Ledger) -> Iterator[sqlite3.Connection]:
    """Another connection holding SQLite's write lock, as a CLI command in another process
    does while it writes."""
    other = sqlite3.connect(ledger.writer.url.database or "", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield other
    finally:
        with contextlib.suppress(sqlite3.OperationalError):
            other.execute("ROLLBACK")
        other.close()


def test_an_inline_claim_never_waits_for_another_process_and_changes_nothing(
    sqlite_ledger: Ledger,
) -> None:
    ledger = sqlite_ledger
    ledger.insert_documents([prepared("busy-1")])
    with another_process_writing(ledger):
        t0 = time.monotonic()
        with pytest.raises(LedgerBusy), ledger.without_waiting():
            ledger.claim("webcon", 10, "w1", 30)
        assert time.monotonic() - t0 < 1.0  # not the writer's 30 s busy wait
    assert event_rows(ledger, action="claimed") == []
    [job] = ledger.claim("webcon", 10, "w1", 30)  # still due, claimed once the lock is free
    assert job.document.external_id == "busy-1"


async def test_bookkeeping_waits_for_another_process_on_the_thread_not_the_loop(
    sqlite_ledger: Ledger,
) -> None:
    ledger = sqlite_ledger
    ledger.insert_documents([prepared("busy-2")])
    runner = DbRunner(inline=ledger.without_waiting)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    try:
        with another_process_writing(ledger) as other:
            tick = asyncio.create_task(ticker())
            claim = asyncio.create_task(runner.bookkeep(ledger.claim, "webcon", 10, "w1", 30))
            await asyncio.sleep(0.3)
            assert not claim.done()  # waiting for the lock…
            assert ticks >= 10  # …on the writer thread: the loop went on meanwhile
            other.execute("COMMIT")
            [job] = await asyncio.wait_for(claim, 10)
            tick.cancel()
        assert job.document.external_id == "busy-2"
        assert len(event_rows(ledger, action="claimed")) == 1
    finally:
        runner.close()


def wal_frames(ledger: Ledger) -> tuple[int, int]:
    """(frames in the WAL, frames of it copied into the database) as the wal-index says: the
    ``mxFrame`` and ``nBackfill`` fields of the ``-shm`` file, native byte order
    (https://www.sqlite.org/walformat.html). Read without a connection, which would
    checkpoint when it closes."""
    shm = Path(f"{ledger.writer.url.database}-shm").read_bytes()
    (max_frame,) = struct.unpack_from("=I", shm, 16)
    (backfilled,) = struct.unpack_from("=I", shm, 96)
    return max_frame, backfilled


async def test_the_loop_never_checkpoints_the_thread_does_after_so_many_inline_calls(
    sqlite_ledger: Ledger,
) -> None:
    ledger = sqlite_ledger
    with ledger.inline_engine.connect() as conn:  # type: ignore[union-attr]
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    ledger.insert_documents([prepared(f"wal-{i}") for i in range(CHECKPOINT_EVERY)])
    ledger.checkpoint()
    runner = DbRunner(inline=ledger.without_waiting, checkpoint=ledger.checkpoint)
    try:
        for i in range(CHECKPOINT_EVERY - 1):
            [job] = await runner.bookkeep(ledger.claim, "webcon", 1, "w1", 30)
            assert job.document.external_id == f"wal-{i}"
        frames, copied = wal_frames(ledger)
        assert frames > copied  # the inline claims' pages wait in the WAL
        assert runner.writer_idle()
        await runner.bookkeep(ledger.claim, "webcon", 1, "w1", 30)  # the 64th
        assert not runner.writer_idle()  # the checkpoint is on the writer thread
        await runner.write(lambda: None)  # after it
        frames, copied = wal_frames(ledger)
        assert frames == copied > 0
    finally:
        runner.close()


# --- in the hub -------------------------------------------------------------------------------


@pytest.mark.parametrize("inline", [True, False])
async def test_the_hubs_claims_and_outcomes_run_on_the_loop_on_sqlite(
    make_hub: MakeHub, database_url: str, inline: bool
) -> None:
    hub = build(make_hub, "scripted", dispatcher={"sqlite_inline_bookkeeping": inline})
    on_loop = inline and is_sqlite(database_url)
    assert (hub.inline is not None) == on_loop
    threads: dict[str, list[str]] = {"claim": [], "record_outcomes": []}
    for name in threads:
        method = getattr(hub.ledger, name)

        def spy(*args: Any, _method: Any = method, _name: str = name, **kw: Any) -> Any:
            threads[_name].append(where())
            return _method(*args, **kw)

        setattr(hub.ledger, name, spy)
    docs = await submit(hub, 3)
    async with workers(hub):
        await until(
            lambda: all(hub.ledger.deliveries_of(d)[0]["state"] == "delivered" for d in docs),
            "delivered",
        )
    assert len(scripted(hub, "scripted").calls) == 3
    for name, seen in threads.items():
        assert seen, name
        if on_loop:
            # Nothing else writes here: the writer thread is idle but for a checkpoint.
            assert seen.count(LOOP) > len(seen) / 2, (name, seen)
        else:
            assert LOOP not in seen and all(t.startswith("hub-db-write") for t in seen), name


async def test_a_lane_waiting_for_an_intake_commit_to_be_accepted_claims_on_the_thread(
    make_hub: MakeHub,
) -> None:
    # Its accept() counts what the commit left behind, before the claim's reckoning: on the
    # loop the claim would run ahead of it (hub.dispatcher, the lane's claim).
    hub = build(make_hub, "scripted")
    lane = hub.dispatcher.lanes["scripted"]
    claims: list[str] = []
    spy_claims(hub, before=lambda _limit: claims.append(where()))
    [doc] = await submit(hub, 1)
    lane.incoming = 1  # as while a commit reserved for is on its way
    async with workers(hub):
        await until(lambda: hub.ledger.deliveries_of(doc)[0]["state"] == "delivered", "sent")
        assert claims and LOOP not in claims
        lane.incoming = 0
        claims.clear()
        await until(lambda: len(claims) >= 2, "idle claims")  # every idle_poll_seconds
    assert LOOP in claims or not hub.inline  # on SQLite the next ones run on the loop


async def test_claims_and_outcome_batches_of_more_than_256_run_on_the_thread(
    make_hub: MakeHub,
) -> None:
    # The loop takes turns while a large one is built and written (hub.dispatcher).
    hub = build(
        make_hub,
        "scripted",
        sections={"scripted": {"concurrency": 300}},
        dispatcher={"batch_size": 300},
    )
    claims: list[tuple[int, str]] = []
    spy_claims(hub, before=lambda limit: claims.append((limit, where())))
    records: list[tuple[int, str]] = []

    def spy_record(outcomes: Any) -> int:
        records.append((len(outcomes), where()))
        return 0

    [doc] = await submit(hub, 1)
    async with workers(hub):
        await until(lambda: claims, "a claim")
    assert claims[0][0] == 300 and claims[0][1].startswith("hub-db-write")
    hub.ledger.record_outcomes = spy_record  # type: ignore[method-assign]
    outcome = Outcome(
        delivery_id=1,
        document_id=doc,
        connector="scripted",
        attempt=1,
        state="delivered",
        started_at=0.0,
        duration_ms=1.0,
        worker="w1",
    )
    await hub.dispatcher._write([outcome] * 257)
    await hub.dispatcher._write([outcome] * 256)
    assert records[0][0] == 257 and records[0][1].startswith("hub-db-write")
    assert records[1][0] == 256 and (records[1][1] == LOOP) == (hub.inline is not None)
