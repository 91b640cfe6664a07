"""The data model: validation of personal identifiers without echoing them, masked repr."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from stdnum.ro import cf as ro_cf
from stdnum.ro import cnp as ro_cnp

from hub.models import (
    KNOWN_KINDS,
    AttachmentIn,
    Channel,
    DeliveryState,
    Document,
    DocumentIn,
    Receipt,
    Sender,
)


def valid_cnp(serial: int = 901) -> str:
    head = f"1960101{35:02d}{serial:03d}"
    return head + str(ro_cnp.calc_check_digit(head))


def valid_cui(body: str = "1234567") -> str:
    return body + str(ro_cf.calc_check_digit(body))


INVALID_CNP = "1960101000009"  # right shape, wrong check digit
INVALID_CUI = "12345670"


def test_valid_identifiers_are_accepted() -> None:
    s = Sender(type="pf", name="Ion Popescu-Test", cnp=valid_cnp())
    assert s.cnp == valid_cnp()
    company = Sender(type="pj", name="Firma Test SRL", cui="RO" + valid_cui())
    assert company.cui is not None and company.cui.endswith(valid_cui())
    assert Sender(type="pf", cnp="", cui="", email="").cnp is None


@pytest.mark.parametrize(
    ("field", "value", "hint"),
    [
        ("cnp", INVALID_CNP, "not a valid CNP"),
        ("cnp", "123", "not a valid CNP"),
        ("cui", INVALID_CUI, "not a valid CUI"),
        ("email", "ion.popescu-test-at-example.test", "not a valid e-mail"),
    ],
)
def test_invalid_identifiers_never_echo_the_value(field: str, value: str, hint: str) -> None:
    with pytest.raises(ValidationError) as info:
        DocumentIn(external_id="m-1", sender={"type": "pf", field: value})
    assert hint in str(info.value)
    assert value not in str(info.value)
    assert value not in repr(info.value)
    assert value not in str(info.value.errors(include_input=False))
    with pytest.raises(ValidationError) as direct:
        Sender.model_validate({"type": "pf", field: value})
    assert value not in str(direct.value)


def test_sender_repr_is_masked() -> None:
    s = Sender(
        type="pf",
        name="Ion Popescu-Test",
        cnp=valid_cnp(),
        email="ion.popescu-test@example.test",
        phone="0722000901",
        address="Strada Exemplului nr. 1",
    )
    d = DocumentIn(external_id="m-2", sender=s)
    for text in (repr(s), str(s), repr(d), str(d)):
        for secret in ("Popescu", valid_cnp(), "example.test", "0722000901", "Exemplului"):
            assert secret not in text


def test_anonymous_petition_cannot_name_its_sender() -> None:
    with pytest.raises(ValidationError) as info:
        DocumentIn(
            external_id="m-3",
            kind="petitie_anonima",
            sender={"type": "pf", "name": "Ion Popescu-Test"},
        )
    assert "anonymous petition" in str(info.value)
    assert "Popescu" not in str(info.value)
    DocumentIn(external_id="m-3", kind="petitie_anonima", sender={"type": "pf"})
    DocumentIn(external_id="m-3", kind="petitie_anonima")


@pytest.mark.parametrize("kind", ["Petitie", "a", "with space", "1abc", "x" * 65])
def test_kind_pattern(kind: str) -> None:
    with pytest.raises(ValidationError):
        DocumentIn(external_id="m-4", kind=kind)


def test_known_kinds_are_valid_kinds() -> None:
    for kind in KNOWN_KINDS:
        assert DocumentIn(external_id="m-5", kind=kind).kind == kind


def test_document_in_rejects_unknown_fields_and_bad_source() -> None:
    with pytest.raises(ValidationError):
        DocumentIn.model_validate({"external_id": "m-6", "unexpected": 1})
    with pytest.raises(ValidationError):
        DocumentIn(external_id="m-6", source="Bad Source")
    with pytest.raises(ValidationError):
        DocumentIn(external_id="")


def test_attachment_decode() -> None:
    a = AttachmentIn(
        filename="a.pdf",
        content_type="application/pdf",
        content_base64=base64.b64encode(b"%PDF").decode(),
    )
    assert a.decode() == b"%PDF"
    assert "content_base64" not in repr(a)
    bad = AttachmentIn(filename="a.pdf", content_type="application/pdf", content_base64="@@@")
    with pytest.raises(ValueError, match="not valid base64"):
        bad.decode()


def test_channels_and_states_are_stable_strings() -> None:
    assert {c.value for c in Channel} == {
        "ghiseu",
        "email",
        "posta",
        "efactura",
        "instanta",
        "executor",
        "api",
    }
    assert {s.value for s in DeliveryState} == {
        "waiting",
        "pending",
        "in_flight",
        "retry_scheduled",
        "delivered",
        "dead",
        "cancelled",
    }


def test_receipt_forbids_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        Receipt.model_validate({"remote_id": "1", "whatever": 2})
    r = Receipt(registration_number="REG-1", registered_at=datetime(2026, 3, 2, tzinfo=UTC))
    assert r.model_dump(mode="json", exclude_none=True) == {
        "registration_number": "REG-1",
        "registered_at": "2026-03-02T00:00:00Z",
        "data": {},
    }


def test_document_ignores_ledger_columns_it_does_not_know() -> None:
    d = Document.model_validate(
        {
            "id": "x",
            "source": "api",
            "external_id": "e",
            "channel": "api",
            "kind": "altele",
            "created_at": datetime.now(UTC),
            "request_hash": "ignored",
        }
    )
    assert d.status == "received"
