"""The connector contract: the standard tests every connector passes, inherited in one line.

::

    from hub.testing import ConnectorContract

    class TestWebhookContract(ConnectorContract):
        connector_class = WebhookConnector
        settings = {"endpoints": {"DJ": {"url": URL, "secret": SECRET}}}
        target = "DJ"

        def delivery_route(self, router, job):
            return router.post(URL)

The kit declares the remote's answer on the returned route (success, 5xx, 429 with
``Retry-After``, 4xx, timeouts, dropped connections), runs the connector through an injected
respx transport, and checks what the hub relies on: the right error class, ``retry_after``,
messages and logs free of secrets and personal data, the same idempotency marker on a retry,
``reconcile``, metrics through a real dispatcher, and ``health``. Every test fails for a
connector that gets its part wrong; ``tests/test_contract_kit.py`` proves it with broken ones.

Hooks an author may override (only ``delivery_route`` is required):

``make_document()``                          the test document (default: a petition from a
                                             fake person with CNP, e-mail, phone, address)
``delivery_route(router, job)``              declare every route a delivery uses; return the
                                             one whose answer decides the outcome
``success_response(job)``                    the remote's answer on success (default 200 ``{}``)
``error_response(job, status, headers)``     the remote's answer on an error (default: JSON that
                                             echoes the sender's personal data back)
``mock_reconcile(router, job, found=...)``   declare what ``reconcile`` asks the remote, as it
                                             answers when it has (or has not) got the delivery;
                                             return True if you declared anything
``mock_health(router)``                      declare what ``health`` asks; True if you did
``idempotency_marker(job)``                  what must travel unchanged on every attempt
                                             (default ``job.idempotency_key``)

Tests are synchronous and run the connector with :func:`asyncio.run`, so the kit needs no
asyncio plugin configuration in the author's project.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import httpx
import pytest
import respx
from pydantic import ValidationError

from hub.connectors import Connector, ConnectorSettings, HealthCheck
from hub.errors import AmbiguousError, DeliveryError, PermanentError, TransientError
from hub.models import DocumentIn, Job, Receipt
from hub.settings import load_settings
from hub.testing.factories import document_from, make_document_in, make_job, personal_values
from hub.testing.hubrun import run_through_hub
from hub.testing.probes import (
    capture_structlog,
    find_leaks,
    models_allowing_extra,
    plain_secret_fields,
    secret_values,
    undocumented_fields,
)
from hub.testing.remote import MockRemote

__all__ = ["ConnectorContract"]

T = TypeVar("T")

#: Seconds one scenario may take before the kit calls the connector hung.
SCENARIO_TIMEOUT = 30.0
RETRY_AFTER = 7
SERVER_ERRORS = (500, 502, 503, 504)
VALIDATION_ERRORS = (400, 422)
#: Never sent: the remote cannot have the delivery. Retrying is the only right answer.
NOT_SENT: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout)
#: Maybe sent, answer lost: retry, or reconcile first.
MAYBE_SENT: tuple[type[Exception], ...] = (
    httpx.ReadTimeout,
    httpx.RemoteProtocolError,
    httpx.ReadError,
)
RETRIED = (TransientError, AmbiguousError)

Answer = httpx.Response | type[Exception]


class ConnectorContract:
    """Base class of a connector's contract tests. Not collected itself (no ``Test`` prefix)."""

    #: The connector under test.
    connector_class: ClassVar[type[Connector]]
    #: A valid settings section for it, as a dict (what ``HUB_<SECTION>__…`` would give).
    settings: ClassVar[dict[str, Any]]
    #: The routing target the test deliveries carry (``destinations = [{connector, target}]``).
    target: ClassVar[str | None] = None

    # --- hooks ---------------------------------------------------------------------------------

    def make_document(self) -> DocumentIn:
        """The document every scenario delivers. Keep a sender with personal data in it."""
        return make_document_in()

    def delivery_route(self, router: respx.MockRouter, job: Job) -> respx.Route:
        """Declare the routes one delivery of ``job`` uses; return the deciding one."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement delivery_route(router, job) -> respx.Route"
        )

    def success_response(self, job: Job) -> httpx.Response:
        return httpx.Response(200, json={})

    def error_response(self, job: Job, status: int, headers: Mapping[str, str]) -> httpx.Response:
        """An error answer that echoes the sender's personal data, as careless remotes do: the
        connector must not copy it into its error message."""
        echoed = "invalid request for " + ", ".join(personal_values(job.document.sender).values())
        return httpx.Response(
            status,
            headers=dict(headers),
            json={
                "type": "ValidationError",
                "title": echoed,
                "message": echoed,
                "description": echoed,
                "detail": echoed,
                "error": echoed,
                "errors": [{"field": "sender", "message": echoed}],
            },
        )

    def mock_reconcile(self, router: respx.MockRouter, job: Job, *, found: bool) -> bool:
        """Default: the remote honours the idempotency key, so ``reconcile`` asks nothing."""
        return False

    def mock_health(self, router: respx.MockRouter) -> bool:
        """Default: ``health`` checks the configuration only and asks the remote nothing."""
        return False

    def idempotency_marker(self, job: Job) -> str:
        return job.idempotency_key

    # --- helpers (use them in your own tests too) -----------------------------------------------

    def build_settings(self) -> ConnectorSettings:
        return self.connector_class.settings_model.model_validate(self.settings)

    def make_connector(self, remote: MockRemote) -> Connector:
        return self.connector_class(self.build_settings(), transport=remote.transport)

    def make_job(self, *, attempt: int = 1) -> Job:
        return make_job(
            self.connector_class.name,
            target=self.target,
            attempt=attempt,
            document=document_from(self.make_document()),
        )

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run one scenario on a fresh event loop, with a deadline."""
        return asyncio.run(asyncio.wait_for(coro, SCENARIO_TIMEOUT))

    async def attempt(self, answer: Answer, job: Job | None = None) -> Receipt | DeliveryError:
        """One ``deliver`` against a remote that gives ``answer``; routes checked afterwards."""
        remote = MockRemote()
        job = job or self.make_job()
        route = self.delivery_route(remote.router, job)
        if isinstance(answer, httpx.Response):
            route.mock(return_value=answer)
        else:
            route.mock(side_effect=answer)
        conn = self.make_connector(remote)
        try:
            await conn.start()
            result = await _deliver(conn, job)
        finally:
            await conn.aclose()
        remote.assert_all_called()
        return result

    def protected(self, job: Job | None = None) -> dict[str, str]:
        """Label → value of everything that must never leak: secrets and the sender's data."""
        sender = (job.document.sender if job else None) or self.make_document().sender
        values = {f"secret {p}": v for p, v in secret_values(self.build_settings()).items()}
        values.update({f"sender {f}": v for f, v in personal_values(sender).items()})
        return values

    def assert_clean_error(self, error: DeliveryError, what: str) -> None:
        text = " ".join(
            str(x) for x in (error, repr(error), error.message, error.error_type, error.remote_ref)
        )
        leaks = find_leaks(text, self.protected())
        assert not leaks, f"{what}: the error message carries {leaks}; keep messages PII-free"

    def expect_error(
        self, answer: Answer, kinds: tuple[type[DeliveryError], ...], what: str
    ) -> DeliveryError:
        """One attempt that must fail with one of ``kinds`` and a clean message."""
        result = self.run(self.attempt(answer))
        names = " or ".join(k.__name__ for k in kinds)
        assert isinstance(result, kinds), (
            f"{what}: deliver must raise {names}, not {_describe(result)}"
        )
        self.assert_clean_error(result, what)
        return result

    # --- 1. settings ---------------------------------------------------------------------------

    def test_settings_validate(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        built = self.build_settings()
        assert isinstance(built, ConnectorSettings), (
            f"{self.connector_class.__name__}.settings_model must subclass ConnectorSettings"
        )
        # And through the hub's own settings loader, as HUB_<SECTION>__… would arrive.
        _isolate_env(monkeypatch, tmp_path)
        section = self.connector_class.section()
        model = self.connector_class.settings_model
        loaded = load_settings({section: model}, **{section: self.settings})
        assert isinstance(loaded.section(section), self.connector_class.settings_model)

    def test_settings_reject_unknown_keys(self) -> None:
        try:
            self.connector_class.settings_model.model_validate(
                {**self.settings, "kit_misspelt_setting": "x"}
            )
        except ValidationError as exc:
            kinds = {e["type"] for e in exc.errors(include_input=False)}
        else:
            kinds = set()
        assert "extra_forbidden" in kinds, (
            "an unknown (misspelt) key must be rejected: model_config extra='forbid'"
        )
        lax = models_allowing_extra(self.build_settings())
        assert not lax, f"nested settings models must forbid extra keys too: {lax}"

    def test_settings_secrets_hidden(self) -> None:
        built = self.build_settings()
        plain = plain_secret_fields(built)
        assert not plain, f"credentials must be SecretStr, these are plain strings: {plain}"
        secrets = secret_values(built)
        short = [p for p, v in secrets.items() if len(v) < 8]
        assert not short, f"use test secrets of 8+ characters so leaks can be found: {short}"
        shown = repr(built) + str(built) + built.model_dump_json() + repr(built.model_dump())
        leaks = find_leaks(shown, {f"secret {p}": v for p, v in secrets.items()})
        assert not leaks, f"secret values show in repr/str/JSON of the settings: {leaks}"

    def test_settings_fields_described(self) -> None:
        missing = undocumented_fields(self.build_settings())
        assert not missing, f"every setting needs a description (hub doctor, docs): {missing}"

    # --- 2. nothing leaks into logs ------------------------------------------------------------

    def test_secrets_and_personal_data_never_logged(
        self, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
    ) -> None:
        caplog.set_level(logging.DEBUG)
        job = self.make_job()
        personal = personal_values(job.document.sender)
        assert {"name", "cnp", "email", "phone"} <= set(personal), (
            "make_document() must keep a sender with name, CNP, e-mail and phone, "
            "so the kit can prove none of them leaks"
        )
        scenarios: list[Answer] = [
            self.success_response(job),
            self.error_response(job, 500, {}),
            self.error_response(job, 429, {"Retry-After": str(RETRY_AFTER)}),
            self.error_response(job, 400, {}),
            httpx.ConnectError,
            httpx.ReadTimeout,
        ]
        with capture_structlog() as entries:
            for answer in scenarios:
                result = self.run(self.attempt(answer, job))
                if isinstance(result, DeliveryError):
                    self.assert_clean_error(result, f"answer {_label(answer)}")
            self.run(self._reconcile_and_health(job))
        out, err = capsys.readouterr()
        places = {
            "structlog events": repr(entries),
            "stdlib log records": caplog.text + repr([vars(r) for r in caplog.records]),
            "stdout/stderr": out + err,
        }
        for where, text in places.items():
            leaks = find_leaks(text, self.protected(job))
            assert not leaks, f"{where} of the connector carry {leaks}"

    async def _reconcile_and_health(self, job: Job) -> None:
        remote = MockRemote()
        self.mock_reconcile(remote.router, job, found=False)
        self.mock_health(remote.router)
        conn = self.make_connector(remote)
        try:
            await conn.start()
            await conn.reconcile(job, AmbiguousError("kit: answer lost"))
            await conn.health()
        finally:
            await conn.aclose()

    # --- 3. retried failures -------------------------------------------------------------------

    def test_server_errors_are_retried(self) -> None:
        job = self.make_job()
        for status in SERVER_ERRORS:
            answer = self.error_response(job, status, {})
            error = self.expect_error(answer, RETRIED, f"HTTP {status}")
            assert error.status_code == status, f"HTTP {status}: set status_code on the error"

    def test_rate_limit_honours_retry_after(self) -> None:
        job = self.make_job()
        for status, kinds in ((429, (TransientError,)), (503, RETRIED)):
            answer = self.error_response(job, status, {"Retry-After": str(RETRY_AFTER)})
            error = self.expect_error(answer, kinds, f"HTTP {status} with Retry-After")
            assert error.retry_after == RETRY_AFTER, (
                f"HTTP {status} with Retry-After: {RETRY_AFTER}: error.retry_after must be "
                f"{RETRY_AFTER}, got {error.retry_after!r}"
            )

    def test_network_errors_are_retried(self) -> None:
        for exc in NOT_SENT + MAYBE_SENT:
            self.expect_error(exc, RETRIED, exc.__name__)

    # --- 4. dead letters -----------------------------------------------------------------------

    def test_validation_errors_are_permanent(self) -> None:
        job = self.make_job()
        for status in VALIDATION_ERRORS:
            error = self.expect_error(
                self.error_response(job, status, {}), (PermanentError,), f"HTTP {status}"
            )
            assert error.status_code == status, f"HTTP {status}: set status_code on the error"

    # --- 5. ambiguous failures -----------------------------------------------------------------

    def test_ambiguous_failure_then_retry_keeps_idempotency(self) -> None:
        self.run(self._ambiguous_then_retry())

    async def _ambiguous_then_retry(self) -> None:
        remote = MockRemote()
        job = self.make_job()
        route = self.delivery_route(remote.router, job)
        route.mock(side_effect=[httpx.ReadTimeout, self.success_response(job)])
        self.mock_reconcile(remote.router, job, found=False)
        conn = self.make_connector(remote)
        try:
            await conn.start()
            first = await _deliver(conn, job)
            assert isinstance(first, RETRIED), (
                "answer lost after sending (ReadTimeout): deliver must raise AmbiguousError "
                f"(or TransientError), got {_describe(first)}"
            )
            ambiguous = first if isinstance(first, AmbiguousError) else AmbiguousError("kit")
            found = await conn.reconcile(job, ambiguous)
            assert found is None, (
                "reconcile returned a receipt although the remote never got the delivery"
            )
            second = await _deliver(conn, dataclasses.replace(job, attempt=2))
            assert isinstance(second, Receipt), f"the retry must deliver, got {_describe(second)}"
        finally:
            await conn.aclose()
        remote.assert_all_called()
        assert route.call_count == 2, f"expected 2 delivery requests, saw {route.call_count}"
        marker = self.idempotency_marker(job)
        where = [_marker_places(call.request, marker) for call in route.calls]
        assert where[0], "the idempotency marker is in neither the headers, URL nor body"
        assert where[0] == where[1], (
            "the idempotency marker moved between attempts: "
            f"{sorted(where[0])} then {sorted(where[1])}"
        )

    def test_reconcile_finds_what_the_remote_has(self) -> None:
        self.run(self._reconcile_found())

    async def _reconcile_found(self) -> None:
        remote = MockRemote()
        job = self.make_job()
        declared = self.mock_reconcile(remote.router, job, found=True)
        conn = self.make_connector(remote)
        try:
            await conn.start()
            receipt = await conn.reconcile(job, AmbiguousError("kit: answer lost"))
        finally:
            await conn.aclose()
        remote.assert_all_called()
        if declared:
            assert isinstance(receipt, Receipt), (
                "the remote has the delivery (mock_reconcile found=True) but reconcile did not "
                "return its receipt: the retry would create it twice"
            )
            leaks = find_leaks(receipt.model_dump_json(), self.protected(job))
            assert not leaks, f"the receipt carries {leaks}"
        else:
            assert receipt is None, (
                "reconcile asked the remote nothing (mock_reconcile declares nothing) yet "
                "claimed the delivery exists"
            )

    # --- 6. metrics through a real dispatcher --------------------------------------------------

    def test_metrics_emitted_through_hub(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        _isolate_env(monkeypatch, tmp_path)
        remote = MockRemote()

        def declare(job: Job) -> None:
            self.delivery_route(remote.router, job).mock(return_value=self.success_response(job))

        run = self.run(
            run_through_hub(
                self.connector_class,
                self.settings,
                self.make_document(),
                data_dir=tmp_path / "kit-hub",
                transport=remote.transport,
                declare=declare,
                target=self.target,
            )
        )
        name = self.connector_class.name
        assert run.delivery["state"] == "delivered", (
            f"delivery ended {run.delivery['state']}: {run.delivery.get('last_error')}"
        )
        assert run.sample("hub_deliveries_total", connector=name, outcome="delivered") == 1
        assert run.sample("hub_attempt_seconds_count", connector=name) == 1
        assert len(run.attempts) == 1
        remote.assert_all_called()

    # --- 7. health -----------------------------------------------------------------------------

    def test_health_check(self) -> None:
        self.run(self._health())

    async def _health(self) -> None:
        remote = MockRemote()
        asks_remote = self.mock_health(remote.router)
        checks = await self._checks(remote)
        remote.assert_all_called()
        if asks_remote:
            failing = [c.name for c in checks if not c.ok]
            assert not failing, f"health checks fail against a healthy remote: {failing}"
        # The remote is down: health must say so (or ask nothing), never raise.
        down = MockRemote()
        down.fail_everything()
        checks = await self._checks(down)
        if asks_remote:
            assert any(not c.ok for c in checks), "health reports ok while the remote is down"

    async def _checks(self, remote: MockRemote) -> list[HealthCheck]:
        conn = self.make_connector(remote)
        try:
            await conn.start()
            checks = await conn.health()
        except Exception as exc:
            pytest.fail(
                f"health() raised {type(exc).__name__}: report problems as "
                "HealthCheck(ok=False, detail=...), never raise",
                pytrace=False,
            )
        finally:
            await conn.aclose()
        assert isinstance(checks, list), "health() must return a list of HealthCheck"
        assert all(isinstance(c, HealthCheck) for c in checks), "health() items must be HealthCheck"
        details = " ".join(c.model_dump_json() for c in checks)
        leaks = find_leaks(details, self.protected())
        assert not leaks, f"health details carry {leaks}"
        return checks

    # --- the basics ----------------------------------------------------------------------------

    def test_delivers(self) -> None:
        job = self.make_job()
        result = self.run(self.attempt(self.success_response(job), job))
        assert isinstance(result, Receipt), f"success: expected a Receipt, not {_describe(result)}"
        leaks = find_leaks(result.model_dump_json(), self.protected(job))
        assert not leaks, f"the receipt is stored with the delivery and must not carry {leaks}"


async def _deliver(conn: Connector, job: Job) -> Receipt | DeliveryError:
    try:
        receipt = await conn.deliver(job)
    except DeliveryError as exc:
        return exc
    except Exception as exc:
        pytest.fail(
            f"deliver raised {type(exc).__name__}: map every failure to TransientError, "
            "PermanentError or AmbiguousError (the hub cannot tell what an unknown error means)",
            pytrace=False,
        )
    assert isinstance(receipt, Receipt), f"deliver must return a Receipt, not {_describe(receipt)}"
    return receipt


def _marker_places(request: httpx.Request, marker: str) -> set[str]:
    places = {f"header {k}={v}" for k, v in request.headers.items() if marker in v}
    if marker in str(request.url):
        places.add(f"url {request.url}")
    if marker in request.content.decode(errors="replace"):
        places.add("body")
    return places


def _label(answer: Answer) -> str:
    return f"HTTP {answer.status_code}" if isinstance(answer, httpx.Response) else answer.__name__


def _describe(result: object) -> str:
    return "a receipt" if isinstance(result, Receipt) else type(result).__name__


def _isolate_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The developer's HUB_* variables and hub.toml must not change what the kit tests."""
    for key in list(os.environ):
        if key.startswith("HUB_") and not key.startswith("HUB_TEST_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HUB_CONFIG_FILE", str(tmp_path / "absent-hub.toml"))
