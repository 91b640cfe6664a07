"""Operability: the source's status in ``hub status``, ``/api/v1/sources``, ``/metrics`` and
the plugin's own ``/api/v1/invoices/{status,messages}`` and ``hub invoices`` commands."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import hostile
import pytest
import structlog
from hub_invoices.simulator import SUPPLIERS, EFacturaSimulator
from invoices_helpers import source_of, start_source
from structlog.testing import capture_logs
from typer.testing import CliRunner

from hub.cli.main import build_app
from hub.routing import RoutingRules
from hub.runtime import Hub
from tests.servers import running_api


async def _polled_hub(invoices_hub: Callable[..., Hub], anaf: EFacturaSimulator) -> Hub:
    anaf.add_invoice(SUPPLIERS[0])
    anaf.add_invoice(SUPPLIERS[1])
    anaf.add_invoice(xml=hostile.XXE)
    anaf.add_error_message()
    hub = invoices_hub()
    await start_source(hub)
    await hub.source_runner.poll_once("efactura", source_of(hub))
    await hub.source_runner.poll_once("efactura", source_of(hub))
    return hub


async def test_status_in_api_metrics_and_plugin_routes(
    invoices_hub: Callable[..., Hub], anaf: EFacturaSimulator
) -> None:
    hub = await _polled_hub(invoices_hub, anaf)
    async with running_api(hub) as api:
        sources = (await api.get("/api/v1/sources")).json()
        efactura = next(s for s in sources if s["source"] == "efactura")
        status = efactura["status"]
        assert status["registered_today"] == 2
        assert status["errors_today"] == 2
        assert status["backlog"] == 0
        assert status["quota_used_today"]["paged"] == anaf.list_calls_today("paged")
        assert efactura["last_error"] is None

        metrics = (await api.get("/metrics", role="metrics")).text
        assert 'hub_source_status{key="registered_today",source="efactura"} 2.0' in metrics
        calls = float(anaf.list_calls_today("paged"))
        assert f'hub_source_status{{key="quota_used_today_paged",source="efactura"}} {calls}' in (
            metrics
        )

        errors = (await api.get("/api/v1/invoices/messages", state="error")).json()["messages"]
        assert len(errors) == 1 and "DOCTYPE or ENTITY" in errors[0]["error"]
        anaf_errors = (await api.get("/api/v1/invoices/messages", state="anaf_error")).json()
        assert "BR-RO-010" in anaf_errors["messages"][0]["error"]
        bad = await api.get("/api/v1/invoices/messages", state="bogus")
        assert bad.status_code == 422
        denied = await api.get("/api/v1/invoices/messages", role="intake")
        assert denied.status_code == 403
        st = (await api.get("/api/v1/invoices/status")).json()
        assert st["registered_today"] == 2 and st["last_success_at"] is not None


@pytest.fixture
def cli_env(
    monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path, anaf: EFacturaSimulator
) -> dict[str, str]:
    routing = tmp_path / "routing.toml"
    routing.write_text('[fallback]\ndestinations = [{ connector = "noop" }]\n', encoding="utf-8")
    section = anaf.settings()
    env = {
        "HUB_DATABASE_URL": database_url,
        "HUB_ROUTING_FILE": str(routing),
        "HUB_DATA_DIR": str(tmp_path / "data"),
        "HUB_LOAD_PLUGINS": "invoices,noop",
    }
    for key, value in section.items():
        env[f"HUB_INVOICES__{key.upper()}"] = str(value)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def _invoke(*args: str, input: str | None = None) -> tuple[int, str]:
    with capture_logs():
        app = build_app()
    old = structlog.get_config()
    try:
        with capture_logs():
            result = CliRunner().invoke(app, list(args), input=input)
    finally:
        structlog.configure(**old)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


async def test_cli_status_messages_and_login(
    cli_env: dict[str, str], anaf: EFacturaSimulator
) -> None:
    anaf.add_invoice(SUPPLIERS[2])
    anaf.add_invoice(xml=hostile.MALFORMED)
    # A hub built from the environment, as the CLI builds it: poll once through it.
    rules = RoutingRules.model_validate({"fallback": {"destinations": [{"connector": "noop"}]}})
    polled = Hub.create(rules=rules)
    try:
        await source_of(polled).start()
        await polled.source_runner.poll_once("efactura", source_of(polled))
    finally:
        await polled.aclose()

    code, out = await asyncio.to_thread(_invoke, "status")
    assert code == 0, out
    assert "efactura:" in out and "registered today" in out and "quota used today" in out

    code, out = await asyncio.to_thread(_invoke, "invoices", "status", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["quota_used_today"]["paged"] == anaf.list_calls_today("paged")
    assert data["messages"]["ready"] == 1 and data["messages"]["error"] == 1

    code, out = await asyncio.to_thread(_invoke, "invoices", "messages", "--state", "error")
    assert code == 0, out
    assert "malformed XML" in out

    # Login: the printed URL, a code pasted (hidden), both tokens stored — none printed.
    code, out = await asyncio.to_thread(_invoke, "invoices", "login", input="not-a-code\n")
    assert code == 2 and "ANAF refused the token request" in out
    auth_code = anaf.issue_code()
    code, out = await asyncio.to_thread(_invoke, "invoices", "login", input=f"{auth_code}\n")
    assert code == 0, out
    assert "anaf-oauth2/v1/authorize?response_type=code" in out
    assert "tokens stored (encrypted)" in out
    assert auth_code not in out and "eyJ" not in out


async def test_source_health_and_token_expiry(
    invoices_hub: Callable[..., Hub], anaf: EFacturaSimulator
) -> None:
    hub = await _polled_hub(invoices_hub, anaf)
    src = source_of(hub)
    checks = await src.health()
    assert [c.ok for c in checks] == [True] and "refresh token valid 365" in checks[0].detail
    status = await src.status()
    assert 364 < status["refresh_token_days_left"] <= 365
