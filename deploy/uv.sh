# Sourced by the run and test commands: makes `uv` available, installing it from PyPI once.
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --user uv 2>/dev/null || python3 -m pip install --quiet uv
  export PATH="$HOME/.local/bin:$PATH"
fi
if ! command -v uv >/dev/null 2>&1; then
  uv() { python3 -m uv "$@"; }
fi
