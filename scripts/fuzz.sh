#!/bin/sh
# Runs every fuzz target of the module for FUZZTIME each (default 20s), one
# after another (Go fuzzes one target per invocation). Usage:
#   scripts/fuzz.sh            # all targets
#   FUZZTIME=2m scripts/fuzz.sh FuzzRequestBodies
# New crashers are written to the package's testdata/fuzz/<Target>/ and make
# the script exit non-zero; commit them once fixed so `go test` replays them.
set -eu
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-20s}"
only="${1:-}"
status=0
count=0
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	targets=$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u || true)
	for target in $targets; do
		if [ -n "$only" ] && [ "$only" != "$target" ]; then
			continue
		fi
		count=$((count + 1))
		echo "== $pkg $target ($FUZZTIME)"
		if ! go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME"; then
			echo "FAIL: $pkg $target" >&2
			status=1
		fi
	done
done
if [ "$count" -eq 0 ]; then
	echo "fuzz.sh: no fuzz target matched ${only:-anything}" >&2
	exit 2
fi
exit $status
