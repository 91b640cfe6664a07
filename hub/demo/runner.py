"""``hub demo``, put together: a throw-away ledger, simulators, the real API and workers, the
sample documents sent through HTTP, and a live table until everything is delivered.

What takes part is decided by data, not code: the demo's ``routing.toml`` names destinations,
plugins bring simulators (:mod:`hub.demo.simulators`), and a destination takes part when its
connector is loaded and simulated. Plugins that would reach a real system are left out.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import secrets
import shutil
import tempfile
import time
import tomllib
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text
from sqlalchemy import select

from hub.db.schema import deliveries
from hub.errors import ConfigurationError, HubError
from hub.models import DeliveryState, DocumentIn
from hub.plugins import PluginHost, PluginStatus, create_plugin_host
from hub.routing import RoutingRules
from hub.runtime import Hub
from hub.serve import HubServer, bind

from .samples import Sample, samples
from .simulators import DemoContext, DemoSimulator
from .sink import WebhookSink

__all__ = ["DemoOptions", "DemoOutcome", "demo_rules", "run_demo"]

#: Plugins of the core distribution; they reach nothing outside the machine by themselves.
BUILTIN_PLUGINS = frozenset({"webhook", "noop"})
#: Connectors that need no simulator.
SELF_CONTAINED = frozenset({"noop"})

_STATE_COLUMNS = (
    ("waiting", DeliveryState.WAITING.value),
    ("pending", DeliveryState.PENDING.value),
    ("in flight", DeliveryState.IN_FLIGHT.value),
    ("retrying", DeliveryState.RETRY_SCHEDULED.value),
    ("delivered", DeliveryState.DELIVERED.value),
    ("dead", DeliveryState.DEAD.value),
)


@dataclass
class DemoOptions:
    directory: Path | None = None
    duration: float | None = None
    port: int = 8080


@dataclass
class DemoOutcome:
    documents: int = 0
    delivered: int = 0
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.documents > 0 and self.delivered == self.documents


# --- what takes part ------------------------------------------------------------------------------


def load_demo_rules() -> dict[str, Any]:
    text = resources.files("hub.demo").joinpath("routing.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def demo_rules(
    raw: dict[str, Any], available: set[str]
) -> tuple[RoutingRules, dict[str, list[str]]]:
    """The demo's rules without destinations it cannot serve, and connector → targets."""
    data = copy.deepcopy(raw)

    def keep(dests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            d for d in dests if d["connector"] in available and d.get("after") in (None, *available)
        ]

    for rule in data.get("rule", []):
        rule["destinations"] = keep(rule.get("destinations", []))
    fallback = data.setdefault("fallback", {})
    fallback["destinations"] = keep(fallback.get("destinations", []))
    if data.get("default_after") not in available:
        data.pop("default_after", None)
    rules = RoutingRules.model_validate(data)
    targets: dict[str, set[str]] = {}
    for dest in [d for r in rules.rule for d in r.destinations] + rules.fallback.destinations:
        if dest.target:
            targets.setdefault(dest.connector, set()).add(dest.target)
    return rules, {c: sorted(t) for c, t in targets.items()}


@contextlib.contextmanager
def _disabled_plugins(names: Sequence[str]) -> Iterator[None]:
    """Load plugins without ``names`` (through the documented ``HUB_DISABLE_PLUGINS``)."""
    before = os.environ.get("HUB_DISABLE_PLUGINS")
    if names:
        current = {n.strip() for n in (before or "").split(",") if n.strip()}
        os.environ["HUB_DISABLE_PLUGINS"] = ",".join(sorted(current | set(names)))
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("HUB_DISABLE_PLUGINS", None)
        else:
            os.environ["HUB_DISABLE_PLUGINS"] = before


