"""Routing rules: order, first match, continue, matchers, fallback, dependencies, validation
errors that name the rule, and live reload that refuses a broken edit."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from structlog.testing import capture_logs

import hub.routing
from hub.errors import ConfigurationError
from hub.models import Channel, DocumentIn, Sender
from hub.routing import Destination, RoutingRules, RoutingTable, fold, load_rules

KNOWN = {"webcon", "fiscal", "webhook", "postal", "noop"}


def doc(**kw: Any) -> DocumentIn:
    return DocumentIn(external_id="r-1", **kw)


def rules(**data: Any) -> RoutingRules:
    return RoutingRules.model_validate(data)


def names(route: Any) -> list[tuple[str, str | None]]:
    return [(d.connector, d.target) for d in route.destinations]


def test_rules_in_order_first_match_wins() -> None:
    r = rules(
        rule=[
            {
                "name": "fiscal",
                "kinds": ["amenda"],
                "department": "DF",
                "destinations": [{"connector": "fiscal"}],
            },
            {
                "name": "all fines and invoices",
                "kinds": ["amenda", "factura"],
                "department": "DE",
                "destinations": [{"connector": "webhook", "target": "DE"}],
            },
        ],
        fallback={"department": "REG", "destinations": [{"connector": "noop"}]},
    )
    first = r.route(doc(), "amenda")
    assert first.rule == "fiscal"
    assert first.department == "DF"
    assert names(first) == [("fiscal", None)]
    second = r.route(doc(), "factura")
    assert second.rule == "all fines and invoices"
    assert names(second) == [("webhook", "DE")]


def test_continue_lets_later_rules_add_destinations() -> None:
    r = rules(
        rule=[
            {
                "name": "register everything",
                "destinations": [{"connector": "webcon"}],
                "department": "REG",
                "continue": True,
            },
            {
                "name": "fiscal",
                "kinds": ["amenda"],
                "department": "DF",
                "destinations": [{"connector": "fiscal"}],
            },
            {"name": "catch-all", "destinations": [{"connector": "postal"}]},
        ]
    )
    route = r.route(doc(), "amenda")
    assert route.rule == "register everything, fiscal"
    assert names(route) == [("webcon", None), ("fiscal", None)]
    # The first rule that names a department decides it.
    assert route.department == "REG"
    # Without a later match, the continuing rule still falls through to the next one.
    other = r.route(doc(), "petitie")
    assert names(other) == [("webcon", None), ("postal", None)]


@pytest.mark.parametrize(
    ("keyword", "text"),
    [
        ("ședință", "Citație pentru SEDINTA din 3 martie"),
        ("ședință", "citaţie, şedinţă publică"),  # cedilla forms in the text
        ("şedinţă", "Ședință de judecată"),  # cedilla forms in the rule
        ("Timișoara", "primaria timisoara"),
        ("ÎNȘTIINȚARE", "o înștiințare"),
    ],
)
def test_keywords_ignore_case_and_diacritics(keyword: str, text: str) -> None:
    r = rules(rule=[{"name": "kw", "keywords": [keyword], "destinations": [{"connector": "noop"}]}])
    assert r.route(doc(subject=text), "altele").rule == "kw"
    assert r.route(doc(body=text), "altele").rule == "kw"
    assert r.route(doc(subject="nimic relevant"), "altele").rule is None


def test_fold_handles_both_comma_and_cedilla() -> None:
    assert fold("ȘșŢţŞşȚțĂăÂâÎî") == fold("SsTtSsTtAaAaIi") == "ssttssttaaaaii"


def test_sender_types_and_channels() -> None:
    r = rules(
        rule=[
            {
                "name": "companies by e-mail",
                "channels": ["email"],
                "sender_types": ["pj"],
                "destinations": [{"connector": "webhook", "target": "PJ"}],
            }
        ],
        fallback={"destinations": [{"connector": "noop"}]},
    )
    pj = Sender(type="pj", name="Firma Test SRL")
    pf = Sender(type="pf", name="Ion Popescu-Test")
    assert r.route(doc(channel=Channel.EMAIL, sender=pj), "altele").rule == "companies by e-mail"
    assert r.route(doc(channel=Channel.GHISEU, sender=pj), "altele").rule is None
    assert r.route(doc(channel=Channel.EMAIL, sender=pf), "altele").rule is None
    # A sender type rule does not match a document without a sender.
    assert r.route(doc(channel=Channel.EMAIL), "altele").rule is None


def test_fallback_when_nothing_matches() -> None:
    r = rules(
        rule=[{"name": "fines", "kinds": ["amenda"], "destinations": [{"connector": "fiscal"}]}],
        fallback={"department": "REG", "destinations": [{"connector": "webcon"}]},
    )
    route = r.route(doc(), "petitie")
    assert route.rule is None
    assert route.department == "REG"
    assert names(route) == [("webcon", None)]


def test_document_department_wins_over_rules() -> None:
    r = rules(fallback={"department": "REG", "destinations": [{"connector": "webcon"}]})
    assert r.route(doc(department="DJ"), "petitie").department == "DJ"


def test_default_after_makes_others_wait_when_present() -> None:
    r = rules(
        default_after="webcon",
        rule=[
            {
                "name": "with webcon",
                "kinds": ["amenda"],
                "destinations": [
                    {"connector": "webcon"},
                    {"connector": "fiscal"},
                    {"connector": "webhook", "target": "DF", "after": "fiscal"},
                ],
            },
            {"name": "without webcon", "destinations": [{"connector": "postal"}]},
        ],
    )
    route = r.route(doc(), "amenda")
    after = {d.connector: d.after for d in route.destinations}
    assert after == {"webcon": None, "fiscal": "webcon", "webhook": "fiscal"}
    # No webcon destination: nothing waits for it.
    assert [d.after for d in r.route(doc(), "petitie").destinations] == [None]


def test_extra_destinations_are_merged_once() -> None:
    r = rules(default_after="webcon", fallback={"destinations": [{"connector": "webcon"}]})
    extra = [Destination(connector="webcon"), Destination(connector="postal", target="X")]
    route = r.route(doc(), "petitie", extra)
    assert names(route) == [("webcon", None), ("postal", "X")]
    assert route.destinations[1].after == "webcon"


def test_unknown_connector_error_names_the_rule() -> None:
    r = rules(
        rule=[
            {"name": "ok", "destinations": [{"connector": "webcon"}]},
            {"name": "typo rule", "destinations": [{"connector": "fiscl"}]},
        ],
        fallback={"destinations": [{"connector": "noop", "after": "nowhere"}]},
    )
    with pytest.raises(ConfigurationError) as info:
        r.check_connectors(KNOWN)
    message = str(info.value)
    assert "rule 'typo rule': unknown connector 'fiscl'" in message
    assert "fallback: unknown connector 'nowhere'" in message
    assert "rule 'ok'" not in message


def test_default_after_must_be_known_and_no_self_wait() -> None:
    r = rules(
        default_after="webcn",
        rule=[{"name": "loop", "destinations": [{"connector": "webcon", "after": "webcon"}]}],
    )
    with pytest.raises(ConfigurationError) as info:
        r.check_connectors(KNOWN)
    assert "default_after: unknown connector 'webcn'" in str(info.value)
    assert "rule 'loop': 'webcon' cannot wait for itself" in str(info.value)


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def test_duplicate_rule_names(tmp_path: Path) -> None:
    path = tmp_path / "routing.toml"
    _write(
        path,
        '[[rule]]\nname = "twice"\ndestinations = [{ connector = "noop" }]\n'
        '[[rule]]\nname = "twice"\ndestinations = [{ connector = "webcon" }]\n',
    )
    with pytest.raises(ConfigurationError, match="two rules are named 'twice'"):
        load_rules(path)


def test_bad_rule_is_named(tmp_path: Path) -> None:
    path = tmp_path / "routing.toml"
    _write(
        path,
        '[[rule]]\nname = "fine"\ndestinations = [{ connector = "noop" }]\n'
        '[[rule]]\nname = "by fax"\nchannels = ["fax"]\n'
        'destinations = [{ connector = "noop" }]\n',
    )
    with pytest.raises(ConfigurationError) as info:
        load_rules(path)
    assert "rule 'by fax' channels" in str(info.value)
    assert "'fine'" not in str(info.value)


def test_nameless_rule_is_numbered(tmp_path: Path) -> None:
    path = tmp_path / "routing.toml"
    _write(path, '[[rule]]\ndestinations = [{ connector = "noop" }]\nwhatever = 1\n')
    with pytest.raises(ConfigurationError) as info:
        load_rules(path)
    assert "rule '#1'" in str(info.value)


def test_toml_syntax_error_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "routing.toml"
    _write(path, "[[rule]\nname = \n")
    with pytest.raises(ConfigurationError, match=r"routing file .*routing\.toml"):
        load_rules(path)
    with pytest.raises(ConfigurationError, match="HUB_ROUTING_FILE"):
        load_rules(tmp_path / "absent.toml")


V1 = '[fallback]\ndepartment = "ONE"\ndestinations = [{ connector = "noop" }]\n'
V2 = '[fallback]\ndepartment = "TWO"\ndestinations = [{ connector = "webcon" }]\n'


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Only hub.routing sees this clock; the rest of the process keeps the real one."""
    fake = FakeClock()
    monkeypatch.setattr(hub.routing, "time", SimpleNamespace(monotonic=fake.monotonic))
    return fake


