"""A circuit breaker per connector: stop hammering a remote side that keeps failing.

closed → (``failure_threshold`` consecutive transient failures) → open → (``reset_seconds``)
→ half_open: one probe batch goes through; success closes, failure opens again. While open, the
dispatcher claims nothing for that connector, so deliveries wait in the ledger rather than
burning attempts.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

__all__ = ["CircuitBreaker", "CircuitState"]


class CircuitState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        failure_threshold: int = 20,
        reset_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._opened_at = 0.0

    @property
    def state(self) -> CircuitState:
        if (
            self._state is CircuitState.OPEN
            and self._clock() - self._opened_at >= self.reset_seconds
        ):
            self._state = CircuitState.HALF_OPEN
        return self._state

    def allows(self) -> bool:
        return self.state is not CircuitState.OPEN

    def record_success(self) -> bool:
        """Returns True when this success closed a circuit that was not closed."""
        changed = self._state is not CircuitState.CLOSED
        self._state = CircuitState.CLOSED
        self._failures = 0
        return changed

    def record_failure(self) -> bool:
        """Returns True when this failure tripped the circuit open."""
        self._failures += 1
        state = self.state
        if state is CircuitState.HALF_OPEN or (
            state is CircuitState.CLOSED and self._failures >= self.failure_threshold
        ):
            self._state = CircuitState.OPEN
            self._opened_at = self._clock()
            return True
        return False
