"""Every hook: documented, tested, and called when and how hub/hookspecs.py says."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from fastapi import APIRouter, FastAPI
from pydantic import Field
from structlog.testing import capture_logs
from typer.testing import CliRunner

import hub.builtin.noop
from hub import hookspecs
from hub.connectors import HealthCheck
from hub.dashboard_pages import DashboardPage, DashboardTable
from hub.errors import ConfigurationError, DeliveryError, PermanentError, TransientError
from hub.hookspecs import HOOK_NAMES, hookimpl
from hub.models import DocumentIn, Job, Receipt
from hub.plugins import PluginHost, create_plugin_host
from hub.routing import Destination
from hub.settings import HubSettings, load_settings
from hub.sources import PollResult, Source, SourceSettings
from tests.fixtures import MakeHub
from tests.test_dispatcher import build, delivery, scripted, state_is, submit, until, workers

ROOT = Path(__file__).resolve().parent.parent
HOOKS_DOC = ROOT / "docs" / "hooks.md"


# --- guards -----------------------------------------------------------------------------------


def _doc_sections() -> dict[str, str]:
    text = HOOKS_DOC.read_text(encoding="utf-8")
    parts = re.split(r"^### `(hub_\w+)`\s*$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_hook_names_are_what_hookspecs_declares() -> None:
    host = PluginHost()
    declared = {name for name in dir(host.pm.hook) if name.startswith("hub_")}
    assert set(HOOK_NAMES) == declared
    assert {"hub_register_connectors", "hub_classify", "hub_before_delivery"} <= declared


def test_every_hook_has_a_documentation_entry() -> None:
    sections = _doc_sections()
    assert set(sections) == set(HOOK_NAMES), "docs/hooks.md has one entry per hook, no more"
    host = PluginHost()
    for name, body in sections.items():
        for label in ("**When**", "**Args**", "**Returns**"):
            assert label in body, f"{name}: missing {label}"
        for arg in getattr(host.pm.hook, name).spec.argnames:
            assert f"`{arg}" in body, f"{name}: argument {arg!r} is not documented"
        if getattr(host.pm.hook, name).spec.opts.get("firstresult"):
            assert "first non-None result" in body


def test_every_hook_has_a_docstring() -> None:
    for name in HOOK_NAMES:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), name


def _implemented_in_tests() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for deco in node.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                name = target.id if isinstance(target, ast.Name) else getattr(target, "attr", "")
                if name == "hookimpl":
                    found.add(node.name)
    return found


def test_every_hook_has_a_test_implementing_it() -> None:
    missing = set(HOOK_NAMES) - _implemented_in_tests()
    assert not missing, f"hooks without a test: {sorted(missing)}"


# --- delivery lifecycle -----------------------------------------------------------------------


class Recorder:
    """Records lifecycle hooks and what the ledger said while they ran."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int]] = []
        self.hub: Any = None
        self.state_in_after: list[str] = []
        self.errors: list[DeliveryError] = []

    @hookimpl
    def hub_before_delivery(self, job: Job) -> None:
        self.calls.append(("before", job.connector, job.attempt))

    @hookimpl
    def hub_after_delivery(self, job: Job, receipt: Receipt) -> None:
        self.calls.append(("after", job.connector, job.attempt))
        self.state_in_after.append(self.hub.ledger.get_delivery(job.delivery_id)["state"])
        assert isinstance(receipt, Receipt)

    @hookimpl
    def hub_on_delivery_error(self, job: Job, error: DeliveryError) -> None:
        self.calls.append(("error", job.connector, job.attempt))
        self.errors.append(error)


def _per_connector(calls: list[tuple[str, str, int]], name: str) -> list[tuple[str, int]]:
    return [(what, attempt) for what, conn, attempt in calls if conn == name]


