"""The contract kit catches connectors that break the contract.

Each broken connector below is the webhook connector with one fault. The kit's checks are run
directly against it and must fail with a message naming the fault; one pytester run shows the
one-line use in a fresh project (no asyncio plugin) and that only the relevant tests fail.
"""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
import structlog
from pydantic import ConfigDict, Field

from hub.builtin.signing import new_secret
from hub.builtin.webhook import WebhookConnector, WebhookSettings
from hub.connectors import HealthCheck
from hub.errors import AmbiguousError, PermanentError, TransientError
from hub.http import send_through
from hub.models import Job, Receipt
from hub.testing import ConnectorContract

pytest_plugins = ["pytester"]

URL = "https://kit.example.test/hook"
SETTINGS: dict[str, Any] = {"endpoints": {"KIT": {"url": URL, "secret": new_secret()}}}
KitFailure = (AssertionError, pytest.fail.Exception)


class WebhookCase(ConnectorContract):
    """The kit's set-up for webhook-shaped connectors; subclasses swap the connector."""

    connector_class = WebhookConnector
    settings = SETTINGS
    target = "KIT"

    def delivery_route(self, router: respx.MockRouter, job: Job) -> respx.Route:
        return router.post(URL)


def kit_case(connector: type[WebhookConnector], **attrs: Any) -> WebhookCase:
    namespace = {"connector_class": connector, **attrs}
    return type(f"Case{connector.__name__}", (WebhookCase,), namespace)()


# --- broken connectors ---------------------------------------------------------------------------


class ClientErrorsRetried(WebhookConnector):
    """4xx treated as transient: a rejected document would be retried for a day."""

    async def deliver(self, job: Job) -> Receipt:
        try:
            return await super().deliver(job)
        except PermanentError as exc:
            raise TransientError(exc.message, status_code=exc.status_code) from None


class ServerErrorsDeadLettered(WebhookConnector):
    """5xx treated as permanent: a blip on the remote loses the delivery."""

    async def deliver(self, job: Job) -> Receipt:
        try:
            return await super().deliver(job)
        except TransientError as exc:
            raise PermanentError(exc.message, status_code=exc.status_code) from None


class LogsSecret(WebhookConnector):
    """Writes the endpoint secret into a debug log line."""

    async def deliver(self, job: Job) -> Receipt:
        endpoint = self.settings.endpoints[(job.target or "").lower()]
        structlog.get_logger("kit").debug(
            "webhook.sending", url=endpoint.url, key=endpoint.secret.get_secret_value()
        )
        return await super().deliver(job)


class LogsSender(WebhookConnector):
    """Logs the petitioner's e-mail through the standard library."""

    async def deliver(self, job: Job) -> Receipt:
        import logging

        assert job.document.sender is not None
        logging.getLogger("kit").info("delivering for %s", job.document.sender.email)
        return await super().deliver(job)


class IgnoresRetryAfter(WebhookConnector):
    async def deliver(self, job: Job) -> Receipt:
        try:
            return await super().deliver(job)
        except TransientError as exc:
            raise TransientError(exc.message, status_code=exc.status_code) from None


class EchoesRemoteError(WebhookConnector):
    """Copies the remote's error body (which echoes the sender) into the dead-letter reason."""

    async def deliver(self, job: Job) -> Receipt:
        try:
            return await super().deliver(job)
        except PermanentError as exc:
            assert job.document.sender is not None
            raise PermanentError(
                f"{exc.message}: invalid CNP {job.document.sender.cnp}", status_code=exc.status_code
            ) from None


class LeaksHttpxErrors(WebhookConnector):
    """Lets library exceptions escape instead of mapping them."""

    async def deliver(self, job: Job) -> Receipt:
        assert self._sender is not None
        endpoint = self.settings.endpoints[(job.target or "").lower()]
        request = httpx.Request("POST", endpoint.url, content=self.payload(job))
        resp = await send_through(self._sender, request)
        return Receipt(status=str(resp.status_code))


class NewKeyPerAttempt(WebhookConnector):
    """A fresh webhook-id on every attempt: the receiver cannot deduplicate the retry."""

    async def deliver(self, job: Job) -> Receipt:
        key = f"{job.idempotency_key}-{job.attempt}"
        return await super().deliver(dataclasses.replace(job, idempotency_key=key))


