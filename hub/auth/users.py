"""Users and sessions in the ledger database. Synchronous (called through the hub's DbRunner);
password hashing is done by the caller off the event loop (:mod:`hub.auth.passwords`).

Sessions are server-side: the cookie holds 32 random bytes, the table keeps their sha256, the
session's CSRF token and its expiry. Signing out, disabling a user or changing a password
revokes sessions at once (the next request is refused), which a signed-cookie session cannot do.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from hub.auth.roles import ROLES, scopes_for
from hub.auth.schema import user_sessions, users

__all__ = ["AuthResult", "Credentials", "SessionInfo", "UserError", "UserStore"]

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class UserError(ValueError):
    """A user operation that cannot be done (bad name or role, duplicate, unknown user)."""


@dataclass(frozen=True, slots=True)
class Credentials:
    user_id: int
    name: str
    password_hash: str | None
    disabled: bool
    locked_until: float | None


@dataclass(frozen=True, slots=True)
class AuthResult:
    """How a sign-in ended: ``ok``, ``invalid`` (unknown user or wrong password; the page says
    the same for both), ``locked`` or ``disabled``."""

    outcome: str
    user_id: int | None = None


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A live session and the person behind it."""

    user_id: int
    name: str
    role: str
    pii: bool
    unit: str | None
    csrf_token: str
    expires_at: float

    @property
    def scopes(self) -> frozenset[str]:
        return scopes_for(self.role, pii=self.pii)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class UserStore:
    def __init__(
        self,
        writer: Engine,
        reader: Engine | None = None,
        *,
        max_failures: int = 5,
        lockout_seconds: float = 900.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.writer = writer
        self.reader = reader or writer
        self.max_failures = max_failures
        self.lockout_seconds = lockout_seconds
        self.clock = clock

    # --- accounts -----------------------------------------------------------------------------

    def create(
        self,
        name: str,
        role: str,
        password_hash: str | None,
        *,
        pii: bool = False,
        unit: str | None = None,
        oidc_subject: str | None = None,
    ) -> int:
        if not NAME.match(name):
            raise UserError("user names use letters, digits and . _ @ - (at most 64)")
        if role not in ROLES:
            raise UserError(f"unknown role {role!r} (known: {', '.join(sorted(ROLES))})")
        if (role == "unit") != bool(unit):
            raise UserError("the unit role needs a unit, and only the unit role takes one")
        now = self.clock()
        try:
            with self.writer.begin() as conn:
                res = conn.execute(
                    insert(users).values(
                        name=name,
                        role=role,
                        pii=pii,
                        unit=unit,
                        password_hash=password_hash,
                        oidc_subject=oidc_subject,
                        disabled=False,
                        failed_attempts=0,
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError:
            raise UserError(
                f"a user named {name!r} (or with this OpenID Connect subject) already exists"
            ) from None
        assert res.inserted_primary_key is not None
        return int(res.inserted_primary_key[0])

    def list_users(self) -> list[dict[str, Any]]:
        cols = [c for c in users.c if c.name not in ("password_hash",)]
        with self.reader.connect() as conn:
            return [dict(r) for r in conn.execute(select(*cols).order_by(users.c.name)).mappings()]

    def _user_id(self, conn: Any, name: str) -> int:
        uid = conn.execute(select(users.c.id).where(users.c.name == name)).scalar()
        if uid is None:
            raise UserError(f"no user named {name!r}")
        return int(uid)

    def set_password(self, name: str, password_hash: str) -> None:
        """New password: the lockout is lifted and every session of the user is revoked."""
        now = self.clock()
        with self.writer.begin() as conn:
            uid = self._user_id(conn, name)
            conn.execute(
                update(users)
                .where(users.c.id == uid)
                .values(
                    password_hash=password_hash,
                    failed_attempts=0,
                    locked_until=None,
                    updated_at=now,
                )
            )
            self._revoke_all(conn, uid, now)

    def set_disabled(self, name: str, disabled: bool) -> None:
        """Disabling revokes every session at once; enabling also lifts a lockout."""
        now = self.clock()
        values: dict[str, Any] = {"disabled": disabled, "updated_at": now}
        if not disabled:
            values |= {"failed_attempts": 0, "locked_until": None}
        with self.writer.begin() as conn:
            uid = self._user_id(conn, name)
            conn.execute(update(users).where(users.c.id == uid).values(**values))
            if disabled:
                self._revoke_all(conn, uid, now)

    # --- sign-in ------------------------------------------------------------------------------

    def credentials(self, name: str) -> Credentials | None:
        with self.reader.connect() as conn:
            row = conn.execute(
                select(
                    users.c.id,
                    users.c.name,
                    users.c.password_hash,
                    users.c.disabled,
                    users.c.locked_until,
                ).where(users.c.name == name)
            ).first()
        if row is None:
            return None
        return Credentials(
            row.id, row.name, row.password_hash, bool(row.disabled), row.locked_until
        )

    def by_oidc_subject(self, subject: str) -> Credentials | None:
        with self.reader.connect() as conn:
            name = conn.execute(
                select(users.c.name).where(users.c.oidc_subject == subject)
            ).scalar()
        return self.credentials(name) if name else None

    def is_locked(self, creds: Credentials) -> bool:
        return creds.locked_until is not None and creds.locked_until > self.clock()

    def record_failure(self, user_id: int) -> bool:
        """Count a wrong password; lock the account after ``max_failures`` in a row. Returns
        whether the account is now locked."""
        now = self.clock()
        with self.writer.begin() as conn:
            conn.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(failed_attempts=users.c.failed_attempts + 1, updated_at=now)
            )
            failures = int(
                conn.execute(select(users.c.failed_attempts).where(users.c.id == user_id)).scalar()
                or 0
            )
            if failures >= self.max_failures:
                conn.execute(
                    update(users)
                    .where(users.c.id == user_id)
                    .values(locked_until=now + self.lockout_seconds, failed_attempts=0)
                )
                return True
        return False

    def record_success(self, user_id: int, new_hash: str | None = None) -> None:
        values: dict[str, Any] = {
            "failed_attempts": 0,
            "locked_until": None,
            "last_login_at": self.clock(),
        }
        if new_hash is not None:
            values["password_hash"] = new_hash
        with self.writer.begin() as conn:
            conn.execute(update(users).where(users.c.id == user_id).values(**values))

    # --- sessions -----------------------------------------------------------------------------

    def open_session(self, user_id: int, ttl_seconds: float) -> str:
        """A new session; returns the cookie value (shown to nobody else, stored hashed)."""
        value = secrets.token_urlsafe(32)
        now = self.clock()
        with self.writer.begin() as conn:
            conn.execute(
                insert(user_sessions).values(
                    id_hash=_digest(value),
                    user_id=user_id,
                    csrf_token=secrets.token_urlsafe(32),
                    created_at=now,
                    expires_at=now + ttl_seconds,
                    last_seen_at=now,
                )
            )
        return value

    def session(self, value: str) -> SessionInfo | None:
        """The live session behind a cookie value, or None (unknown, expired, revoked, or the
        user is disabled)."""
        if not value or len(value) > 128:
            return None
        with self.reader.connect() as conn:
            row = conn.execute(
                select(
                    users.c.id,
                    users.c.name,
                    users.c.role,
                    users.c.pii,
                    users.c.unit,
                    users.c.disabled,
                    user_sessions.c.csrf_token,
                    user_sessions.c.expires_at,
                    user_sessions.c.revoked_at,
                )
                .join(users, users.c.id == user_sessions.c.user_id)
                .where(user_sessions.c.id_hash == _digest(value))
            ).first()
        if row is None or row.revoked_at is not None or row.disabled:
            return None
        if row.expires_at <= self.clock():
            return None
        return SessionInfo(
            user_id=row.id,
            name=row.name,
            role=row.role,
            pii=bool(row.pii),
            unit=row.unit,
            csrf_token=row.csrf_token,
            expires_at=row.expires_at,
        )

    def revoke_session(self, value: str) -> None:
        with self.writer.begin() as conn:
            conn.execute(
                update(user_sessions)
                .where(user_sessions.c.id_hash == _digest(value))
                .values(revoked_at=self.clock())
            )

    def _revoke_all(self, conn: Any, user_id: int, now: float) -> None:
        conn.execute(
            update(user_sessions)
            .where(user_sessions.c.user_id == user_id, user_sessions.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
