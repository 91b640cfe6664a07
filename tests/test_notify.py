"""LISTEN/NOTIFY between processes on PostgreSQL (the server the suite always has)."""

from __future__ import annotations

import asyncio
import time

from hub.db.notify import PgNotifier
from tests.fixtures import PG_ADMIN_URL


async def _notify_until(sender: PgNotifier, woken: asyncio.Event, what: str) -> None:
    """Notify until ``woken`` is set (a listener subscribes a moment after it starts)."""
    deadline = time.monotonic() + 10
    while not woken.is_set():
        assert time.monotonic() < deadline, f"{what} never woken"
        sender.notify()
        await asyncio.sleep(0.05)


async def test_a_notification_wakes_the_other_processes_not_its_sender() -> None:
    # A process's own dispatcher is told of its commits directly; its own notification coming
    # back would only wake every lane and end their caught-up state (the intake hand-off).
    loop = asyncio.get_running_loop()
    woken_a, woken_b = asyncio.Event(), asyncio.Event()
    # Built as every process builds its own: nothing tells them apart but their random tokens
    # (two processes given the same HUB_WORKER_ID by mistake must still wake each other).
    a = PgNotifier(PG_ADMIN_URL, loop, woken_a.set)
    b = PgNotifier(PG_ADMIN_URL, loop, woken_b.set)
    assert a.sender != b.sender
    a.start()
    b.start()
    try:
        await _notify_until(b, woken_a, "a")  # a listens
        await _notify_until(a, woken_b, "b")  # and b hears a
        woken_a.clear()
        woken_b.clear()
        a.notify()
        await asyncio.wait_for(woken_b.wait(), 10)
        await asyncio.sleep(0.3)  # a's own notification has come back by now, if it would
        assert not woken_a.is_set()
    finally:
        await asyncio.to_thread(a.stop)
        await asyncio.to_thread(b.stop)
