"""Legal terms: the day by which the institution must answer a document, by kind.

The policies come from a TOML file (``HUB_TERMS_FILE``, default ``terms.toml``; a missing file
means the defaults below)::

    [kind.petitie]             # OG 27/2002: 30 days, extendable once by at most 15, with a reason
    days = 30
    counting = "calendar"      # calendar | zile_libere | lucratoare
    extension_days = 15
    forward_days = 5           # a misdirected petition is forwarded within 5 days

    [kind.cerere_544]          # Legea 544/2001
    days = 10
    extended_days = 30         # when the requester was notified within the 10 days
    refusal_days = 5

    [kind.autorizatie]         # OUG 27/2003: tacit approval when the term passes
    days = 30
    tacit_approval = true

    [kind.petitie_anonima]     # filed without action: no term
    days = false

Counting rules: ``calendar`` — the day of registration is not counted, the term ends on the
N-th day after it; ``zile_libere`` — neither the first nor the last day counts, so the last day
to act is the (N+1)-th day after registration; ``lucratoare`` — N working days after
registration. A last day that falls on a Saturday, a Sunday or a public holiday of Romania
(``holidays``: Orthodox Easter, Rusalii and the rest included) moves to the next working day.

Intake computes the due date of every document (:meth:`TermEngine.due_date`), so that path is
cached: one holiday set per year, one answer per (kind, day).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hub.errors import ConfigurationError

__all__ = [
    "DEFAULT_POLICIES",
    "LOCAL_TZ",
    "Counting",
    "TermEngine",
    "TermError",
    "TermPolicy",
    "add_days",
    "is_working_day",
    "load_terms",
    "local_date",
    "next_working_day",
]

LOCAL_TZ = ZoneInfo("Europe/Bucharest")
Counting = Literal["calendar", "zile_libere", "lucratoare"]


class TermError(ValueError):
    """A term change that the law or the policy does not allow (message safe to show)."""


class TermPolicy(BaseModel):
    """How one kind of document is answered in time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: int | None = Field(default=None, ge=1, le=366, description="Term in days; None: none")
    counting: Counting = Field(default="calendar", description="How the days are counted")
    extension_days: int = Field(
        default=0, ge=0, le=366, description="One extension of at most this many days (0: none)"
    )
    extended_days: int | None = Field(
        default=None,
        ge=1,
        le=366,
        description="Term from registration once the requester was notified of an extension",
    )
    refusal_days: int | None = Field(default=None, ge=1, le=366, description="Refusal term")
    forward_days: int | None = Field(
        default=None, ge=1, le=366, description="Term for forwarding when misdirected"
    )
    tacit_approval: bool = Field(
        default=False, description="Passing the term approves the request (OUG 27/2003)"
    )

    @field_validator("days", mode="before")
    @classmethod
    def _false_is_none(cls, v: Any) -> Any:
        return None if v is False else v

    @property
    def extendable(self) -> bool:
        return self.days is not None and (self.extension_days > 0 or self.extended_days is not None)


DEFAULT_POLICIES: dict[str, TermPolicy] = {
    "petitie": TermPolicy(days=30, extension_days=15, forward_days=5),
    "cerere_544": TermPolicy(days=10, extended_days=30, refusal_days=5),
    "autorizatie": TermPolicy(days=30, tacit_approval=True),
    "petitie_anonima": TermPolicy(days=None),
}


# --- the calendar ----------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _holidays(year: int) -> frozenset[date]:
    # Imported here (~0.13 s): CLI commands that compute no term do not pay for it.
    import holidays

    return frozenset(holidays.country_holidays("RO", years=year).keys())


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _holidays(day.year)


