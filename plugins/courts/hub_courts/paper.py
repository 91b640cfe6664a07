"""Paper acts from courts, bailiffs and the police, registered through the normal intake.

They are ordinary documents (``POST /api/v1/documents``, ``hub intake``) whose fields say what
the handover list and the notice board need:

* ``channel``: ``instanta`` (a court), ``executor`` (a bailiff) or ``posta``/``ghiseu``;
* ``department``: the addressee department (``DJ``, ``DF`` …) — it wins over the routing rules;
* ``metadata.act_type``: ``citatie``, ``comunicare``, ``hotarare``, ``titlu_executoriu``,
  ``poprire``, ``somatie``, ``proces_verbal_contraventie``;
* ``metadata.issuer``: who issued it (court, bailiff's office, police unit);
* ``metadata.case_number``: the case or enforcement file number;
* ``metadata.fiscal``: true for a fiscal enforcement act (then ``act_executare_fiscala``,
  routed to the Fiscal Directorate).

A document sent without a ``kind`` is classified here from ``act_type``.
"""

from __future__ import annotations

from hub.models import DocumentIn

__all__ = ["ACT_TYPES", "ENFORCEMENT", "act_label", "classify"]

#: act_type → how the handover list and the posting records name it.
ACT_TYPES: dict[str, str] = {
    "citatie": "Citație",
    "comunicare": "Comunicare act de procedură",
    "hotarare": "Comunicare hotărâre judecătorească",
    "titlu_executoriu": "Titlu executoriu",
    "poprire": "Adresă de înființare a popririi",
    "somatie": "Somație",
    "proces_verbal_contraventie": "Proces-verbal de contravenție",
    "instiintare": "Înștiințare",
}
ENFORCEMENT = frozenset({"titlu_executoriu", "poprire", "somatie"})


def act_label(act_type: str | None, kind: str) -> str:
    if act_type and act_type in ACT_TYPES:
        return ACT_TYPES[act_type]
    return {
        "termen_instanta": "Termen de judecată",
        "act_procedura": "Act de procedură",
        "act_executare_fiscala": "Act de executare fiscală",
        "amenda": "Amendă",
    }.get(kind, kind)


def classify(document: DocumentIn) -> str | None:
    act_type = str(document.metadata.get("act_type") or "").strip().lower()
    if act_type not in ACT_TYPES:
        return None
    if act_type == "proces_verbal_contraventie":
        return "amenda"
    if act_type in ENFORCEMENT and document.metadata.get("fiscal") is True:
        return "act_executare_fiscala"
    return "act_procedura"
