"""The directory of receiving units: departments, subordinate institutions, companies.

Routing rules name a unit by its code (``department = "DJ"``); the directory says what that code
is and how the unit is reached. It lives in a TOML file (``HUB_UNITS_FILE``, default
``units.toml``)::

    [[unit]]
    code = "DJ"                            # upper-case letters, digits, '-' or '_'
    name = "Direcția Juridică"
    kind = "department"                    # department | subordinate | company
    rank_one = true                        # a rank-I structure (gets the monthly report)
    head_name = "…"                        # head of the structure (personal data)
    head_email = "sef.dj@primariatm.ro"
    email = "juridic@primariatm.ro"        # where e-mail deliveries and digests go
    webhook_target = "DJ"                  # the webhook connector's endpoint for this unit
    digest = false                         # e-mail: one daily digest instead of a message each

A missing file is an empty directory. An invalid file is a :class:`ConfigurationError` naming
the unit and the field, never the values (they hold names and addresses).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.errors import ConfigurationError

__all__ = ["Unit", "UnitDirectory", "load_units"]

UnitKind = Literal["department", "subordinate", "company"]


class Unit(BaseModel):
    """One receiving unit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[A-Z0-9][A-Z0-9_-]{0,31}$", description="The routing code")
    name: str = Field(min_length=1, max_length=200, description="Its name, as printed")
    kind: UnitKind = Field(default="department")
    rank_one: bool = Field(default=False, description="A rank-I structure of the city hall")
    head_name: str | None = Field(default=None, max_length=200)
    head_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    webhook_target: str | None = Field(default=None, description="Webhook endpoint name")
    digest: bool = Field(
        default=False,
        description="E-mail deliveries wait for one daily digest instead of a message each",
    )


class UnitDirectory(BaseModel):
    """Every unit, by code."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    units: tuple[Unit, ...] = ()

    def get(self, code: str) -> Unit | None:
        return next((unit for unit in self.units if unit.code == code), None)

    def __contains__(self, code: object) -> bool:
        return any(unit.code == code for unit in self.units)

    @property
    def rank_one(self) -> tuple[Unit, ...]:
        return tuple(unit for unit in self.units if unit.rank_one)


def load_units(path: Path) -> UnitDirectory:
    """Read and validate the directory; a missing file is an empty directory."""
    if not path.exists():
        return UnitDirectory()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"units file {path}: not valid TOML ({exc})") from None
    unknown = set(raw) - {"unit"}
    if unknown:
        raise ConfigurationError(f"units file {path}: unknown table(s) {sorted(unknown)}")
    entries = raw.get("unit", [])
    units: list[Unit] = []
    for index, entry in enumerate(entries):
        label = entry.get("code") if isinstance(entry, dict) else None
        where = f"unit {label!r}" if isinstance(label, str) else f"unit #{index + 1}"
        try:
            units.append(Unit.model_validate(entry))
        except ValidationError as exc:
            fields = ", ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(unit)'}: {err['msg']}"
                for err in exc.errors(include_input=False)
            )
            raise ConfigurationError(f"units file {path}: {where}: {fields}") from None
    codes = [unit.code for unit in units]
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    if duplicates:
        raise ConfigurationError(f"units file {path}: duplicate code(s) {duplicates}")
    return UnitDirectory(units=tuple(units))
