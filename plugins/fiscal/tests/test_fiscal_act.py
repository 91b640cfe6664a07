"""Reading and checking a fine or fiscal act from a document: every bad field is a permanent
error naming the field, never its value."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fiscal_helpers import company_offender, fine_metadata, person_offender
from hub_fiscal.act import parse_amount, read_act

from hub.errors import PermanentError
from hub.testing.factories import document_from, make_document_in, valid_cnp


def doc(kind: str = "amenda", **fiscal: Any) -> Any:
    meta = fine_metadata(**fiscal)
    return document_from(make_document_in(kind=kind, metadata=meta))


def test_fine_from_the_sender() -> None:
    act = read_act(doc())
    assert act.kind == "amenda" and act.amount == Decimal("150.00")
    assert act.offender.type == "pf" and act.offender.cnp == valid_cnp()
    payload = act.payload()
    assert payload["amount"] == {"value": "150.00", "currency": "RON"}
    assert payload["report"] == {"series": "PLT", "number": "0012345"}
    assert payload["communicated_on"] == "2026-11-20"
    assert "Ion" not in repr(act) and valid_cnp() not in repr(act.offender)


def test_company_offender_and_enforcement_act() -> None:
    act = read_act(doc("act_executare_fiscala", offender=company_offender()))
    assert act.offender.type == "pj" and act.offender.cui == "RO18547290"


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("150.00", True),
        ("0.01", True),
        (150.25, True),
        ("150", False),
        ("150.5", False),
        ("150.000", False),
        ("1,50", False),
        (150, False),
        (150.5, False),
        ("-5.00", False),
        ("0.00", False),
        (True, False),
        (None, False),
    ],
)
def test_amounts_are_ron_with_two_decimals(value: object, ok: bool) -> None:
    if ok:
        assert parse_amount(value) > 0
    else:
        with pytest.raises(PermanentError, match="amount"):
            parse_amount(value)


@pytest.mark.parametrize(
    ("fiscal", "field"),
    [
        ({"offender": person_offender() | {"cnp": "1960101350000"}}, "offender.cnp"),
        ({"offender": company_offender() | {"cui": "RO18547291"}}, "offender.cui"),
        ({"offender": {"type": "x", "name": "A"}}, "offender.type"),
        ({"issuer": ""}, "issuer"),
        ({"legal_basis": None}, "legal_basis"),
        ({"communicated_on": "20.11.2026"}, "communicated_on"),
        ({"amount": "12.3"}, "amount"),
    ],
)
def test_bad_fields_are_permanent_and_pii_free(fiscal: dict[str, Any], field: str) -> None:
    with pytest.raises(PermanentError) as info:
        read_act(doc(**fiscal))
    message = info.value.message
    assert f"metadata.fiscal.{field}" in message
    for secret in ("1960101350000", "RO18547291", "20.11.2026", "Ana Test"):
        assert secret not in message


def test_wrong_kind_and_missing_metadata() -> None:
    with pytest.raises(PermanentError, match="not 'petitie'"):
        read_act(document_from(make_document_in()))
    with pytest.raises(PermanentError, match=r"metadata\.fiscal is missing"):
        read_act(document_from(make_document_in(kind="amenda")))
