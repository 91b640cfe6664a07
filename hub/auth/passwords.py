"""Password hashing with argon2id (argon2-cffi's defaults: RFC 9106 low-memory profile).

Verification runs off the event loop (it costs tens of milliseconds by design). Unknown user
names are verified against a dummy hash so that the answer takes as long as for a real user.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = [
    "MAX_LENGTH",
    "MIN_LENGTH",
    "PasswordPolicyError",
    "check_policy",
    "hash_password",
    "needs_rehash",
    "verify_password",
]

MIN_LENGTH = 12
MAX_LENGTH = 1024

_hasher = PasswordHasher()


class PasswordPolicyError(ValueError):
    """The new password is too short or too long (the message says which, never the value)."""


def check_policy(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(f"the password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(f"the password must have at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    check_policy(password)
    return _hasher.hash(password)


@cache
def _dummy_hash() -> str:
    return _hasher.hash("not-a-password-of-anyone")


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored``; a missing hash costs a dummy verification."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """The hash was made with weaker parameters than today's: store a fresh one at sign-in."""
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return True