async def test_lifecycle_hook_order(make_hub: MakeHub) -> None:
    recorder = Recorder()
    hub = build(
        make_hub,
        "good",
        "bad",
        "flaky",
        rules={
            "fallback": {
                "destinations": [
                    {"connector": "good"},
                    {"connector": "bad"},
                    {"connector": "flaky"},
                ]
            }
        },
        plugins=(recorder,),
    )
    recorder.hub = hub

    async def bad(job: Job, n: int) -> Receipt:
        raise PermanentError("rejected by the remote side")

    async def flaky(job: Job, n: int) -> Receipt:
        if n == 1:
            raise TransientError("remote answered HTTP 503")
        return Receipt(remote_id="ok")

    scripted(hub, "bad").script = bad
    scripted(hub, "flaky").script = flaky
    [doc] = await submit(hub)
    async with workers(hub):
        await until(
            lambda: (
                [d["state"] for d in hub.ledger.deliveries_of(doc)]
                == ["delivered", "dead", "delivered"]
            ),
            "all outcomes",
        )
    assert _per_connector(recorder.calls, "good") == [("before", 1), ("after", 1)]
    assert _per_connector(recorder.calls, "bad") == [("before", 1), ("error", 1)]
    assert _per_connector(recorder.calls, "flaky") == [
        ("before", 1),
        ("error", 1),
        ("before", 2),
        ("after", 2),
    ]
    # "after" runs before the outcome is recorded.
    assert recorder.state_in_after == ["in_flight", "in_flight"]
    kinds = sorted(type(e).__name__ for e in recorder.errors)
    assert kinds == ["PermanentError", "TransientError"]


async def test_a_raising_hook_loses_no_outcome(make_hub: MakeHub) -> None:
    class Broken:
        @hookimpl
        def hub_after_delivery(self, job: Job, receipt: Receipt) -> None:
            raise RuntimeError("plugin bug")

    hub = build(make_hub, "target", plugins=(Broken(),))
    [doc] = await submit(hub)
    with capture_logs() as logs:
        async with workers(hub):
            await until(lambda: state_is(hub, doc, "delivered"), "delivered")
    assert delivery(hub, doc)["attempts"] == 1
    failed = [e for e in logs if e["event"] == "hub.plugin.hook_failed"]
    assert failed and failed[0]["error_type"] == "RuntimeError"


async def test_no_lifecycle_hooks_no_calls(make_hub: MakeHub) -> None:
    hub = build(make_hub, "plain")
    assert hub.dispatcher.hooks is False
    hub2 = build(make_hub, "plain2", plugins=(Recorder(),))
    assert hub2.dispatcher.hooks is True


# --- intake hooks -----------------------------------------------------------------------------


class Declines:
    def __init__(self) -> None:
        self.called = 0

    @hookimpl(tryfirst=True)
    def hub_classify(self, document: DocumentIn) -> str | None:
        self.called += 1
        return None


class Decides:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.called = 0

    @hookimpl
    def hub_classify(self, document: DocumentIn) -> str | None:
        self.called += 1
        return self.kind


class Default:
    def __init__(self) -> None:
        self.called = 0

    @hookimpl(trylast=True)
    def hub_classify(self, document: DocumentIn) -> str | None:
        self.called += 1
        return "petitie"


async def test_classify_is_firstresult(make_hub: MakeHub) -> None:
    declines, decides, default = Declines(), Decides("cerere_544"), Default()
    hub = build(make_hub, "sink", plugins=(default, decides, declines))
    item = hub.intake.prepare(DocumentIn(external_id="k-1", subject="Cerere 544"))
    assert item.row["kind"] == "cerere_544"
    assert (declines.called, decides.called, default.called) == (1, 1, 0)
    # When every other plugin declines, the trylast default decides.
    host = create_plugin_host(entry_points=False, extra=[Default(), Declines()])
    assert host.classify(DocumentIn(external_id="k-2")) == "petitie"
    assert create_plugin_host(entry_points=False).classify(DocumentIn(external_id="k-3")) is None


