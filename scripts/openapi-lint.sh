#!/usr/bin/env bash
# Lints the OpenAPI document (httpd/openapi.json) with a pinned @redocly/cli.
# The CLI is installed once into the git-ignored folder .tools/npm and reused.
# Usage: scripts/openapi-lint.sh [extra redocly lint args]
set -euo pipefail

REDOCLY_VERSION="2.77.0"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PREFIX="$ROOT/.tools/npm"
BIN="$PREFIX/node_modules/.bin/redocly"
PKG_JSON="$PREFIX/node_modules/@redocly/cli/package.json"

# Keep the CLI quiet and offline apart from the one install.
export REDOCLY_TELEMETRY=off
export REDOCLY_SUPPRESS_UPDATE_NOTICE=true
export NO_UPDATE_NOTIFIER=1

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "openapi-lint: node and npm are required (e.g. apt-get install -y nodejs npm)" >&2
  exit 1
fi

installed_version() {
  [ -f "$PKG_JSON" ] || return 1
  node -e 'process.stdout.write(require(process.argv[1]).version)' "$PKG_JSON"
}

if [ ! -x "$BIN" ] || [ "$(installed_version || true)" != "$REDOCLY_VERSION" ]; then
  echo "openapi-lint: installing @redocly/cli@$REDOCLY_VERSION into .tools/npm" >&2
  mkdir -p "$PREFIX"
  npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error \
    "@redocly/cli@$REDOCLY_VERSION" >&2
fi

python3 -m json.tool httpd/openapi.json >/dev/null 2>&1 || {
  if command -v python3 >/dev/null 2>&1; then
    echo "openapi-lint: httpd/openapi.json is not valid JSON" >&2
    python3 -m json.tool httpd/openapi.json >/dev/null
    exit 1
  fi
  node -e 'JSON.parse(require("fs").readFileSync("httpd/openapi.json","utf8"))'
}

exec "$BIN" lint --config .redocly.yaml "$@" httpd/openapi.json
