"""What the simulated WEBCON BPS knows: its metadata (applications, workflows, steps, paths,
form types, fields, business entities, API clients) and the workflow instances it holds.

Metadata is plain data built by :func:`registry_catalog`, a registry application shaped like the
city hall's: one workflow "Înregistrare documente" with a start step, intermediate steps and two
finish steps, three form types with their own instance-number patterns, and the fields the
connector's field map points at. Guids are derived from names (uuid5), so the same catalog always
has the same guids and :func:`hub_webcon.simulator.demo_settings` can name them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "ApiClient",
    "Application",
    "Attachment",
    "BusinessEntity",
    "Catalog",
    "Element",
    "FieldDef",
    "FormType",
    "PathDef",
    "Step",
    "Workflow",
    "guid_for",
    "registry_catalog",
]

_NS = uuid.UUID("0b5c7e0e-3f7b-4d62-9a51-5e1f3c2d7a10")


def guid_for(kind: str, name: str) -> str:
    """A stable guid for a named metadata object."""
    return str(uuid.uuid5(_NS, f"{kind}:{name}"))


@dataclass
class FieldDef:
    id: int
    name: str
    type: str  # a 5.0.Fields.FieldTypes value: SingleLine, Multiline, DateTime, Email, Int, …
    guid: str = ""
    db_column: str = ""

    def __post_init__(self) -> None:
        self.guid = self.guid or guid_for("field", self.name)
        self.db_column = self.db_column or f"WFD_AttText{self.id}"


@dataclass
class Step:
    id: int
    name: str
    type: str  # 4.0.Metadata.StepTypes: Start, Intermediate, FinishPositive, FinishNegative
    guid: str = ""

    def __post_init__(self) -> None:
        self.guid = self.guid or guid_for("step", self.name)

    @property
    def finishing(self) -> bool:
        return self.type in ("FinishPositive", "FinishNegative")


@dataclass
class PathDef:
    id: int
    name: str
    from_step: int
    to_step: int
    guid: str = ""

    def __post_init__(self) -> None:
        self.guid = self.guid or guid_for("path", self.name)


@dataclass
class FormType:
    id: int
    name: str
    #: Instance number pattern: {yyyy} {MM} {seq} (zero-padded to 5 digits).
    number_pattern: str
    #: Guids of the fields that must have a value when an instance starts.
    mandatory: frozenset[str] = frozenset()
    guid: str = ""

    def __post_init__(self) -> None:
        self.guid = self.guid or guid_for("formtype", self.name)


@dataclass
class Workflow:
    id: int
    name: str
    steps: list[Step]
    paths: list[PathDef]
    form_types: list[FormType]
    fields: list[FieldDef]
    guid: str = ""

    def __post_init__(self) -> None:
        self.guid = self.guid or guid_for("workflow", self.name)

    @property
    def start_step(self) -> Step:
        return next(s for s in self.steps if s.type == "Start")


@dataclass
class Application:
    id: int
    name: str
    process_id: int
    process_name: str
    workflows: list[Workflow]
    guid: str = ""
    process_guid: str = ""

    def __post_init__(self) -> None:
        self.guid = self.guid or guid_for("application", self.name)
        self.process_guid = self.process_guid or guid_for("process", self.process_name)


@dataclass
class BusinessEntity:
    id: int
    name: str
    code: str
    guid: str = ""

    def __post_init__(self) -> None:
        self.guid = self.guid or guid_for("businessentity", self.code)


@dataclass
class ApiClient:
    """An application registered in WEBCON's Designer Studio (client credentials)."""

    client_id: str
    secret: str
    scopes: frozenset[str]
    name: str = "Registry hub"


@dataclass
class Catalog:
    """Everything the simulated installation is configured with."""

    db_id: int
    applications: list[Application]
    business_entities: list[BusinessEntity]
    clients: list[ApiClient]

    def __post_init__(self) -> None:
        self._index: dict[tuple[str, str], Any] = {}
        for app in self.applications:
            self._add("application", app)
            for wf in app.workflows:
                self._add("workflow", wf)
                for s in wf.steps:
                    self._add("step", s)
                for p in wf.paths:
                    self._add("path", p)
                for ft in wf.form_types:
                    self._add("formtype", ft)
                for f in wf.fields:
                    self._add("field", f)
        for be in self.business_entities:
            self._add("businessentity", be)

    def _add(self, kind: str, obj: Any) -> None:
        self._index[(kind, obj.guid.lower())] = obj
        self._index[(kind, str(obj.id))] = obj

    def find(self, kind: str, idguid: str | int | None) -> Any:
        """The object of ``kind`` with that id or guid (case-insensitive), or None."""
        if idguid is None:
            return None
        return self._index.get((kind, str(idguid).lower()))

    def workflow_of(self, obj: Any) -> Workflow:
        for app in self.applications:
            for wf in app.workflows:
                if obj in wf.steps or obj in wf.paths or obj in wf.form_types or obj is wf:
                    return wf
        raise KeyError(obj)

    def application_of(self, wf: Workflow) -> Application:
        return next(a for a in self.applications if wf in a.workflows)


