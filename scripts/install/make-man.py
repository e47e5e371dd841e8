#!/usr/bin/env python3
"""Writes aslnet's man page (section 1) from the binary's own --help texts, so that it always says what
the binary does: every command with its options and defaults. Usage: make-man.py ASLNET OUT.1"""
import re
import subprocess
import sys


def help_text(aslnet, command):
    text = subprocess.run([aslnet, *command, "--help"], capture_output=True, text=True, check=True).stdout
    return text.replace(f"Usage: {aslnet} ", "Usage: aslnet ")  # the build's path is no user's


def subcommands(text):
    listed = re.search(r"^Subcommands:\n((?:  .*\n?)*)", text, re.M)
    return [line.split()[0] for line in listed.group(1).splitlines() if line.strip()] if listed else []


def roff(text):
    # Preformatted text: escape backslashes and lines that start with roff's control characters.
    lines = [line.replace("\\", "\\e") for line in text.rstrip().splitlines()]
    return "\n".join("\\&" + line if line.startswith((".", "'")) else line for line in lines)


def main():
    aslnet, out = sys.argv[1], sys.argv[2]
    version = subprocess.run([aslnet, "--version"], capture_output=True, text=True, check=True).stdout.split()[1]
    top = help_text(aslnet, [])
    page = [
        f'.TH ASLNET 1 "" "aslnet {version}" "User Commands"',
        ".SH NAME",
        "aslnet \\- train, evaluate and serve ResNets that read the American Sign Language alphabet",
        ".SH SYNOPSIS",
        ".B aslnet",
        "[\\fB\\-\\-verbose\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR]",
        ".SH DESCRIPTION",
        "aslnet is a training engine written directly on CUDA, cuDNN, cuBLAS, NCCL and OpenBLAS, with no",
        "deep-learning framework. Every command below prints the same text with \\fB\\-\\-help\\fR; the README",
        "(share/doc/aslnet/README.md) says more, with examples.",
        ".nf",
        roff(top),
        ".fi",
        ".SH COMMANDS",
    ]
    commands = [[name] for name in subcommands(top)]
    for command in list(commands):
        commands += [command + [sub] for sub in subcommands(help_text(aslnet, command))]
    for command in sorted(commands):
        page += [f'.SS "aslnet {" ".join(command)}"', ".nf", roff(help_text(aslnet, command)), ".fi"]
    page += [".SH SEE ALSO", "The README and docs/ in share/doc/aslnet."]
    with open(out, "w") as f:
        f.write("\n".join(page) + "\n")


if __name__ == "__main__":
    main()