def _bump(path: Path, text: str, seconds: float) -> None:
    _write(path, text)
    st = os.stat(path)
    os.utime(path, (st.st_atime, st.st_mtime + seconds))


def test_reload_on_change(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "routing.toml"
    _write(path, V1)
    table = RoutingTable(path, KNOWN)
    assert table.route(doc(), "altele").department == "ONE"
    _bump(path, V2, 10)
    # Checked at most once a second: not yet.
    clock.now += 0.5
    assert table.route(doc(), "altele").department == "ONE"
    clock.now += 1.0
    with capture_logs() as logs:
        route = table.route(doc(), "altele")
    assert route.department == "TWO"
    assert names(route) == [("webcon", None)]
    assert [e["event"] for e in logs] == ["hub.routing.reloaded"]


@pytest.mark.parametrize(
    "broken",
    [
        "[fallback\n",  # TOML syntax
        '[fallback]\ndestinations = [{ connector = "nowhere" }]\n',  # unknown connector
        '[[rule]]\nname = "x"\nkinds = "not a list"\n',  # schema
    ],
)
def test_broken_edit_keeps_the_old_rules(tmp_path: Path, clock: FakeClock, broken: str) -> None:
    path = tmp_path / "routing.toml"
    _write(path, V1)
    table = RoutingTable(path, KNOWN)
    _bump(path, broken, 10)
    clock.now += 2
    with capture_logs() as logs:
        assert table.route(doc(), "altele").department == "ONE"
    refused = [e for e in logs if e["event"] == "hub.routing.reload_refused"]
    assert len(refused) == 1
    assert refused[0]["log_level"] == "error"
    # Fixing the file later is picked up.
    _bump(path, V2, 20)
    clock.now += 2
    assert table.route(doc(), "altele").department == "TWO"


def test_reload_with_the_real_clock(tmp_path: Path) -> None:
    """Without a fake clock: the new rules arrive within the 1 s check interval."""
    import time

    path = tmp_path / "routing.toml"
    _write(path, V1)
    table = RoutingTable(path, KNOWN)
    _bump(path, V2, 10)
    deadline = time.monotonic() + 10
    while table.route(doc(), "altele").department != "TWO":
        assert time.monotonic() < deadline, "the edit was not picked up"
        time.sleep(0.05)


def test_start_up_refuses_unknown_connectors(tmp_path: Path) -> None:
    path = tmp_path / "routing.toml"
    _write(path, '[[rule]]\nname = "r1"\ndestinations = [{ connector = "ghost" }]\n')
    with pytest.raises(ConfigurationError, match="rule 'r1': unknown connector 'ghost'"):
        RoutingTable(path, KNOWN)
