"""Contract follow-up: a month's volumes and costs per service and per department, against the
contract's tariffs and ceiling, with a warning when the spending rate would use the ceiling up
before the contract ends (``hub report postal --month 2026-11``).

Costs are the contract's tariff per item at request time (``contract.tariffs_ron``), counted
for every dispatch requested in the period except cancelled ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hub_postal.settings import SERVICE_LABELS, PostalSettings
from hub_postal.store import LOCAL_TZ, PostalStore

__all__ = ["ContractStatus", "MonthReport", "build_report", "parse_month"]


def parse_month(value: str) -> date:
    """``YYYY-MM`` → the month's first day; ValueError otherwise."""
    try:
        parsed = datetime.strptime(value, "%Y-%m")
    except ValueError:
        raise ValueError("the month is written YYYY-MM, e.g. 2026-11") from None
    return parsed.date()


def _next_month(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


def _ts(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ).timestamp()


def _lei(bani: int | Decimal) -> Decimal:
    return (Decimal(bani) / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass
class Line:
    key: str
    label: str
    items: int
    cost: Decimal
    tariff: Decimal | None = None


@dataclass
class ContractStatus:
    number: str
    start: date
    end: date
    ceiling: Decimal
    spent: Decimal
    days_elapsed: int
    days_total: int
    projected: Decimal
    exhausted_on: date | None
    warning: str | None


@dataclass
class MonthReport:
    month: date
    services: list[Line] = field(default_factory=list)
    departments: list[Line] = field(default_factory=list)
    total_items: int = 0
    total_cost: Decimal = Decimal("0.00")
    contract: ContractStatus | None = None

    def as_dict(self) -> dict[str, Any]:
        def line(x: Line) -> dict[str, Any]:
            out: dict[str, Any] = {"key": x.key, "items": x.items, "cost_ron": str(x.cost)}
            if x.tariff is not None:
                out["tariff_ron"] = str(x.tariff)
            return out

        c = self.contract
        return {
            "month": self.month.strftime("%Y-%m"),
            "services": [line(s) for s in self.services],
            "departments": [line(d) for d in self.departments],
            "total_items": self.total_items,
            "total_cost_ron": str(self.total_cost),
            "contract": None
            if c is None
            else {
                "number": c.number,
                "start": c.start.isoformat(),
                "end": c.end.isoformat(),
                "ceiling_ron": str(c.ceiling),
                "spent_ron": str(c.spent),
                "projected_ron": str(c.projected),
                "exhausted_on": c.exhausted_on.isoformat() if c.exhausted_on else None,
                "warning": c.warning,
            },
        }


async def build_report(
    settings: PostalSettings, store: PostalStore, month: date, *, today: date | None = None
) -> MonthReport:
    first = month.replace(day=1)
    rows = await store.spending(_ts(first), _ts(_next_month(first)))
    report = MonthReport(month=first)
    tariffs = settings.contract.tariffs_ron
    by_service: dict[str, list[int]] = {}
    by_department: dict[str, list[int]] = {}
    for r in rows:
        for bucket, key in ((by_service, r["service"]), (by_department, r["department"] or "—")):
            acc = bucket.setdefault(key, [0, 0])
            acc[0] += int(r["items"])
            acc[1] += int(r["bani"])
    for key in sorted(by_service):
        items, bani = by_service[key]
        report.services.append(
            Line(key, SERVICE_LABELS.get(key, key), items, _lei(bani), tariffs.get(key))  # type: ignore[call-overload]
        )
    for key in sorted(by_department):
        items, bani = by_department[key]
        report.departments.append(Line(key, key, items, _lei(bani)))
    report.total_items = sum(s.items for s in report.services)
    report.total_cost = sum((s.cost for s in report.services), Decimal("0.00"))
    report.contract = await contract_status(settings, store, today=today)
    return report


async def contract_status(
    settings: PostalSettings, store: PostalStore, *, today: date | None = None
) -> ContractStatus | None:
    """Spending since the contract began, and where the current rate leads."""
    c = settings.contract
    if c.start is None or c.end is None or c.ceiling_ron <= 0:
        return None
    today = today or datetime.now(LOCAL_TZ).date()
    upto = min(today, c.end)
    days_total = (c.end - c.start).days + 1
    days_elapsed = max((upto - c.start).days + 1, 0)
    rows = await store.spending(_ts(c.start), _ts(upto + timedelta(days=1)))
    spent = _lei(sum(int(r["bani"]) for r in rows))
    if days_elapsed <= 0:
        return ContractStatus(
            c.number, c.start, c.end, c.ceiling_ron, spent, 0, days_total, spent, None, None
        )
    rate = spent / days_elapsed
    projected = (rate * days_total).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    exhausted_on = None
    if rate > 0:
        days_to_ceiling = int(c.ceiling_ron / rate)
        exhausted_on = c.start + timedelta(days=max(days_to_ceiling - 1, 0))
    warning = None
    threshold = c.ceiling_ron * Decimal(str(c.warn_ratio))
    if spent >= c.ceiling_ron:
        warning = f"Plafonul contractului ({c.ceiling_ron} lei) a fost atins: {spent} lei."
    elif projected > threshold and exhausted_on is not None and exhausted_on <= c.end:
        warning = (
            f"La ritmul actual ({rate.quantize(Decimal('0.01'))} lei/zi) plafonul de "
            f"{c.ceiling_ron} lei se epuizează în jurul datei de {exhausted_on:%d.%m.%Y}, "
            f"înainte de încheierea contractului ({c.end:%d.%m.%Y}); estimat la final: "
            f"{projected} lei."
        )
    return ContractStatus(
        c.number,
        c.start,
        c.end,
        c.ceiling_ron,
        spent,
        days_elapsed,
        days_total,
        projected,
        exhausted_on,
        warning,
    )
