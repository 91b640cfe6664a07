"""LISTEN/NOTIFY on PostgreSQL: an intake commit in any process wakes idle workers in all.

The listener is a thread blocked on a dedicated autocommit connection; notifications are handed
to the event loop with ``call_soon_threadsafe``. Sending is a ``pg_notify`` on its own
connection after the intake commit (a lost notification costs at most one idle poll interval).
The payload is a random token of the sending notifier, whose listener ignores it: its own
dispatcher was told directly (a wake there would also end its lanes' caught-up state for
nothing). A token, not the worker id: two processes given the same ``HUB_WORKER_ID`` by mistake
must still wake each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
from collections.abc import Callable

import psycopg

__all__ = ["CHANNEL", "PgNotifier"]

CHANNEL = "hub_deliveries"


class PgNotifier:
    def __init__(
        self,
        url: str,
        loop: asyncio.AbstractEventLoop,
        on_notify: Callable[[], None],
    ) -> None:
        self.url = url.replace("postgresql+psycopg://", "postgresql://")
        self.loop = loop
        self.on_notify = on_notify
        self.sender = secrets.token_hex(8)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._send: psycopg.Connection[tuple[object, ...]] | None = None
        self._send_lock = threading.Lock()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._listen, name="hub-pg-listen", daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0, stop_after=64):
                            if note.payload != self.sender:
                                self.loop.call_soon_threadsafe(self.on_notify)
            except Exception:
                self._stop.wait(1.0)

    def notify(self) -> None:
        """Best effort and cheap: called from the event loop after each intake commit."""
        self.loop.run_in_executor(None, self._notify_blocking)

    def _notify_blocking(self) -> None:
        with self._send_lock:
            if self._stop.is_set():
                return  # stopped while this call waited for the executor: open nothing
            try:
                if self._send is None or self._send.closed:
                    self._send = psycopg.connect(self.url, autocommit=True)
                self._send.execute("SELECT pg_notify(%s, %s)", (CHANNEL, self.sender))
            except Exception:
                # Close what failed so that no connection is left open behind us.
                if self._send is not None:
                    with contextlib.suppress(Exception):
                        self._send.close()
                self._send = None

    def stop(self) -> None:
        self._stop.set()
        with self._send_lock:
            if self._send is not None:
                with contextlib.suppress(Exception):
                    self._send.close()
                self._send = None
        if self._thread is not None:
            self._thread.join(timeout=3)