class ReconcileGuesses(WebhookConnector):
    """Claims the remote has the delivery without asking: it would be lost."""

    async def reconcile(self, job: Job, error: AmbiguousError) -> Receipt | None:
        return Receipt(remote_id=job.idempotency_key)


class NeverDelivers(WebhookConnector):
    async def deliver(self, job: Job) -> Receipt:
        raise PermanentError("remote refuses everything")


class HealthRaises(WebhookConnector):
    async def health(self) -> list[HealthCheck]:
        raise RuntimeError("health probe crashed")


class PlainSecretSettings(WebhookSettings):
    api_token: str = Field(default="tok-123456789", description="Sent as a bearer token")


class PlainSecret(WebhookConnector):
    settings_model = PlainSecretSettings


class LaxSettings(WebhookSettings):
    model_config = ConfigDict(extra="allow")


class AcceptsMisspeltKeys(WebhookConnector):
    settings_model = LaxSettings


class UndocumentedSettings(WebhookSettings):
    batch: int = 3


class Undocumented(WebhookConnector):
    settings_model = UndocumentedSettings


# --- the kit fails each one, on the right check -------------------------------------------------


def fails(check: Any, *args: Any) -> str:
    with pytest.raises(KitFailure) as info:
        check(*args)
    return str(info.value)


def test_4xx_treated_as_transient_is_caught() -> None:
    case = kit_case(ClientErrorsRetried)
    assert "HTTP 400: deliver must raise PermanentError, not TransientError" in fails(
        case.test_validation_errors_are_permanent
    )


def test_5xx_treated_as_permanent_is_caught() -> None:
    case = kit_case(ServerErrorsDeadLettered)
    message = fails(case.test_server_errors_are_retried)
    assert (
        "HTTP 500: deliver must raise TransientError or AmbiguousError, not PermanentError"
        in message
    )


def test_secret_in_logs_is_caught(caplog: pytest.LogCaptureFixture, capsys: Any) -> None:
    check = kit_case(LogsSecret).test_secrets_and_personal_data_never_logged
    message = fails(check, caplog, capsys)
    assert "structlog events of the connector carry ['secret endpoints.kit.secret']" in message
    assert SETTINGS["endpoints"]["KIT"]["secret"] not in message  # the report names, never shows


def test_personal_data_in_stdlib_logs_is_caught(
    caplog: pytest.LogCaptureFixture, capsys: Any
) -> None:
    check = kit_case(LogsSender).test_secrets_and_personal_data_never_logged
    message = fails(check, caplog, capsys)
    assert "stdlib log records of the connector carry ['sender email']" in message


def test_ignoring_retry_after_is_caught() -> None:
    message = fails(kit_case(IgnoresRetryAfter).test_rate_limit_honours_retry_after)
    assert "error.retry_after must be 7, got None" in message


def test_personal_data_in_error_message_is_caught() -> None:
    message = fails(kit_case(EchoesRemoteError).test_validation_errors_are_permanent)
    assert "the error message carries ['sender cnp']" in message


def test_unmapped_library_errors_are_caught() -> None:
    message = fails(kit_case(LeaksHttpxErrors).test_network_errors_are_retried)
    assert "deliver raised ConnectError" in message


def test_changing_idempotency_key_is_caught() -> None:
    message = fails(kit_case(NewKeyPerAttempt).test_ambiguous_failure_then_retry_keeps_idempotency)
    assert "idempotency marker" in message


def test_reconcile_that_guesses_is_caught() -> None:
    message = fails(kit_case(ReconcileGuesses).test_reconcile_finds_what_the_remote_has)
    assert "claimed the delivery exists" in message
    message = fails(kit_case(ReconcileGuesses).test_ambiguous_failure_then_retry_keeps_idempotency)
    assert "remote never got the delivery" in message


def test_reconcile_that_misses_a_found_delivery_is_caught() -> None:
    def mock_reconcile(self: Any, router: respx.MockRouter, job: Job, *, found: bool) -> bool:
        router.get(URL, params={"id": job.idempotency_key}).mock(
            return_value=httpx.Response(200, json={"found": found})
        )
        return True

    # The webhook connector's reconcile asks nothing: the declared search is never called.
    case = kit_case(WebhookConnector, mock_reconcile=mock_reconcile)
    message = fails(case.test_reconcile_finds_what_the_remote_has)
    assert "declared routes were never called" in message