def left_out(
    statuses: Sequence[PluginStatus],
    with_simulator: set[str],
    covered: frozenset[str] | set[str] = frozenset(),
) -> list[str]:
    """Plugins the demo must not load: they contribute connectors or sources that would reach a
    remote system, and bring no simulator of it. A plugin whose only contributions are
    connectors that another plugin's simulator stands in for (``covered``: e.g. the core's
    ``receipt`` connector, served by the demo's SMTP server) takes part."""
    return sorted(
        st.name
        for st in statuses
        if st.status == "loaded"
        and (st.connectors or st.sources)
        and st.name not in BUILTIN_PLUGINS
        and st.name not in with_simulator
        and (st.sources or not set(st.connectors) <= set(covered))
    )


def demo_host() -> tuple[PluginHost, list[str]]:
    """The plugins the demo can run safely, and the names of those it left out."""
    host = create_plugin_host()
    simulators = host.demo_simulators().values()
    with_simulator = {owner for _, owner in simulators}
    covered = {name for cls, _ in simulators for name in cls.connectors}
    host.connector_classes()
    host.source_classes()
    excluded = left_out(host.statuses, with_simulator, covered)
    if not excluded:
        return host, []
    with _disabled_plugins(excluded):
        return create_plugin_host(), excluded


def demo_simulators(host: PluginHost) -> list[DemoSimulator]:
    sims: list[DemoSimulator] = []
    if "webhook" in host.connector_classes():
        sims.append(WebhookSink())
    for cls, _owner in host.demo_simulators().values():
        sims.append(cls())
    return sims


