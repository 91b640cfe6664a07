"""Switchable faults: what can go wrong between the hub and WEBCON, on demand.

A :class:`FaultRule` matches an operation (``create``, ``get``, ``patch``, ``attachment``,
``search``, ``metadata``, ``token`` or ``any``) and fires ``count`` times (-1: until cleared):

=====================  ===========================================================================
kind                   what the client sees
=====================  ===========================================================================
``status``             an error answer (default 503 ``InternalError``) before anything is done
``hang``               nothing for ``seconds``, then the request is handled normally (a timeout
                       before the effect, if the client gives up first)
``hang_after_commit``  the effect is committed, then nothing for ``seconds`` before the answer
``drop``               the connection is closed before anything is done
``drop_after_commit``  the effect is committed (e.g. the element is created), then the
                       connection is closed without an answer
=====================  ===========================================================================

``latency_ms`` delays every API call (the token endpoint included), to model a real network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["OPERATIONS", "FaultKind", "FaultRule", "Faults"]

FaultKind = Literal["status", "hang", "hang_after_commit", "drop", "drop_after_commit"]
KINDS = frozenset(FaultKind.__args__)  # type: ignore[attr-defined]
OPERATIONS = frozenset(
    {"create", "get", "patch", "attachment", "search", "metadata", "token", "any"}
)


@dataclass
class FaultRule:
    kind: FaultKind
    op: str = "any"
    count: int = 1
    status: int = 503
    error_type: str = "InternalError"
    seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r} (one of {sorted(KINDS)})")
        if self.op not in OPERATIONS:
            raise ValueError(f"unknown operation {self.op!r} (one of {sorted(OPERATIONS)})")

    def matches(self, op: str) -> bool:
        return self.count != 0 and self.op in (op, "any")


@dataclass
class Faults:
    latency_ms: float = 0.0
    rules: list[FaultRule] = field(default_factory=list)

    def add(self, kind: FaultKind, op: str = "any", **options: object) -> FaultRule:
        rule = FaultRule(kind, op, **options)  # type: ignore[arg-type]
        self.rules.append(rule)
        return rule

    def take(self, op: str, kinds: tuple[str, ...]) -> FaultRule | None:
        """The first armed rule of one of ``kinds`` for ``op``, consumed once."""
        for rule in self.rules:
            if rule.kind in kinds and rule.matches(op):
                if rule.count > 0:
                    rule.count -= 1
                return rule
        return None

    def clear(self) -> None:
        self.rules.clear()
        self.latency_ms = 0.0
