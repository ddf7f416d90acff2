#!/usr/bin/env python3
"""Fills docs/config.md's generated blocks from the field tables.

usage: scripts/update_config_docs.py [build/bin/rewardpath] [docs/config.md]
Each block <!-- BEGIN generated SECTION --> ... <!-- END generated SECTION --> becomes the output
of `rewardpath config --markdown SECTION` (SECTION "top" is the top level); the prose around the
blocks is left as it is. tests/pipeline/test_config.cpp checks the result.
"""
import re
import subprocess
import sys

binary = sys.argv[1] if len(sys.argv) > 1 else "build/bin/rewardpath"
path = sys.argv[2] if len(sys.argv) > 2 else "docs/config.md"


def table(section):
    args = [binary, "config", "--markdown"] + ([] if section == "top" else [section])
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    if section == "top":  # the first table of the full listing
        out = out.split("### ", 2)[1]
    return out.split("\n\n", 1)[1].rstrip("\n") + "\n"


text = open(path, encoding="utf-8").read()
pattern = re.compile(r"(<!-- BEGIN generated (\S+) -->\n)(.*?)(<!-- END generated \2 -->)", re.S)
text = pattern.sub(lambda m: m.group(1) + table(m.group(2)) + m.group(4), text)
open(path, "w", encoding="utf-8").write(text)
