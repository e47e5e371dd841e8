# Shared by the end-to-end tests: where things are, and how to skip.
# Every script gets: $1 = the aslnet binary, $2 = the work folder shared by the fixture.
set -euo pipefail
ASLNET=${1:?aslnet binary}
WORK=${2:?work folder}
DATA_DIR=${ASLNET_DATA:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/shared/data}

# Exit code 77 is ctest's "skipped" for these tests (SKIP_RETURN_CODE); scripts/print-skips.sh lists the reason.
skip() {
  if [[ "${ASLNET_REQUIRE_DATA:-0}" != "0" && -n "${ASLNET_REQUIRE_DATA:-}" ]]; then
    echo "FAILED: $1 (and ASLNET_REQUIRE_DATA is set)" >&2
    exit 1
  fi
  echo "skipped: $(basename "$0" .sh): $1"
  exit 77
}

# A JSON field of a one-object file, through the aslnet-independent python3 on PATH or /usr/bin/python3.
json_field() { /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$2)" "$1"; }

# The fixture's checkpoint trained on the random split (e2e.setup) and the list of photos it never
# trained on: sets $checkpoint and $held_out_list; skips when the fixture found no data.
use_random_split_fixture() {
  [[ -f "$WORK/no-data" ]] && skip "real ASL data not found (see e2e.setup)"
  checkpoint="$WORK/random/best.safetensors"
  held_out_list="$WORK/random/validation-files.txt"
  [[ -f $checkpoint && -f $held_out_list ]] || { echo "the e2e fixture has no $checkpoint or validation list"; exit 1; }
}

# Waits until the run writing into folder $1 has logged its first step, for at most $2 seconds (then the
# caller goes on, and its own checks say what went wrong): the moment to stop or kill one of its ranks.
wait_for_first_step() {
  local deadline=$((SECONDS + $2))
  until grep -qs '"event":"step"' "$1/log.jsonl"; do
    ((SECONDS < deadline)) || return 0
    sleep 0.1
  done
}

# Whether two checkpoints hold the same tensors, bit for bit (their metadata, which records when and how
# each run was started, may differ). Reads the safetensors layout with the standard library.
same_weights() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import json, struct, sys
def tensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    return {k: (v["dtype"], v["shape"], data[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]])
            for k, v in header.items()}
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
if differ:
    print(f"{sys.argv[1]} and {sys.argv[2]} differ in {len(differ)} tensors, e.g. {differ[0]}", file=sys.stderr)
    sys.exit(1)
PY
}
