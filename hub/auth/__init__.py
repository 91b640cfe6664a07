"""Dashboard users: roles mapped onto the API's token scopes, argon2 passwords, lockout and
server-side sessions. The dashboard (:mod:`hub.dashboard`) signs people in with it; ``hub user``
manages the accounts. See docs/access-control.md."""

from hub.auth.roles import ROLES, scopes_for
from hub.auth.users import AuthResult, SessionInfo, UserStore

__all__ = ["ROLES", "AuthResult", "SessionInfo", "UserStore", "scopes_for"]
