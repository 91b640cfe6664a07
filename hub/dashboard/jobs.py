"""Replay or cancel many deliveries from the dashboard, in the background, with progress.

The same chunked transitions as ``POST /api/v1/deliveries/replay`` (ledger ``select_delivery_ids``
then ``replay``/``cancel`` per chunk, each chunk its own transaction), so 100,000 dead letters
never hold one long lock. The page polls the job for its progress. Jobs live in this process's
memory: they are short, and what they did is in the audit trail (one event per delivery, with
the user).
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field

from hub.db.ledger import DeliveryFilter
from hub.log import get_logger
from hub.runtime import Hub

__all__ = ["CHUNK", "BulkJob", "BulkJobs"]

log = get_logger("hub.dashboard.jobs")

CHUNK = 500
#: Finished jobs kept for their progress page.
KEEP = 50


@dataclass(slots=True)
class BulkJob:
    id: str
    action: str
    actor: str
    total: int
    done: int = 0
    finished: bool = False
    failed: bool = False
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def percent(self) -> int:
        return 100 if self.total == 0 else min(100, round(100 * self.done / self.total))


class BulkJobs:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.jobs: dict[str, BulkJob] = {}

    def get(self, job_id: str) -> BulkJob | None:
        return self.jobs.get(job_id)

    async def start(
        self, action: str, flt: DeliveryFilter, actor: str, reason: str | None
    ) -> BulkJob:
        total = await self.hub.runner.read(self.hub.ledger.count_deliveries, flt)
        job = BulkJob(id=secrets.token_urlsafe(12), action=action, actor=actor, total=total)
        self._forget_old()
        self.jobs[job.id] = job
        job.task = asyncio.create_task(self._run(job, flt, reason), name=f"bulk-{action}")
        return job

    async def _run(self, job: BulkJob, flt: DeliveryFilter, reason: str | None) -> None:
        ledger, runner = self.hub.ledger, self.hub.runner
        fn = ledger.replay if job.action == "replay" else ledger.cancel
        try:
            while True:
                ids = await runner.read(ledger.select_delivery_ids, flt, CHUNK)
                if not ids:
                    break
                changed = await runner.write(fn, ids, job.actor, reason)
                job.done += changed
                if len(ids) < CHUNK or not changed:
                    break
            if job.done:
                self.hub.dispatcher.wake(flt.connector)
        except Exception as exc:
            job.failed = True
            log.error("hub.dashboard.bulk_failed", action=job.action, error_type=type(exc).__name__)
        finally:
            job.finished = True

    def _forget_old(self) -> None:
        finished = [j for j in self.jobs.values() if j.finished]
        for job in finished[: max(0, len(finished) - KEEP)]:
            del self.jobs[job.id]

    async def aclose(self) -> None:
        tasks = [j.task for j in self.jobs.values() if j.task is not None and not j.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
