"""Routing rules: which connectors receive a document, for which department, in what order.

The rules live in a TOML file (``HUB_ROUTING_FILE``, default ``routing.toml``)::

    default_after = "webcon"          # every other destination waits for this one (if present)

    [[rule]]
    name = "fiscal acts"
    kinds = ["act_executare_fiscala", "amenda"]   # any of (empty = any kind)
    channels = []                                 # any of (empty = any channel)
    sender_types = []                             # pf / pj (empty = any)
    keywords = []                                 # any of, in subject or body; case and
                                                  # diacritics do not matter
    department = "DF"
    destinations = [{ connector = "webcon" }, { connector = "fiscal" }]
    continue = false                              # true: later rules may add destinations

    [fallback]
    department = "REG"
    destinations = [{ connector = "webcon" }]

Rules are tried in order; the first match wins unless it says ``continue = true``. A document
that matches no rule gets the fallback. The file is validated at start-up (errors name the rule)
and re-read when it changes; a broken edit is refused and logged, and the last good rules stay.
"""

from __future__ import annotations

import os
import threading
import time
import tomllib
import unicodedata
from collections.abc import Collection
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hub.errors import ConfigurationError
from hub.log import get_logger
from hub.models import Channel, DocumentIn

__all__ = ["Destination", "Route", "RoutingRules", "RoutingTable", "fold"]

log = get_logger("hub.routing")


def fold(text: str) -> str:
    """Lower-case without diacritics (both ş/ș and ţ/ț forms), for keyword matching."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


class Destination(BaseModel):
    """One delivery to create: a connector, an optional target within it, an optional
    dependency on another destination of the same document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connector: str = Field(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")
    target: str | None = Field(default=None, max_length=64, description="e.g. a department code")
    after: str | None = Field(default=None, description="connector that must deliver first")


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1)
    kinds: list[str] = Field(default_factory=list)
    channels: list[Channel] = Field(default_factory=list)
    sender_types: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    department: str | None = None
    destinations: list[Destination] = Field(default_factory=list)
    continue_: bool = Field(default=False, alias="continue")

    def matches(self, doc: DocumentIn, kind: str, folded_text: str) -> bool:
        if self.kinds and kind not in self.kinds:
            return False
        if self.channels and doc.channel not in self.channels:
            return False
        if self.sender_types and (doc.sender is None or doc.sender.type not in self.sender_types):
            return False
        return not self.keywords or any(fold(k) in folded_text for k in self.keywords)


class Fallback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    department: str | None = None
    destinations: list[Destination] = Field(default_factory=list)


class Route(BaseModel):
    """The outcome of routing one document."""

    department: str | None
    destinations: list[Destination]
    rule: str | None


class RoutingRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default_after: str | None = None
    rule: list[Rule] = Field(default_factory=list)
    fallback: Fallback = Field(default_factory=Fallback)

    @model_validator(mode="after")
    def _unique_names(self) -> RoutingRules:
        seen: set[str] = set()
        for r in self.rule:
            if r.name in seen:
                raise ValueError(f"two rules are named {r.name!r}")
            seen.add(r.name)
        return self

    def check_connectors(self, known: Collection[str]) -> None:
        """Every destination names a registered connector; dependencies have no cycle."""
        problems = []
        for r in [*self.rule, None]:
            label = f"rule {r.name!r}" if r else "fallback"
            dests = r.destinations if r else self.fallback.destinations
            for d in dests:
                for name in (d.connector, d.after):
                    if name is not None and name not in known:
                        problems.append(f"{label}: unknown connector {name!r}")
                if d.after == d.connector:
                    problems.append(f"{label}: {d.connector!r} cannot wait for itself")
        if self.default_after is not None and self.default_after not in known:
            problems.append(f"default_after: unknown connector {self.default_after!r}")
        if problems:
            raise ConfigurationError(
                "routing rules: " + "; ".join(problems) + f" (known: {sorted(known)})"
            )

    def route(self, doc: DocumentIn, kind: str, extra: list[Destination] | None = None) -> Route:
        folded = fold(f"{doc.subject}\n{doc.body}") if any(r.keywords for r in self.rule) else ""
        department: str | None = None
        dests: list[Destination] = []
        matched: list[str] = []
        for r in self.rule:
            if r.matches(doc, kind, folded):
                matched.append(r.name)
                department = department or r.department
                dests.extend(r.destinations)
                if not r.continue_:
                    break
        if not matched:
            department = self.fallback.department
            dests = list(self.fallback.destinations)
        dests.extend(extra or [])
        return Route(
            department=doc.department or department,
            destinations=self._finalise(dests),
            rule=", ".join(matched) or None,
        )

    def _finalise(self, dests: list[Destination]) -> list[Destination]:
        unique: dict[tuple[str, str | None], Destination] = {}
        for d in dests:
            unique.setdefault((d.connector, d.target), d)
        present = {d.connector for d in unique.values()}
        out = []
        for d in unique.values():
            after = d.after
            if after is None and self.default_after and d.connector != self.default_after:
                after = self.default_after
            if after not in present:
                after = None
            out.append(d if after == d.after else d.model_copy(update={"after": after}))
        return out


def load_rules(path: Path) -> RoutingRules:
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(
            f"routing file {path} does not exist (set HUB_ROUTING_FILE)"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"routing file {path}: {exc}") from None
    try:
        return RoutingRules.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_input=False, include_url=False):
            loc = list(err["loc"])
            where = ".".join(str(p) for p in loc)
            if len(loc) >= 2 and loc[0] == "rule" and isinstance(loc[1], int):
                rules = data.get("rule") or []
                idx = loc[1]
                name = rules[idx].get("name") if idx < len(rules) else None
                where = f"rule {name or '#' + str(idx + 1)!r} " + ".".join(str(p) for p in loc[2:])
            problems.append(f"{where}: {err['msg']}")
        raise ConfigurationError(f"routing file {path}: " + "; ".join(problems)) from None


class RoutingTable:
    """The live rules: re-read when the file's mtime changes (checked at most once a second)."""

    def __init__(
        self,
        path: Path | None,
        known_connectors: Collection[str],
        *,
        rules: RoutingRules | None = None,
    ) -> None:
        self.path = path
        self.known = frozenset(known_connectors)
        self._lock = threading.Lock()
        self._checked = 0.0
        self._mtime = 0.0
        if rules is None:
            if path is None:
                raise ConfigurationError("no routing rules given")
            self._mtime = os.stat(path).st_mtime if path.exists() else 0.0
            rules = load_rules(path)
        rules.check_connectors(self.known)
        self._rules = rules

    @property
    def rules(self) -> RoutingRules:
        self._maybe_reload()
        return self._rules

    def _maybe_reload(self) -> None:
        if self.path is None:
            return
        now = time.monotonic()
        if now - self._checked < 1.0:
            return
        with self._lock:
            self._checked = now
            try:
                mtime = os.stat(self.path).st_mtime
            except OSError:
                return
            if mtime == self._mtime:
                return
            self._mtime = mtime
            try:
                rules = load_rules(self.path)
                rules.check_connectors(self.known)
            except ConfigurationError as exc:
                log.error("hub.routing.reload_refused", error=str(exc))
                return
            self._rules = rules
            log.info("hub.routing.reloaded", rules=len(rules.rule))

    def route(self, doc: DocumentIn, kind: str, extra: list[Destination] | None = None) -> Route:
        return self.rules.route(doc, kind, extra)
