#!/usr/bin/env bash
# aslnet train on the real sample reaches 90% or more validation accuracy on the random split, and
# reports the grouped split's figure (which near-duplicate frames cannot inflate) alongside.
source "$(dirname "$0")/common.sh"
[[ -f "$WORK/no-data" ]] && skip "real ASL data not found (see the setup test)"
best() { /usr/bin/python3 -c "
import json,sys
best = max(r['val']['accuracy'] for r in map(json.loads, open(sys.argv[1])) if r.get('event') == 'epoch' and 'val' in r)
print(best)" "$1"; }
random=$(best "$WORK/random/log.jsonl")
grouped=$(best "$WORK/grouped/log.jsonl")
echo "best validation accuracy: random split $random, grouped split $grouped"
/usr/bin/python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 0.90 else 1)" "$random" || {
  echo "random-split validation accuracy $random is below 0.90" >&2
  exit 1
}
