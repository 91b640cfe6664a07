"""The plugin host: entry points loaded one by one, broken plugins skipped, allow/deny lists,
unknown hooks refused, duplicate names refused naming both plugins."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from hub.connectors import Connector
from hub.errors import ConfigurationError
from hub.hookspecs import hookimpl
from hub.models import Job, Receipt
from hub.plugins import PluginHost, create_plugin_host
from tests.fixtures import MakeHub


@dataclass
class FakeDist:
    """A distribution on sys.path that declares entry points in the group ``hub``."""

    name: str
    version: str
    broken: str  # entry-point names
    good: str
    raising: str
    connector: str  # the connector the good plugin registers


@pytest.fixture
def fake_dist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeDist]:
    uid = uuid.uuid4().hex[:8]
    root = tmp_path / "site"
    root.mkdir()
    dist = FakeDist(
        name=f"hub-fake-{uid}",
        version="9.8.7",
        broken=f"zz_broken_{uid}",
        good=f"zz_good_{uid}",
        raising=f"zz_raising_{uid}",
        connector=f"fake_{uid}",
    )
    modules = {f"fakebroken_{uid}", f"fakegood_{uid}", f"fakeraise_{uid}"}
    (root / f"fakebroken_{uid}.py").write_text(
        "import hub_module_that_does_not_exist_at_all  # noqa: F401\n", encoding="utf-8"
    )
    (root / f"fakegood_{uid}.py").write_text(
        textwrap.dedent(
            f"""
            from hub import Connector, Receipt, hookimpl

            class FakeConnector(Connector):
                name = "{dist.connector}"

                async def deliver(self, job):
                    return Receipt(remote_id=job.idempotency_key)

            @hookimpl
            def hub_register_connectors(register):
                register(FakeConnector)
            """
        ),
        encoding="utf-8",
    )
    (root / f"fakeraise_{uid}.py").write_text(
        textwrap.dedent(
            """
            from hub import hookimpl

            @hookimpl
            def hub_register_connectors(register):
                raise RuntimeError("this plugin cannot register")
            """
        ),
        encoding="utf-8",
    )
    info = root / f"hub_fake_{uid}-9.8.7.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist.name}\nVersion: {dist.version}\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        f"[hub]\n{dist.broken} = fakebroken_{uid}\n{dist.good} = fakegood_{uid}\n"
        f"{dist.raising} = fakeraise_{uid}\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(root))
    yield dist
    for name in modules:
        sys.modules.pop(name, None)


def _status(host: PluginHost, name: str) -> str:
    return next(st.status for st in host.statuses if st.name == name)


def test_broken_entry_point_is_logged_and_skipped(fake_dist: FakeDist) -> None:
    with capture_logs() as logs:
        host = create_plugin_host()
    st = next(s for s in host.statuses if s.name == fake_dist.broken)
    assert st.status == "failed"
    assert st.distribution == fake_dist.name
    assert st.version == fake_dist.version
    assert "ModuleNotFoundError" in st.error
    failed = [e for e in logs if e["event"] == "hub.plugin.load_failed"]
    assert len(failed) == 1
    assert failed[0]["plugin"] == fake_dist.broken
    assert failed[0]["distribution"] == fake_dist.name
    assert failed[0]["version"] == fake_dist.version
    assert failed[0]["log_level"] == "error"
    # The others load, the fake distribution's good plugin and the built-ins alike.
    assert _status(host, fake_dist.good) == "loaded"
    assert _status(host, "noop") == "loaded"
    assert _status(host, "webhook") == "loaded"
    assert {fake_dist.connector, "noop", "webhook"} <= set(host.connector_classes())


async def test_plugin_whose_register_hook_raises_is_marked_failed(
    fake_dist: FakeDist, make_hub: MakeHub
) -> None:
    host = create_plugin_host()
    with capture_logs() as logs:
        classes = host.connector_classes()
    assert fake_dist.connector in classes
    st = next(s for s in host.statuses if s.name == fake_dist.raising)
    assert st.status == "failed"
    assert "RuntimeError" in st.error
    assert any(
        e["event"] == "hub.plugin.register_failed" and e["plugin"] == fake_dist.raising
        for e in logs
    )
    # The hub still starts, with everything else.
    hub = make_hub(host=host)
    await hub.start()
    assert fake_dist.connector in hub.connectors
    assert "noop" in hub.connectors


def test_directly_registered_plugin_that_raises_is_marked_failed() -> None:
    class Raising:
        @hookimpl
        def hub_register_connectors(self, register):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

    class Good:
        @hookimpl
        def hub_register_connectors(self, register):  # type: ignore[no-untyped-def]
            register(_Named)

    host = create_plugin_host(entry_points=False, extra=[Raising(), Good()])
    assert set(host.connector_classes()) == {"named"}
    failed = [st for st in host.statuses if st.status == "failed"]
    assert len(failed) == 1
    assert "RuntimeError" in failed[0].error


class _Named(Connector):
    name = "named"

    async def deliver(self, job: Job) -> Receipt:
        return Receipt()


def test_load_plugins_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_LOAD_PLUGINS", "noop, webhook")
    host = create_plugin_host()
    assert _status(host, "noop") == "loaded"
    assert _status(host, "webhook") == "loaded"
    others = [st for st in host.statuses if st.name not in ("noop", "webhook")]
    assert others, "the installed plugins other than noop/webhook are listed"
    assert all(st.status == "disabled" for st in others)
    assert set(host.connector_classes()) == {"noop", "webhook"}


def test_disable_plugins_deny_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_DISABLE_PLUGINS", "webhook")
    host = create_plugin_host()
    assert _status(host, "webhook") == "disabled"
    assert _status(host, "noop") == "loaded"
    assert "webhook" not in host.connector_classes()
    assert "noop" in host.connector_classes()


def test_disabled_broken_plugin_is_not_imported(
    monkeypatch: pytest.MonkeyPatch, fake_dist: FakeDist
) -> None:
    monkeypatch.setenv("HUB_DISABLE_PLUGINS", fake_dist.broken)
    with capture_logs() as logs:
        host = create_plugin_host()
    assert _status(host, fake_dist.broken) == "disabled"
    assert not [e for e in logs if e["event"] == "hub.plugin.load_failed"]


def test_impl_of_unknown_hook_fails_check_pending() -> None:
    class Typo:
        @hookimpl
        def hub_register_conectors(self, register):  # type: ignore[no-untyped-def]
            """Misspelt on purpose."""

    with pytest.raises(ConfigurationError, match="hub_register_conectors"):
        create_plugin_host(entry_points=False, extra=[Typo()])


def test_optional_hook_impl_of_unknown_hook_is_allowed() -> None:
    class Future:
        @hookimpl(optionalhook=True)
        def hub_hook_of_a_later_version(self) -> None:
            """Plugins may target newer hubs."""

    create_plugin_host(entry_points=False, extra=[Future()])


def test_same_connector_name_from_two_plugins_names_both() -> None:
    def make(owner: str) -> object:
        class Dup(Connector):
            name = "dup"

        class Plugin:
            @hookimpl
            def hub_register_connectors(self, register):  # type: ignore[no-untyped-def]
                register(Dup)

        Plugin.__name__ = owner
        return Plugin()

    host = PluginHost()
    host.register(make("Alpha"), name="alpha-plugin")
    host.register(make("Beta"), name="beta-plugin")
    with pytest.raises(ConfigurationError) as info:
        host.connector_classes()
    message = str(info.value)
    assert "'dup'" in message
    assert "alpha-plugin" in message
    assert "beta-plugin" in message


def test_registering_something_that_is_not_a_connector() -> None:
    class Wrong:
        @hookimpl
        def hub_register_connectors(self, register):  # type: ignore[no-untyped-def]
            register(object)

    host = PluginHost()
    host.register(Wrong(), name="wrong-plugin")
    with pytest.raises(ConfigurationError, match=r"wrong-plugin.*not a Connector"):
        host.connector_classes()


def test_connector_without_name_is_refused() -> None:
    class Nameless(Connector):
        pass

    class Plugin:
        @hookimpl
        def hub_register_connectors(self, register):  # type: ignore[no-untyped-def]
            register(Nameless)

    host = PluginHost()
    host.register(Plugin(), name="nameless-plugin")
    with pytest.raises(ConfigurationError, match=r"nameless-plugin.*no `name`"):
        host.connector_classes()


def test_statuses_list_what_each_plugin_contributed() -> None:
    host = create_plugin_host()
    host.connector_classes()
    by_name = {st.name: st for st in host.statuses}
    assert by_name["noop"].connectors == ["noop"]
    assert by_name["webhook"].connectors == ["webhook"]
    assert by_name["noop"].distribution == "registry-hub"
