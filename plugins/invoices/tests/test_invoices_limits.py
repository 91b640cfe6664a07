"""Quotas, ANAF's ``eroare`` answers, HTTP faults and tokens, end to end against the simulator."""

from __future__ import annotations

import time
from collections.abc import Callable

from hub_invoices.simulator import SUPPLIERS, EFacturaSimulator
from hub_invoices.tables import tokens
from invoices_helpers import source_of, start_source
from sqlalchemy import select

from hub.runtime import Hub


async def poll(hub: Hub) -> float | None:
    return await hub.source_runner.poll_once("efactura", source_of(hub))


async def state_of(hub: Hub) -> dict[str, object]:
    states = {s["source"]: s for s in await hub.runner.read(hub.ledger.source_states)}
    return states["efactura"]


async def test_anaf_quota_answer_pauses_until_the_next_day(
    invoices_hub: Callable[..., Hub], anaf: EFacturaSimulator
) -> None:
    anaf.add_invoice(SUPPLIERS[0])
    anaf.limits["paged"] = 1  # ANAF counts one call; the second (filter E) is refused
    hub = invoices_hub()
    await start_source(hub)
    pause = await poll(hub)
    assert pause is not None and 60 < pause <= 25 * 3600 + 120
    st = await state_of(hub)
    paused_until = st["paused_until"]
    assert isinstance(paused_until, float) and paused_until > time.time()
    # Messages listed before the quota answer are still downloaded and registered.
    assert await hub.runner.read(hub.ledger.count_documents) == 1


async def test_local_daily_counter_refuses_before_calling_anaf_and_survives_restart(
    invoices_hub: Callable[..., Hub], anaf: EFacturaSimulator
) -> None:
    anaf.add_invoice(SUPPLIERS[0])
    settings = anaf.settings(limits={"paged_list_per_day": 3})
    hub = invoices_hub(**settings)
    await start_source(hub)
    assert await poll(hub) is None  # 2 calls (filters P and E)
    assert await poll(hub) is not None  # third call allowed, fourth refused locally
    calls = anaf.requests["paged"]
    assert calls == 3
    await hub.aclose()
    again = invoices_hub(**settings)
    await start_source(again)
    assert await poll(again) is not None
    assert anaf.requests["paged"] == calls  # nothing sent: the counter came from the ledger
    status = await source_of(again).status()
    assert status["quota_used_today"]["paged"] == 3


async def test_other_eroare_is_a_visible_source_error_then_recovers(
    invoices_hub: Callable[..., Hub], anaf: EFacturaSimulator
) -> None:
    anaf.add_invoice(SUPPLIERS[0])
    anaf.fail_next("paged", eroare=f"Nu aveti drept in SPV pentru CIF={anaf.cif}")
    hub = invoices_hub()
    await start_source(hub)
    assert await poll(hub) is None
    st = await state_of(hub)
    assert "Nu aveti drept in SPV" in str(st["last_error"])
    assert st["paused_until"] is None
    assert await hub.runner.read(hub.ledger.count_documents) == 0
    await poll(hub)
    st = await state_of(hub)
    assert st["last_error"] is None
    assert await hub.runner.read(hub.ledger.count_documents) == 1


async def test_download_failure_fails_the_poll_and_nothing_is_lost(
    invoices_hub: Callable[..., Hub], anaf: EFacturaSimulator
) -> None:
    msgs = [anaf.add_invoice(SUPPLIERS[i]) for i in range(3)]
    anaf.fail_next("download", 503)
    hub = invoices_hub(download_concurrency=1)
    await start_source(hub)
    await poll(hub)
    assert "HTTP 503" in str((await state_of(hub))["last_error"])
    await poll(hub)
    docs = await hub.runner.read(hub.ledger.find_documents, kind="factura", limit=10)
    assert sorted(d.external_id for d in docs) == sorted(m.id for m in msgs)
    assert all(anaf.downloads_of(m.id) == 1 for m in msgs)


async def test_per_message_download_errors(
    invoices_hub: Callable[..., Hub], anaf: EFacturaSimulator
) -> None:
    capped = anaf.add_invoice(SUPPLIERS[0])
    anaf.daily[(capped.id, anaf._day(), "download")] = 10  # downloaded 10 times elsewhere today
    fine = anaf.add_invoice(SUPPLIERS[1])
    hub = invoices_hub(download_concurrency=1)
    await start_source(hub)
    await poll(hub)
    store = source_of(hub).store
    row = await hub.runner.read(store.get_message, capped.id)
    assert row is not None and row["state"] == "listed"
    assert "S-au facut deja 10 descarcari" in row["error"]
    assert (await hub.runner.read(store.get_message, fine.id) or {})["state"] == "ready"
    # Not retried the same day.
    await poll(hub)
    assert anaf.requests["download"] == 2


async def test_expired_access_token_is_refreshed_and_both_tokens_kept_encrypted(
    invoices_hub: Callable[..., Hub], anaf: EFacturaSimulator
) -> None:
    anaf.add_invoice(SUPPLIERS[0])
    hub = invoices_hub()
    await start_source(hub)
    await poll(hub)
    src = source_of(hub)
    assert src.tokens is not None
    first = await src.tokens.access_token()
    anaf.revoke_access_tokens()  # ANAF answers 401 to the old access token
    anaf.add_invoice(SUPPLIERS[1])
    await poll(hub)
    assert src.tokens.refreshes == 1
    second = await src.tokens.access_token()
    assert second != first
    with hub.writer.connect() as conn:
        row = conn.execute(select(tokens)).mappings().one()
    assert second not in row["access_token"] and "eyJ" not in row["refresh_token"]
    pair = src.tokens.store.load(anaf.cif)
    assert pair is not None and pair.access_token == second
    assert "eyJ" not in repr(pair)
    # The new refresh token works (the old one was retired by ANAF).
    anaf.revoke_access_tokens()
    anaf.add_invoice(SUPPLIERS[2])
    await poll(hub)
    assert await hub.runner.read(hub.ledger.count_documents) == 3


async def test_quota_pause_outlives_a_restart(
    invoices_hub: Callable[..., Hub], anaf: EFacturaSimulator
) -> None:
    anaf.add_invoice(SUPPLIERS[0])
    anaf.fail_next(
        "paged",
        eroare="S-au facut deja 1000 interogari de lista mesaje de catre utilizator "
        "in cursul zilei",
    )
    settings = anaf.settings()
    hub = invoices_hub(**settings)
    await start_source(hub)
    assert await poll(hub) is not None
    calls = anaf.requests["paged"]
    await hub.aclose()
    again = invoices_hub(**settings)
    await start_source(again)
    pause = await poll(again)  # `hub run` polls at start-up: ANAF must not be asked again
    assert pause is not None and pause > 60
    assert anaf.requests["paged"] == calls