class ExtraRoutes:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    @hookimpl
    def hub_route(self, document: DocumentIn, kind: str) -> list[Destination] | None:
        self.seen.append((document.external_id, kind))
        if kind != "amenda":
            return None
        return [Destination(connector="extra", target="DF"), Destination(connector="main")]


async def test_route_adds_extra_destinations(make_hub: MakeHub) -> None:
    extra = ExtraRoutes()
    hub = build(
        make_hub,
        "main",
        "extra",
        rules={"default_after": "main", "fallback": {"destinations": [{"connector": "main"}]}},
        plugins=(extra,),
    )
    [fine] = await submit(hub, 1, prefix="fine", kind="amenda")
    [other] = await submit(hub, 1, prefix="other", kind="petitie")
    assert extra.seen == [("fine-0", "amenda"), ("other-0", "petitie")]
    rows = hub.ledger.deliveries_of(fine)
    assert [(d["connector"], d["target"], d["state"], d["depends_on"]) for d in rows] == [
        ("main", None, "pending", None),
        ("extra", "DF", "waiting", "main"),
    ]
    assert [d["connector"] for d in hub.ledger.deliveries_of(other)] == ["main"]
    async with workers(hub):
        await until(lambda: state_is(hub, fine, "delivered", "extra"), "extra delivered")
    [job] = scripted(hub, "extra").calls
    assert job.target == "DF"


# --- contributions and operations -------------------------------------------------------------


class FeedSettings(SourceSettings):
    feed_url: str = Field(default="http://127.0.0.1:1/feed", description="Where to poll")


class FeedSource(Source):
    name = "feed"
    settings_model = FeedSettings

    async def poll(self, cursor: dict[str, Any] | None) -> PollResult:
        return PollResult()


class Contributions:
    def __init__(self) -> None:
        self.startups: list[HubSettings] = []
        self.health_settings: list[HubSettings] = []

    @hookimpl
    def hub_register_sources(self, register: Any) -> None:
        register(FeedSource)

    @hookimpl
    def hub_register_commands(self, cli: typer.Typer) -> None:
        @cli.command("greet")
        def greet(who: str = "registratura") -> None:
            typer.echo(f"salut, {who}")

    @hookimpl
    def hub_register_routes(self, router: APIRouter, settings: HubSettings) -> None:
        @router.get("/feed/status")
        async def status() -> dict[str, Any]:
            return {"port": settings.api_port}

    @hookimpl
    def hub_health_checks(self, settings: HubSettings) -> list[HealthCheck]:
        self.health_settings.append(settings)
        return [HealthCheck(name="feed reachable", ok=False, detail="connection refused")]

    @hookimpl
    def hub_startup(self, settings: HubSettings) -> None:
        self.startups.append(settings)


def test_register_sources_builds_sources_with_their_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host = create_plugin_host(entry_points=False, extra=[Contributions()])
    assert host.source_classes() == {"feed": FeedSource}
    monkeypatch.setenv("HUB_FEED__FEED_URL", "http://127.0.0.1:9/other")
    monkeypatch.setenv("HUB_FEED__INTERVAL_SECONDS", "5")
    settings = load_settings(host.settings_sections())
    assert settings.section("feed").feed_url == "http://127.0.0.1:9/other"
    assert settings.section("feed").interval_seconds == 5
    assert [st.sources for st in host.statuses] == [["feed"]]


async def test_sources_reach_the_hub(make_hub: MakeHub) -> None:
    hub = make_hub(
        entry_points=False,
        plugins=(hub_builtin_noop(), Contributions()),
        rules={"fallback": {"destinations": [{"connector": "noop"}]}},
    )
    source = hub.sources["feed"]
    assert isinstance(source, FeedSource)
    assert isinstance(source.settings, FeedSettings)


def hub_builtin_noop() -> object:
    return hub.builtin.noop


