"""Reading the dashboard's query strings and forms into typed filters, with Romanian messages
for the person and nothing changed when something is wrong."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from hub.dashboard.formatting import LOCAL_TZ
from hub.db.ledger import DeliveryFilter
from hub.models import DeliveryState

__all__ = ["DeadLetterQuery", "DocumentQuery", "FormError", "parse_ids"]

MAX_TEXT = 200
MAX_IDS = 1000


class FormError(ValueError):
    """A field the person filled in wrongly; the message is shown on the page."""


def _text(params: Mapping[str, Any], key: str, limit: int = MAX_TEXT) -> str | None:
    value = params.get(key)
    if not isinstance(value, str):
        return None
    value = value.strip()
    if len(value) > limit:
        raise FormError(f"Câmpul „{key}” are mai mult de {limit} de caractere.")
    return value or None


def _day(params: Mapping[str, Any], key: str, label: str) -> datetime | None:
    value = _text(params, key, 10)
    if value is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), LOCAL_TZ)
    except ValueError:
        raise FormError(f"Data „{label}” nu este validă (AAAA-LL-ZZ).") from None


@dataclass(slots=True)
class DocumentQuery:
    registration_number: str | None = None
    external_id: str | None = None
    kind: str | None = None
    department: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def parse(cls, params: Mapping[str, Any]) -> DocumentQuery:
        since = _day(params, "since", "de la")
        until = _day(params, "until", "până la")
        return cls(
            registration_number=_text(params, "registration_number", 64),
            external_id=_text(params, "external_id"),
            kind=_text(params, "kind", 64),
            department=_text(params, "department", 64),
            status=_text(params, "status", 32),
            since=since,
            # "until" is inclusive for a person: the whole day counts.
            until=until + timedelta(days=1) if until else None,
        )

    @property
    def empty(self) -> bool:
        return all(getattr(self, f) is None for f in self.__slots__)

    def ledger_kwargs(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}


@dataclass(slots=True)
class DeadLetterQuery:
    connector: str | None = None
    reason: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def parse(cls, params: Mapping[str, Any]) -> DeadLetterQuery:
        until = _day(params, "until", "până la")
        return cls(
            connector=_text(params, "connector", 64),
            reason=_text(params, "reason"),
            since=_day(params, "since", "de la"),
            until=until + timedelta(days=1) if until else None,
        )

    def delivery_filter(self, ids: list[int] | None = None) -> DeliveryFilter:
        return DeliveryFilter(
            ids=ids,
            connector=self.connector,
            states=(DeliveryState.DEAD.value,),
            since=self.since.timestamp() if self.since else None,
            until=self.until.timestamp() if self.until else None,
            reason_contains=self.reason,
        )

    def as_params(self) -> dict[str, str]:
        """The filter as the form fields that produced it (to carry it through a
        confirmation)."""
        out = {"connector": self.connector or "", "reason": self.reason or ""}
        out["since"] = f"{self.since:%Y-%m-%d}" if self.since else ""
        out["until"] = f"{self.until - timedelta(days=1):%Y-%m-%d}" if self.until else ""
        return out


def parse_ids(values: list[Any]) -> list[int]:
    ids: list[int] = []
    for value in values:
        if not isinstance(value, str) or not value.isdigit() or len(value) > 18:
            raise FormError("Selecția conține un identificator nevalid.")
        ids.append(int(value))
    if len(ids) > MAX_IDS:
        raise FormError(f"Cel mult {MAX_IDS} livrări pot fi selectate deodată; folosiți filtrul.")
    return ids
