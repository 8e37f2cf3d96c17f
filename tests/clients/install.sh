#!/usr/bin/env bash
# Install the pinned real clients (tests/clients/PINS) into a repo-local prefix, never into
# global state: npm packages under $PREFIX/npm, aider in its own venv $PREFIX/aider.
# The tests find them there (CCPROXY_CLIENTS_DIR overrides the prefix).
#   tests/clients/install.sh [PREFIX]      (default: <repo>/.clients)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PREFIX=${1:-${CCPROXY_CLIENTS_DIR:-$REPO/.clients}}
mkdir -p "$PREFIX"
npm_specs=(); pip_specs=()
while read -r kind pkg version _; do
  case "$kind" in
    npm) npm_specs+=("$pkg@$version") ;;
    pip) pip_specs+=("$pkg==$version") ;;
  esac
done < <(grep -v '^\s*#' "$HERE/PINS" | grep -v '^\s*$')

command -v npm >/dev/null 2>&1 || { echo "clients: npm not found (apt-get install nodejs npm)" >&2; exit 1; }
start=$(date +%s)
# --no-fund/--no-audit: no extra registry calls; engine warnings (Claude Code asks for node 22,
# its CLI is a native binary) are not errors.
npm install --prefix "$PREFIX/npm" --no-fund --no-audit --no-save --loglevel=error "${npm_specs[@]}" >/dev/null
echo "clients: npm ${npm_specs[*]} in $(( $(date +%s) - start ))s"

start=$(date +%s)
if command -v uv >/dev/null 2>&1; then
  [ -x "$PREFIX/aider/bin/python" ] || uv venv --quiet --python python3 "$PREFIX/aider"
  VIRTUAL_ENV="$PREFIX/aider" uv pip install --quiet "${pip_specs[@]}"
else
  [ -x "$PREFIX/aider/bin/python" ] || python3 -m venv "$PREFIX/aider"
  "$PREFIX/aider/bin/pip" install --quiet "${pip_specs[@]}"
fi
echo "clients: pip ${pip_specs[*]} in $(( $(date +%s) - start ))s"
