"""Settings that fit a simulator, and the simulator as ``hub demo`` runs it.

:func:`settings_for` names the simulator's catalog in a ``webcon`` settings section: each
document kind the demo produces gets a form type (petitions their own, with their own numbering),
the sender and document fields are mapped onto the catalog's fields, and the correlation field is
"ID document hub".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub_webcon.simulator.model import Catalog, guid_for

if TYPE_CHECKING:
    from hub_webcon.simulator.server import WebconSimulator

__all__ = ["FIELD_MAP", "settings_for"]

#: hub field → the simulator catalog's field name.
FIELD_MAP: dict[str, str] = {
    "subject": "Subiect",
    "body": "Conținut",
    "channel": "Canal de intrare",
    "kind": "Tip document",
    "sender_name": "Petent - nume",
    "sender_id": "Petent - CNP/CUI",
    "sender_email": "Petent - e-mail",
    "sender_phone": "Petent - telefon",
    "sender_address": "Petent - adresă",
    "received_at": "Data primirii",
    "department": "Compartiment",
}
_TYPED = {"received_at": "DateTime"}
_FORM_BY_KIND = {
    "petitie": "Petiție",
    "cerere_544": "Cerere 544/2001",
    "default": "Document intrat",
}


def _form(catalog: Catalog, form_type: str) -> dict[str, Any]:
    app = catalog.applications[0]
    wf = app.workflows[0]
    fields: dict[str, Any] = {}
    for hub_field, name in FIELD_MAP.items():
        guid = guid_for("field", name)
        typed = _TYPED.get(hub_field)
        fields[hub_field] = {"guid": guid, "type": typed} if typed else guid
    return {
        "workflow_guid": wf.guid,
        "form_type_guid": guid_for("formtype", form_type),
        "business_entity_guid": catalog.business_entities[0].guid,
        "path": guid_for("path", "Înregistrează"),
        "fields": fields,
        "attachment_group": "Documente intrare",
    }


def settings_for(sim: WebconSimulator, **overrides: Any) -> dict[str, Any]:
    """A ``webcon`` settings section (as a dict, for ``load_settings``) for ``sim``."""
    catalog = sim.catalog
    client = catalog.clients[0]
    section: dict[str, Any] = {
        "base_url": sim.url,
        "client_id": client.client_id,
        "client_secret": client.secret,
        "db_id": catalog.db_id,
        "application_guid": catalog.applications[0].guid,
        "correlation_field_guid": guid_for("field", "ID document hub"),
        "forms": {kind: _form(catalog, name) for kind, name in _FORM_BY_KIND.items()},
        "release": {
            "path_guid": guid_for("path", "Eliberează"),
            "date_field_guid": guid_for("field", "Data eliberării"),
            "mode_field_guid": guid_for("field", "Mod eliberare"),
        },
    }
    section.update(overrides)
    return section
