"""The term engine: each rule around Romania's public holidays (Orthodox Easter, Rusalii, 1 June,
1 December, 24 January…) and month ends for 2025 to 2027, the configuration file, the due date
written at intake, and the one extension through the API."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import pytest

from hub.errors import ConfigurationError
from hub.models import DocumentIn, Sender
from hub.terms import TermEngine, TermError, TermPolicy, add_days, is_working_day, load_terms
from tests.fixtures import MakeHub
from tests.servers import running_api

ENGINE = TermEngine()


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2025, 4, 18), False),  # Vinerea Mare
        (date(2025, 4, 21), False),  # a doua zi de Paște
        (date(2026, 4, 10), False),
        (date(2026, 4, 13), False),
        (date(2027, 4, 30), False),
        (date(2027, 5, 3), False),
        (date(2025, 6, 9), False),  # a doua zi de Rusalii
        (date(2026, 6, 1), False),  # 1 iunie and Rusalii on the same day
        (date(2027, 6, 21), False),
        (date(2027, 6, 1), False),  # 1 iunie, a Tuesday
        (date(2025, 12, 1), False),
        (date(2026, 1, 24), False),  # a Saturday anyway
        (date(2025, 1, 24), False),
        (date(2026, 1, 2), False),
        (date(2025, 12, 31), True),
        (date(2026, 4, 14), True),
        (date(2027, 5, 4), True),
    ],
)
def test_working_days_know_romanian_holidays(day: date, working: bool) -> None:
    assert is_working_day(day) is working


@pytest.mark.parametrize(
    ("registered", "due"),
    [
        # Easter Sunday, then Easter Monday: the term ends on Tuesday.
        (date(2025, 3, 21), date(2025, 4, 22)),
        (date(2026, 3, 13), date(2026, 4, 14)),
        (date(2027, 4, 2), date(2027, 5, 4)),
        # Good Friday 2027, 1 May (Saturday), Easter: four days on.
        (date(2027, 3, 31), date(2027, 5, 4)),
        # Rusalii Monday 2025; 1 June 2026 (Rusalii and Children's Day).
        (date(2025, 5, 10), date(2025, 6, 10)),
        (date(2026, 5, 2), date(2026, 6, 2)),
        # Sf. Andrei (Sunday) and 1 December 2025.
        (date(2025, 10, 31), date(2025, 12, 2)),
        # 24 January 2025 (Friday) then a weekend, across the year end.
        (date(2024, 12, 25), date(2025, 1, 27)),
        # An ordinary working day stays.
        (date(2026, 2, 2), date(2026, 3, 4)),
    ],
)
def test_petition_30_calendar_days_roll_to_next_working_day(registered: date, due: date) -> None:
    assert ENGINE.due_date("petitie", registered) == due


@pytest.mark.parametrize(
    ("registered", "due"),
    [
        (date(2026, 1, 21), date(2026, 2, 2)),  # 31 January is a Saturday
        (date(2025, 2, 18), date(2025, 2, 28)),  # month end on a Friday stays
        (date(2028, 2, 19), date(2028, 2, 29)),  # leap day, a Tuesday
        (date(2025, 11, 21), date(2025, 12, 2)),  # 1 December
        (date(2027, 5, 22), date(2027, 6, 2)),  # 1 June 2027 (Tuesday)
    ],
)
def test_544_request_10_days(registered: date, due: date) -> None:
    assert ENGINE.due_date("cerere_544", registered) == due


def test_544_refusal_in_5_days_and_extension_to_30() -> None:
    assert ENGINE.refusal_date("cerere_544", date(2026, 5, 27)) == date(2026, 6, 2)
    ext = ENGINE.extend(
        "cerere_544",
        date(2026, 1, 5),
        None,
        days=None,
        already_extended=False,
        reason="Volum mare de informații solicitate",
    )
    assert ext.original_due_date == date(2026, 1, 15)
    assert ext.due_date == date(2026, 2, 4)


def test_petition_extension_once_by_at_most_15_days_with_a_reason() -> None:
    start, due = date(2026, 3, 13), date(2026, 4, 14)
    ext = ENGINE.extend("petitie", start, due, days=None, already_extended=False, reason="Analiză")
    assert (ext.due_date, ext.days) == (date(2026, 4, 29), 15)
    # 10 days from 14 April 2026 is Friday 24 April.
    ext10 = ENGINE.extend("petitie", start, due, days=10, already_extended=False, reason="Teren")
    assert ext10.due_date == date(2026, 4, 24)
    with pytest.raises(TermError, match="between 1 and 15"):
        ENGINE.extend("petitie", start, due, days=16, already_extended=False, reason="Analiză")
    with pytest.raises(TermError, match="already"):
        ENGINE.extend("petitie", start, due, days=5, already_extended=True, reason="Analiză")
    with pytest.raises(TermError, match="reason"):
        ENGINE.extend("petitie", start, due, days=5, already_extended=False, reason="  ")
    with pytest.raises(TermError, match="cannot be extended"):
        ENGINE.extend("autorizatie", start, None, days=5, already_extended=False, reason="Analiză")


def test_tacit_approval_forwarding_anonymous_and_unknown_kinds() -> None:
    assert ENGINE.policy("autorizatie") is not None
    assert ENGINE.policy("autorizatie").tacit_approval  # type: ignore[union-attr]
    assert ENGINE.due_date("autorizatie", date(2025, 11, 10)) == date(2025, 12, 10)
    # Forwarding a misdirected petition: 5 days, Easter Monday 2026 moves it to Tuesday.
    assert ENGINE.forward_date("petitie", date(2026, 4, 8)) == date(2026, 4, 14)
    assert ENGINE.due_date("petitie_anonima", date(2026, 4, 8)) is None
    assert ENGINE.due_date("factura", date(2026, 4, 8)) is None


@pytest.mark.parametrize(
    ("start", "days", "counting", "due"),
    [
        # zile libere: neither the first nor the last day counts.
        (date(2026, 1, 20), 10, "zile_libere", date(2026, 2, 2)),
        (date(2025, 12, 20), 5, "zile_libere", date(2025, 12, 29)),
        (date(2026, 3, 2), 10, "zile_libere", date(2026, 3, 13)),
        # working days: Good Friday and Easter Monday 2025 do not count.
        (date(2025, 4, 16), 5, "lucratoare", date(2025, 4, 25)),
        (date(2025, 12, 22), 5, "lucratoare", date(2025, 12, 31)),
        (date(2027, 4, 28), 3, "lucratoare", date(2027, 5, 5)),
    ],
)
def test_counting_rules(start: date, days: int, counting: str, due: date) -> None:
    assert add_days(start, days, counting) == due  # type: ignore[arg-type]


def test_terms_file_overrides_defaults_and_names_bad_kinds(tmp_path: Path) -> None:
    path = tmp_path / "terms.toml"
    path.write_text(
        '[kind.autorizatie]\ndays = 20\ncounting = "lucratoare"\ntacit_approval = true\n'
        "[kind.petitie_anonima]\ndays = false\n",
        encoding="utf-8",
    )
    engine = load_terms(path)
    assert engine.due_date("autorizatie", date(2025, 4, 16)) == date(2025, 5, 19)
    assert engine.due_date("petitie", date(2026, 3, 13)) == date(2026, 4, 14)  # default kept
    assert engine.policy("petitie_anonima") == TermPolicy(days=None)
    assert load_terms(tmp_path / "absent.toml").due_date("petitie", date(2026, 3, 13))
    path.write_text('[kind.petitie]\ndays = 0\ncounting = "lunar"\n', encoding="utf-8")
    with pytest.raises(ConfigurationError) as err:
        load_terms(path)
    assert "kind 'petitie'" in str(err.value)
    assert "days" in str(err.value) and "counting" in str(err.value)


async def test_intake_writes_the_due_date_and_the_api_extends_it_once(
    make_hub: MakeHub, tmp_path: Path
) -> None:
    hub = make_hub()
    doc = DocumentIn(
        external_id=uuid.uuid4().hex,
        kind="petitie",
        subject="Sesizare",
        sender=Sender(type="pf", name="Ion Test", email="ion@example.test"),
    )
    result = await hub.intake.submit(hub.intake.prepare(doc))
    stored = await hub.documents.get(result.document_id)
    assert stored is not None and stored.due_date is not None
    start = stored.created_at
    from hub.terms import local_date

    assert stored.due_date == ENGINE.due_date("petitie", local_date(start))

    async with running_api(hub) as api:
        url = f"/api/v1/documents/{result.document_id}/term/extension"
        body = {"reason": "Necesită verificare pe teren", "days": 10}
        denied = await api.client.post(url, json=body, headers=api.auth("reader"))
        assert denied.status_code == 403
        r = await api.client.post(url, json=body, headers=api.auth("operator"))
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["original_due_date"] == stored.due_date.isoformat()
        again = await api.client.post(url, json=body, headers=api.auth("operator"))
        assert again.status_code == 409
        missing = await api.client.post(
            "/api/v1/documents/nope/term/extension", json=body, headers=api.auth("operator")
        )
        assert missing.status_code == 404
    after = await hub.documents.get(result.document_id)
    assert after is not None
    assert after.due_date is not None and after.due_date.isoformat() == out["due_date"]
    assert after.metadata["term"]["reason"] == body["reason"]
    timeline = await hub.runner.read(hub.ledger.timeline, result.document_id)
    assert [e["action"] for e in timeline["events"]].count("term_extended") == 1


async def test_extension_refused_for_a_kind_without_one(make_hub: MakeHub) -> None:
    hub = make_hub()
    doc = DocumentIn(external_id=uuid.uuid4().hex, kind="autorizatie", subject="Autorizație")
    result = await hub.intake.submit(hub.intake.prepare(doc))
    async with running_api(hub) as api:
        r = await api.client.post(
            f"/api/v1/documents/{result.document_id}/term/extension",
            json={"reason": "Motiv suficient"},
            headers=api.auth("operator"),
        )
    assert r.status_code == 422
    assert "cannot be extended" in r.text
