"""Run ledger calls from asyncio on dedicated threads, or — SQLite bookkeeping — on the loop.

Writes go through one thread: on SQLite that is the single writer the design asks for, and on
PostgreSQL it keeps the number of write transactions (and so fsyncs) low because callers batch.
Reads use a small pool of their own so an API read never queues behind a large write.

The dispatcher's bookkeeping (claims and attempt outcomes) on SQLite runs on the event loop
itself when the writer thread is idle (:meth:`DbRunner.bookkeep`): those transactions are
in-process calls without an fsync, and run on the thread their statements cost as much again in
handing the GIL back and forth (SQLite's driver lets go of it at every step; measured in
``docs/performance.md``). Order is kept: a bookkeeping call runs inline only when every write
submitted before it has finished, and otherwise queues behind them on the thread. The loop never
waits for another process either — when one holds SQLite's write lock the call goes to the
thread, which waits there — nor for the disk: the inline connections do not checkpoint the WAL
(its two fsyncs took ~6 ms), the thread does, after every :data:`CHECKPOINT_EVERY` inline calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from hub.log import get_logger

__all__ = ["CHECKPOINT_EVERY", "DbRunner", "LedgerBusy"]

log = get_logger("hub.db")

#: Inline bookkeeping calls between two WAL checkpoints run on the writer thread: a claim or an
#: outcome batch of a busy hub writes ~40 pages, so ~2,500 pages (10 MB) of WAL at most.
CHECKPOINT_EVERY = 64

P = ParamSpec("P")
R = TypeVar("R")


class LedgerBusy(Exception):
    """Raised inside :meth:`DbRunner.bookkeep`'s inline context when the call would have to
    wait for another process's write lock: the call is run on the writer thread instead."""


class DbRunner:
    def __init__(
        self,
        readers: int = 4,
        *,
        inline: Callable[[], contextlib.AbstractContextManager[None]] | None = None,
        checkpoint: Callable[[], object] | None = None,
    ) -> None:
        """``inline``: a context for running a bookkeeping call on the caller's thread that
        turns "would wait for a lock" into :class:`LedgerBusy` (:meth:`Ledger.without_waiting
        <hub.db.ledger.Ledger.without_waiting>`); None runs every write on the thread.
        ``checkpoint``: what the thread runs after every :data:`CHECKPOINT_EVERY` inline calls
        (:meth:`Ledger.checkpoint <hub.db.ledger.Ledger.checkpoint>`)."""
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-db-write")
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="hub-db-read")
        self._inline = inline
        self._checkpoint = checkpoint
        self._inline_calls = 0
        self._checkpointing: asyncio.Future[object] | None = None
        # What was handed to the writer thread and may not be done: it runs them in order, so
        # the thread is idle once all are done (run, or cancelled before they began).
        self._queued: deque[Future[Any]] = deque()

    async def write(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """``fn`` on the writer thread, after every write submitted before it."""
        return await self._submit(fn, *args, **kwargs)

    def _submit(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> asyncio.Future[R]:
        """``fn`` queued on the writer thread now, behind what was queued before."""
        queued = self._writer.submit(functools.partial(fn, *args, **kwargs))
        self._forget_done()  # whether or not anyone asks writer_idle(): no finished one kept
        self._queued.append(queued)
        return asyncio.wrap_future(queued)

    async def bookkeep(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """A bookkeeping write (no fsync of its own): on the loop when the runner was given an
        ``inline`` context and the writer thread is idle, else as :meth:`write`."""
        inline = self._inline
        if inline is not None and self.writer_idle():
            try:
                with inline():
                    result = fn(*args, **kwargs)
            except LedgerBusy:
                pass  # another process writes: wait for it on the thread, not on the loop
            else:
                self._inline_calls += 1
                if self._inline_calls >= CHECKPOINT_EVERY:
                    self._checkpoint_soon()
                return result
        return await self.write(fn, *args, **kwargs)

    def _checkpoint_soon(self) -> None:
        """The WAL pages inline calls wrote, checkpointed on the writer thread (once at a time).
        Only after an inline call, which :meth:`close` ends before it shuts the thread down."""
        if self._checkpoint is None or self._checkpointing is not None:
            return
        self._inline_calls = 0
        self._checkpointing = self._submit(self._checkpoint)
        self._checkpointing.add_done_callback(self._checkpointed)

    def _checkpointed(self, done: asyncio.Future[object]) -> None:
        self._checkpointing = None
        if not done.cancelled() and done.exception() is not None:
            # The next one may do better; meanwhile the WAL grows, nothing is lost.
            log.error("hub.db.checkpoint_failed", error_type=type(done.exception()).__name__)

    @property
    def inlines(self) -> bool:
        """Whether :meth:`bookkeep` may run calls on the loop (SQLite)."""
        return self._inline is not None

    def writer_idle(self) -> bool:
        """Every write handed to the writer thread has finished, or was cancelled before it
        began."""
        self._forget_done()
        return not self._queued

    def _forget_done(self) -> None:
        queued = self._queued
        while queued and queued[0].done():
            queued.popleft()

    async def read(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._inline = None  # from now on every call goes to the (closed) thread, and fails
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
