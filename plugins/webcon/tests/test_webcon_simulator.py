"""The simulator over real HTTP: OAuth2, element life cycle, validation against the published
document, errors in WEBCON's shape, search, and switchable faults."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from hub_webcon.simulator import WebconSimulator, guid_for, load_spec, registry_catalog
from hub_webcon.simulator.spec import SPEC_PATH, to_json_schema

DB = "/api/data/v6.0/db/1"
SPEC_SHA256 = "d68e7e70bd0a2be76d2b212e707a52e4ee80c1b579292159e95e861c7b1d0a98"
WF = guid_for("workflow", "Înregistrare documente")
FT_REG = guid_for("formtype", "Document intrat")
FT_PET = guid_for("formtype", "Petiție")
SUBJECT = guid_for("field", "Subiect")
CORR = guid_for("field", "ID document hub")
RECEIVED = guid_for("field", "Data primirii")
PATH_REGISTER = guid_for("path", "Înregistrează")
ERROR_KEYS = {"type", "description", "errorGuid"}


async def token(client: httpx.AsyncClient, **form: str) -> httpx.Response:
    data = {
        "grant_type": "client_credentials",
        "client_id": "hub-registratura",
        "client_secret": "sim-secret-not-for-production",
        **form,
    }
    return await client.post("/api/oauth2/token", data=data)


async def authed(sim: WebconSimulator) -> httpx.AsyncClient:
    """A client (not yet opened: use ``async with``) carrying a fresh bearer token."""
    async with httpx.AsyncClient(base_url=sim.url) as once:
        answer = await token(once)
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    return httpx.AsyncClient(base_url=sim.url, headers=headers)


def new_element(form_type: str = FT_REG, **fields: Any) -> dict[str, Any]:
    values = {SUBJECT: "Cerere test", CORR: "doc-1"} | fields
    return {
        "workflow": {"guid": WF},
        "formType": {"guid": form_type},
        "formFields": [{"guid": g, "svalue": v} for g, v in values.items() if v is not None],
        "comments": {"newComment": "din test"},
    }


def assert_webcon_error(answer: httpx.Response, status: int, error_type: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == ERROR_KEYS
    assert body["type"] == error_type
    assert re.fullmatch(r"[0-9a-f-]{36}", body["errorGuid"])
    return dict(body)


# --- the published document ---------------------------------------------------------------------


def test_bundled_document_is_the_published_one() -> None:
    assert hashlib.sha256(SPEC_PATH.read_bytes()).hexdigest() == SPEC_SHA256
    shared = Path(__file__).resolve().parents[4] / "shared/specs/webcon-bps-v6.0-openapi.json"
    if shared.exists():  # beside the repository on development machines and in CI
        assert shared.read_bytes() == SPEC_PATH.read_bytes()


def test_openapi_quirks_are_bridged() -> None:
    converted = to_json_schema(
        {"type": "String", "enum": ["A"], "nullable": True, "format": "int32"}
    )
    assert converted == {"type": ["string", "null"], "enum": ["A", None], "format": "int32"}
    assert to_json_schema({"$ref": "#/components/schemas/X", "nullable": True}) == {
        "$ref": "urn:webcon-bps-openapi#/components/schemas/X"
    }
    spec = load_spec()
    # A field with a value passes BaseField although the schema's own properties omit "value".
    assert spec.errors("5.0.Fields.BaseField", {"guid": "g", "value": "text"}) == []
    assert spec.errors("5.0.Elements.NewElement", {"workflow": {"guid": 7}}) != []
    assert spec.errors("5.0.Elements.NewElement", {"unknown": 1}) != []
    assert spec.errors("5.0.Fields.DateTimeField", {"value": "31.12.2026"}) != []


def test_operation_scopes_come_from_the_document() -> None:
    op = load_spec().operation("POST", "/api/data/v6.0/db/{dbId}/elements")
    assert "App.Elements.ReadWrite.All" in op.scopes
    assert "App.Elements.Read.All" not in op.scopes
    assert op.body_schema == "5.0.Elements.NewElement"


# --- OAuth2 --------------------------------------------------------------------------------------


async def test_token_endpoint_validates_client_and_scopes(webcon_sim: WebconSimulator) -> None:
    async with httpx.AsyncClient(base_url=webcon_sim.url) as client:
        ok = await token(client, scope="App.Metadata.Read")
        assert ok.status_code == 200
        body = ok.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 3600
        assert body["scope"] == "App.Metadata.Read"
        wrong = await token(client, client_secret="wrong-secret-value")
        assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
        scope = await token(client, scope="Admin.ReadWrite.All")
        assert (scope.status_code, scope.json()["error"]) == (400, "invalid_scope")
        grant = await client.post("/api/oauth2/token", data={"grant_type": "password"})
        assert grant.json()["error"] == "unsupported_grant_type"
        as_json = await client.post("/api/oauth2/token", json={"grant_type": "client_credentials"})
        assert as_json.json()["error"] == "invalid_request"


async def test_expires_in_can_be_omitted() -> None:
    async with (
        WebconSimulator(omit_expires_in=True) as sim,
        httpx.AsyncClient(base_url=sim.url) as client,
    ):
        body = (await token(client)).json()
        assert "expires_in" not in body and body["access_token"]


async def test_tokens_are_required_scoped_and_expire(webcon_sim: WebconSimulator) -> None:
    async with httpx.AsyncClient(base_url=webcon_sim.url) as anon:
        assert_webcon_error(await anon.get(f"{DB}/applications"), 401, "AuthenticationFailed")
        narrow = (await token(anon, scope="App.Metadata.Read")).json()["access_token"]
        denied = await anon.post(
            f"{DB}/elements",
            params={"path": "default"},
            json=new_element(),
            headers={"Authorization": f"Bearer {narrow}"},
        )
        assert_webcon_error(denied, 403, "InvalidScope")
    client = await authed(webcon_sim)
    async with client:
        assert (await client.get(f"{DB}/applications")).status_code == 200
        webcon_sim.expire_tokens()
        expired = await client.get(f"{DB}/applications")
        assert_webcon_error(expired, 401, "InvalidAuthenticationToken")


# --- elements ------------------------------------------------------------------------------------


async def test_create_numbers_per_form_type_and_reads_back(webcon_sim: WebconSimulator) -> None:
    async with await authed(webcon_sim) as client:
        numbers = []
        for form_type, extra in (
            (FT_REG, {}),
            (FT_REG, {}),
            (FT_PET, {RECEIVED: "2026-03-02T09:30:00Z"}),
        ):
            answer = await client.post(
                f"{DB}/elements",
                params={"path": PATH_REGISTER},
                json=new_element(form_type, **extra),
            )
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert set(body) == {"id", "instanceNumber", "status"}
            assert body["status"] == "MovedToNextStep"
            numbers.append(body["instanceNumber"])
        assert re.fullmatch(r"REG/\d{4}/\d{2}/00001", numbers[0])
        assert numbers[1].endswith("/00002") and numbers[1].startswith("REG/")
        assert re.fullmatch(r"PET/\d{4}/\d{2}/00001", numbers[2])
        element = (await client.get(f"{DB}/elements/{body['id']}")).json()
        header = element["header"]
        assert header["instanceNumber"] == numbers[2]
        assert header["step"]["guid"] == guid_for("step", "Repartizare")
        assert header["isFinished"] is False and header["finishDate"] is None
        values = {f["guid"]: f["value"] for f in element["formFields"]}
        assert values[CORR] == "doc-1"
        assert values[RECEIVED] == "2026-03-02T09:30:00Z"
        assert element["comments"]["existingEntries"][0]["comment"] == "din test"


async def test_validation_and_unknown_guids(webcon_sim: WebconSimulator) -> None:
    async with await authed(webcon_sim) as client:
        post = lambda body, path="default": client.post(  # noqa: E731
            f"{DB}/elements", params={"path": path}, json=body
        )
        missing = assert_webcon_error(
            await post(new_element(**{SUBJECT: None})), 409, "ValidationError"
        )
        assert "Subiect" in missing["description"]
        # A petition also needs the date it was received.
        assert_webcon_error(await post(new_element(FT_PET)), 409, "ValidationError")
        unknown_wf = new_element() | {"workflow": {"guid": guid_for("workflow", "nope")}}
        assert_webcon_error(await post(unknown_wf), 404, "ResourceNotFound")
        unknown_field = new_element(**{guid_for("field", "nope"): "x"})
        assert_webcon_error(await post(unknown_field), 400, "InvalidFieldData")
        bad_date = new_element(FT_PET, **{RECEIVED: "31.12.2026"})
        assert_webcon_error(await post(bad_date), 400, "InvalidFieldData")
        drift = new_element() | {"registrationNumber": "x"}
        drifted = assert_webcon_error(await post(drift), 400, "InvalidBodyParameterValue")
        assert "registrationNumber" in drifted["description"]
        assert_webcon_error(
            await post(new_element(), guid_for("path", "Eliberează")),
            400,
            "InvalidQueryParameterValue",
        )
        no_path = await client.post(f"{DB}/elements", json=new_element())
        assert_webcon_error(no_path, 400, "MissingRequiredQueryParameter")
        assert_webcon_error(await client.get(f"{DB}/elements/999999"), 404, "ResourceNotFound")
        assert_webcon_error(
            await client.get("/api/data/v6.0/db/7/applications"), 404, "ResourceNotFound"
        )
    assert webcon_sim.elements == {}


async def test_patch_moves_along_paths_and_respects_checkout(webcon_sim: WebconSimulator) -> None:
    async with await authed(webcon_sim) as client:
        created = (
            await client.post(f"{DB}/elements", params={"path": "default"}, json=new_element())
        ).json()
        url = f"{DB}/elements/{created['id']}"
        webcon_sim.checkout(created["id"])
        locked = await client.patch(url, json={"comments": {"newComment": "x"}})
        assert_webcon_error(locked, 409, "ResourceIsLocked")
        webcon_sim.checkout(created["id"], None)
        saved = await client.patch(url, json={"comments": {"newComment": "x"}})
        assert saved.json()["status"] == "Saved"
        wrong = await client.patch(url, params={"path": guid_for("path", "Eliberează")}, json={})
        assert_webcon_error(wrong, 400, "InvalidQueryParameterValue")
        webcon_sim.move(created["id"], "Repartizează")
        webcon_sim.move(created["id"], "Soluționează")
        moved = await client.patch(url, params={"path": guid_for("path", "Eliberează")}, json={})
        assert moved.json()["status"] == "MovedToNextStep"
        header = (await client.get(url)).json()["header"]
        assert header["isFinished"] is True and header["finishDate"]
        assert_webcon_error(await client.patch(url, json={}), 409, "ValidationError")


async def test_attachments_and_v5_paths(webcon_sim: WebconSimulator) -> None:
    async with await authed(webcon_sim) as client:
        body = new_element() | {
            "attachments": [{"name": "a.pdf", "group": "Intrare", "content": "JVBERi0="}]
        }
        created = (
            await client.post("/api/data/v5.0/db/1/elements", params={"path": "default"}, json=body)
        ).json()
        added = await client.post(
            f"{DB}/elements/{created['id']}/attachments",
            json={"name": "b.txt", "content": base64.b64encode(b"hello").decode()},
        )
        assert set(added.json()) == {"id", "name", "version"}
        listed = (await client.get(f"{DB}/elements/{created['id']}/attachments")).json()
        assert [a["name"] for a in listed["attachments"]] == ["a.pdf", "b.txt"]
        not_b64 = await client.post(
            f"{DB}/elements/{created['id']}/attachments", json={"name": "c", "content": "%%"}
        )
        assert_webcon_error(not_b64, 400, "InvalidBodyParameterValue")
        assert_webcon_error(
            await client.get("/api/data/v9.0/db/1/applications"), 404, "ResourceNotFound"
        )
    element = webcon_sim.elements[created["id"]]
    assert element.attachments[0].content == b"%PDF-"


async def test_search_finds_by_phrase_after_indexing() -> None:
    async with WebconSimulator(search_index_delay=60) as sim, await authed(sim) as client:
        app = registry_catalog().applications[0].guid
        await client.post(f"{DB}/elements", params={"path": "default"}, json=new_element())
        url = f"{DB}/applications/{app}/search"
        assert (await client.get(url, params={"search": '"doc-1"'})).json()["count"] == 0
        sim.search_index_delay = 0
        found = (await client.get(url, params={"search": '"doc-1"', "size": 5})).json()
        assert found["count"] == 1 and found["pageSize"] == 5
        assert found["elements"][0]["workflow"]["guid"] == WF
        assert (await client.get(url, params={"search": "nothing-like-it"})).json()["count"] == 0
        too_big = await client.get(url, params={"size": 500})
        assert_webcon_error(too_big, 400, "InvalidQueryParameterValue")


# --- faults --------------------------------------------------------------------------------------


async def test_status_fault_then_recovery(webcon_sim: WebconSimulator) -> None:
    webcon_sim.faults.add("status", "create", status=503)
    async with await authed(webcon_sim) as client:
        post = lambda: client.post(  # noqa: E731
            f"{DB}/elements", params={"path": "default"}, json=new_element()
        )
        assert_webcon_error(await post(), 503, "InternalError")
        assert (await post()).status_code == 200
    assert len(webcon_sim.elements) == 1


async def test_drop_after_commit_creates_then_hangs_up(webcon_sim: WebconSimulator) -> None:
    webcon_sim.faults.add("drop_after_commit", "create")
    async with await authed(webcon_sim) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post(f"{DB}/elements", params={"path": "default"}, json=new_element())
    assert len(webcon_sim.elements) == 1


async def test_hang_outlasts_the_client_timeout(webcon_sim: WebconSimulator) -> None:
    webcon_sim.faults.add("hang", "metadata", seconds=5)
    async with await authed(webcon_sim) as client:
        with pytest.raises(httpx.ReadTimeout):
            # Only the read is short: a loaded CI machine may take longer than
            # that to connect, and a connect timeout is not what is tested here.
            await client.get(f"{DB}/applications", timeout=httpx.Timeout(30.0, read=0.2))


async def test_admin_endpoint_switches_faults(webcon_sim: WebconSimulator) -> None:
    async with httpx.AsyncClient(base_url=webcon_sim.url) as client:
        answer = await client.post(
            "/_sim/faults", json={"latency_ms": 5, "kind": "status", "op": "token"}
        )
        assert answer.json() == {"faults": 1}
        assert webcon_sim.faults.latency_ms == 5
        assert (await token(client)).status_code == 503
        assert (await client.post("/_sim/faults", json={"kind": "nope"})).status_code == 400
        await client.delete("/_sim/faults")
        assert (await token(client)).status_code == 200
        state = (await client.get("/_sim/state")).json()
        assert state["requests"]["token"] == 2 and state["faults"] == 0


async def test_runs_on_its_own() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub_webcon.simulator",
        "--port",
        "0",
        "--json",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        section = json.loads(line)
        async with httpx.AsyncClient(base_url=section["base_url"]) as client:
            answer = await token(
                client, client_id=section["client_id"], client_secret=section["client_secret"]
            )
            assert answer.status_code == 200
    finally:
        proc.terminate()
        await proc.wait()
    assert proc.returncode is not None


async def test_demo_simulator_serves_a_fitting_section(tmp_path: Path) -> None:
    from hub_webcon.demo import WebconDemoSimulator
    from hub_webcon.settings import WebconSettings

    from hub.demo.simulators import DemoContext

    demo = WebconDemoSimulator()
    try:
        section = (await demo.start(DemoContext(data_dir=tmp_path)))["webcon"]
        settings = WebconSettings.model_validate(section)
        assert settings.configured and settings.base_url == demo.url()
        assert {"petitie", "default"} <= set(settings.forms)
        assert demo.counters() == {"elements": 0, "finished": 0, "api calls": 0}
    finally:
        await demo.stop()
