#!/usr/bin/python3
"""Documentation test (ctest `docs`): the code blocks of README.md and docs/*.md are what they claim.

- Every ```yaml block is a whole configuration and must pass `pgroute --check`, unless the line before
  it is `<!-- fragment -->` (part of a file, shown for one key). Variables it uses get a dummy value, as
  an operator's environment would give them; the example plugin's installed path is mapped to the
  built one. The number of full configurations checked is printed, and at least one per file that has
  YAML blocks must be a full one.
- Every ```sh block line that runs `tools/NAME` needs an executable tools/NAME whose source (or its
  tools/NAME_lib/) mentions each --flag the line passes it; a line running `pgroute`/`build/pgroute`
  needs each --flag and subcommand it passes to appear in the proxy's command-line code.

Usage: check_docs.py --pgroute BUILD/pgroute --plugin BUILD/example_router.so [--root SOURCE_DIR]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

FENCE = re.compile(r"^```(\w*)\s*$")
VARIABLE = re.compile(r"\$\{(\w+)(?::-[^}]*)?\}")
INSTALLED_PLUGIN = "/usr/lib/pgroute/example_router.so"


def blocks(path):
    """(language, first line number, text, fragment?) for each fenced block of a Markdown file."""
    lines = open(path, encoding="utf-8").read().split("\n")
    out, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        lang, start = m.group(1), i + 1
        j = start
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        fragment = i > 0 and lines[i - 1].strip() == "<!-- fragment -->"
        out.append((lang, start + 1, "\n".join(lines[start:j]) + "\n", fragment))
        i = j + 1
    return out


def check_yaml(pgroute, plugin, where, text, problems):
    env = dict(os.environ)
    for name in VARIABLE.findall(text):
        env.setdefault(name, "doc-test-value")
    text = text.replace(INSTALLED_PLUGIN, plugin)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(text)
        name = f.name
    try:
        r = subprocess.run([pgroute, "--check", name], env=env, capture_output=True, text=True, timeout=30)
    finally:
        os.unlink(name)
    if r.returncode != 0:
        problems.append(f"{where}: pgroute --check fails:\n{r.stdout}{r.stderr}")


def command_sources(root):
    """Text in which pgroute's own flags and subcommands are spelled."""
    text = ""
    for rel in ("proxy/process/main.cpp", "proxy/process/explain_command.cpp"):
        path = os.path.join(root, rel)
        if os.path.exists(path):
            text += open(path, encoding="utf-8").read()
    return text


def tool_source(root, tool):
    text = open(os.path.join(root, "tools", tool), encoding="utf-8", errors="replace").read()
    lib = os.path.join(root, "tools", tool + "_lib")
    if os.path.isdir(lib):
        for dirpath, _, files in os.walk(lib):
            for f in files:
                if f.endswith(".py"):
                    text += open(os.path.join(dirpath, f), encoding="utf-8").read()
    return text


def check_sh(root, where, text, problems):
    pgroute_text = None
    for offset, line in enumerate(text.split("\n")):
        line = line.split("  #")[0].strip()
        if not line or line.startswith("#"):
            continue
        at = f"{where[0]}:{where[1] + offset}"
        words = line.split()
        for k, word in enumerate(words):
            tool = re.fullmatch(r"(?:\./)?tools/([\w.-]+)", word)
            if tool:
                path = os.path.join(root, "tools", tool.group(1))
                if not (os.path.isfile(path) and os.access(path, os.X_OK)):
                    problems.append(f"{at}: {word} is not an executable script in tools/")
                    continue
                source = tool_source(root, tool.group(1))
                for flag in words[k + 1:]:
                    flag = flag.split("=")[0]
                    if flag.startswith("--") and f'"{flag}"' not in source and f"'{flag}'" not in source \
                            and f"{flag})" not in source and f" {flag} " not in source:
                        problems.append(f"{at}: {word} has no flag {flag}")
            if re.fullmatch(r"(?:build/|.*/bin/)?pgroute", word):
                pgroute_text = pgroute_text if pgroute_text is not None else command_sources(root)
                rest = words[k + 1:]
                if rest and not rest[0].startswith("-") and f'"{rest[0]}"' not in pgroute_text:
                    problems.append(f"{at}: pgroute has no subcommand {rest[0]}")
                for flag in rest:
                    flag = flag.strip("[").split("=")[0]
                    if flag.startswith("--") and f'"{flag}"' not in pgroute_text:
                        problems.append(f"{at}: pgroute has no flag {flag}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pgroute", required=True)
    ap.add_argument("--plugin", required=True)
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    args = ap.parse_args()
    root = os.path.abspath(args.root)
    files = [os.path.join(root, "README.md")] + sorted(
        os.path.join(root, "docs", f) for f in os.listdir(os.path.join(root, "docs")) if f.endswith(".md"))
    problems, checked, fragments, commands = [], 0, 0, 0
    for path in files:
        rel = os.path.relpath(path, root)
        full_here = yaml_here = 0
        for lang, line, text, fragment in blocks(path):
            if lang == "yaml":
                yaml_here += 1
                if fragment:
                    fragments += 1
                    continue
                check_yaml(args.pgroute, args.plugin, f"{rel}:{line}", text, problems)
                checked += 1
                full_here += 1
            elif lang in ("sh", "bash"):
                commands += 1
                check_sh(root, (rel, line), text, problems)
        if yaml_here and not full_here:
            problems.append(f"{rel}: every YAML block is marked as a fragment; at least one must be a whole config")
    print(f"docs: {checked} full configurations checked with pgroute --check, {fragments} fragments skipped, "
          f"{commands} sh blocks checked, in {len(files)} files")
    for p in problems:
        print("PROBLEM:", p)
    return 1 if problems or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
