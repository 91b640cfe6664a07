"""pytest loads this file for every test in the repository — the core's (``tests/``) and each
plugin's (``plugins/*/tests``) — so the shared fixtures are defined once, in
:mod:`tests.fixtures`, and no plugin's ``conftest.py`` repeats them: an isolated environment
and loopback-only network for each test, a ledger per test on SQLite or PostgreSQL
(``HUB_TEST_DATABASE``), and ``make_hub``."""

from tests.fixtures import _isolated_env, _pg_database, database_url, make_hub, registry

__all__ = ["_isolated_env", "_pg_database", "database_url", "make_hub", "registry"]
