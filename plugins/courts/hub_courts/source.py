"""The ``courts`` source: the municipality's cases on portalquery.just.ro, polled incrementally.

Each poll reads, for every configured court and every spelling of every party name, the cases
modified since the cursor (``CautareDosare2`` by ``dataUltimaModificareStart/Stop``, windows of
``window_hours``, each split while the portal's answer is at its cap), merges them by court and
case number, and compares each with what ``courts_cases`` knows (see :mod:`hub_courts.cases`):

* a case the hub has never seen → one document (``act_procedura``) describing it; its current
  hearings, solutions and appeals are recorded as seen, not sent one by one;
* a known case → one document per new event key (:mod:`hub_courts.model`): a new or moved
  hearing (``termen_instanta``), a solution or an appeal (``act_procedura``).

The cursor's ``status`` (cases known, hearings ahead, the next three) is what ``hub status``
prints under the sources table.

Documents have channel ``instanta`` and ``external_id`` = the event key, so intake's
deduplication absorbs any repeat. The routing file decides where they go (the demo's sends
``act_procedura`` / ``termen_instanta`` to the legal department, DJ).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import httpx

from hub.connectors import HealthCheck
from hub.log import get_logger
from hub.models import DocumentIn
from hub.sources import PollResult, Source
from hub_courts.cases import (
    CaseRow,
    apply_pending,
    committed_view,
    known_cases,
    row_for,
    upcoming_hearings,
)
from hub_courts.client import PortalClient
from hub_courts.documents import SOURCE, event_document
from hub_courts.model import Case
from hub_courts.names import court_label
from hub_courts.settings import CourtsSettings

__all__ = ["CourtsSource"]

log = get_logger("hub_courts.source")


class CourtsSource(Source):
    name = SOURCE
    settings_section = "courts"
    settings_model: ClassVar[type[Any]] = CourtsSettings
    description = "Courts portal (portalquery.just.ro): new cases, hearings, solutions, appeals"

    def __init__(self, settings: Any, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(settings, transport=transport)
        self.courts: CourtsSettings = settings
        self._client: PortalClient | None = None
        self.last_stats: dict[str, int] = {}

    @property
    def client(self) -> PortalClient:
        if self._client is None:
            s = self.courts
            self._client = PortalClient(
                s.endpoint_url,
                timeout=s.timeout_seconds,
                result_cap=s.result_cap,
                min_window_seconds=s.min_window_seconds,
                concurrency=s.concurrency,
            )
        return self._client

    async def start(self) -> None:
        # Loading the WSDL (a 100 kB file) takes a moment: not on the event loop.
        await asyncio.to_thread(lambda: self.client)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def health(self) -> list[HealthCheck]:
        try:
            await self.client.hello()
        except Exception as exc:
            return [HealthCheck(name="portal", ok=False, detail=str(exc))]
        return [HealthCheck(name="portal", ok=True, detail=self.courts.endpoint_url)]

    def now_local(self) -> datetime:
        return datetime.now(ZoneInfo(self.courts.timezone)).replace(tzinfo=None, microsecond=0)

    def windows(self, since: datetime, now: datetime) -> list[tuple[datetime, datetime]]:
        """Consecutive windows from ``since`` (minus the overlap) towards ``now``."""
        s = self.courts
        start = since - timedelta(seconds=s.overlap_seconds)
        step = timedelta(hours=s.window_hours)
        out: list[tuple[datetime, datetime]] = []
        while start < now and len(out) < s.max_windows_per_poll:
            stop = min(start + step, now)
            out.append((start, stop))
            start = stop
        return out

    async def poll(self, cursor: dict[str, Any] | None) -> PollResult:
        store = self.documents
        if store is None:
            raise RuntimeError("the courts source runs inside a hub (no ledger)")
        cursor = cursor or {}
        pending: dict[str, CaseRow] = cursor.get("pending") or {}
        if pending:
            await store.runner.write(apply_pending, store.ledger.writer, pending)
        now = self.now_local()
        since = (
            datetime.fromisoformat(cursor["since"])
            if cursor.get("since")
            else now - timedelta(days=self.courts.initial_lookback_days)
        )
        windows = self.windows(since, now)
        if not windows:
            status = await self.status({}, now)
            return PollResult(cursor={"since": since.isoformat(), "pending": {}, "status": status})
        found = await self.read(windows)
        documents, changed = await self.compare(found)
        self.last_stats = {
            "cases": len(found),
            "documents": len(documents),
            "calls": self.client.calls,
            "splits": self.client.splits,
        }
        log.info("hub_courts.polled", windows=len(windows), **self.last_stats)
        status = await self.status(changed, now)
        status["last_poll"] = {"cases": len(found), "documents": len(documents)}
        return PollResult(
            documents=documents,
            cursor={"since": windows[-1][1].isoformat(), "pending": changed, "status": status},
        )

    async def status(self, changed: dict[str, CaseRow], now: datetime) -> dict[str, Any]:
        """What ``hub status`` prints under the sources (the cursor's ``status``): the next
        hearings of the municipality's cases."""
        store = self.documents
        assert store is not None
        rows = await store.runner.read(committed_view, store.ledger.reader, {"pending": changed})
        ahead = upcoming_hearings(rows, now, now + timedelta(days=self.courts.hearings_days))
        nxt = ", ".join(
            f"{h['at']:%d.%m.%Y %H:%M} {h['number']} ({court_label(h['court'])})" for h in ahead[:3]
        )
        return {
            "cases_known": len(rows),
            "hearings_ahead": len(ahead),
            "next_hearings": nxt or "none",
        }

    async def read(self, windows: list[tuple[datetime, datetime]]) -> dict[tuple[str, str], Case]:
        """Every case of the windows, across courts and spellings, latest state per case."""
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [
                    group.create_task(self.client.search_all(court, party, start, stop))
                    for court in self.courts.courts
                    for party in self.courts.party_variants
                    for start, stop in windows
                ]
        except ExceptionGroup as failed:
            # The first failure cancels the other searches; the poll fails with it.
            raise failed.exceptions[0] from None
        batches = [t.result() for t in tasks]
        found: dict[tuple[str, str], Case] = {}
        for batch in batches:
            for case in batch:
                if not case.number:
                    continue
                key = (case.court, case.number)
                old = found.get(key)
                if old is None or (case.modified or datetime.min) >= (old.modified or datetime.min):
                    found[key] = case
        return found

    async def compare(
        self, found: dict[tuple[str, str], Case]
    ) -> tuple[list[DocumentIn], dict[str, CaseRow]]:
        """Documents for what changed, and the rows to record once they are committed."""
        store = self.documents
        assert store is not None
        known = await store.runner.read(known_cases, store.ledger.reader, list(found))
        documents: list[DocumentIn] = []
        changed: dict[str, CaseRow] = {}
        for key, case in sorted(found.items()):
            try:
                events = case.events()
                keys = [e.key for e in events]
                row = known.get(key)
                if row is None:
                    documents.append(event_document(case, events[0]))
                    seen = set(keys)
                else:
                    seen = set(row.get("events") or [])
                    new = [e for e in events if e.key not in seen]
                    documents.extend(event_document(case, e) for e in new)
                    seen.update(keys)
                fresh = row_for(case, sorted(seen))
                if row is None or any(fresh[k] != row.get(k) for k in fresh):
                    changed[case.ident] = fresh
            except Exception as exc:  # one odd case must not stop the feed
                log.error(
                    "hub_courts.case_skipped",
                    court=case.court,
                    case_number=case.number,
                    error_type=type(exc).__name__,
                )
        return documents, changed
