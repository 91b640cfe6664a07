"""The HTTP API for operators: deliveries (list, replay, cancel, bulk), connectors, sources,
metrics, probes, OpenAPI and plugin routes — against a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from sqlalchemy import create_engine, select

from hub.api.auth import Principal, require_scope
from hub.connectors import Connector
from hub.db.schema import events
from hub.errors import PermanentError
from hub.hookspecs import hookimpl
from hub.models import Job, Receipt
from hub.settings import HubSettings
from hub.testing.factories import valid_cnp
from hub.testing.probes import capture_structlog
from tests.fixtures import MakeHub
from tests.servers import ApiHarness, running_api, running_workers, until
from tests.test_api import document


class FlakyConnector(Connector):
    """Refuses every document (permanently) until a test tells it to accept."""

    name = "flaky"
    description = "Refuses while told to (tests)"

    failing = True

    async def deliver(self, job: Job) -> Receipt:
        if self.failing:
            raise PermanentError("remote refused the document (test)")
        return Receipt(remote_id=f"ok-{job.delivery_id}")


class CloseIn(BaseModel):
    reason: str


class FlakyPlugin:
    @hookimpl
    def hub_register_connectors(self, register: Any) -> None:
        register(FlakyConnector)

    @hookimpl
    def hub_register_routes(self, router: APIRouter, settings: HubSettings) -> None:
        @router.get("/flaky/ping")
        async def ping(request: Request) -> dict[str, str]:
            return {"pong": request.state.principal.name}

        @router.post("/flaky/{n}/close")
        async def close(
            n: int, body: CloseIn, principal: Principal = Depends(require_scope("operator"))
        ) -> dict[str, Any]:
            return {"n": n, "by": principal.actor}

        @router.get("/flaky/boom")
        async def boom() -> None:
            raise RuntimeError(f"bug while handling CNP {BOOM_CNP}")


BOOM_CNP = valid_cnp(serial=777)
FLAKY_RULES = {"fallback": {"destinations": [{"connector": "flaky"}]}}


@pytest.fixture
async def api(make_hub: MakeHub) -> AsyncIterator[ApiHarness]:
    async with running_api(make_hub()) as harness:
        yield harness


@pytest.fixture
async def flaky_api(make_hub: MakeHub) -> AsyncIterator[ApiHarness]:
    hub = make_hub(plugins=(FlakyPlugin(),), rules=FLAKY_RULES)
    async with running_api(hub) as harness:
        yield harness


async def post_many(api: ApiHarness, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        r = await api.post_document(document())
        assert r.status_code == 201
        ids.append(r.json()["id"])
    return ids


async def deliveries(api: ApiHarness, **params: Any) -> list[dict[str, Any]]:
    r = await api.get("/api/v1/deliveries", **params)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def audit(api: ApiHarness, action: str) -> list[tuple[int | None, str, str | None]]:
    with api.hub.reader.connect() as conn:
        rows = conn.execute(
            select(events.c.delivery_id, events.c.actor, events.c.reason)
            .where(events.c.action == action)
            .order_by(events.c.id)
        ).all()
    return [(r.delivery_id, r.actor, r.reason) for r in rows]


# --- deliveries -----------------------------------------------------------------------------------


async def test_deliveries_keyset_pages(api: ApiHarness) -> None:
    await post_many(api, 5)
    seen: list[int] = []
    after = 0
    pages = 0
    while True:
        r = await api.get("/api/v1/deliveries", limit=2, after_id=after, state="pending")
        page = r.json()
        seen += [d["id"] for d in page["items"]]
        pages += 1
        if page["next_after_id"] is None:
            break
        after = page["next_after_id"]
    assert len(seen) == 5
    assert seen == sorted(set(seen))
    assert pages == 3
    assert await deliveries(api, state="delivered") == []
    assert len(await deliveries(api, connector="noop")) == 5


async def test_unknown_state_is_422_without_echo(api: ApiHarness) -> None:
    r = await api.get("/api/v1/deliveries", state="bogus-state")
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "invalid_request"
    assert err["errors"][0]["loc"] == ["query", "state"]
    assert "bogus-state" not in r.text


async def test_cancel_and_replay_one_with_audit(api: ApiHarness) -> None:
    await post_many(api, 1)
    (d,) = await deliveries(api)
    op = api.auth("operator")

    r = await api.client.post(
        f"/api/v1/deliveries/{d['id']}/cancel", json={"reason": "sent twice"}, headers=op
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "cancelled"

    again = await api.client.post(f"/api/v1/deliveries/{d['id']}/cancel", headers=op)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "invalid_state"
    assert "cancelled" in again.json()["error"]["message"]

    r = await api.client.post(f"/api/v1/deliveries/{d['id']}/replay", headers=op)
    assert r.status_code == 200
    assert r.json()["state"] == "pending"
    assert r.json()["attempts"] == 0

    pending_replay = await api.client.post(f"/api/v1/deliveries/{d['id']}/replay", headers=op)
    assert pending_replay.status_code == 409

    assert audit(api, "cancelled") == [(d["id"], "token:operator", "sent twice")]
    assert audit(api, "replayed") == [(d["id"], "token:operator", None)]

    missing = await api.client.post("/api/v1/deliveries/987654/replay", headers=op)
    assert missing.status_code == 404
    forbidden = await api.client.post(
        f"/api/v1/deliveries/{d['id']}/cancel", headers=api.auth("reader")
    )
    assert forbidden.status_code == 403
    assert (await api.get(f"/api/v1/deliveries/{d['id']}")).json()["state"] == "pending"


async def test_dead_letters_replayed_one_and_in_bulk_get_delivered(flaky_api: ApiHarness) -> None:
    api = flaky_api
    op = api.auth("operator")
    async with running_workers(api.hub):
        await post_many(api, 3)

        async def all_dead() -> bool:
            return len(await deliveries(api, state="dead")) == 3

        await until(all_dead, what="three dead letters")
        dead = await deliveries(api, state="dead")
        assert dead[0]["last_error"] == "remote refused the document (test)"

        api.hub.connectors["flaky"].failing = False  # type: ignore[attr-defined]
        r = await api.client.post(
            f"/api/v1/deliveries/{dead[0]['id']}/replay", json={"reason": "fixed"}, headers=op
        )
        assert r.status_code == 200
        bulk = await api.client.post(
            "/api/v1/deliveries/replay",
            json={"connector": "flaky", "reason_contains": "refused", "reason": "fixed remote"},
            headers=op,
        )
        assert bulk.status_code == 200, bulk.text
        assert bulk.json() == {"action": "replay", "count": 2}

        async def all_delivered() -> bool:
            return len(await deliveries(api, state="delivered")) == 3

        await until(all_delivered, what="the replayed deliveries to be delivered")

    replayed = audit(api, "replayed")
    assert sorted(r[0] or 0 for r in replayed) == sorted(d["id"] for d in dead)
    assert {(r[1], r[2]) for r in replayed} == {
        ("token:operator", "fixed"),
        ("token:operator", "fixed remote"),
    }
    connectors = {c["name"]: c for c in (await api.get("/api/v1/connectors")).json()}
    flaky = connectors["flaky"]
    assert flaky["counts"]["delivered"] == 3
    assert flaky["counts"]["dead"] == 0
    assert flaky["last_success_at"] is not None
    assert flaky["description"] == "Refuses while told to (tests)"


async def test_bulk_cancel_and_replay_by_ids(api: ApiHarness) -> None:
    await post_many(api, 3)
    ids = [d["id"] for d in await deliveries(api)]
    op = api.auth("operator")

    r = await api.client.post(
        "/api/v1/deliveries/cancel", json={"ids": ids[:2], "reason": "test"}, headers=op
    )
    assert r.json() == {"action": "cancel", "count": 2}
    r = await api.client.post("/api/v1/deliveries/cancel", json={"all": True}, headers=op)
    assert r.json() == {"action": "cancel", "count": 1}
    r = await api.client.post(
        "/api/v1/deliveries/replay", json={"ids": ids, "states": ["cancelled"]}, headers=op
    )
    assert r.json() == {"action": "replay", "count": 3}
    assert len(audit(api, "cancelled")) == 3
    assert len(audit(api, "replayed")) == 3
    assert {d["state"] for d in await deliveries(api)} == {"pending"}


async def test_bulk_needs_a_criterion_and_allowed_states(api: ApiHarness) -> None:
    await post_many(api, 1)
    op = api.auth("operator")
    empty = await api.client.post("/api/v1/deliveries/cancel", json={}, headers=op)
    assert empty.status_code == 422
    delivered = await api.client.post(
        "/api/v1/deliveries/cancel", json={"all": True, "states": ["delivered"]}, headers=op
    )
    assert delivered.status_code == 422
    assert delivered.json()["error"]["errors"][0]["loc"] == ["body", "states"]
    reader = await api.client.post(
        "/api/v1/deliveries/cancel", json={"all": True}, headers=api.auth("reader")
    )
    assert reader.status_code == 403
    assert {d["state"] for d in await deliveries(api)} == {"pending"}


# --- connectors, sources, metrics -----------------------------------------------------------------


async def test_connectors_show_plugin_circuit_and_counts(api: ApiHarness) -> None:
    await post_many(api, 2)
    r = await api.get("/api/v1/connectors")
    assert r.status_code == 200
    noop = {c["name"]: c for c in r.json()}["noop"]
    assert noop["plugin"] == "noop"
    assert noop["circuit"] == "closed"
    assert noop["enabled"] is True
    assert noop["counts"]["pending"] == 2
    assert noop["last_success_at"] is None


async def test_sources_show_their_state(api: ApiHarness) -> None:
    await api.hub.runner.write(api.hub.ledger.source_failed, "test-feed", "remote timed out")
    r = await api.get("/api/v1/sources")
    assert r.status_code == 200
    feed = {s["source"]: s for s in r.json()}["test-feed"]
    assert feed["last_error"] == "remote timed out"
    assert feed["last_poll_at"] is not None
    assert set(api.hub.sources) <= {s["source"] for s in r.json()}


async def test_metrics_are_refreshed_and_need_a_scope(api: ApiHarness) -> None:
    await post_many(api, 2)
    r = await api.get("/metrics", role="metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert "# TYPE hub_deliveries_total counter" in r.text
    assert 'hub_backlog{connector="noop"} 2.0' in r.text
    assert 'hub_documents_total{channel="ghiseu",kind="petitie"} 2.0' in r.text
    assert (await api.get("/metrics", role="reader")).status_code == 200
    assert (await api.get("/metrics", role="intake")).status_code == 403
    assert (await api.client.get("/metrics")).status_code == 401


async def test_health_details_need_a_token(api: ApiHarness) -> None:
    assert (await api.client.get("/api/v1/health")).status_code == 401
    r = await api.get("/api/v1/health")
    assert r.status_code == 200
    assert {k: v for k, v in r.json()["checks"][0].items() if k != "detail"} == {
        "name": "ledger",
        "ok": True,
    }


# --- probes, OpenAPI, plugin routes ---------------------------------------------------------------


async def test_probes_need_no_token(api: ApiHarness) -> None:
    live = await api.client.get("/healthz")
    assert live.status_code == 200
    assert live.json() == {"status": "ok"}
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"ledger": "ok", "schema": "ok"}}


async def test_readyz_fails_without_details_when_the_ledger_is_gone(api: ApiHarness) -> None:
    good = api.hub.reader
    broken = create_engine(f"sqlite:////nonexistent-{uuid.uuid4().hex}/hub.db")
    api.hub.reader = broken
    try:
        r = await api.client.get("/readyz")
    finally:
        api.hub.reader = good
        broken.dispose()
    assert r.status_code == 503
    err = r.json()["error"]
    assert err["code"] == "not_ready"
    assert [e["loc"] for e in err["errors"]] == [["ledger"], ["schema"]]
    assert "nonexistent" not in r.text
    assert "sqlite" not in r.text.lower()


async def test_readyz_fails_when_the_schema_is_behind(
    make_hub: MakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hub.api.routes.probes.missing_revisions", lambda engine: ["9999_future"])
    async with running_api(make_hub()) as api:
        r = await api.client.get("/readyz")
    assert r.status_code == 503
    assert [e["loc"] for e in r.json()["error"]["errors"]] == [["schema"]]


async def test_openapi_documents_the_api(api: ApiHarness) -> None:
    # The document needs a token or a dashboard session too (issue #9).
    assert (await api.client.get("/openapi.json")).status_code == 401
    r = await api.client.get("/openapi.json", headers=api.auth("reader"))
    assert r.status_code == 200
    spec = r.json()
    intake = spec["paths"]["/api/v1/documents"]["post"]
    ref = intake["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/DocumentIn"
    schemas = spec["components"]["schemas"]
    assert "sender" in schemas["DocumentIn"]["properties"]
    assert "Sender" in schemas and "AttachmentIn" in schemas
    assert {"201", "200", "409", "413", "415", "422"} <= set(intake["responses"])
    assert intake["security"] == [{"HTTPBearer": []}]
    assert [p["name"] for p in intake["parameters"]] == ["Idempotency-Key"]
    assert {t["name"] for t in spec["tags"]} >= {"documents", "deliveries", "operations"}
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    for path in (
        "/api/v1/documents/{document_id}",
        "/api/v1/deliveries",
        "/api/v1/deliveries/{delivery_id}/replay",
        "/api/v1/deliveries/replay",
        "/api/v1/connectors",
        "/api/v1/sources",
        "/metrics",
        "/healthz",
        "/readyz",
    ):
        assert path in spec["paths"], path
    assert (await api.client.get("/docs", headers=api.auth("reader"))).status_code == 200


async def test_plugin_routes_are_mounted_behind_auth(flaky_api: ApiHarness) -> None:
    assert (await flaky_api.client.get("/api/v1/flaky/ping")).status_code == 401
    r = await flaky_api.get("/api/v1/flaky/ping", role="reader")
    assert r.status_code == 200
    assert r.json() == {"pong": "reader"}


async def test_plugin_scopes_are_checked_before_the_request_is_validated(
    flaky_api: ApiHarness,
) -> None:
    # require_scope is a dependency: 403 for a reader even when path and body are both invalid.
    for path, body in (("/api/v1/flaky/x/close", {}), ("/api/v1/flaky/1/close", {"reason": "r"})):
        r = await flaky_api.client.post(path, json=body, headers=flaky_api.auth("reader"))
        assert r.status_code == 403, r.text
        assert r.json()["error"] == {
            "code": "forbidden",
            "message": "this token lacks the 'operator' scope",
            "errors": [],
        }
    r = await flaky_api.client.post(
        "/api/v1/flaky/x/close", json={}, headers=flaky_api.auth("operator")
    )
    assert r.status_code == 422
    r = await flaky_api.client.post(
        "/api/v1/flaky/1/close", json={"reason": "r"}, headers=flaky_api.auth("operator")
    )
    assert r.status_code == 200
    assert r.json() == {"n": 1, "by": "token:operator"}
    with pytest.raises(ValueError, match="unknown scope"):
        require_scope("operators")


async def test_unknown_routes_use_the_error_body(api: ApiHarness) -> None:
    r = await api.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    r = await api.client.delete("/healthz")
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "method_not_allowed"


async def test_unexpected_errors_are_500_without_detail(
    flaky_api: ApiHarness, capfd: pytest.CaptureFixture[str]
) -> None:
    with capture_structlog() as logs:
        r = await flaky_api.get("/api/v1/flaky/boom")
    assert r.status_code == 500
    assert r.json() == {
        "error": {
            "code": "internal_error",
            "message": "internal error; see the hub's log",
            "errors": [],
        }
    }
    assert BOOM_CNP not in r.text
    unhandled = [e for e in logs if e["event"] == "hub.api.unhandled"]
    assert [(e["error_type"], e["path"]) for e in unhandled] == [
        ("RuntimeError", "/api/v1/flaky/boom")
    ]
    assert (await flaky_api.client.get("/healthz")).status_code == 200
    # Nothing bypassed the hub's logging: the server printed no raw traceback.
    printed = capfd.readouterr()
    assert BOOM_CNP not in printed.out + printed.err
