#!/usr/bin/env bash
# The main job on embedded SQLite: `hub demo` with its simulators and sample documents.
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
exec uv run --frozen hub demo "$@"
