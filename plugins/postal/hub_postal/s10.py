"""UPU S10 identifiers of registered postal items (``RR473124829RO``).

Two letters (the service indicator: ``R?`` for registered items), an 8-digit serial, a check
digit and the two-letter country code. The check digit weighs the serial's digits by
8 6 4 2 3 5 9 7, takes ``11 - sum mod 11`` and maps 10 to 0 and 11 to 5. Numbers are allocated
from the range the postal operator gave the institution (its pre-printed labels); see
:class:`S10Range`.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["S10Range", "check_digit", "format_s10", "is_valid", "parse"]

WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
_S10 = re.compile(r"^([A-Z]{2})(\d{8})(\d)([A-Z]{2})$")


def check_digit(serial: str | int) -> int:
    """The S10 check digit of an 8-digit serial number."""
    digits = f"{int(serial):08d}" if isinstance(serial, int) else serial
    if not re.fullmatch(r"\d{8}", digits):
        raise ValueError("an S10 serial number has exactly 8 digits")
    check = 11 - sum(int(d) * w for d, w in zip(digits, WEIGHTS, strict=True)) % 11
    return {10: 0, 11: 5}.get(check, check)


def format_s10(prefix: str, serial: int, country: str = "RO") -> str:
    if not (0 <= serial <= 99_999_999):
        raise ValueError("an S10 serial number has exactly 8 digits")
    return f"{prefix}{serial:08d}{check_digit(serial)}{country}"


def parse(value: str) -> tuple[str, int, str]:
    """(prefix, serial, country) of a valid S10 number; ValueError otherwise."""
    match = _S10.match(value.strip().upper().replace(" ", ""))
    if match is None:
        raise ValueError("an S10 number is 2 letters, 9 digits and 2 letters (RR123456785RO)")
    prefix, serial, check, country = match.groups()
    if check_digit(serial) != int(check):
        raise ValueError("the S10 check digit is wrong")
    return prefix, int(serial), country


def is_valid(value: str) -> bool:
    try:
        parse(value)
    except ValueError:
        return False
    return True


class S10Range(BaseModel):
    """A block of serial numbers the postal operator assigned (pre-printed barcode labels)."""

    model_config = ConfigDict(extra="forbid")

    prefix: str = Field(default="RR", description="Service indicator, two letters (RR, RA, …)")
    first: int = Field(default=1, ge=0, le=99_999_999, description="First serial of the range")
    last: int = Field(default=99_999_999, ge=0, le=99_999_999, description="Last serial")
    country: str = Field(default="RO", description="Country code of the operator")

    @field_validator("prefix", "country")
    @classmethod
    def _letters(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{2}", value):
            raise ValueError("two capital letters")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> S10Range:
        if self.last < self.first:
            raise ValueError("last must not be below first")
        return self
