#!/usr/bin/env bash
# Lists every skipped test in a ctest log with its reason: GoogleTest's skips, and the end-to-end
# scripts' "skipped: NAME: REASON" lines.
set -euo pipefail
log=${1:?usage: print-skips.sh build/Testing/Temporary/LastTest.log}
[[ -f "$log" ]] || exit 0
awk '
  / Skipped$/ { reading = 1; reason = ""; next }
  reading && /^\[  SKIPPED \]/ {
    name = $4; sub(/ \(.*/, "", name)
    printf "skipped: %s: %s\n", name, reason; reading = 0; count++; next
  }
  reading { reason = (reason == "" ? $0 : reason " " $0) }
  /^skipped: / { sub(/^skipped: /, ""); printf "skipped: %s\n", $0; count++ }
  END { if (count) printf "%d test(s) skipped\n", count; else print "no test skipped" }
' "$log"