def test_delivery_that_never_succeeds_fails_the_metrics_check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    case = kit_case(NeverDelivers)
    message = fails(case.test_metrics_emitted_through_hub, monkeypatch, tmp_path)
    assert "delivery ended dead" in message or "never called" in message


def test_health_that_raises_is_caught() -> None:
    assert "health() raised RuntimeError" in fails(kit_case(HealthRaises).test_health_check)


def test_health_that_ignores_a_dead_remote_is_caught() -> None:
    def mock_health(self: Any, router: respx.MockRouter) -> bool:
        router.get(URL).mock(return_value=httpx.Response(200))
        return True

    # Declared as probing the remote, but the webhook's health asks nothing of it.
    case = kit_case(WebhookConnector, mock_health=mock_health)
    assert "declared routes were never called" in fails(case.test_health_check)


def test_bad_settings_are_caught() -> None:
    plain = fails(kit_case(PlainSecret).test_settings_secrets_hidden)
    assert "credentials must be SecretStr" in plain and "api_token" in plain
    assert "tok-123456789" not in plain
    lax = fails(kit_case(AcceptsMisspeltKeys).test_settings_reject_unknown_keys)
    assert "extra='forbid'" in lax
    undocumented = fails(kit_case(Undocumented).test_settings_fields_described)
    assert "UndocumentedSettings.batch" in undocumented


def test_invalid_settings_dict_is_caught(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    case = kit_case(WebhookConnector, settings={"endpoints": {"KIT": {"url": "ftp://x"}}})
    with pytest.raises(Exception, match="validation error"):
        case.test_settings_validate(monkeypatch, tmp_path)


# --- one line in a fresh project -----------------------------------------------------------------


def test_one_line_use_in_a_fresh_project(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_mine=textwrap.dedent(
            f"""
            from hub import PermanentError, TransientError
            from hub.builtin.signing import new_secret
            from hub.builtin.webhook import WebhookConnector
            from hub.testing import ConnectorContract

            class ClientErrorsRetried(WebhookConnector):
                async def deliver(self, job):
                    try:
                        return await super().deliver(job)
                    except PermanentError as exc:
                        raise TransientError(exc.message) from None

            class TestGood(ConnectorContract):
                connector_class = WebhookConnector
                settings = {{"endpoints": {{"KIT": {{"url": "{URL}", "secret": new_secret()}}}}}}
                target = "KIT"

                def delivery_route(self, router, job):
                    return router.post("{URL}")

            class TestBroken(TestGood):
                connector_class = ClientErrorsRetried

            def test_fixtures(hub_job, hub_document):
                job = hub_job("mine", target="X", subject="Cerere")
                assert job.document.subject == "Cerere" and job.target == "X"
                assert hub_document().sender.cnp
            """
        )
    )
    result = pytester.runpytest_inprocess("-p", "no:asyncio", "-p", "no:cacheprovider", "-q")
    outcomes = result.parseoutcomes()
    n_checks = len([n for n in dir(ConnectorContract) if n.startswith("test_")])
    assert outcomes.get("failed") == 1, result.stdout.str()
    assert outcomes.get("passed") == 2 * n_checks - 1 + 1
    result.stdout.fnmatch_lines(["*FAILED*TestBroken::test_validation_errors_are_permanent*"])


def test_loading_the_pytest_plugin_needs_no_respx_and_changes_nothing() -> None:
    """pytest loads it in every project that has the hub installed (pytest11 entry point)."""
    import subprocess
    import sys

    code = (
        "import sys, structlog\n"
        "before = dict(structlog.get_config())\n"
        "import hub.testing.plugin as p\n"
        "assert 'respx' not in sys.modules, 'respx imported'\n"
        "assert structlog.get_config() == before, 'structlog reconfigured'\n"
        "assert {'hub_job', 'hub_document', 'hub_document_in', 'hub_sender'} <= set(p.__all__)\n"
        "from hub.testing import ConnectorContract\n"
        "assert 'respx' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
