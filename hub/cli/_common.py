"""What every ``hub`` command shares: consoles, the error policy, opening the hub, formatting.

The error policy, in one place: a :class:`~hub.errors.ConfigurationError` (bad settings, an
outdated schema, broken routing rules) prints one red line ``error: …`` and exits 2; any other
:class:`~hub.errors.HubError` exits 1 the same way; an unreachable ledger is a configuration
problem (exit 2). No traceback reaches an operator for a problem they can fix.
"""

from __future__ import annotations

import asyncio
import functools
import getpass
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from hub.db.engine import is_sqlite, make_engines
from hub.errors import ConfigurationError, HubError
from hub.routing import RoutingRules
from hub.runtime import Hub
from hub.settings import HubSettings

__all__ = [
    "EXIT_CONFIG",
    "actor",
    "cli_errors",
    "console",
    "describe_database",
    "fail",
    "format_age",
    "format_ts",
    "jsonable",
    "now",
    "open_hub",
    "parse_when",
]

P = ParamSpec("P")
R = TypeVar("R")

EXIT_CONFIG = 2
#: Width used when the output is not a terminal, so piped output is not wrapped.
PIPE_WIDTH = 200


def console(*, stderr: bool = False) -> Console:
    """A console on the current stdout/stderr (created per call, so test runners that swap the
    streams see the output)."""
    con = Console(stderr=stderr, highlight=False)
    if not con.is_terminal:
        con.width = PIPE_WIDTH
    return con


def fail(message: str, code: int = 1) -> NoReturn:
    """One red line on stderr, then exit with ``code``."""
    console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def cli_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Apply the error policy to a command."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ConfigurationError as exc:
            fail(_one_line(str(exc)), EXIT_CONFIG)
        except HubError as exc:
            fail(_one_line(str(exc)), 1)
        except DBAPIError as exc:
            # The driver's message may carry the host and user: show the type only.
            fail(
                f"cannot use the ledger ({type(exc.orig or exc).__name__}): "
                "check HUB_DATABASE_URL and that the database is up",
                EXIT_CONFIG,
            )

    return wrapper


def _one_line(text: str) -> str:
    return " ".join(text.split())


#: Rules for commands that do not route documents: they need no routing file.
NO_ROUTING = RoutingRules()


@contextmanager
def open_hub(*, routing: bool = False) -> Iterator[Hub]:
    """The hub as ``hub run`` would build it (settings, plugins, schema check), closed after.

    Commands that do not route documents pass ``routing=False`` so that a missing or broken
    routing file does not stop an operator from looking at the ledger.
    """
    hub = Hub.create(rules=None if routing else NO_ROUTING)
    try:
        yield hub
    finally:
        asyncio.run(hub.aclose())


def actor() -> str:
    """Who did it, for the audit trail: ``cli:<os user>``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = "unknown"
    return f"cli:{user}"


def format_ts(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def format_age(seconds: float | None) -> str:
    """Short human age: 42s, 5m 3s, 2h 10m, 3d 4h."""
    if not seconds or seconds <= 0:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def parse_when(value: str | None, option: str) -> float | None:
    """An ISO date or date-time as a Unix timestamp; without a zone it is local time."""
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option}: {value!r} is not an ISO date or date-time (e.g. 2026-03-01T08:00)")
    if when.tzinfo is None:
        when = when.astimezone()  # local time, as an operator reads a wall clock
    return when.astimezone(UTC).timestamp()


def now() -> float:
    return time.time()


def jsonable(value: Any) -> Any:
    """Ledger rows for ``--json``: timestamps stay numbers, the rest becomes plain JSON."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def describe_database(settings: HubSettings) -> str:
    """Where the ledger is, without credentials."""
    url = settings.effective_database_url()
    if is_sqlite(url):
        return f"SQLite at {make_url(url).database}"
    parsed = make_url(url)
    return f"PostgreSQL {parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"


@contextmanager
def ledger_engine(settings: HubSettings) -> Iterator[Engine]:
    """The ledger's writer engine for one command, disposed afterwards (with its reader)."""
    writer, reader = make_engines(
        settings.effective_database_url(), sqlite_synchronous=settings.sqlite_synchronous
    )
    try:
        yield writer
    finally:
        writer.dispose()
        if reader is not writer:
            reader.dispose()
