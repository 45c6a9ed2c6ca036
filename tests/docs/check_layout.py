#!/usr/bin/env python3
"""Includes run one way (ctest "layout").

Every `#include "..."` under config/, router/ and proxy/ may name a file of its own folder or of a folder
lower in LAYERS; one that names a higher folder is reported as FILE:LINE. A source file under proxy/ that
is in none of the folders is reported too (a new folder needs its place here first), and
docs/architecture.md's Layout table must list the same folders in the same order.
"""
import argparse
import os
import re
import sys

# Lowest first: a folder includes only itself and folders before it.
LAYERS = [
    "config/",
    "router/",
    "proxy/wire/",
    "proxy/auth/",
    "proxy/base/",
    "proxy/metrics/",
    "proxy/io/",
    "proxy/pool/",
    "proxy/admin/",
    "proxy/session/",
    "proxy/process/",
]
# Files allowed outside the folders, with why.
LOOSE: set = set()
SOURCE_SUFFIXES = (".cpp", ".hpp", ".h", ".c")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
TABLE_ROW = re.compile(r"^\|\s*(\d+)\s*\|\s*`([^`]+)`\s*\|")


def layer_of(path):
    """Index in LAYERS of the folder holding `path` (its longest matching prefix), or None."""
    best = None
    for i, folder in enumerate(LAYERS):
        if path.startswith(folder) and (best is None or len(folder) > len(LAYERS[best])):
            best = i
    return best


def source_files(root):
    for top in ("config", "router", "proxy"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in sorted(files):
                if name.endswith(SOURCE_SUFFIXES):
                    yield os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/")


def check_includes(root, problems):
    for rel in sorted(source_files(root)):
        own = layer_of(rel)
        if own is None:
            if rel not in LOOSE:
                problems.append(f"{rel}:1: in no folder of the layout (tests/docs/check_layout.py LAYERS)")
            continue
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = m.group(1)
                theirs = layer_of(target)
                if theirs is not None and theirs > own:
                    problems.append(f'{rel}:{number}: includes "{target}": {LAYERS[own]} ({own + 1}) is below '
                                    f"{LAYERS[theirs]} ({theirs + 1}) in the layout and may not include it")


def check_docs(root, problems):
    doc = os.path.join(root, "docs", "architecture.md")
    listed = []
    with open(doc, encoding="utf-8") as f:
        in_layout = False
        for number, line in enumerate(f, 1):
            if line.startswith("## "):
                in_layout = line.strip() == "## Layout"
                continue
            m = TABLE_ROW.match(line) if in_layout else None
            if m:
                listed.append((number, m.group(2)))
    folders = [folder for _, folder in listed]
    if folders != LAYERS:
        where = listed[0][0] if listed else 1
        problems.append(f"docs/architecture.md:{where}: the Layout table lists {folders}, "
                        f"tests/docs/check_layout.py has {LAYERS}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    args = parser.parse_args()
    problems = []
    check_includes(args.root, problems)
    check_docs(args.root, problems)
    for p in problems:
        print(p)
    if problems:
        print(f"check_layout: {len(problems)} problem(s); the order is in docs/architecture.md#layout")
        return 1
    print(f"check_layout: includes follow the layout ({len(LAYERS)} folders)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
