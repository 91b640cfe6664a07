"""UPU S10 numbers: check digits of known numbers, rejection of wrong ones, ranges."""

from __future__ import annotations

import pytest
from hub_postal import s10
from pydantic import ValidationError


@pytest.mark.parametrize(
    ("number", "serial", "check"),
    [
        ("AB473124829GB", "47312482", 9),  # the UPU S10 standard's worked example
        ("RR123456785RO", "12345678", 5),  # 11 - (sum mod 11) = 5
        ("RA000000005RO", "00000000", 5),  # sum 0: 11 - 0 = 11 → 5
        ("EE000000120RO", "00000012", 0),  # 1*9 + 2*7 = 23; 23 mod 11 = 1; 11 - 1 = 10 → 0
    ],
)
def test_known_valid_numbers(number: str, serial: str, check: int) -> None:
    assert s10.check_digit(serial) == check
    assert s10.is_valid(number)
    assert s10.parse(number)[1] == int(serial)


def test_every_raw_ten_maps_to_zero() -> None:
    serial = next(
        n
        for n in range(1, 10_000)
        if 11 - sum(int(d) * w for d, w in zip(f"{n:08d}", s10.WEIGHTS, strict=True)) % 11 == 10
    )
    assert s10.check_digit(serial) == 0
    assert s10.is_valid(f"RR{serial:08d}0RO")


@pytest.mark.parametrize(
    "number",
    [
        "AB473124828GB",  # wrong check digit
        "RR123456784RO",  # wrong check digit
        "RR12345678RO",  # 8 digits only
        "R1234567895RO",  # one letter
        "RR1234567895R0",  # digit in the country code
        "",
    ],
)
def test_invalid_numbers(number: str) -> None:
    assert not s10.is_valid(number)
    with pytest.raises(ValueError):
        s10.parse(number)


def test_format_round_trips() -> None:
    number = s10.format_s10("RR", 47312482, "RO")
    assert number == "RR473124829RO"
    assert s10.parse(number) == ("RR", 47312482, "RO")


def test_range_validation() -> None:
    with pytest.raises(ValidationError):
        s10.S10Range(prefix="R1")
    with pytest.raises(ValidationError):
        s10.S10Range(first=10, last=5)


def test_settings_keep_default_ranges_and_refuse_overlaps() -> None:
    from hub_postal.settings import PostalSettings

    s = PostalSettings.model_validate({"s10": {"registered_ar": {"prefix": "RA", "first": 100}}})
    assert s.s10["registered_letter"].prefix == "RR"  # type: ignore[index]
    assert s.s10["registered_ar"].first == 100  # type: ignore[index]
    with pytest.raises(ValidationError, match="overlap"):
        PostalSettings.model_validate({"s10": {"registered_ar": {"prefix": "RR"}}})
    with pytest.raises(ValidationError, match="only registered"):
        PostalSettings.model_validate({"s10": {"simple_letter": {"prefix": "RS"}}})
