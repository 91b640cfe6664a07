"""The demo's parts (samples, rules, sink, simulator hook) and API + workers in one loop."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any, ClassVar

import httpx
import orjson
import pytest
from stdnum.ro import cnp as ro_cnp
from stdnum.ro import cui as ro_cui

from hub.builtin.signing import sign
from hub.demo.runner import demo_rules, left_out, load_demo_rules
from hub.demo.samples import samples
from hub.demo.simulators import DemoContext, DemoSimulator
from hub.demo.sink import WebhookSink
from hub.errors import ConfigurationError
from hub.hookspecs import hookimpl
from hub.models import DeliveryState
from hub.plugins import PluginStatus, create_plugin_host
from hub.routing import load_rules
from hub.serve import HubServer, bind, serve
from tests.fixtures import MakeHub

# --- samples ------------------------------------------------------------------------------------


def test_samples_are_realistic_and_obviously_fictitious() -> None:
    items = samples()
    assert 18 <= len(items) <= 25
    docs = [s.document for s in items]
    assert len({d.external_id for d in docs}) == len(docs)
    kinds = {d.kind for d in docs}
    assert {"petitie", "cerere_544", "amenda", "act_executare_fiscala", "act_procedura"} <= kinds
    for d in docs:
        sender = d.sender
        if sender is None:
            continue
        if sender.name:
            assert "-Test" in sender.name or "Demo" in sender.name, "names must look fake"
        if sender.cnp:
            assert ro_cnp.is_valid(sender.cnp)
        if sender.cui:
            assert ro_cui.is_valid(sender.cui)
        if sender.email:
            assert sender.email.endswith("@example.ro")
    assert any(d.attachments for d in docs)
    # Romanian with comma-below diacritics, never the cedilla forms.
    text = " ".join(d.subject + d.body for d in docs)
    assert "ș" in text and "ț" in text
    assert "ş" not in text and "ţ" not in text


@pytest.mark.parametrize("with_webcon", [False, True])
def test_demo_rules_route_each_sample_as_it_says(with_webcon: bool) -> None:
    available = {"webhook", "noop", "email"} | ({"webcon"} if with_webcon else set())
    rules, targets = demo_rules(load_demo_rules(), available)
    assert set(targets) == {"webhook", "email"}
    assert set(targets["webhook"]) == {"DE", "DF", "DJ", "DT", "REG", "URB"}
    assert set(targets["email"]) == {"STPT"}
    assert any(s.emails for s in samples())
    for sample in samples():
        doc = sample.document
        route = rules.route(doc, doc.kind or "altele")
        webhook = {d.target for d in route.destinations if d.connector == "webhook"}
        assert webhook == sample.targets, doc.subject
        emailed = {d.target for d in route.destinations if d.connector == "email"}
        assert emailed == sample.emails, doc.subject
        assert route.department == sample.department, doc.subject
        connectors = {d.connector for d in route.destinations}
        assert connectors <= available
        if with_webcon:
            assert "webcon" in connectors
            assert all(d.after == "webcon" for d in route.destinations if d.connector != "webcon")
        else:
            assert all(d.after is None for d in route.destinations)


def test_routing_example_is_valid_and_routes_like_the_demo() -> None:
    rules = load_rules(Path(__file__).parent.parent / "routing.example.toml")
    named = {d.connector for r in rules.rule for d in r.destinations}
    named |= {d.connector for d in rules.fallback.destinations}
    assert named == {"webcon", "fiscal", "webhook", "receipt", "email"}
    for sample in samples():
        doc = sample.document
        route = rules.route(doc, doc.kind or "altele")
        assert {d.target for d in route.destinations if d.connector == "webhook"} == sample.targets
        assert {d.target for d in route.destinations if d.connector == "email"} == sample.emails
        assert route.department == sample.department


def test_demo_rules_drop_what_cannot_run() -> None:
    raw = {
        "default_after": "webcon",
        "rule": [
            {
                "name": "a",
                "kinds": ["x"],
                "destinations": [
                    {"connector": "fiscal"},
                    {"connector": "webhook", "target": "DF", "after": "gone"},
                    {"connector": "noop"},
                ],
            },
        ],
        "fallback": {"destinations": [{"connector": "webcon"}]},
    }
    rules, targets = demo_rules(raw, {"webhook", "noop"})
    assert rules.default_after is None
    assert [d.connector for d in rules.rule[0].destinations] == ["noop"]
    assert rules.fallback.destinations == []
    assert targets == {}
    assert raw["rule"][0]["destinations"][0] == {"connector": "fiscal"}  # input untouched


def test_plugins_without_a_simulator_are_left_out_of_the_demo() -> None:
    statuses = [
        PluginStatus("webhook", "registry-hub", "1", "loaded", connectors=["webhook"]),
        PluginStatus("noop", "registry-hub", "1", "loaded", connectors=["noop"]),
        PluginStatus("webcon", "hub-webcon", "1", "loaded", connectors=["webcon"]),
        PluginStatus("courts", "hub-courts", "1", "loaded", sources=["courts"]),
        PluginStatus("classifier", "hub-x", "1", "loaded"),
        PluginStatus("broken", "hub-y", "1", "failed", connectors=["y"]),
    ]
    assert left_out(statuses, with_simulator={"webcon"}) == ["courts"]
    assert left_out(statuses, with_simulator=set()) == ["courts", "webcon"]


def test_connectors_served_by_another_plugins_simulator_take_part() -> None:
    statuses = [
        PluginStatus("email", "registry-hub", "1", "loaded", connectors=["email"]),
        PluginStatus("receipt", "registry-hub", "1", "loaded", connectors=["receipt"]),
        PluginStatus("mailbox", "registry-hub", "1", "loaded", sources=["mailbox"]),
    ]
    covered = {"email", "receipt"}  # the demo's SMTP server stands in for both
    assert left_out(statuses, with_simulator={"email"}, covered=covered) == ["mailbox"]
    assert left_out(statuses, with_simulator={"email"}) == ["mailbox", "receipt"]


# --- the simulator hook -------------------------------------------------------------------------


class FakeSimulator(DemoSimulator):
    name = "fake-remote"
    connectors: ClassVar[tuple[str, ...]] = ("fake",)


class _SimPlugin:
    @hookimpl
    def hub_register_demo_simulators(self, register: Any) -> None:
        register(FakeSimulator)


class _BadSimPlugin:
    @hookimpl
    def hub_register_demo_simulators(self, register: Any) -> None:
        register(dict)


def test_plugins_register_demo_simulators() -> None:
    host = create_plugin_host(entry_points=False, extra=[_SimPlugin()])
    found = host.demo_simulators()
    assert list(found) == ["fake-remote"]
    cls, owner = found["fake-remote"]
    assert cls is FakeSimulator
    assert owner  # the plugin that registered it, for the demo's selection


def test_a_simulator_must_be_a_demo_simulator_class() -> None:
    host = create_plugin_host(entry_points=False, extra=[_BadSimPlugin()])
    with pytest.raises(ConfigurationError, match="not a DemoSimulator class"):
        host.demo_simulators()


# --- the sink -----------------------------------------------------------------------------------


async def test_sink_verifies_signatures_and_counts_per_target(tmp_path: Any) -> None:
    sink = WebhookSink(fail_every=0)
    overrides = await sink.start(DemoContext(tmp_path, {"webhook": ["DF", "reg"]}))
    try:
        endpoints = overrides["webhook"]["endpoints"]
        assert set(endpoints) == {"DF", "REG"}
        assert endpoints["DF"]["secret"] != endpoints["REG"]["secret"]
        body = orjson.dumps({"type": "document.routed"})

        def headers(secret: str, msg_id: str) -> dict[str, str]:
            ts = int(time.time())
            return {
                "webhook-id": msg_id,
                "webhook-timestamp": str(ts),
                "webhook-signature": sign(secret, msg_id, ts, body),
            }

        async with httpx.AsyncClient() as client:
            df = endpoints["DF"]
            ok = await client.post(df["url"], content=body, headers=headers(df["secret"], "m1"))
            again = await client.post(df["url"], content=body, headers=headers(df["secret"], "m1"))
            wrong = await client.post(
                df["url"], content=body, headers=headers(endpoints["REG"]["secret"], "m2")
            )
            unknown = await client.post(
                df["url"].replace("/DF", "/XX"), content=body, headers=headers(df["secret"], "m3")
            )
        assert (ok.status_code, again.status_code) == (204, 204)
        assert wrong.status_code == 401
        assert unknown.status_code == 404
        counters = sink.counters()
        assert counters["DF"] == 1 and counters["REG"] == 0
        assert counters["duplicates"] == 1
        assert counters["rejected (bad signature)"] == 2
    finally:
        await sink.stop()


async def test_sink_answers_503_once_to_show_retries(tmp_path: Any) -> None:
    sink = WebhookSink(fail_every=1)
    overrides = await sink.start(DemoContext(tmp_path, {"webhook": ["DJ"]}))
    try:
        ep = overrides["webhook"]["endpoints"]["DJ"]
        body = b"{}"
        ts = int(time.time())
        h = {
            "webhook-id": "m",
            "webhook-timestamp": str(ts),
            "webhook-signature": sign(ep["secret"], "m", ts, body),
        }
        async with httpx.AsyncClient() as client:
            first = await client.post(ep["url"], content=body, headers=h)
            second = await client.post(ep["url"], content=body, headers=h)
        assert first.status_code == 503
        assert first.headers["retry-after"] == "1"
        assert second.status_code == 204
        assert sink.total_received() == 1
    finally:
        await sink.stop()


# --- API and workers in one loop ----------------------------------------------------------------


async def _until(predicate: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_server_runs_api_and_workers_together_and_stops_gracefully(
    make_hub: MakeHub,
) -> None:
    hub = make_hub(rules={"fallback": {"destinations": [{"connector": "noop"}]}})
    server = HubServer(hub, host="127.0.0.1", port=0)
    task = asyncio.create_task(server.run(handle_signals=False))
    await asyncio.wait_for(server.ready.wait(), 10)
    assert server.url is not None
    token = hub.ledger.create_token("t", ["admin"])
    async with httpx.AsyncClient(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        assert (await client.get("/healthz")).status_code == 200
        resp = await client.post("/api/v1/documents", json={"external_id": "one-loop"})
        assert resp.status_code == 201
        doc_id = resp.json()["id"]

    async def delivered() -> bool:
        rows = hub.ledger.deliveries_of(doc_id)
        return bool(rows) and all(r["state"] == DeliveryState.DELIVERED for r in rows)

    await _until(delivered)
    server.request_stop()
    await asyncio.wait_for(task, 30)
    assert task.exception() is None
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(f"{server.url}/healthz")


async def test_serve_stops_by_itself_after_stop_after(make_hub: MakeHub) -> None:
    hub = make_hub(overrides={"api_port": 0})
    started = time.monotonic()
    await asyncio.wait_for(serve(hub, stop_after=0.5), 30)
    assert time.monotonic() - started >= 0.5


async def test_server_needs_something_to_run(make_hub: MakeHub) -> None:
    with pytest.raises(ConfigurationError, match="nothing to run"):
        HubServer(make_hub(), api=False, workers=False)


def test_bind_reports_a_port_in_use() -> None:
    first = bind("127.0.0.1", 0)
    try:
        port = first.getsockname()[1]
        with pytest.raises(ConfigurationError, match="HUB_API_PORT"):
            bind("127.0.0.1", port)
    finally:
        first.close()


async def test_api_connections_are_sent_without_nagle_delays() -> None:
    """uvicorn writes a response's headers and its body separately. With Nagle's algorithm on,
    the body waits for the client's delayed ACK: ~40 ms on every response under load (it capped
    the end-to-end benchmark at ~570 documents/s). asyncio turns Nagle off (TCP_NODELAY) only
    on connections whose socket says TCP, so :func:`bind` must create the listening socket so."""
    sock = bind("127.0.0.1", 0)
    assert sock.proto == socket.IPPROTO_TCP
    loop = asyncio.get_running_loop()
    nodelay: asyncio.Future[int] = loop.create_future()

    class Accepted(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted = transport.get_extra_info("socket")
            nodelay.set_result(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    server = await loop.create_server(Accepted, sock=sock)  # what uvicorn does with it
    try:
        _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        assert await asyncio.wait_for(nodelay, 10) != 0
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
