"""Romanian postal addresses, validated before anything is stored or sent.

A county is given by its official code (``TM``, ``B``) or its name, with or without diacritics
(``Timiș``, ``Timiş`` with the old cedilla, ``timis``, ``Municipiul București``); it is stored as
the code. Postal codes have six digits. Every field has a length limit, so a 5,000-character
street is a field error (422), never a row. Errors name the field, never repeat its value: an
address is personal data.
"""

from __future__ import annotations

import re
import unicodedata

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["COUNTIES", "Address", "Addressee", "county_code", "county_name"]

#: Official county codes (auto registration plates, ISO 3166-2:RO) → names with diacritics.
COUNTIES: dict[str, str] = {
    "AB": "Alba",
    "AR": "Arad",
    "AG": "Argeș",
    "BC": "Bacău",
    "BH": "Bihor",
    "BN": "Bistrița-Năsăud",
    "BT": "Botoșani",
    "BR": "Brăila",
    "BV": "Brașov",
    "BZ": "Buzău",
    "CL": "Călărași",
    "CS": "Caraș-Severin",
    "CJ": "Cluj",
    "CT": "Constanța",
    "CV": "Covasna",
    "DB": "Dâmbovița",
    "DJ": "Dolj",
    "GL": "Galați",
    "GR": "Giurgiu",
    "GJ": "Gorj",
    "HR": "Harghita",
    "HD": "Hunedoara",
    "IL": "Ialomița",
    "IS": "Iași",
    "IF": "Ilfov",
    "MM": "Maramureș",
    "MH": "Mehedinți",
    "MS": "Mureș",
    "NT": "Neamț",
    "OT": "Olt",
    "PH": "Prahova",
    "SJ": "Sălaj",
    "SM": "Satu Mare",
    "SB": "Sibiu",
    "SV": "Suceava",
    "TR": "Teleorman",
    "TM": "Timiș",
    "TL": "Tulcea",
    "VL": "Vâlcea",
    "VS": "Vaslui",
    "VN": "Vrancea",
    "B": "București",
}


def _fold(text: str) -> str:
    """Lower case, no diacritics (comma-below and cedilla alike), no spaces or hyphens."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[\s\-_.]+", "", plain.lower())


_BY_FOLDED: dict[str, str] = {_fold(name): code for code, name in COUNTIES.items()}
_BY_FOLDED.update({"municipiulbucuresti": "B", "mun.bucuresti": "B", "bucharest": "B"})
_BY_FOLDED.update({f"judetul{_fold(name)}": code for code, name in COUNTIES.items()})


def county_code(value: str) -> str | None:
    """The county code for a code or a name (diacritics optional), or None when unknown."""
    text = value.strip()
    if text.upper() in COUNTIES:
        return text.upper()
    return _BY_FOLDED.get(_fold(text))


def county_name(code: str) -> str:
    return COUNTIES[code]


_POSTAL_CODE = re.compile(r"^\d{6}$")


class Address(BaseModel):
    """An address in Romanian form: county, locality, street, number, block, entrance, floor,
    apartment, postal code (and sector, in București)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, hide_input_in_errors=True)

    county: str = Field(min_length=1, max_length=40, description="County code (TM) or name")
    locality: str = Field(min_length=1, max_length=100, description="City, town or village")
    sector: int | None = Field(default=None, ge=1, le=6, description="Sector (București only)")
    street: str = Field(min_length=1, max_length=150, description="Street (strada, bulevard…)")
    number: str = Field(default="", max_length=20, description="Street number")
    building: str = Field(default="", max_length=20, description="Block (bloc)")
    entrance: str = Field(default="", max_length=10, description="Entrance (scara)")
    floor: str = Field(default="", max_length=10, description="Floor (etaj)")
    apartment: str = Field(default="", max_length=10, description="Apartment (apartament)")
    postal_code: str = Field(min_length=1, max_length=6, description="Six-digit postal code")

    @field_validator("county")
    @classmethod
    def _county(cls, value: str) -> str:
        code = county_code(value)
        if code is None:
            raise ValueError("unknown county: use a county code (AB … VN, B) or a county name")
        return code

    @field_validator("postal_code")
    @classmethod
    def _postal_code(cls, value: str) -> str:
        if not _POSTAL_CODE.match(value):
            raise ValueError("a Romanian postal code has exactly 6 digits")
        return value

    @model_validator(mode="after")
    def _sector(self) -> Address:
        if self.sector is not None and self.county != "B":
            raise ValueError("sector is only used for addresses in București (county B)")
        return self

    def lines(self) -> list[str]:
        """The address as it is written on an envelope (Romanian conventions)."""
        street = f"{self.street} nr. {self.number}" if self.number else self.street
        parts = [street]
        for label, value in (
            ("bl.", self.building),
            ("sc.", self.entrance),
            ("et.", self.floor),
            ("ap.", self.apartment),
        ):
            if value:
                parts.append(f"{label} {value}")
        where = self.locality + (f", sector {self.sector}" if self.sector else "")
        county = "" if self.county == "B" else f", jud. {county_name(self.county)}"
        return [", ".join(parts), f"{self.postal_code} {where}{county}"]

    def __repr__(self) -> str:
        return f"Address(county={self.county!r}, <personal data masked>)"

    __str__ = __repr__


class Addressee(BaseModel):
    """Who the item goes to: a person or an organisation (personal data), and where."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, hide_input_in_errors=True)

    name: str = Field(min_length=1, max_length=200, description="Addressee's name")
    contact_person: str = Field(default="", max_length=100, description="Contact person, if any")
    phone: str = Field(default="", max_length=20, description="Phone (the courier calls it)")
    email: str = Field(default="", max_length=254, description="E-mail (courier notices)")
    address: Address

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        if value and not re.fullmatch(r"\+?[0-9 ./()-]{6,20}", value):
            raise ValueError("not a phone number")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if value and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            raise ValueError("not a valid e-mail address")
        return value

    def __repr__(self) -> str:
        return "Addressee(<personal data masked>)"

    __str__ = __repr__