def _merge(into: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


# --- the run ------------------------------------------------------------------------------------


async def _ingest(url: str, token: str, items: list[Sample]) -> list[str]:
    """Send the samples through the real API, as a client would."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30.0) as client:

        async def post(sample: Sample) -> str:
            doc = sample.document
            resp = await client.post(
                "/api/v1/documents", json=doc.model_dump(mode="json", exclude_none=True)
            )
            if resp.status_code >= 300:
                raise HubError(
                    f"the API answered HTTP {resp.status_code} to sample {doc.external_id}"
                )
            return str(resp.json()["id"])

        return list(await asyncio.gather(*(post(s) for s in items)))


def _delivered_documents(hub: Hub, ids: list[str]) -> int:
    """Documents whose every delivery is delivered."""
    open_docs: set[str] = set()
    with hub.reader.connect() as conn:
        for doc_id, state in conn.execute(
            select(deliveries.c.document_id, deliveries.c.state).where(
                deliveries.c.document_id.in_(ids)
            )
        ):
            if state != DeliveryState.DELIVERED.value:
                open_docs.add(doc_id)
    return len(set(ids) - open_docs)


def _render(outcome: DemoOutcome, sims: list[DemoSimulator], started: float, note: str) -> Group:
    table = Table(title="Deliveries by connector", title_justify="left")
    table.add_column("connector")
    for heading, _ in _STATE_COLUMNS:
        table.add_column(heading, justify="right")
    for name in sorted(outcome.stats):
        st = outcome.stats[name]
        cells = []
        for _, key in _STATE_COLUMNS:
            n = int(st.get(key, 0))
            colour = {"delivered": "green", "dead": "red", "retry_scheduled": "yellow"}.get(key)
            cells.append(f"[{colour}]{n}[/]" if colour and n else str(n))
        table.add_row(name, *cells)
    received = Table(title="Received by the simulators", title_justify="left")
    received.add_column("simulator")
    received.add_column("what")
    received.add_column("count", justify="right")
    for sim in sims:
        for label, count in sim.counters().items():
            received.add_row(sim.name, label, str(count))
    header = Table.grid(padding=(0, 2))
    header.add_row(
        ProgressBar(total=max(outcome.documents, 1), completed=outcome.delivered, width=30),
        Text.assemble(
            (f"{outcome.delivered}/{outcome.documents} sample documents delivered", "bold"),
            f"  ({time.monotonic() - started:.1f} s)  {note}",
        ),
    )
    return Group(header, table, received)


_LOCAL = ZoneInfo("Europe/Bucharest")


def _documents_table(hub: Hub, ids: list[str]) -> Table:
    """The sample documents as the registry sees them: number, date, kind, department."""
    table = Table(title="Sample documents", title_justify="left")
    for heading in ("registration number", "registered at", "kind", "department", "subject"):
        table.add_column(heading)
    docs = [hub.ledger.get_document(i) for i in dict.fromkeys(ids)]
    for doc in sorted(filter(None, docs), key=lambda d: d.registration_number or "~"):
        table.add_row(
            doc.registration_number or "[yellow]not registered[/]",
            doc.registered_at.astimezone(_LOCAL).strftime("%d.%m.%Y %H:%M")
            if doc.registered_at
            else "",
            doc.kind,
            doc.department or "",
            doc.subject[:48],
        )
    return table


async def _watch(
    hub: Hub,
    ids: list[str],
    sims: list[DemoSimulator],
    serving: asyncio.Task[None],
    out: Console,
    forever: bool,
    when_delivered: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> DemoOutcome:
    outcome = DemoOutcome(documents=len(set(ids)))
    started = time.monotonic()
    all_done_at: float | None = None
    last_reported = -1
    follow_up: asyncio.Task[None] | None = None

    async def refresh() -> None:
        nonlocal all_done_at, follow_up
        outcome.stats = await hub.runner.read(hub.ledger.connector_stats)
        outcome.delivered = await hub.runner.read(_delivered_documents, hub, ids)
        if outcome.ok and all_done_at is None:
            all_done_at = time.monotonic() - started
            if when_delivered is not None:
                follow_up = asyncio.create_task(when_delivered(), name="hub-demo-follow-up")

    def note() -> str:
        if all_done_at is not None:
            tail = "(Ctrl-C to stop)" if forever else "until the time is up"
            return f"all delivered in {all_done_at:.1f} s; the API stays up {tail}"
        return "Ctrl-C to stop" if forever else ""

    try:
        if out.is_terminal:
            with Live(
                _render(outcome, sims, started, note()), console=out, auto_refresh=False
            ) as live:
                while not serving.done():
                    await refresh()
                    live.update(_render(outcome, sims, started, note()), refresh=True)
                    await asyncio.wait([serving], timeout=0.25)
                await refresh()
                live.update(_render(outcome, sims, started, note()), refresh=True)
            return outcome
        while not serving.done():
            await refresh()
            if outcome.delivered != last_reported:
                last_reported = outcome.delivered
                out.print(f"{outcome.delivered}/{outcome.documents} sample documents delivered")
            await asyncio.wait([serving], timeout=0.25)
        await refresh()
        out.print(_render(outcome, sims, started, note()))
        return outcome
    finally:
        await _finish(follow_up)


async def _finish(task: asyncio.Task[None] | None) -> None:
    if task is not None and not task.done():
        task.cancel()
    if task is not None:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _after_samples(
    url: str, token: str, sims: list[DemoSimulator], documents: dict[str, DocumentIn], out: Console
) -> None:
    """What the simulators do once the samples are delivered (e.g. an answer sent by courier)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30.0) as api:
        for sim in sims:
            try:
                await sim.after_samples(api, documents)
            except Exception as exc:
                out.print(f"[yellow]{sim.name}: the follow-up failed ({type(exc).__name__})[/]")


DEMO_USER = "demo"


def _create_demo_user(hub: Hub) -> str:
    """A dashboard administrator for this demo's ledger; returns its random password."""
    from hub.auth.passwords import hash_password
    from hub.auth.users import UserStore

    password = secrets.token_urlsafe(12)
    UserStore(hub.writer, hub.reader).create(DEMO_USER, "admin", hash_password(password), pii=True)
    return password


