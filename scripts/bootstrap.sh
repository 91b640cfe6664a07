# Sourced by the other scripts: puts uv on PATH and installs the locked environment.
# Works with nothing but Python 3.11+ (with venv and pip): where uv is absent, it is installed
# into .tools/uv, never into the system Python.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v uv >/dev/null 2>&1; then
  if [ ! -x .tools/uv/bin/uv ]; then
    python3 -m venv .tools/uv
    .tools/uv/bin/pip install --quiet --disable-pip-version-check uv
  fi
  PATH="$PWD/.tools/uv/bin:$PATH"
fi
export UV_PYTHON_DOWNLOADS=never
uv sync --frozen --quiet
