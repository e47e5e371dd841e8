#!/usr/bin/env bash
# docs/replication.md's "Try it in five minutes on a CPU", run as written: every ```sh block between the
# page's five-minutes markers runs (in order, in one scratch folder, with the build's aslnet and
# benchmarks first on PATH), and what it prints (stdout and stderr) must match the ```text block after
# it, where "…" stands for any text within a line and a line of "…" alone for any number of lines.
# Skipped without torchrun (Debian's python3-torch); ASLNET_REQUIRE_TORCH=1 makes that a failure.
source "$(dirname "$0")/common.sh"
doc=$(cd "$(dirname "$0")/../.." && pwd)/docs/replication.md
build=$(cd "$(dirname "$ASLNET")" && pwd)
if ! command -v torchrun > /dev/null; then
  if [[ -n "${ASLNET_REQUIRE_TORCH:-}" && "${ASLNET_REQUIRE_TORCH}" != 0 ]]; then echo "no torchrun (and ASLNET_REQUIRE_TORCH is set)" >&2; exit 1; fi
  echo "skipped: course_five_minutes: no torchrun (python3-torch) to start the two processes"
  exit 77
fi
if [[ ! -x $build/bench/replication_step ]]; then
  echo "skipped: course_five_minutes: this build has no benchmark programs (ASLNET_BUILD_BENCH=OFF), and the page's last command runs bench/replication_step"
  exit 77
fi
work="$WORK-course"
rm -rf "$work" && mkdir -p "$work"
PATH="$build:$build/bench:$PATH" /usr/bin/python3 - "$doc" "$work" <<'PY'
import re, subprocess, sys
doc, work = sys.argv[1], sys.argv[2]
text = open(doc).read()
begin, end = text.index("<!-- five-minutes:begin -->"), text.index("<!-- five-minutes:end -->")
blocks = re.findall(r"```(sh|text)\n(.*?)```", text[begin:end], re.S)
if not blocks or len(blocks) % 2:
    sys.exit(f"{doc}: the five-minute section must alternate ```sh and ```text blocks")

def pattern(expected):
    parts = []
    for line in expected.splitlines():
        if line == "…":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(".*?".join(re.escape(p) for p in line.split("…")) + r"\n")
    return "".join(parts)

for (kind, commands), (kind2, expected) in zip(blocks[::2], blocks[1::2]):
    if (kind, kind2) != ("sh", "text"):
        sys.exit(f"{doc}: a ```sh block must be followed by its ```text output")
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", commands], cwd=work, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=240)
    out = run.stdout if run.stdout.endswith("\n") or not run.stdout else run.stdout + "\n"
    print("$ " + commands.strip().replace("\n", "\n$ "))
    print(out, end="")
    if run.returncode != 0:
        sys.exit(f"FAILED: exit status {run.returncode}")
    if not re.fullmatch(pattern(expected), out):
        sys.exit(f"FAILED: the output does not match the page's block:\n{expected}")
print(f"the five-minute path of {doc} ran as written: {len(blocks) // 2} blocks matched")
PY
