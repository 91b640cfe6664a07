"""Retry maths, the circuit breaker's state machine, and the HTTP status → outcome table."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from pydantic import ValidationError

from hub.circuit import CircuitBreaker, CircuitState
from hub.errors import (
    AmbiguousError,
    PermanentError,
    TransientError,
    classify_http_status,
    parse_retry_after,
)
from hub.retry import RetryPolicy


def test_attempts_exhausted_returns_none() -> None:
    p = RetryPolicy(max_attempts=3)
    assert p.next_delay(1) is not None
    assert p.next_delay(2) is not None
    assert p.next_delay(3) is None
    assert p.next_delay(4) is None
    assert RetryPolicy(max_attempts=1).next_delay(1) is None


def test_full_jitter_stays_within_the_exponential_ceiling() -> None:
    p = RetryPolicy(base_seconds=10, multiplier=2, cap_seconds=35, max_attempts=50)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 10), (2, 20), (3, 35), (10, 35)]:
        delays = [p.next_delay(attempt, rng=rng) for _ in range(300)]
        assert all(d is not None and 0 <= d <= ceiling for d in delays)
        # Jitter spreads the delays over the range instead of sticking to the ceiling.
        assert max(d for d in delays if d is not None) > ceiling * 0.8
        assert min(d for d in delays if d is not None) < ceiling * 0.2


def test_retry_after_is_a_floor_and_is_capped() -> None:
    p = RetryPolicy(base_seconds=1, max_retry_after_seconds=600)
    rng = random.Random(1)
    assert p.next_delay(1, retry_after=120, rng=rng) == 120
    assert p.next_delay(1, retry_after=10_000, rng=rng) == 600
    # A Retry-After shorter than the backoff does not shorten it below the jittered value.
    long = RetryPolicy(base_seconds=1000, cap_seconds=1000)
    delay = long.next_delay(1, retry_after=0, rng=random.Random(3))
    assert delay == random.Random(3).uniform(0, 1000)
    # Exhausted stays exhausted even when the remote asks for a wait.
    assert RetryPolicy(max_attempts=2).next_delay(2, retry_after=5) is None


def test_total_budget() -> None:
    p = RetryPolicy(max_attempts=4, base_seconds=60, multiplier=2, cap_seconds=100)
    assert p.total_budget_seconds() == 60 + 100 + 100


def test_default_policy_spreads_about_a_day() -> None:
    budget = RetryPolicy().total_budget_seconds()
    assert 12 * 3600 < budget < 48 * 3600


def test_policy_validation() -> None:
    with pytest.raises(ValidationError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValidationError):
        RetryPolicy(multiplier=0.5)
    with pytest.raises(ValidationError):
        RetryPolicy.model_validate({"unknown": 1})


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_breaker_opens_after_threshold_consecutive_failures() -> None:
    clock = Clock()
    b = CircuitBreaker(failure_threshold=3, reset_seconds=10, clock=clock)
    assert b.state is CircuitState.CLOSED
    assert b.record_failure() is False
    assert b.record_failure() is False
    assert b.record_success() is False  # a success in between resets the count
    assert b.record_failure() is False
    assert b.record_failure() is False
    assert b.record_failure() is True  # the trip is reported once
    assert b.state is CircuitState.OPEN
    assert not b.allows()
    assert b.record_failure() is False  # further failures while open do not re-trip


def test_breaker_half_open_probe() -> None:
    clock = Clock()
    b = CircuitBreaker(failure_threshold=1, reset_seconds=10, clock=clock)
    assert b.record_failure() is True
    clock.t = 9.9
    assert b.state is CircuitState.OPEN
    clock.t = 10.0
    assert b.state is CircuitState.HALF_OPEN
    assert b.allows()
    # A failed probe opens it again, for another full reset period.
    assert b.record_failure() is True
    assert b.state is CircuitState.OPEN
    clock.t = 19.9
    assert not b.allows()
    clock.t = 20.0
    assert b.state is CircuitState.HALF_OPEN
    assert b.record_success() is True
    assert b.state is CircuitState.CLOSED
    assert b.record_success() is False


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, None),
        (201, None),
        (204, None),
        (400, PermanentError),
        (401, PermanentError),
        (404, PermanentError),
        (408, TransientError),
        (409, PermanentError),
        (422, PermanentError),
        (423, TransientError),
        (425, TransientError),
        (429, TransientError),
        (500, TransientError),
        (502, TransientError),
        (503, TransientError),
        (504, TransientError),
        (599, TransientError),
    ],
)
def test_http_status_table(status: int, expected: type | None) -> None:
    err = classify_http_status(status)
    if expected is None:
        assert err is None
    else:
        assert type(err) is expected
        assert err is not None and err.status_code == status
        assert str(status) in err.message


def test_classify_keeps_message_and_retry_after() -> None:
    err = classify_http_status(429, message="quota", retry_after="30")
    assert isinstance(err, TransientError)
    assert err.message == "quota"
    assert err.retry_after == 30.0
    assert not isinstance(err, AmbiguousError)


def test_parse_retry_after() -> None:
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after(" 120 ") == 120.0
    assert parse_retry_after("soon") is None
    now = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)
    later = datetime(2026, 3, 2, 10, 1, 30, tzinfo=UTC)
    assert parse_retry_after(format_datetime(later, usegmt=True), now=now.timestamp()) == 90.0
    assert parse_retry_after(format_datetime(now, usegmt=True), now=later.timestamp()) == 0.0
