"""Retry policy as data: exponential backoff with full jitter, capped, honouring Retry-After.

The default spreads 12 attempts over roughly a day (1 min, 2, 4, … capped at 6 h), the shape
Svix and Open Notificaties converged on for webhooks: quick retries for blips, slow ones for
outages, then a dead letter an operator can replay.
"""

from __future__ import annotations

import random

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RetryPolicy"]


class RetryPolicy(BaseModel):
    """When to try a failed delivery again, and when to give up."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(default=12, ge=1, le=100, description="Attempts before dead letter")
    base_seconds: float = Field(default=60.0, gt=0, description="First backoff step")
    multiplier: float = Field(default=2.0, ge=1.0, description="Growth per attempt")
    cap_seconds: float = Field(default=6 * 3600.0, gt=0, description="Longest single wait")
    max_retry_after_seconds: float = Field(
        default=24 * 3600.0, gt=0, description="Longest Retry-After the hub will honour"
    )

    def next_delay(
        self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float | None:
        """Seconds until the next try after failed attempt number ``attempt`` (1-based).

        Returns None when attempts are exhausted. Full jitter: uniform in [0, backoff]; a remote
        ``Retry-After`` is a floor, never shortened by jitter.
        """
        if attempt >= self.max_attempts:
            return None
        ceiling = min(self.cap_seconds, self.base_seconds * self.multiplier ** (attempt - 1))
        delay = (rng or random).uniform(0, ceiling)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_retry_after_seconds))
        return delay

    def total_budget_seconds(self) -> float:
        """Upper bound of the time spent retrying before a dead letter."""
        return sum(
            min(self.cap_seconds, self.base_seconds * self.multiplier ** (n - 1))
            for n in range(1, self.max_attempts)
        )
