"""The daily reconciliation summary: acts acknowledged by the Directorate, per issuer.

Built from the ``fiscal`` deliveries' receipts alone (issuer, amount and the Directorate's
number are kept there), by the local day (Europe/Bucharest) on which they were delivered. The
Directorate compares it with its own intake register: same count, same total per issuer.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from hub.db.ledger import Ledger
from hub.db.schema import deliveries
from hub.models import DeliveryState

__all__ = ["IssuerTotal", "daily_summary", "summary_csv"]

LOCAL_TZ = ZoneInfo("Europe/Bucharest")


@dataclass(frozen=True, slots=True)
class IssuerTotal:
    issuer: str
    count: int
    total: Decimal

    def view(self) -> dict[str, str | int]:
        return {"issuer": self.issuer, "count": self.count, "total": f"{self.total:.2f}"}


def _bounds(day: date) -> tuple[float, float]:
    start = datetime.combine(day, time.min, LOCAL_TZ)
    return start.timestamp(), (start + timedelta(days=1)).timestamp()


def daily_summary(ledger: Ledger, day: date) -> list[IssuerTotal]:
    """Count and total amount (RON) per issuer of the acts acknowledged on ``day``."""
    start, end = _bounds(day)
    q = select(deliveries.c.receipt).where(
        deliveries.c.connector == "fiscal",
        deliveries.c.state == DeliveryState.DELIVERED,
        deliveries.c.delivered_at >= start,
        deliveries.c.delivered_at < end,
    )
    counts: dict[str, int] = {}
    totals: dict[str, Decimal] = {}
    with ledger.reader.connect() as conn:
        for (receipt,) in conn.execute(q):
            data = (receipt or {}).get("data") or {}
            issuer = str(data.get("issuer") or "(necunoscut)")
            counts[issuer] = counts.get(issuer, 0) + 1
            totals[issuer] = totals.get(issuer, Decimal("0.00")) + Decimal(
                str(data.get("amount") or "0.00")
            )
    return [IssuerTotal(i, counts[i], totals[i]) for i in sorted(counts)]


def summary_csv(day: date, rows: list[IssuerTotal]) -> str:
    """CSV for the Directorate (Romanian headers, a total line)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["data", "emitent", "numar_acte", "total_ron"])
    for r in rows:
        writer.writerow([day.isoformat(), r.issuer, r.count, f"{r.total:.2f}"])
    writer.writerow(
        [
            day.isoformat(),
            "TOTAL",
            sum(r.count for r in rows),
            f"{sum((r.total for r in rows), Decimal('0.00')):.2f}",
        ]
    )
    return out.getvalue()
