"""The dashboard's pages and forms. Every route states who may use it: ``auth.page(scope…)``
for pages, ``auth.action(scope…)`` for anything that changes state (CSRF and origin checked).
Operator actions go through the ledger's own transitions with ``user:<name>`` as the actor, so
each one is an event in the audit trail naming the person."""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from hub.api.present import document_view
from hub.auth.oidc import OidcClient
from hub.auth.passwords import needs_rehash, verify_password
from hub.auth.users import UserError
from hub.dashboard.chart import deliveries_chart
from hub.dashboard.forms import DeadLetterQuery, DocumentQuery, FormError, parse_ids
from hub.dashboard.jobs import BulkJobs
from hub.dashboard.oidc_routes import oidc_router
from hub.dashboard.session import (
    CSRF_FIELD,
    CsrfRejected,
    DashboardAuth,
    Viewer,
    check_origin,
    safe_next,
)
from hub.dashboard.views import (
    CHART_BUCKET_SECONDS,
    build_overview,
    document_page,
    source_rows,
)
from hub.dashboard_pages import DashboardPage
from hub.log import get_logger
from hub.models import Document
from hub.runtime import Hub
from hub.terms import local_date

__all__ = ["dashboard_router"]

log = get_logger("hub.dashboard")

PAGE_SIZE = 100
DOCUMENT_STATES = ("received", "registered", "in_progress", "closed", "rejected")


