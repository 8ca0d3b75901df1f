#!/usr/bin/env bash
# Checks the Prometheus alerting rules of docs/monitoring with promtool:
# `promtool check rules` and the rules' unit tests (`promtool test rules`).
# promtool comes with Debian's prometheus package; it is installed when
# missing (apt-get, as root). The server it also installs is not started.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT/docs/monitoring"

if ! command -v promtool >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "monitoring-lint: installing promtool (apt-get install prometheus)" >&2
    # A policy-rc.d that says no keeps the package's service from starting.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
      trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >/dev/null
  else
    echo "monitoring-lint: promtool is required (apt-get install -y prometheus)" >&2
    exit 1
  fi
fi

promtool check rules alerts.yml
promtool test rules alerts_test.yml
