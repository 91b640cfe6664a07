"""The FastAPI application around a :class:`hub.runtime.Hub`.

``create_app`` wires routes, authentication and error handling, and lets plugins add endpoints
under ``/api/v1`` through ``hub_register_routes``. It does not start the hub's workers: ``hub
run`` serves this app with uvicorn and runs :meth:`Hub.run_workers` beside it in one event loop.

Plugin endpoints sit behind the same bearer authentication (any valid token); a plugin that
needs a particular scope declares it with ``Depends(hub.api.auth.require_scope(scope))``, which
answers 403 before the request is validated.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.routing import Route

from hub import __version__
from hub.api.auth import Authenticator
from hub.api.errors import install_error_handlers
from hub.api.routes.deliveries import deliveries_router
from hub.api.routes.documents import AsgiEndpoint, documents_router, intake_handler
from hub.api.routes.items import attachment_links_router, items_router
from hub.api.routes.probes import probes_router
from hub.api.routes.public_status import public_status_router
from hub.api.routes.status import status_router
from hub.dashboard import mount_dashboard
from hub.models import DocumentIn
from hub.runtime import Hub

__all__ = ["API_PREFIX", "create_app"]

API_PREFIX = "/api/v1"

TAGS: list[dict[str, Any]] = [
    {"name": "documents", "description": "Intake, look-up and search of documents"},
    {"name": "deliveries", "description": "Deliveries to connectors; replay and cancel"},
    {"name": "operations", "description": "Connectors, sources, health and metrics"},
    {"name": "items", "description": "Items delivered to units: acknowledge, return, re-route"},
    {"name": "probes", "description": "Liveness and readiness (no token needed)"},
]

DESCRIPTION = (
    "The registry hub takes documents in, records them durably, and delivers them to "
    "connectors with retries and an audit trail. Every endpoint except the probes and this "
    "document needs `Authorization: Bearer <token>`. Errors answer "
    '`{"error": {"code", "message", "errors": [{"loc", "msg", "type"}]}}`; they never repeat '
    "the values that were sent."
)


def create_app(hub: Hub) -> FastAPI:
    """The HTTP API of ``hub``. Serve it with uvicorn; run ``hub.run_workers()`` beside it."""
    app = FastAPI(
        title="Registry hub",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
    )
    auth = Authenticator(lambda token: hub.runner.read(hub.ledger.resolve_token, token))
    app.state.hub = hub
    app.state.authenticator = auth
    install_error_handlers(app)

    # Intake first: routes are matched in order, and it is the route that takes the load. It is
    # served as a plain ASGI endpoint; the FastAPI route behind it only describes it (OpenAPI).
    submit = intake_handler(hub, auth)
    app.router.routes.append(
        Route(
            f"{API_PREFIX}/documents",
            AsgiEndpoint(submit),
            methods=["POST"],
            include_in_schema=False,
        )
    )
    api = APIRouter(prefix=API_PREFIX)
    api.include_router(documents_router(hub, auth, submit))
    api.include_router(deliveries_router(hub, auth))
    api.include_router(status_router(hub, auth))
    api.include_router(items_router(hub, auth))
    plugins = APIRouter(dependencies=[Depends(auth.require(None))])
    hub.host.register_routes(plugins, hub.settings)
    api.include_router(plugins)
    app.include_router(api)
    app.include_router(probes_router(hub, auth))
    app.include_router(attachment_links_router(hub))  # signed links: no bearer token
    app.include_router(public_status_router(hub))
    # The dashboard at / (issue #9): sign-in, pages, security headers, guarded /docs.
    mount_dashboard(app, hub)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            _add_model(schema, DocumentIn)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _add_model(schema: dict[str, Any], model: type[Any]) -> None:
    """Publish a model the routes read by hand (the intake body) under components/schemas."""
    js = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, sub in js.pop("$defs", {}).items():
        components.setdefault(name, sub)
    components[model.__name__] = js
