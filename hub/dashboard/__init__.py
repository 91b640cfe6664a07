"""The operations dashboard, served at ``/`` by ``hub run`` beside the API.

:func:`mount_dashboard` adds the pages (server-rendered Jinja2, Romanian, htmx for the live
parts), the static files, the sign-in, the security headers for the whole app, and puts the
OpenAPI document and Swagger UI behind authentication. See docs/dashboard.md and
docs/access-control.md.
"""

from __future__ import annotations

from hub.dashboard.app import mount_dashboard

__all__ = ["mount_dashboard"]
