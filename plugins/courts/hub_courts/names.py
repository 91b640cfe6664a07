"""Spellings: the party-name variants the portal is searched with, and court display names.

The portal matches ``numeParte`` literally, and the courts' clerks type the municipality's name
in every form Romanian keyboards allow: ``Ş``/``Ţ`` with a cedilla (the old encoding), ``Ș``/``Ț``
with a comma below (the correct letters), or no diacritics at all. A case filed under one of
those spellings is invisible to a search with another, so every configured name is searched in
all three forms.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

__all__ = ["court_label", "fold", "name_variants"]

_TO_COMMA = str.maketrans("ŞşŢţ", "ȘșȚț")
_TO_CEDILLA = str.maketrans("ȘșȚț", "ŞşŢţ")


def fold(text: str) -> str:
    """Upper case, no diacritics, single spaces: how two spellings compare."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", bare).strip().upper()


def name_variants(names: Iterable[str]) -> list[str]:
    """Each name with comma-below letters, with cedillas, and without diacritics; no duplicates,
    in a stable order."""
    out: list[str] = []
    for name in names:
        name = re.sub(r"\s+", " ", name).strip()
        if not name:
            continue
        for form in (name.translate(_TO_COMMA), name.translate(_TO_CEDILLA), fold(name)):
            if form not in out:
                out.append(form)
    return out


_PREFIXES = (
    ("CurteadeApel", "Curtea de Apel "),
    ("TribunalulMilitar", "Tribunalul Militar "),
    ("TribunalulComercial", "Tribunalul Comercial "),
    ("Tribunalul", "Tribunalul "),
    ("Judecatoria", "Judecătoria "),
)
_PLACES = {
    "TIMISOARA": "Timișoara",
    "TIMIS": "Timiș",
    "LUGOJ": "Lugoj",
    "ARAD": "Arad",
    "BUCURESTI": "București",
    "CLUJ": "Cluj",
    "CLUJNAPOCA": "Cluj-Napoca",
    "DETA": "Deta",
    "FAGET": "Făget",
    "SANNICOLAULMARE": "Sânnicolau Mare",
}


def court_label(code: str) -> str:
    """``TribunalulTIMIS`` → ``Tribunalul Timiș`` (for people; the code stays the key)."""
    for prefix, label in _PREFIXES:
        if code.startswith(prefix):
            place = code[len(prefix) :]
            return label + _PLACES.get(place, place.title())
    return code
