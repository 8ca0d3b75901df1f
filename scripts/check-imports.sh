#!/usr/bin/env bash
# Fails when a package breaks the import direction README.md describes (Layout):
#   messages  → standard library only
#   storage, actors, httpd → messages (+ their own technology), never each other
#   cmd/...   → may wire everything
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
fail=0
while read -r pkg imports; do
  pkg=${pkg%:}
  rel=${pkg#"$mod"/}
  case "$rel" in
    messages|messages/*)
      for i in $imports; do
        case "$i" in
          *.*/*) echo "check-imports: $rel imports $i (messages is standard library only)"; fail=1 ;;
        esac
      done ;;
    storage|storage/*|actors|actors/*|httpd|httpd/*)
      top=${rel%%/*}
      for i in $imports; do
        case "$i" in
          "$mod"/messages|"$mod"/messages/*) ;;
          "$mod"/"$top"|"$mod"/"$top"/*) ;;
          "$mod"/*) echo "check-imports: $rel imports ${i#"$mod"/} (adapters never import each other)"; fail=1 ;;
        esac
      done ;;
  esac
done < <(go list -f '{{.ImportPath}}: {{join .Imports " "}}' ./messages/... ./storage/... ./actors/... ./httpd/...)
if [ "$fail" -ne 0 ]; then exit 1; fi
echo "check-imports: ok"
