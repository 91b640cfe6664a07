"""Romanian addresses: counties by code or name (with and without diacritics), postal codes,
length limits, and errors that never repeat the value."""

from __future__ import annotations

from typing import Any

import pytest
from hub_postal.address import COUNTIES, Address, Addressee, county_code
from pydantic import ValidationError


def address(**overrides: Any) -> dict[str, Any]:
    data = {
        "county": "TM",
        "locality": "Timișoara",
        "street": "Strada Eroilor",
        "number": "12",
        "postal_code": "300001",
    }
    data.update(overrides)
    return data


def test_all_counties_and_bucharest() -> None:
    assert len(COUNTIES) == 42
    assert set(COUNTIES) >= {"AB", "CJ", "TM", "IF", "VN", "B"}


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ("TM", "TM"),
        ("tm", "TM"),
        ("Timiș", "TM"),
        ("Timiş", "TM"),  # old cedilla
        ("timis", "TM"),
        ("București", "B"),
        ("Bucuresti", "B"),
        ("Municipiul București", "B"),
        ("Bistrita Nasaud", "BN"),
        ("Caraș-Severin", "CS"),
        ("Județul Iași", "IS"),
        ("Satu-Mare", "SM"),
    ],
)
def test_county_names_and_codes(given: str, code: str) -> None:
    assert county_code(given) == code
    assert Address.model_validate(address(county=given)).county == code


def errors(exc: ValidationError) -> dict[tuple[Any, ...], str]:
    return {tuple(e["loc"]): e["msg"] for e in exc.errors(include_input=False)}


def test_unknown_county_is_a_field_error() -> None:
    with pytest.raises(ValidationError) as info:
        Address.model_validate(address(county="Transilvania"))
    assert "unknown county" in errors(info.value)[("county",)]
    assert "Transilvania" not in str(info.value)


@pytest.mark.parametrize("code", ["30000", "3000011", "30OO01", "300 01"])
def test_postal_code_has_six_digits(code: str) -> None:
    with pytest.raises(ValidationError) as info:
        Address.model_validate(address(postal_code=code))
    assert ("postal_code",) in errors(info.value)


def test_long_street_refused_without_echo() -> None:
    street = "Strada " + "X" * 5000
    with pytest.raises(ValidationError) as info:
        Address.model_validate(address(street=street))
    assert ("street",) in errors(info.value)
    assert "XXXXXXXX" not in str(info.value)


def test_sector_only_in_bucharest() -> None:
    assert Address.model_validate(address(county="B", sector=3, postal_code="030001")).sector == 3
    with pytest.raises(ValidationError):
        Address.model_validate(address(sector=3))


def test_envelope_lines_and_masked_repr() -> None:
    a = Addressee.model_validate(
        {
            "name": "Maria Ionescu",
            "address": address(building="A2", entrance="B", floor="3", apartment="14"),
        }
    )
    assert a.address.lines() == [
        "Strada Eroilor nr. 12, bl. A2, sc. B, et. 3, ap. 14",
        "300001 Timișoara, jud. Timiș",
    ]
    assert "Maria" not in repr(a) and "Eroilor" not in repr(a.address)
