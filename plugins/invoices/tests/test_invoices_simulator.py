"""The simulated ANAF answers as its swagger pages document (the client's tests rely on it)."""

from __future__ import annotations

import base64
import io
import zipfile

import httpx
from hub_invoices.simulator import SUPPLIERS, EFacturaSimulator

REST = "/test/FCTEL/rest"


async def _token(sim: EFacturaSimulator, http: httpx.AsyncClient) -> str:
    basic = base64.b64encode(f"{sim.client_id}:{sim.client_secret}".encode()).decode()
    resp = await http.post(
        "/anaf-oauth2/v1/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": sim.issue_refresh_token(),
            "token_content_type": "jwt",
        },
        headers={"authorization": f"Basic {basic}"},
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["expires_in"] == 90 * 86400 and body["refresh_token"]
    return str(body["access_token"])


async def test_documented_answers(anaf: EFacturaSimulator) -> None:
    msg = anaf.add_invoice(SUPPLIERS[0])
    async with httpx.AsyncClient(base_url=anaf.url) as http:
        assert (await http.get(f"{REST}/listaMesajeFactura")).status_code == 401
        h = {"authorization": f"Bearer {await _token(anaf, http)}"}
        now = anaf.now_ms()

        missing = await http.get(f"{REST}/listaMesajePaginatieFactura", headers=h)
        assert missing.status_code == 400
        assert set(missing.json()) == {"timestamp", "status", "error", "message"}
        assert missing.json()["message"] == (
            "Parametrii startTime, endTime, cif si pagina sunt obligatorii"
        )

        async def paged(**params: object) -> dict[str, object]:
            base = {"startTime": now - 3_600_000, "endTime": now - 1000, "cif": anaf.cif}
            resp = await http.get(
                f"{REST}/listaMesajePaginatieFactura", params=base | params, headers=h
            )
            assert resp.status_code == 200
            body: dict[str, object] = resp.json()
            return body

        page = await paged(pagina=1, filtru="P")
        assert page["numar_total_pagini"] == 1 and page["cui"] == anaf.cif
        assert page["mesaje"] == [msg.listing()]
        assert "mai mare decat numarul toatal de pagini 1" in str((await paged(pagina=2))["eroare"])
        assert "nu este un numar" in str((await paged(pagina=1, cif="aaa"))["eroare"])
        assert "60 de zile" in str(
            (await paged(pagina=1, startTime=now - 61 * 86_400_000))["eroare"]
        )
        assert "in viitor" in str((await paged(pagina=1, endTime=now + 60_000))["eroare"])
        assert "E, T, P sau R" in str((await paged(pagina=1, filtru="X"))["eroare"])
        assert "Nu aveti drept in SPV pentru CIF=8000000000" in str(
            (await paged(pagina=1, cif="8000000000"))["eroare"]
        )
        assert (await paged(pagina=1, filtru="E"))["eroare"] == (
            "Nu exista mesaje in intervalul selectat"
        )

        simple = await http.get(f"{REST}/listaMesajeFactura", params={"cif": anaf.cif}, headers=h)
        assert simple.status_code == 400
        assert simple.json()["message"] == "Parametrii zile si cif sunt obligatorii"
        ok = await http.get(
            f"{REST}/listaMesajeFactura", params={"cif": anaf.cif, "zile": 5}, headers=h
        )
        assert [m["id"] for m in ok.json()["mesaje"]] == [msg.id]
        bad = await http.get(
            f"{REST}/listaMesajeFactura", params={"cif": anaf.cif, "zile": 61}, headers=h
        )
        assert bad.json()["eroare"] == "Numarul de zile trebuie sa fie intre 1 si 60"

        dl = await http.get(f"{REST}/descarcare", params={"id": msg.id}, headers=h)
        assert dl.headers["content-type"] == "application/zip"
        names = zipfile.ZipFile(io.BytesIO(dl.content)).namelist()
        assert sorted(names) == sorted([f"{msg.id}.xml", f"semnatura_{msg.id}.xml"])
        assert (await http.get(f"{REST}/descarcare", headers=h)).json()["message"] == (
            "Parametrul id este obligatoriu"
        )
        none = await http.get(f"{REST}/descarcare", params={"id": "21"}, headers=h)
        assert none.json()["eroare"] == "Pentru id=21 nu exista inregistrata nici o factura"
        for _ in range(9):
            await http.get(f"{REST}/descarcare", params={"id": msg.id}, headers=h)
        capped = await http.get(f"{REST}/descarcare", params={"id": msg.id}, headers=h)
        assert capped.text.endswith("}}") and "S-au facut deja 10 descarcari" in capped.text
        assert anaf.downloads_of(msg.id) == 10


async def test_quotas_and_faults(anaf: EFacturaSimulator) -> None:
    anaf.limits.update({"simple": 2, "per_minute": 4})
    async with httpx.AsyncClient(base_url=anaf.url) as http:
        h = {"authorization": f"Bearer {await _token(anaf, http)}"}
        params = {"cif": anaf.cif, "zile": 1}
        for _ in range(2):
            await http.get(f"{REST}/listaMesajeFactura", params=params, headers=h)
        third = await http.get(f"{REST}/listaMesajeFactura", params=params, headers=h)
        assert third.json()["eroare"].startswith("S-au facut deja 2 interogari")
        fourth = await http.get(f"{REST}/listaMesajeFactura", params=params, headers=h)
        fifth = await http.get(f"{REST}/listaMesajeFactura", params=params, headers=h)
        assert fourth.status_code == 200 and fifth.status_code == 429
    anaf.limits["per_minute"] = 1000
    anaf.fail_next("simple", 503)
    async with httpx.AsyncClient(base_url=anaf.url) as http:
        h = {"authorization": f"Bearer {await _token(anaf, http)}"}
        resp = await http.get(f"{REST}/listaMesajeFactura", params=params, headers=h)
        assert resp.status_code == 503
