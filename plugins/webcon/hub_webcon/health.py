"""``hub doctor`` for WEBCON: token, database, and every guid the settings name, one line per
problem.

What is checked, through the metadata endpoints of the published API:

* a token can be obtained (client id, secret, scopes);
* the content database answers (``GET …/db/{dbId}/applications``);
* the application used for reconciliation exists, and a correlation field is configured;
* per document kind: the workflow, the form type (and that the workflow uses it), the path
  (and that it leaves the start step), the business entity, and every mapped field guid on the
  form layout of the start step — and no mandatory field is left unmapped;
* the release path and fields.

A section left entirely empty means WEBCON is not in use here: one line says so, and it is not
a failure. A half-filled section is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.connectors import HealthCheck
from hub.errors import DeliveryError

if TYPE_CHECKING:
    from hub_webcon.client import WebconClient
    from hub_webcon.settings import FormSettings, WebconSettings

__all__ = ["health_checks"]


class _Meta:
    """Metadata reads of one health run, cached (several forms share a workflow)."""

    def __init__(self, client: WebconClient) -> None:
        self.client = client
        self._cache: dict[str, Any] = {}

    async def get(self, suffix: str, **params: str) -> Any:
        key = suffix + repr(sorted(params.items()))
        if key not in self._cache:
            try:
                self._cache[key] = await self.client.metadata(suffix, params=params or None)
            except DeliveryError as exc:
                self._cache[key] = exc
        value = self._cache[key]
        if isinstance(value, DeliveryError):
            raise value
        return value

    async def start_step(self, workflow: str) -> dict[str, Any]:
        steps = (await self.get(f"workflows/{workflow}/steps")).get("steps") or []
        for step in steps:
            detail = await self.get(f"steps/{step['guid']}")
            if detail.get("type") == "Start":
                return dict(detail)
        raise LookupError("the workflow has no start step")


def _problem(exc: Exception) -> str:
    return exc.message if isinstance(exc, DeliveryError) else str(exc)


async def health_checks(settings: WebconSettings, client: WebconClient) -> list[HealthCheck]:
    if not settings.enabled:
        return [HealthCheck(name="connector", ok=True, detail="disabled (HUB_WEBCON__ENABLED)")]
    if not settings.base_url and not settings.forms:
        return [HealthCheck(name="configuration", ok=True, detail="not configured, not in use")]
    if not settings.configured:
        return [
            HealthCheck(
                name="configuration", ok=False, detail="set " + ", ".join(settings.missing())
            )
        ]
    checks: list[HealthCheck] = []
    try:
        await client.token()
        checks.append(HealthCheck(name="token", ok=True, detail="obtained"))
    except DeliveryError as exc:
        return [HealthCheck(name="token", ok=False, detail=exc.message)]
    meta = _Meta(client)
    try:
        apps = (await meta.get("applications")).get("applications") or []
        checks.append(
            HealthCheck(
                name="database",
                ok=True,
                detail=f"database {settings.db_id} reachable, {len(apps)} application(s)",
            )
        )
    except DeliveryError as exc:
        checks.append(HealthCheck(name="database", ok=False, detail=exc.message))
        return checks
    checks.extend(await _reconciliation(settings, meta))
    for kind, form in sorted(settings.forms.items()):
        problems = await _form_problems(settings, form, meta)
        if problems:
            checks.extend(HealthCheck(name=f"form {kind}", ok=False, detail=p) for p in problems)
        else:
            checks.append(
                HealthCheck(
                    name=f"form {kind}",
                    ok=True,
                    detail="workflow, form type, path and fields found",
                )
            )
    checks.extend(await _release(settings, meta))
    return checks


async def _reconciliation(settings: WebconSettings, meta: _Meta) -> list[HealthCheck]:
    out = []
    if not settings.correlation_field_guid:
        out.append(
            HealthCheck(
                name="reconciliation",
                ok=False,
                detail="HUB_WEBCON__CORRELATION_FIELD_GUID is not set: an ambiguous failure "
                "may register a document twice",
            )
        )
    if not settings.application_guid:
        out.append(
            HealthCheck(
                name="reconciliation",
                ok=False,
                detail="HUB_WEBCON__APPLICATION_GUID is not set: the connector cannot search "
                "for elements it may already have created",
            )
        )
    else:
        try:
            app = await meta.get(f"applications/{settings.application_guid}")
            out.append(
                HealthCheck(name="application", ok=True, detail=f"found ({app.get('name')})")
            )
        except DeliveryError as exc:
            out.append(HealthCheck(name="application", ok=False, detail=exc.message))
    return out


async def _form_problems(settings: WebconSettings, form: FormSettings, meta: _Meta) -> list[str]:
    problems: list[str] = []
    try:
        await meta.get(f"workflows/{form.workflow_guid}")
    except DeliveryError as exc:
        return [f"workflow {form.workflow_guid}: {exc.message}"]
    try:
        await meta.get(f"formtypes/{form.form_type_guid}")
        used = (await meta.get(f"workflows/{form.workflow_guid}/associatedFormTypes")).get(
            "associatedFormTypes"
        ) or []
        if form.form_type_guid.lower() not in {str(f.get("guid")).lower() for f in used}:
            problems.append(f"form type {form.form_type_guid} is not used by the workflow")
    except DeliveryError as exc:
        return [f"form type {form.form_type_guid}: {exc.message}"]
    try:
        start = await meta.start_step(form.workflow_guid)
    except (DeliveryError, LookupError) as exc:
        return [*problems, f"start step: {_problem(exc)}"]
    if form.path.lower() != "default":
        try:
            await meta.get(f"paths/{form.path}")
            leaving = (await meta.get(f"steps/{start['guid']}/paths")).get("paths") or []
            if form.path.lower() not in {str(p.get("guid")).lower() for p in leaving}:
                problems.append(f"path {form.path} does not leave the start step")
        except DeliveryError as exc:
            problems.append(f"path {form.path}: {exc.message}")
    if form.business_entity_guid:
        try:
            await meta.client.metadata(f"businessentities/{form.business_entity_guid}", admin=True)
        except DeliveryError as exc:
            if exc.error_type != "InvalidScope":
                problems.append(f"business entity {form.business_entity_guid}: {exc.message}")
    try:
        layout = await meta.get("formlayout", step=str(start["guid"]), formType=form.form_type_guid)
    except DeliveryError as exc:
        return [*problems, f"form layout: {exc.message}"]
    fields = {str(f.get("guid")).lower(): f for f in layout.get("fields") or []}
    mapped = {m.guid.lower() for m in form.mappings().values()}
    for hub_field, m in sorted(form.mappings().items()):
        if m.guid.lower() not in fields:
            problems.append(f"field {hub_field}: {m.guid} is not on the form")
    corr = (settings.correlation_field_guid or "").lower()
    if corr:
        mapped.add(corr)
        if corr not in fields:
            problems.append(
                f"correlation field {settings.correlation_field_guid} is not on the form"
            )
    for guid, f in fields.items():
        if f.get("requiredness") == "Mandatory" and guid not in mapped:
            problems.append(f"mandatory field {f.get('name')!r} ({guid}) is not mapped")
    return problems


async def _release(settings: WebconSettings, meta: _Meta) -> list[HealthCheck]:
    r = settings.release
    out = []
    if r.path_guid:
        try:
            path = await meta.get(f"paths/{r.path_guid}")
            out.append(
                HealthCheck(name="release path", ok=True, detail=f"found ({path.get('name')})")
            )
        except DeliveryError as exc:
            out.append(HealthCheck(name="release path", ok=False, detail=exc.message))
    return out