def test_register_commands() -> None:
    host = create_plugin_host(entry_points=False, extra=[Contributions()])
    cli = typer.Typer()

    @cli.command("version")
    def version() -> None:
        typer.echo("0")

    host.register_commands(cli)
    result = CliRunner().invoke(cli, ["greet", "--who", "Ion"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "salut, Ion"


async def test_register_routes() -> None:
    host = create_plugin_host(entry_points=False, extra=[Contributions()])
    settings = load_settings(host.settings_sections(), api_port=8123)
    router = APIRouter()
    host.register_routes(router, settings)
    app = FastAPI()
    app.include_router(router, prefix="/api/v1")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
        resp = await client.get("/api/v1/feed/status")
    assert resp.status_code == 200
    assert resp.json() == {"port": 8123}


async def test_health_checks_and_startup(make_hub: MakeHub) -> None:
    contributions = Contributions()
    hub = make_hub(
        entry_points=False,
        plugins=(hub_builtin_noop(), contributions),
        rules={"fallback": {"destinations": [{"connector": "noop"}]}},
    )
    checks = await hub.health()
    assert checks[0].name == "ledger" and checks[0].ok
    assert HealthCheck(name="feed reachable", ok=False, detail="connection refused") in checks
    assert contributions.health_settings == [hub.settings]
    assert contributions.startups == []
    await hub.start()
    await hub.start()
    assert contributions.startups == [hub.settings], "called once, with the settings"


# --- dashboard pages --------------------------------------------------------------------------


async def _rows(hub: Any, principal: Any) -> DashboardTable:
    return DashboardTable(columns=["Nume"], rows=[["unu"]])


class Pages:
    def __init__(self, *pages: DashboardPage) -> None:
        self.pages = pages

    @hookimpl
    def hub_register_dashboard_pages(self, register: Any) -> None:
        for page in self.pages:
            register(page)


def test_register_dashboard_pages_checks_what_is_registered() -> None:
    one = DashboardPage(slug="registru-b", title="Registru B", scope="read", load=_rows)
    two = DashboardPage(slug="registru-a", title="Arhivă", scope="operator", load=_rows)
    host = create_plugin_host(entry_points=False, extra=[Pages(one, two)])
    assert host.dashboard_pages() == [two, one]  # by title
    assert one.path == "/pages/registru-b"

    clash = DashboardPage(slug="registru-b", title="Altul", scope="read", load=_rows)
    host = PluginHost()
    host.register(Pages(one), name="first")
    host.register(Pages(clash), name="second")
    with pytest.raises(ConfigurationError, match="'first' and by plugin 'second'"):
        host.dashboard_pages()

    for bad, match in (
        (DashboardPage(slug="../x", title="X", scope="read", load=_rows), "slug"),
        (DashboardPage(slug="x", title="X", scope="everything", load=_rows), "unknown scope"),
        (DashboardPage(slug="x", title=" ", scope="read", load=_rows), "title"),
        ("<p>page</p>", "not a DashboardPage"),
    ):
        host = create_plugin_host(entry_points=False, extra=[Pages(bad)])  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match=match):
            host.dashboard_pages()


def test_a_failing_dashboard_pages_hook_marks_its_plugin_failed() -> None:
    class Broken:
        @hookimpl
        def hub_register_dashboard_pages(self, register: Any) -> None:
            raise RuntimeError("boom")

    host = PluginHost()
    host.register(Broken(), name="broken")
    assert host.dashboard_pages() == []
    assert [(s.name, s.status) for s in host.statuses] == [("broken", "failed")]


def test_dashboard_table_is_checked() -> None:
    table = DashboardTable(columns=["A", "B"], rows=[[1, None]])  # type: ignore[list-item]
    assert table.checked().rows == [["1", ""]]
    with pytest.raises(TypeError, match="2 cells, not 3"):
        DashboardTable(columns=["A", "B", "C"], rows=[["x", "y"]]).checked()