def next_working_day(day: date) -> date:
    """``day`` itself when it is a working day, else the first working day after it."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def add_days(start: date, days: int, counting: Counting) -> date:
    """The last day of a term of ``days`` starting on ``start`` (the registration day)."""
    if counting == "lucratoare":
        day, left = start, days
        while left:
            day += timedelta(days=1)
            if is_working_day(day):
                left -= 1
        return day
    extra = 1 if counting == "zile_libere" else 0
    return next_working_day(start + timedelta(days=days + extra))


def local_date(moment: datetime) -> date:
    """The calendar day in Timișoara of an aware datetime (naive ones are taken as UTC)."""
    if moment.tzinfo is None:
        from datetime import UTC

        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(LOCAL_TZ).date()


# --- the engine ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Extension:
    """The outcome of :meth:`TermEngine.extend`: the new due date and what to record."""

    due_date: date
    days: int
    original_due_date: date


class TermEngine:
    """Policies by kind plus the calendar. Kinds without a policy have no term."""

    def __init__(self, policies: Mapping[str, TermPolicy] | None = None) -> None:
        self.policies: dict[str, TermPolicy] = dict(
            DEFAULT_POLICIES if policies is None else policies
        )
        self._due = lru_cache(maxsize=4096)(self._compute_due)
        # Load this year's calendar now: holidays imports its country module on first use
        # (~50 ms), which the first document taken in would otherwise wait for.
        _holidays(date.today().year)

    def policy(self, kind: str) -> TermPolicy | None:
        return self.policies.get(kind)

    def _compute_due(self, kind: str, start: date) -> date | None:
        p = self.policies.get(kind)
        if p is None or p.days is None:
            return None
        return add_days(start, p.days, p.counting)

    def due_date(self, kind: str, start: date) -> date | None:
        """Due date of a document of ``kind`` registered on ``start`` (cached; intake's path)."""
        return self._due(kind, start)

    def refusal_date(self, kind: str, start: date) -> date | None:
        p = self.policies.get(kind)
        if p is None or p.refusal_days is None:
            return None
        return add_days(start, p.refusal_days, p.counting)

    def forward_date(self, kind: str, start: date) -> date | None:
        """By when a misdirected document of ``kind`` must be forwarded to the right body."""
        p = self.policies.get(kind)
        if p is None or p.forward_days is None:
            return None
        return add_days(start, p.forward_days, p.counting)

    def extend(
        self,
        kind: str,
        start: date,
        current_due: date | None,
        *,
        days: int | None,
        already_extended: bool,
        reason: str,
    ) -> Extension:
        """Extend a term once, with a reason. Raises :class:`TermError` when not allowed.

        Petitions: ``days`` (at most ``extension_days``) more, counted from the original last
        day. 544 requests: the term becomes ``extended_days`` from registration.
        """
        p = self.policies.get(kind)
        if p is None or not p.extendable:
            raise TermError(f"the term of kind {kind!r} cannot be extended")
        if already_extended:
            raise TermError("the term was already extended once")
        if len(reason.strip()) < 5:
            raise TermError("an extension needs a reason")
        original = current_due or self.due_date(kind, start)
        assert original is not None
        if p.extended_days is not None:
            new = add_days(start, p.extended_days, p.counting)
            return Extension(new, (new - original).days, original)
        wanted = p.extension_days if days is None else days
        if not 1 <= wanted <= p.extension_days:
            raise TermError(f"an extension is between 1 and {p.extension_days} days")
        new = add_days(original, wanted, p.counting)
        return Extension(new, wanted, original)


def load_terms(path: Path) -> TermEngine:
    """The engine from ``path``: its ``[kind.*]`` tables over the defaults (missing file:
    defaults). Errors name the kind and the field, and say which file."""
    if not path.exists():
        return TermEngine()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"terms file {path}: not valid TOML ({exc})") from None
    unknown = set(raw) - {"kind"}
    if unknown:
        raise ConfigurationError(f"terms file {path}: unknown table(s) {sorted(unknown)}")
    policies = dict(DEFAULT_POLICIES)
    for kind, table in (raw.get("kind") or {}).items():
        try:
            policies[kind] = TermPolicy.model_validate(table)
        except ValidationError as exc:
            fields = ", ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(kind)'}: {err['msg']}"
                for err in exc.errors(include_input=False)
            )
            raise ConfigurationError(f"terms file {path}: kind {kind!r}: {fields}") from None
    return TermEngine(policies)
