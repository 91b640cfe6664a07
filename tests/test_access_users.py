"""Users and sessions: the ``hub user`` commands, argon2 hashes, lockout and its expiry (with a
fake clock), session expiry and revocation, and the role → scope mapping shared with tokens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from hub.api.auth import Principal
from hub.auth.passwords import PasswordPolicyError, hash_password, needs_rehash, verify_password
from hub.auth.roles import ROLES, scopes_for
from hub.auth.schema import users
from hub.auth.users import UserError, UserStore
from hub.db.engine import make_engines
from hub.db.schema import events
from tests.test_cli import Invoke, cli_env, invoke, routing  # noqa: F401 - fixtures

PASSWORD = "o-parolă-destul-de-lungă"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(database_url: str, clock: Clock) -> Iterator[UserStore]:
    writer, reader = make_engines(database_url)
    yield UserStore(writer, reader, max_failures=3, lockout_seconds=600, clock=clock)
    writer.dispose()
    reader.dispose()


def test_roles_map_onto_token_scopes() -> None:
    def can(role: str, scope: str, pii: bool = False) -> bool:
        return Principal("x", scopes_for(role, pii=pii)).has(scope)

    assert set(ROLES) == {"viewer", "operator", "admin", "unit"}
    assert can("viewer", "read") and not can("viewer", "operator") and not can("viewer", "pii")
    assert can("viewer", "pii", pii=True)
    assert can("operator", "read") and can("operator", "operator") and not can("operator", "admin")
    assert can("admin", "admin") and can("admin", "pii") and can("admin", "operator")
    assert can("unit", "unit") and not can("unit", "read")


def test_passwords_are_argon2id_and_policy_is_enforced() -> None:
    stored = hash_password(PASSWORD)
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert verify_password(stored, PASSWORD)
    assert not verify_password(stored, PASSWORD + "x")
    assert not verify_password(None, PASSWORD)  # unknown user: dummy verification, False
    assert not verify_password("not-a-hash", PASSWORD)
    assert not needs_rehash(stored)
    with pytest.raises(PasswordPolicyError, match="at least 12"):
        hash_password("scurtă")


def test_create_validates(store: UserStore) -> None:
    store.create("ana", "viewer", hash_password(PASSWORD))
    with pytest.raises(UserError, match="already exists"):
        store.create("ana", "viewer", None)
    with pytest.raises(UserError, match="unknown role"):
        store.create("bob", "root", None)
    with pytest.raises(UserError, match="needs a unit"):
        store.create("bob", "unit", None)
    with pytest.raises(UserError, match="only the unit role"):
        store.create("bob", "viewer", None, unit="DJ")
    with pytest.raises(UserError, match="user names"):
        store.create("a b", "viewer", None)
    assert [u["name"] for u in store.list_users()] == ["ana"]
    assert "password_hash" not in store.list_users()[0]


def test_lockout_and_its_expiry(store: UserStore, clock: Clock) -> None:
    uid = store.create("ana", "operator", hash_password(PASSWORD))
    assert store.record_failure(uid) is False
    assert store.record_failure(uid) is False
    assert store.record_failure(uid) is True  # third in a row: locked
    creds = store.credentials("ana")
    assert creds is not None and store.is_locked(creds)
    clock.now += 599
    assert store.is_locked(creds)
    clock.now += 2
    assert not store.is_locked(creds)
    # A success resets the count.
    store.record_failure(uid)
    store.record_success(uid)
    assert store.record_failure(uid) is False


def test_sessions_expire_and_are_revoked(store: UserStore, clock: Clock) -> None:
    uid = store.create("ana", "viewer", hash_password(PASSWORD), pii=True)
    value = store.open_session(uid, 3600)
    info = store.session(value)
    assert info is not None and info.name == "ana" and "pii" in info.scopes
    assert len(info.csrf_token) >= 40
    with store.reader.connect() as conn:
        stored = conn.execute(select(users.c.password_hash)).scalar()
    assert stored and stored.startswith("$argon2id$")
    clock.now += 3601
    assert store.session(value) is None  # expired
    second = store.open_session(uid, 3600)
    third = store.open_session(uid, 3600)
    store.revoke_session(second)
    assert store.session(second) is None and store.session(third) is not None
    store.set_password("ana", hash_password(PASSWORD + "!"))
    assert store.session(third) is None  # a new password signs out everywhere
    assert store.session("") is None and store.session("x" * 500) is None


def test_cli_user_lifecycle(invoke: Invoke, cli_env: str) -> None:  # noqa: F811
    r = invoke("user", "create", "ana", "--role", "operator", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert r.exit_code == 0, r.output
    assert "created with role operator" in r.stdout and PASSWORD not in r.stdout
    r = invoke(
        "user",
        "create",
        "dj",
        "--role",
        "unit",
        "--unit",
        "DJ",
        "--password-stdin",
        input=f"{PASSWORD}\n",
    )
    assert r.exit_code == 0, r.output
    r = invoke(
        "user", "create", "ana", "--role", "viewer", "--password-stdin", input=f"{PASSWORD}\n"
    )
    assert r.exit_code == 1 and "already exists" in r.output
    r = invoke("user", "create", "bob", "--role", "viewer", "--password-stdin", input="scurtă\n")
    assert r.exit_code == 1 and "at least 12" in r.output
    listed = invoke("user", "list")
    assert "ana" in listed.stdout and "operator" in listed.stdout and "DJ" in listed.stdout
    writer, reader = make_engines(cli_env)
    store = UserStore(writer, reader)
    try:
        creds = store.credentials("ana")
        assert creds is not None and verify_password(creds.password_hash, PASSWORD)
        session = store.open_session(creds.user_id, 3600)
        assert invoke("user", "disable", "ana").exit_code == 0
        assert store.session(session) is None
        assert invoke("user", "enable", "ana").exit_code == 0
        r = invoke("user", "passwd", "ana", "--password-stdin", input=f"{PASSWORD}-nouă\n")
        assert r.exit_code == 0, r.output
        creds = store.credentials("ana")
        assert creds is not None and verify_password(creds.password_hash, f"{PASSWORD}-nouă")
        assert invoke("user", "disable", "nobody").exit_code == 1
        with reader.connect() as conn:
            actions = [
                r.action for r in conn.execute(select(events.c.action).order_by(events.c.id))
            ]
        assert actions == [
            "user_created",
            "user_created",
            "user_disabled",
            "user_enabled",
            "user_password_set",
        ]
    finally:
        writer.dispose()
        reader.dispose()
