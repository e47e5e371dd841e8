#!/usr/bin/env bash
# The help and the README agree: every option of every command has a sentence in --help (and no
# CLI11 artefact such as "{false}"), and every option is documented in README.md or docs/.
source "$(dirname "$0")/common.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
/usr/bin/python3 - "$ASLNET" "$root" <<'PY'
import glob, re, subprocess, sys
aslnet, root = sys.argv[1], sys.argv[2]
docs = "".join(open(p).read() for p in [f"{root}/README.md"] + sorted(glob.glob(f"{root}/docs/*.md")))
commands = ["", "demo", "synth", "check-data", "train", "eval", "predict", "translate", "serve", "info", "plot",
            "bench", "bench kernels", "bench allreduce", "bench train", "bench serve"]
problems = []
for command in commands:
    help_text = subprocess.run([aslnet] + command.split() + ["--help"], capture_output=True, text=True, check=True).stdout
    lines = help_text.splitlines()
    listing = False
    for i, line in enumerate(lines):
        if re.match(r"^(Options|Positionals|Subcommands):", line):
            listing = True
            continue
        if not listing or not line.startswith("  ") or line.startswith("   "):
            continue
        # CLI11 writes the description from column 30, or on the next line when the name is longer.
        described = len(line) > 30 and line[29] == " " and line[30] != " "
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if not described and not re.match(r"^\s{29,}\S", following):
            problems.append(f"aslnet {command} --help: no description for {line.strip()}")
        if "{false}" in line or "{true}" in line:
            problems.append(f"aslnet {command} --help: {line.strip()}")
        for flag in re.findall(r"^\s+(?:-\w,)?(--[a-z0-9-]+)", line):
            if flag != "--help" and not re.search(re.escape(flag) + r"(?![a-z0-9-])", docs):
                problems.append(f"aslnet {command}: {flag} is not in README.md or docs/")
print("\n".join(problems) or f"{len(commands)} commands: every option described in --help and documented")
sys.exit(1 if problems else 0)
PY
