#!/usr/bin/env bash
# Verifies docs/deploy/*.service with systemd-analyze (installing Debian's
# systemd package when the tool is missing). The unit's ExecStart names
# /usr/local/bin/exekra, which need not exist here: verify checks that the
# program is executable, so the check runs on a copy whose program path
# points at a stand-in; every other line is verified as written.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v systemd-analyze >/dev/null; then
  echo "verify-units: installing systemd-analyze (Debian package systemd)"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null; }; then
    echo "verify-units: systemd-analyze is not installable here" >&2
    exit 1
  fi
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#!/bin/sh\n' > "$tmp/exekra"
chmod +x "$tmp/exekra"
for unit in docs/deploy/*.service; do
  sed "s|/usr/local/bin/exekra|$tmp/exekra|g" "$unit" > "$tmp/$(basename "$unit")"
  # verify prints problems on stderr and may still exit 0: both fail lint.
  if ! out=$(systemd-analyze verify --man=no "$tmp/$(basename "$unit")" 2>&1) || [ -n "$out" ]; then
    echo "verify-units: $unit:"; echo "$out"; exit 1
  fi
done
echo "verify-units: ok"
