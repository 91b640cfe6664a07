"""Polls every enabled source on its interval; documents and cursor are committed together.

On PostgreSQL with several ``hub run`` processes, each source is polled by whoever holds its
advisory lock (``pg_try_advisory_lock``), held on a dedicated connection for as long as the
process lives; the others check again every interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from typing import Any

from hub.db.engine import is_sqlite
from hub.db.ledger import Ledger
from hub.db.runner import DbRunner
from hub.errors import InputError
from hub.log import get_logger
from hub.metrics import HubMetrics
from hub.redaction import redact_text
from hub.sources import Source

__all__ = ["SourceRunner"]

log = get_logger("hub.sources")


def advisory_key(source: str) -> int:
    return int.from_bytes(
        hashlib.sha256(f"hub-source:{source}".encode()).digest()[:8], "big", signed=True
    )


class SourceRunner:
    def __init__(
        self,
        *,
        sources: dict[str, Source],
        intake: Any,
        ledger: Ledger,
        runner: DbRunner,
        metrics: HubMetrics,
        database_url: str,
    ) -> None:
        self.sources = sources
        self.intake = intake
        self.ledger = ledger
        self.runner = runner
        self.metrics = metrics
        self.database_url = database_url
        self._stop = asyncio.Event()
        self._locks: dict[str, Any] = {}

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        tasks = [
            asyncio.create_task(self._loop(name, src), name=f"hub-source-{name}")
            for name, src in self.sources.items()
            if src.settings.enabled
        ]
        if not tasks:
            return
        try:
            await self._stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for conn in self._locks.values():
                with contextlib.suppress(Exception):
                    conn.close()

    def _try_lock(self, name: str) -> bool:
        if is_sqlite(self.database_url):
            return True  # one process per SQLite ledger
        if name in self._locks:
            return True
        import psycopg

        url = self.database_url.replace("postgresql+psycopg://", "postgresql://")
        conn = psycopg.connect(url, autocommit=True)
        got = conn.execute("SELECT pg_try_advisory_lock(%s)", (advisory_key(name),)).fetchone()
        if got and got[0]:
            self._locks[name] = conn
            return True
        conn.close()
        return False

    async def _loop(self, name: str, src: Source) -> None:
        interval = src.settings.interval_seconds
        while not self._stop.is_set():
            wait = interval
            try:
                # An operator's pause (dashboard, issue #9) skips polls until resumed.
                paused = await self.runner.read(self.ledger.source_paused, name)
                if not paused and await asyncio.to_thread(self._try_lock, name):
                    wait = await self.poll_once(name, src) or interval
            except Exception as exc:
                log.error("hub.source.lock_failed", source=name, error_type=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), wait)

    async def poll_once(self, name: str, src: Source) -> float | None:
        """One poll. Returns a longer wait when the source asked for a pause."""
        cursor = await self.runner.read(self.ledger.get_cursor, name)
        try:
            result = await src.poll(cursor)
            prepared = []
            for doc in result.documents:
                try:
                    prepared.append(self.intake.prepare(doc, actor=f"source:{name}"))
                except InputError as exc:
                    # One bad document must not block the feed: record it and go on.
                    log.error(
                        "hub.source.document_rejected", source=name, error=redact_text(exc.message)
                    )
                    await self.runner.write(
                        self.ledger.record_event,
                        "rejected",
                        f"source:{name}",
                        redact_text(exc.message),
                    )
            await self.intake.submit_many(prepared, cursor=(name, result.cursor))
        except Exception as exc:
            message = redact_text(str(exc))[:500] or type(exc).__name__
            self.metrics.source_polls.labels(name, "error").inc()
            log.error(
                "hub.source.poll_failed", source=name, error_type=type(exc).__name__, error=message
            )
            await self.runner.write(
                self.ledger.source_failed, name, f"{type(exc).__name__}: {message}"
            )
            return None
        self.metrics.source_polls.labels(name, "ok").inc()
        self.metrics.source_lag_seconds.labels(name).set(0)
        if result.pause_seconds:
            await self.runner.write(
                self.ledger.source_failed,
                name,
                "paused by the source",
                time.time() + result.pause_seconds,
            )
            return result.pause_seconds
        return None
