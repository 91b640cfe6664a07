"""Personal data never reaches a log line, an attempt record or a dead letter's reason."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import structlog
from stdnum.ro import cnp as ro_cnp
from structlog.testing import capture_logs

from hub.errors import PermanentError, TransientError
from hub.log import configure_logging, get_logger, redact_processor
from hub.models import Job, Receipt
from hub.redaction import mask, redact_text, redact_value
from tests.fixtures import MakeHub
from tests.test_dispatcher import build, scripted, state_is, submit, until, workers


def valid_cnp() -> str:
    head = "296010135902"
    return head + str(ro_cnp.calc_check_digit(head))


CNP = valid_cnp()
EMAIL = "ion.popescu-test@example.test"
PHONE = "0722 000 901"
NAME = "Ion Popescu-Test"
ADDRESS = "Strada Exemplului nr. 1, Timișoara"
# Fragments that betray a partly masked value too ("722 000": the phone in any notation, and
# never part of a number such as a duration, which "0722" could be).
PERSONAL = (CNP, EMAIL, "722 000", NAME, "Popescu", "Exemplului")


def assert_clean(entries: Any) -> None:
    text = json.dumps(entries, default=str, ensure_ascii=False)
    for value in PERSONAL:
        assert value not in text, value


def test_redaction_in_the_event_and_in_values() -> None:
    log = get_logger("hub.test")
    with capture_logs(processors=[redact_processor]) as logs:
        log.warning(
            f"lookup failed for {CNP} / {EMAIL} / {PHONE}",
            detail=f"remote said: unknown e-mail {EMAIL}, phone +40 722 000 901",
            name=NAME,
            email=EMAIL,
            address=ADDRESS,
            sender={"type": "pf", "name": NAME},
            extra={"nested": {"cnp": CNP, "note": f"call {PHONE}"}},
            items=[EMAIL, {"phone": PHONE}],
            delivery_id=42,
        )
    [entry] = logs
    assert_clean(entry)
    assert entry["event"] == "lookup failed for [cnp] / [email] / [phone]"
    assert entry["detail"] == "remote said: unknown e-mail [email], phone [phone]"
    assert entry["name"] == entry["email"] == entry["address"] == "[redacted]"
    assert entry["sender"] == "[redacted]"
    assert entry["extra"] == {"nested": {"cnp": "[redacted]", "note": "call [phone]"}}
    assert entry["items"] == ["[email]", {"phone": "[redacted]"}]
    # Record identifiers survive.
    assert entry["delivery_id"] == 42
    assert entry["log_level"] == "warning"


def test_empty_personal_fields_stay_empty() -> None:
    with capture_logs(processors=[redact_processor]) as logs:
        get_logger("hub.test").info("hub.test.empty", name=None, email="")
    assert logs[0]["name"] is None and logs[0]["email"] == ""


def test_secrets_keys_are_redacted() -> None:
    with capture_logs(processors=[redact_processor]) as logs:
        get_logger("hub.test").info(
            "hub.test.auth", token="hub_abc", client_secret="s3", authorization="Bearer x"
        )
    assert {logs[0][k] for k in ("token", "client_secret", "authorization")} == {"[redacted]"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"CNP {CNP}.", "CNP [cnp]."),
        ("order 12345678901234 is not a CNP", "order 12345678901234 is not a CNP"),
        ("IBAN RO49AAAA1B31007593840000 ok", "IBAN [iban] ok"),
        ("tel. 0256 408 300", "tel. [phone]"),
        ("tel. +40-722-000-901", "tel. [phone]"),
        ("delivery 123 failed", "delivery 123 failed"),
    ],
)
def test_redact_text_patterns(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_redact_value_and_mask() -> None:
    assert redact_value({"Email": EMAIL}) == {"Email": "[redacted]"}
    assert redact_value((EMAIL, 3)) == ["[email]", 3]
    assert mask(CNP) == "•" * 11 + CNP[-2:]
    assert mask(None) == ""


def test_configured_logging_redacts_json_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr("sys.stderr", out)
    old = structlog.get_config()
    try:
        configure_logging("json", "INFO")
        log = get_logger("hub.test")
        log.info("hub.test.line", name=NAME, note=f"from {EMAIL}")
        log.debug("hub.test.hidden", note="below the level")
        try:
            raise ValueError(f"bad CNP {CNP}")
        except ValueError:
            log.exception("hub.test.failed")
    finally:
        structlog.configure(**old)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["hub.test.line", "hub.test.failed"]
    assert lines[0]["name"] == "[redacted]" and lines[0]["note"] == "from [email]"
    assert "[cnp]" in lines[1]["exception"]  # formatted tracebacks are redacted too
    assert_clean(lines)


async def test_delivery_error_message_is_masked_in_the_ledger_and_logs(
    make_hub: MakeHub,
) -> None:
    hub = build(make_hub, "leaky")
    conn = scripted(hub, "leaky")

    async def script(job: Job, n: int) -> Receipt:
        if n == 1:
            raise TransientError(f"mailbox {EMAIL} is full, call {PHONE}")
        raise PermanentError(f"rejected: CNP {CNP} does not match {EMAIL}")

    conn.script = script
    [doc] = await submit(hub)
    with capture_logs(processors=[redact_processor]) as logs:
        async with workers(hub):
            await until(lambda: state_is(hub, doc, "dead"), "dead letter")
    timeline = hub.ledger.timeline(doc)
    messages = [a["message"] for a in timeline["attempts"]]
    assert messages == [
        "mailbox [email] is full, call [phone]",
        "rejected: CNP [cnp] does not match [email]",
    ]
    [d] = hub.ledger.deliveries_of(doc)
    assert d["last_error"] == "rejected: CNP [cnp] does not match [email]"
    dead = [e for e in logs if e["event"] == "hub.alert.dead_letter"]
    assert dead and dead[0]["reason"] == "rejected: CNP [cnp] does not match [email]"
    assert_clean([timeline, d, logs])