def dashboard_router(
    hub: Hub,
    auth: DashboardAuth,
    templates: Jinja2Templates,
    jobs: BulkJobs,
    oidc: OidcClient | None = None,
) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    ledger, runner, store = hub.ledger, hub.runner, auth.store
    settings = auth.settings
    plugin_pages = hub.host.dashboard_pages()

    def render(
        request: Request,
        template: str,
        viewer: Viewer | None,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        context |= {
            "viewer": viewer,
            "csrf_field": CSRF_FIELD,
            "refresh_seconds": settings.refresh_seconds,
            "plugin_pages": [p for p in plugin_pages if viewer and viewer.can(p.scope)],
        }
        response = templates.TemplateResponse(request, template, context, status_code=status_code)
        response.headers["cache-control"] = "no-store"
        return response

    # --- sign-in ------------------------------------------------------------------------------

    def login_page(
        request: Request, message: str | None = None, status_code: int = 200, name: str = ""
    ) -> HTMLResponse:
        token = secrets.token_urlsafe(32)
        response = render(
            request,
            "login.html",
            None,
            status_code,
            login_token=token,
            message=message,
            name=name,
            next=safe_next(request.query_params.get("next")),
            oidc_label=oidc.settings.label if oidc is not None else None,
        )
        response.set_cookie(
            auth.login_cookie,
            token,
            max_age=1800,
            path="/",
            secure=settings.cookie_secure,
            httponly=True,
            samesite="strict",
        )
        return response

    @router.get("/login")
    async def login_form(request: Request) -> Response:
        if await auth.viewer(request) is not None:
            return RedirectResponse("/", 303)
        return login_page(request)

    @router.post("/login")
    async def login(request: Request) -> Response:
        try:
            check_origin(request)
        except CsrfRejected:
            return login_page(request, "Cererea a fost respinsă. Reîncercați.", 403)
        form = await request.form()
        sent = form.get("login_token")
        expected = request.cookies.get(auth.login_cookie)
        if not (
            isinstance(sent, str)
            and expected
            and hmac.compare_digest(sent.encode(), expected.encode())  # bytes: non-ASCII is no 500
        ):
            return login_page(request, "Sesiunea formularului a expirat. Reîncercați.", 403)
        name = form.get("username")
        password = form.get("password")
        if not isinstance(name, str) or not isinstance(password, str) or not name or len(name) > 64:
            return login_page(request, "Completați numele de utilizator și parola.", 400)
        creds = await runner.read(store.credentials, name)
        # Unknown users cost the same verification as known ones (no timing oracle).
        ok = await asyncio.to_thread(
            verify_password, creds.password_hash if creds else None, password
        )
        if creds is not None and store.is_locked(creds):
            log.warning("hub.dashboard.sign_in_locked")
            return login_page(
                request,
                "Contul este blocat temporar după prea multe încercări greșite. "
                "Reîncercați mai târziu sau cereți deblocarea unui administrator.",
                429,
                name,
            )
        if creds is None or creds.disabled or not ok:
            if creds is not None and not creds.disabled:
                locked = await runner.write(store.record_failure, creds.user_id)
                if locked:
                    await runner.write(
                        ledger.record_event, "user_locked", f"user:{creds.name}", "wrong passwords"
                    )
            log.info("hub.dashboard.sign_in_failed")
            return login_page(request, "Nume de utilizator sau parolă greșite.", 401, name)
        assert creds.password_hash is not None
        rehash = None
        if needs_rehash(creds.password_hash):
            from hub.auth.passwords import hash_password

            rehash = await asyncio.to_thread(hash_password, password)
        await runner.write(store.record_success, creds.user_id, rehash)
        target = form.get("next")
        return await open_session(
            request,
            creds.user_id,
            creds.name,
            "password",
            safe_next(target if isinstance(target, str) else None),
        )

    async def open_session(
        request: Request, user_id: int, name: str, how: str, target: str
    ) -> Response:
        """Open a session, audit the sign-in, set the cookie, go on to ``target``. After an
        identity provider's redirect the way on is a page (see :mod:`oidc_routes`)."""
        value = await runner.write(store.open_session, user_id, settings.session_hours * 3600)
        await runner.write(ledger.record_event, "signed_in", f"user:{name}", how)
        response: Response
        if how == "oidc":
            response = render(request, "signed_in.html", None, target=target)
        else:
            response = RedirectResponse(target, 303)
        response.set_cookie(
            auth.cookie,
            value,
            max_age=int(settings.session_hours * 3600),
            path="/",
            secure=settings.cookie_secure,
            httponly=True,
            samesite="strict",
        )
        response.delete_cookie(auth.login_cookie, path="/", secure=settings.cookie_secure)
        return response

    if oidc is not None:
        router.include_router(oidc_router(oidc, auth, login_page, open_session))

    # --- administration -----------------------------------------------------------------------

    @router.get("/admin")
    async def admin_page(
        request: Request, viewer: Viewer = Depends(auth.page("admin"))
    ) -> Response:
        people = await runner.read(store.list_users)
        tokens = await runner.read(ledger.list_tokens)
        return render(
            request,
            "admin.html",
            viewer,
            nav="admin",
            people=people,
            tokens=tokens,
            now=time.time(),
        )

    @router.post("/admin/users/{name}/{action}")
    async def admin_user(
        request: Request, name: str, action: str, viewer: Viewer = Depends(auth.action("admin"))
    ) -> Response:
        if action not in ("disable", "enable") or name == viewer.name:
            return render(
                request,
                "error.html",
                viewer,
                400,
                title="Cerere greșită",
                message="Acțiune necunoscută (nu vă puteți dezactiva propriul cont).",
            )
        try:
            await runner.write(store.set_disabled, name, action == "disable")
        except UserError:
            return render(
                request,
                "error.html",
                viewer,
                404,
                title="Negăsit",
                message="Utilizatorul nu există.",
            )
        await runner.write(ledger.record_event, f"user_{action}d", viewer.actor, f"user {name}")
        return RedirectResponse("/admin", 303)

    @router.post("/admin/tokens/{name}/revoke")
    async def admin_revoke_token(
        request: Request, name: str, viewer: Viewer = Depends(auth.action("admin"))
    ) -> Response:
        if not await runner.write(ledger.revoke_token, name):
            return render(
                request,
                "error.html",
                viewer,
                404,
                title="Negăsit",
                message="Nu există un token activ cu acest nume.",
            )
        await runner.write(ledger.record_event, "token_revoked", viewer.actor, f"token {name}")
        return RedirectResponse("/admin", 303)

    @router.post("/logout")
    async def logout(request: Request, viewer: Viewer = Depends(auth.action())) -> Response:
        await runner.write(store.revoke_session, request.cookies.get(auth.cookie, ""))
        await runner.write(ledger.record_event, "signed_out", viewer.actor)
        response = RedirectResponse("/login", 303)
        response.delete_cookie(auth.cookie, path="/", secure=settings.cookie_secure)
        return response

    # --- overview -----------------------------------------------------------------------------

    async def overview_context() -> dict[str, Any]:
        overview = await build_overview(hub)
        charts = {
            c.name: deliveries_chart(
                c.series,
                start=overview.chart_start,
                bucket_seconds=CHART_BUCKET_SECONDS,
                label=f"Livrări și eșecuri, {c.name}, ultimele 24 de ore",
            )
            for c in overview.connectors
        }
        return {"overview": overview, "charts": charts, "now": overview.now}

    @router.get("/")
    async def overview_page(
        request: Request, viewer: Viewer = Depends(auth.page("read"))
    ) -> Response:
        return render(request, "overview.html", viewer, nav="overview", **await overview_context())

    @router.get("/overview/live")
    async def overview_live(
        request: Request, viewer: Viewer = Depends(auth.page("read"))
    ) -> Response:
        return render(request, "_overview_live.html", viewer, **await overview_context())

    # --- documents ----------------------------------------------------------------------------

    def may_see(viewer: Viewer, doc: Document) -> bool:
        if viewer.can("read"):
            return True
        return viewer.unit is not None and doc.department == viewer.unit

    @router.get("/documents")
    async def documents_page(
        request: Request, viewer: Viewer = Depends(auth.page("read", "unit"))
    ) -> Response:
        error = None
        found: list[dict[str, Any]] = []
        query = DocumentQuery()
        try:
            query = DocumentQuery.parse(request.query_params)
        except FormError as exc:
            error = str(exc)
        if not viewer.can("read"):
            query.department = viewer.unit  # a unit sees its own documents only
        if error is None and (not query.empty or not viewer.can("read")):
            docs = await runner.read(
                ledger.search_documents, **query.ledger_kwargs(), limit=PAGE_SIZE
            )
            found = [document_view(d) for d in docs]
        return render(
            request,
            "documents.html",
            viewer,
            400 if error else 200,
            nav="documents",
            error=error,
            results=found,
            searched=not query.empty,
            params=request.query_params,
            states=DOCUMENT_STATES,
        )

    async def load_document(viewer: Viewer, document_id: str) -> dict[str, Any] | None:
        def load() -> tuple[Document | None, list[dict[str, Any]], dict[str, Any]]:
            doc = ledger.get_document(document_id)
            if doc is None:
                return None, [], {}
            return doc, ledger.deliveries_of(document_id), ledger.timeline(document_id)

        if len(document_id) > 64:
            return None
        doc, deliveries, timeline = await runner.read(load)
        if doc is None or not may_see(viewer, doc):
            return None
        return {"doc": doc, "deliveries": deliveries, "timeline": timeline}

    def not_found(request: Request, viewer: Viewer) -> HTMLResponse:
        return render(
            request,
            "error.html",
            viewer,
            404,
            title="Negăsit",
            message="Documentul nu există sau nu aveți acces la el.",
        )

    @router.get("/documents/{document_id}")
    async def document_detail(
        request: Request, document_id: str, viewer: Viewer = Depends(auth.page("read", "unit"))
    ) -> Response:
        data = await load_document(viewer, document_id)
        if data is None:
            return not_found(request, viewer)
        page = document_page(data["doc"], data["deliveries"], data["timeline"], unmasked=False)
        return render(request, "document.html", viewer, nav="documents", unmasked=False, **page)

    @router.post("/documents/{document_id}/reveal")
    async def document_reveal(
        request: Request, document_id: str, viewer: Viewer = Depends(auth.action("pii"))
    ) -> Response:
        data = await load_document(viewer, document_id)
        if data is None:
            return not_found(request, viewer)
        # Audit first: nobody sees a person's data without a durable record of it.
        await runner.write(ledger.record_event, "pii_viewed", viewer.actor, document_id=document_id)
        page = document_page(data["doc"], data["deliveries"], data["timeline"], unmasked=True)
        return render(request, "document.html", viewer, nav="documents", unmasked=True, **page)

    @router.get("/overdue")
    async def overdue_page(
        request: Request, viewer: Viewer = Depends(auth.page("read", "unit"))
    ) -> Response:
        today = local_date(datetime.now(UTC))
        department = None if viewer.can("read") else viewer.unit
        docs = await runner.read(
            ledger.overdue_documents, today, department=department, limit=PAGE_SIZE * 2
        )
        rows = [document_view(d) | {"days": (today - d.due_date).days} for d in docs if d.due_date]
        return render(request, "overdue.html", viewer, nav="overdue", rows=rows, today=today)

    # --- dead letters -------------------------------------------------------------------------

    @router.get("/dead-letters")
    async def dead_letters_page(
        request: Request, viewer: Viewer = Depends(auth.page("read"))
    ) -> Response:
        error = None
        query = DeadLetterQuery()
        try:
            query = DeadLetterQuery.parse(request.query_params)
        except FormError as exc:
            error = str(exc)
        after = request.query_params.get("after_id", "0")
        after_id = int(after) if after.isdigit() and len(after) < 19 else 0
        flt = query.delivery_filter()
        items = await runner.read(
            ledger.deliveries_matching, flt, limit=PAGE_SIZE, after_id=after_id
        )
        total = await runner.read(ledger.count_deliveries, flt)
        return render(
            request,
            "dead_letters.html",
            viewer,
            400 if error else 200,
            nav="dead",
            error=error,
            items=items,
            total=total,
            query=query.as_params(),
            connectors=sorted(hub.connectors),
            next_after=items[-1]["id"] if len(items) == PAGE_SIZE else None,
        )

    async def selection(request: Request) -> tuple[str, str, DeadLetterQuery, list[int] | None]:
        form = await request.form()
        op = form.get("op")  # the list's buttons say both at once: "replay/filter"
        if isinstance(op, str) and "/" in op:
            action, mode = op.split("/", 1)
        else:
            action, mode = str(form.get("action")), str(form.get("mode"))
        if action not in ("replay", "cancel") or mode not in ("selected", "filter"):
            raise FormError("Acțiune necunoscută.")
        query = DeadLetterQuery.parse(form)
        ids = parse_ids(form.getlist("ids")) if mode == "selected" else None
        if mode == "selected" and not ids:
            raise FormError("Nu ați selectat nicio livrare.")
        return str(action), str(mode), query, ids

    @router.post("/dead-letters/confirm")
    async def dead_letters_confirm(
        request: Request, viewer: Viewer = Depends(auth.action("operator"))
    ) -> Response:
        try:
            action, mode, query, ids = await selection(request)
        except FormError as exc:
            return render(
                request, "error.html", viewer, 400, title="Cerere greșită", message=str(exc)
            )
        count = await runner.read(ledger.count_deliveries, query.delivery_filter(ids))
        return render(
            request,
            "confirm.html",
            viewer,
            nav="dead",
            action=action,
            mode=mode,
            ids=ids or [],
            query=query.as_params(),
            count=count,
        )

    @router.post("/dead-letters/run")
    async def dead_letters_run(
        request: Request, viewer: Viewer = Depends(auth.action("operator"))
    ) -> Response:
        try:
            action, _mode, query, ids = await selection(request)
        except FormError as exc:
            return render(
                request, "error.html", viewer, 400, title="Cerere greșită", message=str(exc)
            )
        form = await request.form()
        reason = form.get("reason_note")
        note = reason.strip()[:500] if isinstance(reason, str) and reason.strip() else None
        job = await jobs.start(action, query.delivery_filter(ids), viewer.actor, note)
        return RedirectResponse(f"/dead-letters/jobs/{job.id}", 303)

    @router.get("/dead-letters/jobs/{job_id}")
    async def dead_letters_job(
        request: Request, job_id: str, viewer: Viewer = Depends(auth.page("operator"))
    ) -> Response:
        job = jobs.get(job_id)
        if job is None or job.actor != viewer.actor:
            return render(
                request,
                "error.html",
                viewer,
                404,
                title="Negăsit",
                message="Operațiunea nu există (sau hub-ul a fost repornit).",
            )
        partial = request.headers.get("hx-request") == "true"
        name = "_job.html" if partial else "job.html"
        return render(request, name, viewer, nav="dead", job=job)

    # --- sources ------------------------------------------------------------------------------

    @router.get("/sources")
    async def sources_page(
        request: Request, viewer: Viewer = Depends(auth.page("read"))
    ) -> Response:
        rows = await source_rows(hub)
        return render(
            request,
            "sources.html",
            viewer,
            nav="sources",
            sources=rows,
            now=time.time(),
            actions=True,
        )

    async def set_paused(request: Request, name: str, viewer: Viewer, paused: bool) -> Response:
        known = set(hub.sources) | {s["source"] for s in await runner.read(ledger.source_states)}
        if name not in known:
            return render(
                request, "error.html", viewer, 404, title="Negăsit", message="Sursa nu există."
            )
        await runner.write(ledger.set_source_paused, name, paused)
        action = "source_paused" if paused else "source_resumed"
        await runner.write(ledger.record_event, action, viewer.actor, f"source {name}")
        return RedirectResponse("/sources", 303)

    @router.post("/sources/{name}/pause")
    async def pause_source(
        request: Request, name: str, viewer: Viewer = Depends(auth.action("operator"))
    ) -> Response:
        return await set_paused(request, name, viewer, True)

    @router.post("/sources/{name}/resume")
    async def resume_source(
        request: Request, name: str, viewer: Viewer = Depends(auth.action("operator"))
    ) -> Response:
        return await set_paused(request, name, viewer, False)

    # --- pages contributed by plugins (hub_register_dashboard_pages) -----------------------------

    def add_plugin_page(page: DashboardPage) -> None:
        async def plugin_page(
            request: Request, viewer: Viewer = Depends(auth.page(page.scope))
        ) -> Response:
            try:
                table = (await page.load(hub, viewer.principal)).checked()
            except Exception as exc:  # a plugin's bug must not show a stack trace
                log.error(
                    "hub.dashboard.plugin_page_failed",
                    page=page.slug,
                    error_type=type(exc).__name__,
                )
                return render(
                    request,
                    "error.html",
                    viewer,
                    500,
                    title=page.title,
                    message="Pagina nu poate fi afișată acum (eroarea este în jurnalul hub-ului).",
                )
            return render(
                request, "plugin_page.html", viewer, nav=page.path, page=page, table=table
            )

        router.add_api_route(page.path, plugin_page, methods=["GET"], name=f"page-{page.slug}")

    for page in plugin_pages:
        add_plugin_page(page)

    return router
