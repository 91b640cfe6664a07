"""Roles of dashboard users, expressed as the API's token scopes.

One authorization table serves tokens and people: a user's role stands for a set of scopes, and
every check goes through :meth:`hub.api.auth.Principal.has` (``_GRANTED_BY``). So "operator may
replay" is written once, whether the caller is a token or a person in the dashboard.

=========  ====================  ==============================================================
role       scopes                may
=========  ====================  ==============================================================
viewer     read, metrics         see everything, personal data masked
operator   operator, metrics     also replay, cancel, pause and resume sources
admin      admin                 everything, personal data included (tokens, users via CLI)
unit       unit                  only its own department's documents (``users.unit``)
=========  ====================  ==============================================================

``pii`` is granted per user (``hub user create --pii``), not per role: seeing a person's data is
a duty of a few named people, and each unmasked view is audited.
"""

from __future__ import annotations

__all__ = ["ROLES", "scopes_for"]

ROLES: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read", "metrics"}),
    "operator": frozenset({"operator", "metrics"}),
    "admin": frozenset({"admin"}),
    "unit": frozenset({"unit"}),
}


def scopes_for(role: str, *, pii: bool = False) -> frozenset[str]:
    """The token scopes a user with ``role`` holds (``pii`` adds the ``pii`` scope)."""
    scopes = ROLES[role]
    return scopes | {"pii"} if pii else scopes
