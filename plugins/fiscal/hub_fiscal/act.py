"""A fiscal act or fine, read from a document and checked before it leaves the hub.

The registry enters the act's particulars in the document's ``metadata.fiscal``::

    {"issuer": "Poliția Locală Timișoara", "series": "PLT", "number": "0123456",
     "amount": "150.00", "legal_basis": "HCL 371/2007 art. 4 lit. b",
     "communicated_on": "2026-11-20",
     "offender": {"type": "pf", "name": "…", "cnp": "…", "address": "…"}}

``offender`` may be left out: the document's sender is the offender then (a fine is usually
brought in by the person fined). Amounts are RON with exactly two decimals, written as a string
(``"150.00"``) so that nothing is lost to floating point. CNP and CUI are checked with their
check digits. A document that fails is a :class:`~hub.errors.PermanentError` whose message names
the field and never its value.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.ro import cf as ro_cf
from stdnum.ro import cnp as ro_cnp

from hub.errors import PermanentError
from hub.models import Document

__all__ = ["FISCAL_KINDS", "FiscalAct", "Offender", "parse_amount", "read_act"]

FISCAL_KINDS = frozenset({"act_executare_fiscala", "amenda"})
_AMOUNT = re.compile(r"^(0|[1-9]\d{0,11})\.\d{2}$")


class Offender(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: Literal["pf", "pj"]
    name: str
    cnp: str | None = None
    cui: str | None = None
    address: str | None = None

    def __repr__(self) -> str:
        return f"Offender(type={self.type!r}, <personal data masked>)"

    __str__ = __repr__


class FiscalAct(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["act_executare_fiscala", "amenda"]
    issuer: str
    series: str
    number: str
    amount: Decimal
    legal_basis: str
    communicated_on: date
    offender: Offender

    def __repr__(self) -> str:
        return f"FiscalAct({self.kind}, issuer={self.issuer!r}, amount={self.amount})"

    def payload(self) -> dict[str, Any]:
        """The act as the Directorate's intake reads it."""
        return {
            "kind": self.kind,
            "issuer": self.issuer,
            "report": {"series": self.series, "number": self.number},
            "amount": {"value": f"{self.amount:.2f}", "currency": "RON"},
            "legal_basis": self.legal_basis,
            "communicated_on": self.communicated_on.isoformat(),
            "offender": self.offender.model_dump(exclude_none=True),
        }


def _fail(kind: str, field: str, problem: str) -> PermanentError:
    return PermanentError(f"{kind}: metadata.fiscal.{field} {problem}")


def parse_amount(value: object, kind: str = "act") -> Decimal:
    """RON with exactly two decimals, positive: ``"150.00"`` (a JSON number is accepted only
    when it prints with two decimals, e.g. ``150.25``)."""
    text = value if isinstance(value, str) else repr(value) if isinstance(value, float) else None
    if isinstance(value, bool) or text is None or not _AMOUNT.fullmatch(text.strip()):
        raise _fail(kind, "amount", 'must be RON with exactly two decimals, e.g. "150.00"')
    amount = Decimal(text.strip())
    if amount <= 0:
        raise _fail(kind, "amount", "must be greater than zero")
    return amount


def _text(fiscal: dict[str, Any], field: str, kind: str, max_length: int = 200) -> str:
    value = fiscal.get(field)
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        raise _fail(kind, field, "is required")
    text = str(value).strip()
    if len(text) > max_length:
        raise _fail(kind, field, f"is longer than {max_length} characters")
    return text


def _offender(fiscal: dict[str, Any], doc: Document, kind: str) -> Offender:
    raw = fiscal.get("offender")
    if raw is None and doc.sender is not None:
        raw = doc.sender.model_dump(exclude_none=True)
    if not isinstance(raw, dict):
        raise _fail(kind, "offender", "is required (or a sender on the document)")
    typ = raw.get("type")
    if typ not in ("pf", "pj"):
        raise _fail(kind, "offender.type", "must be pf (person) or pj (company)")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _fail(kind, "offender.name", "is required")
    address = raw.get("address") if isinstance(raw.get("address"), str) else None
    if typ == "pf":
        try:
            cnp = str(ro_cnp.validate(str(raw.get("cnp") or "")))
        except StdnumValidationError:
            raise _fail(
                kind, "offender.cnp", "is not a valid CNP (13 digits, check digit)"
            ) from None
        return Offender(type="pf", name=name.strip(), cnp=cnp, address=address)
    try:
        cui = str(ro_cf.validate(str(raw.get("cui") or "")))
    except StdnumValidationError:
        raise _fail(kind, "offender.cui", "is not a valid CUI (check digit or length)") from None
    return Offender(type="pj", name=name.strip(), cui=cui, address=address)


def read_act(doc: Document) -> FiscalAct:
    """The act carried by ``doc``, checked; :class:`PermanentError` naming the bad field."""
    kind = doc.kind
    if kind not in FISCAL_KINDS:
        raise PermanentError(
            f"the fiscal connector takes {sorted(FISCAL_KINDS)}, not {kind!r}: check the rule"
        )
    fiscal = doc.metadata.get("fiscal")
    if not isinstance(fiscal, dict):
        raise PermanentError(f"{kind}: metadata.fiscal is missing (issuer, series, number, …)")
    raw_date = fiscal.get("communicated_on")
    try:
        communicated = date.fromisoformat(str(raw_date))
    except ValueError:
        raise _fail(kind, "communicated_on", "must be a date, YYYY-MM-DD") from None
    return FiscalAct(
        kind=kind,
        issuer=_text(fiscal, "issuer", kind),
        series=_text(fiscal, "series", kind, 16),
        number=_text(fiscal, "number", kind, 32),
        amount=parse_amount(fiscal.get("amount"), kind),
        legal_basis=_text(fiscal, "legal_basis", kind, 500),
        communicated_on=communicated,
        offender=_offender(fiscal, doc, kind),
    )
