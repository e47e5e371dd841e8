#!/usr/bin/env bash
# Lists every test that GoogleTest skipped in a ctest log, with the reason it gave.
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
  END { if (count) printf "%d test(s) skipped\n", count; else print "no test skipped" }
' "$log"
