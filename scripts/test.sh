#!/usr/bin/env bash
# The whole test suite, as the README says: once on SQLite, once on PostgreSQL.
# Needs only Python 3.11+ and pip; installs uv and the locked dependencies itself.
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"

workers="${HUB_TEST_WORKERS:-2}"
echo "== tests on SQLite"
uv run --frozen pytest -n "$workers" "$@"

pg_url="${HUB_TEST_PG_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
if uv run --frozen python -c "import psycopg,sys; psycopg.connect(sys.argv[1], connect_timeout=3).close()" "$pg_url" 2>/dev/null; then
  echo "== tests on PostgreSQL"
  HUB_TEST_DATABASE=postgresql uv run --frozen pytest -n "$workers" "$@"
elif [ "${CI:-}" = "true" ]; then
  echo "PostgreSQL is not reachable at $pg_url: CI must run the suite on it" >&2
  exit 1
else
  echo "!! PostgreSQL not reachable at $pg_url: the PostgreSQL run was NOT done (set HUB_TEST_PG_ADMIN_URL)" >&2
fi