def _banner(
    out: Console,
    url: str,
    token: str,
    hub: Hub,
    sims: list[DemoSimulator],
    left_out: list[str],
    password: str,
) -> None:
    out.print("[bold]Registry hub demo[/] — SQLite ledger at " + str(hub.settings.data_dir))
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("Dashboard", f"{url}/  [dim](user {DEMO_USER}, password {password})[/]")
    grid.add_row("API", f"{url}/api/v1")
    grid.add_row("Docs", f"{url}/docs")
    grid.add_row("Metrics", f"{url}/metrics")
    grid.add_row("Token", f"{token}  [dim](scope admin, valid for this demo's ledger)[/]")
    for sim in sims:
        where = sim.url()
        grid.add_row(sim.name, f"{sim.description}" + (f" at {where}" if where else ""))
    grid.add_row("Connectors", ", ".join(sorted(hub.connectors)))
    if left_out:
        grid.add_row("Left out", ", ".join(left_out) + " [dim](no demo simulator)[/]")
    out.print(grid)
    out.print(
        f'Try: [cyan]curl -H "Authorization: Bearer {token}" {url}/api/v1/connectors[/]',
        soft_wrap=True,
    )


async def run_demo(options: DemoOptions, out: Console) -> DemoOutcome:
    """Run the demo; return how many sample documents were delivered."""
    try:
        sock = bind("127.0.0.1", options.port)
    except ConfigurationError:
        raise ConfigurationError(
            f"cannot listen on 127.0.0.1:{options.port}: choose another port with --port "
            "(0 = any free port)"
        ) from None
    directory = options.directory or Path(tempfile.mkdtemp(prefix="hub-demo-"))
    started: list[DemoSimulator] = []
    hub: Hub | None = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        host, left_out = demo_host()
        sims = demo_simulators(host)
        available = ({c for sim in sims for c in sim.connectors} | SELF_CONTAINED) & set(
            host.connector_classes()
        )
        rules, targets = demo_rules(load_demo_rules(), available)
        ctx = DemoContext(data_dir=directory, targets=targets)
        overrides: dict[str, Any] = {}
        for sim in sims:
            started.append(sim)
            _merge(overrides, await sim.start(ctx))
        _merge(
            overrides,
            {
                "database_url": f"sqlite:///{directory / 'hub.db'}",
                "data_dir": directory,
                "api_host": "127.0.0.1",
                "api_port": sock.getsockname()[1],
                # Plain http on loopback: the session cookie cannot be Secure-only here.
                "dashboard": {"cookie_secure": False},
                "public_url": f"http://127.0.0.1:{sock.getsockname()[1]}",
            },
        )
        hub = Hub.create(host=host, overrides=overrides, rules=rules, migrate=True)
        server = HubServer(hub, sock=sock)
        serving = asyncio.create_task(server.run(stop_after=options.duration), name="hub-demo")
        ready = asyncio.create_task(server.ready.wait())
        await asyncio.wait([serving, ready], return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if serving.done():
            serving.result()  # raises what stopped it
            return DemoOutcome()
        assert server.url is not None
        token = await hub.runner.write(
            hub.ledger.create_token, f"demo-{secrets.token_hex(4)}", ["admin"]
        )
        password = await hub.runner.write(_create_demo_user, hub)
        _banner(out, server.url, token, hub, sims, left_out, password)
        try:
            items = samples()
            ids = await _ingest(server.url, token, items)
        except BaseException:
            server.request_stop()
            with contextlib.suppress(Exception):
                await serving
            raise
        by_id = dict(zip(ids, (s.document for s in items), strict=True))
        url = server.url
        outcome = await _watch(
            hub,
            ids,
            sims,
            serving,
            out,
            options.duration is None,
            when_delivered=lambda: _after_samples(url, token, sims, by_id, out),
        )
        serving.result()
        out.print(await hub.runner.read(_documents_table, hub, ids))
        return outcome
    finally:
        for sim in reversed(started):
            with contextlib.suppress(Exception):
                await sim.stop()
        if hub is not None:
            await hub.aclose()
        sock.close()
        if options.directory is None:
            shutil.rmtree(directory, ignore_errors=True)