@dataclass
class Attachment:
    id: int
    name: str
    group: str | None
    description: str | None
    content: bytes
    created: datetime


@dataclass
class Element:
    """One workflow instance."""

    id: int
    instance_number: str
    workflow: Workflow
    form_type: FormType
    business_entity: BusinessEntity | None
    step: Step
    created: datetime
    author: str
    fields: dict[str, Any] = field(default_factory=dict)  # field guid → value
    comments: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    modified: datetime = field(default_factory=lambda: datetime.now(UTC))
    entered_step: datetime = field(default_factory=lambda: datetime.now(UTC))
    finish_date: datetime | None = None
    version: int = 1
    checked_out_by: str | None = None

    @property
    def finished(self) -> bool:
        return self.step.finishing


def registry_catalog(
    *,
    db_id: int = 1,
    client_id: str = "hub-registratura",
    client_secret: str = "sim-secret-not-for-production",  # noqa: S107 - a simulator's
    scopes: frozenset[str] | None = None,
) -> Catalog:
    """The city hall's registry as the simulator serves it by default."""
    fields = [
        FieldDef(1, "Subiect", "SingleLine"),
        FieldDef(2, "Conținut", "Multiline"),
        FieldDef(3, "Canal de intrare", "SingleLine"),
        FieldDef(4, "Tip document", "SingleLine"),
        FieldDef(5, "Petent - nume", "SingleLine"),
        FieldDef(6, "Petent - CNP/CUI", "SingleLine"),
        FieldDef(7, "Petent - e-mail", "Email"),
        FieldDef(8, "Petent - telefon", "SingleLine"),
        FieldDef(9, "Petent - adresă", "Multiline"),
        FieldDef(10, "Data primirii", "DateTime"),
        FieldDef(11, "Compartiment", "SingleLine"),
        FieldDef(12, "Termen de soluționare", "Date"),
        FieldDef(13, "ID document hub", "SingleLine"),
        FieldDef(14, "Data eliberării", "DateTime"),
        FieldDef(15, "Mod eliberare", "SingleLine"),
        FieldDef(16, "Număr pagini", "Int"),
    ]
    by_name = {f.name: f.guid for f in fields}
    steps = [
        Step(1, "Registratură", "Start"),
        Step(2, "Repartizare", "Intermediate"),
        Step(3, "În lucru la compartiment", "Intermediate"),
        Step(4, "Soluționat", "Intermediate"),
        Step(5, "Eliberat", "FinishPositive"),
        Step(6, "Clasat", "FinishNegative"),
    ]
    paths = [
        PathDef(1, "Înregistrează", 1, 2),
        PathDef(2, "Repartizează", 2, 3),
        PathDef(3, "Soluționează", 3, 4),
        PathDef(4, "Eliberează", 4, 5),
        PathDef(5, "Clasează", 2, 6),
    ]
    common = frozenset({by_name["Subiect"], by_name["ID document hub"]})
    form_types = [
        FormType(1, "Document intrat", "REG/{yyyy}/{MM}/{seq}", common),
        FormType(2, "Petiție", "PET/{yyyy}/{MM}/{seq}", common | {by_name["Data primirii"]}),
        FormType(3, "Cerere 544/2001", "544/{yyyy}/{MM}/{seq}", common),
    ]
    workflow = Workflow(1, "Înregistrare documente", steps, paths, form_types, fields)
    app = Application(1, "Registratură generală", 1, "Registratură", [workflow])
    entities = [BusinessEntity(1, "Primăria Municipiului Timișoara", "PMT")]
    granted = scopes or frozenset(
        {
            "App.Elements.ReadWrite.All",
            "App.Metadata.Read",
            "App.Search.Read.All",
            "Admin.BusinessEntities.Read",
        }
    )
    return Catalog(db_id, [app], entities, [ApiClient(client_id, client_secret, granted)])
