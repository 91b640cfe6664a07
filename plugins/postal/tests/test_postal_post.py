"""Post without an API: S10 numbers from the configured range, the daily manifest (PDF checked
with pypdf, CSV), returned confirmation cards through the API and the CLI."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from hub_postal import s10
from hub_postal.store import LOCAL_TZ
from postal_helpers import addressee, api_client, registered_document
from pypdf import PdfReader
from typer.testing import CliRunner

from hub.runtime import Hub
from hub.testing.hubrun import dispatching

SCAN = b"%PDF-1.4 confirmare de primire scanata"


async def test_registered_letters_get_s10_numbers_and_go_on_the_manifest(
    postal_hub: Callable[..., Hub],
) -> None:
    hub = postal_hub(s10={"registered_ar": {"prefix": "RA", "first": 47312480, "last": 47312489}})
    async with dispatching(hub):
        doc_id = await registered_document(hub)
        async with api_client(hub, "intake", "operator") as api:
            made = []
            for service, network in (
                ("registered_ar", "posta_romana"),
                ("registered_ar", "posta_romana"),
                ("simple_letter", "posta_romana"),
                ("registered_ar", "posta_militara"),
            ):
                answer = await api.post(
                    "/api/v1/dispatches",
                    json={
                        "document_id": doc_id,
                        "addressee": addressee(name="Ștefan Țăranu-Test"),
                        "service": service,
                        "network": network,
                        "department": "DAS",
                    },
                )
                assert answer.status_code == 201, answer.text
                made.append(answer.json())
            # No courier delivery for post items.
            rows = await hub.runner.read(hub.ledger.deliveries_of, doc_id)
            assert [r["connector"] for r in rows] == ["registrar"]
            numbers = [d["tracking_number"] for d in made]
            assert numbers[0] == "RA473124801RO" and numbers[1] == "RA473124815RO"
            assert all(s10.is_valid(n) for n in numbers if n)
            assert numbers[2] is None  # a simple letter has no S10 number
            assert numbers[3] == "RA473124829RO"  # the same range, whatever the network
            assert {d["state"] for d in made} == {"queued"}

            closed = await api.post("/api/v1/postal/manifests", json={})
            assert closed.status_code == 200, closed.text
            manifests = {m["service"]: m for m in closed.json()["manifests"]}
            assert set(manifests) == {"registered_ar", "simple_letter"}
            ar = manifests["registered_ar"]
            assert ar["items"] == 2 and ar["total_ron"] == "22.00"
            again = await api.post("/api/v1/postal/manifests", json={})
            assert again.json()["created"] == []  # nothing queued: nothing new

            pdf = await api.get(ar["pdf"])
            assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
            text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
            assert "Borderou de expediere" in text
            assert "Recomandată cu confirmare de primire" in text
            assert "Poșta Română" in text and "Primăria Municipiului Timișoara" in text
            assert "Ștefan Țăranu-Test" in text
            assert "RA473124801RO" in text and "RA473124815RO" in text
            assert "RA473124829RO" not in text  # military post: its own manifest

            raw = await api.get(ar["csv"])
            rows_csv = list(csv.reader(io.StringIO(raw.content.decode("utf-8-sig")), delimiter=";"))
            assert rows_csv[0][:3] == ["nr_crt", "numar_s10", "destinatar"]
            assert [r[1] for r in rows_csv[1:]] == ["RA473124801RO", "RA473124815RO"]
            assert rows_csv[1][5] == "TM" and rows_csv[1][10] == "11,00"

            military = await api.post(
                "/api/v1/postal/manifests", json={"network": "posta_militara"}
            )
            (mil,) = military.json()["manifests"]
            assert mil["items"] == 1

            view = await api.get(f"/api/v1/dispatches/{made[0]['id']}")
            assert view.json()["state"] == "posted"


async def test_exhausted_range_refuses_without_storing(postal_hub: Callable[..., Hub]) -> None:
    hub = postal_hub(s10={"registered_letter": {"prefix": "RR", "first": 5, "last": 5}})
    async with dispatching(hub):
        doc_id = await registered_document(hub)
        body = {"document_id": doc_id, "addressee": addressee(), "service": "registered_letter"}
        async with api_client(hub, "intake") as api:
            assert (await api.post("/api/v1/dispatches", json=body)).status_code == 201
            second = await api.post("/api/v1/dispatches", json=body)
    assert second.status_code == 409
    assert "S10 range" in second.json()["error"]["message"]


async def test_confirmation_card_through_the_api(postal_hub: Callable[..., Hub]) -> None:
    hub = postal_hub()
    async with dispatching(hub):
        doc_id = await registered_document(hub)
        async with api_client(hub, "intake", "operator") as api:
            made = (
                await api.post(
                    "/api/v1/dispatches",
                    json={
                        "document_id": doc_id,
                        "addressee": addressee(),
                        "service": "registered_ar",
                    },
                )
            ).json()
            await api.post("/api/v1/postal/manifests", json={})
            url = f"/api/v1/dispatches/{made['id']}/confirmation"
            unsigned = await api.post(url, json={"received_at": "2026-11-27T10:00:00+02:00"})
            assert unsigned.status_code == 422
            card = {
                "received_at": "2026-11-27T10:00:00+02:00",
                "signer": "Ana Semnatar-Test",
                "card": {
                    "filename": "ar.pdf",
                    "content_type": "application/pdf",
                    "content_base64": base64.b64encode(SCAN).decode(),
                },
            }
            answer = await api.post(url, json=card)
            assert answer.status_code == 200, answer.text
            repeat = await api.post(url, json=card)
            other = await api.post(url, json={**card, "outcome": "returned"})
            assert other.status_code == 409
    body = answer.json()
    assert body["state"] == "delivered" and "Ana" not in answer.text
    proof_id = body["outcome"]["proof_document_id"]
    assert repeat.json()["outcome"]["proof_document_id"] == proof_id  # idempotent
    proof = await hub.documents.get(proof_id)
    assert proof is not None and proof.kind == "confirmare_primire"
    assert proof.sender is not None and proof.sender.name == "Ana Semnatar-Test"
    assert made["tracking_number"] in proof.subject
    (attachment,) = proof.attachments
    assert await hub.documents.attachment_content(attachment.sha256) == SCAN
    answered = await hub.documents.get(doc_id)
    assert answered is not None
    assert answered.metadata["postal"][made["id"]]["proof_document_id"] == proof_id


async def test_confirmation_card_through_the_cli(
    postal_hub: Callable[..., Hub],
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub = postal_hub()
    async with dispatching(hub):
        doc_id = await registered_document(hub)
        async with api_client(hub, "intake") as api:
            made = (
                await api.post(
                    "/api/v1/dispatches",
                    json={
                        "document_id": doc_id,
                        "addressee": addressee(),
                        "service": "registered_ar",
                    },
                )
            ).json()
    scan = tmp_path / "card.pdf"
    scan.write_bytes(SCAN)
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "cli-data"))
    rules = tmp_path / "routing.toml"
    rules.write_text('[fallback]\ndestinations = [{ connector = "noop" }]\n', encoding="utf-8")
    monkeypatch.setenv("HUB_ROUTING_FILE", str(rules))
    from hub.cli.main import build_app

    runner = CliRunner()
    cli = build_app()
    out = tmp_path / "manifests"
    result = await asyncio.to_thread(runner.invoke, cli, ["postal", "manifest", "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in out.iterdir())
    assert len(written) == 2 and written[0].endswith(".csv") and written[1].endswith(".pdf")
    result = await asyncio.to_thread(
        runner.invoke,
        cli,
        [
            "postal",
            "confirm",
            made["tracking_number"],
            "--date",
            "2026-11-27",
            "--signer",
            "Ana Semnatar-Test",
            "--card",
            str(scan),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "delivered" in result.output
    answered = await hub.documents.get(doc_id)
    assert answered is not None
    entry = answered.metadata["postal"][made["id"]]
    assert entry["outcome"] == "delivered" and entry["proof_document_id"]
    assert datetime.fromisoformat(entry["at"]).astimezone(LOCAL_TZ).day == 27
