#!/usr/bin/env python3
"""Checks the relative links of the repository's Markdown files.

Every `[text](target)` and `![alt](target)` outside code whose target is not a URL must name a
file that exists, relative to the linking file; a `#fragment` must name a heading of the target
Markdown file (GitHub's anchors: lower-cased, punctuation dropped, spaces as hyphens, repeats
numbered). Exits 1 and lists every broken link, else prints how many were checked.

Usage: python3 infra/check_links.py [ROOT]   (default: the repository root)
"""

import os
import re
import sys
from pathlib import Path

SKIPPED_DIRS = {".git", "node_modules", "target", ".venv", ".local"}
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")


def markdown_files(root: Path):
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIPPED_DIRS)
        for name in sorted(files):
            if name.endswith(".md"):
                yield Path(directory) / name


def prose_lines(text: str):
    """(line number, line) outside fenced code blocks."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text."""
    text = INLINE_CODE.sub(lambda m: m.group(2), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link's text only
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path, cache: dict) -> set:
    if path not in cache:
        seen: dict = {}
        found = set()
        for _, line in prose_lines(path.read_text(encoding="utf-8")):
            match = HEADING.match(line)
            if not match:
                continue
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
        cache[path] = found
    return cache[path]


def check(root: Path) -> int:
    cache: dict = {}
    problems = []
    checked = 0
    for path in markdown_files(root):
        for number, line in prose_lines(path.read_text(encoding="utf-8")):
            line = INLINE_CODE.sub("", line)
            for match in LINK.finditer(line):
                target = match.group(1)
                if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                    continue  # a URL: http(s), mailto, ...
                checked += 1
                file_part, _, fragment = target.partition("#")
                linked = (path.parent / file_part).resolve() if file_part else path
                where = f"{path.relative_to(root)}:{number}: {target}"
                if not linked.exists():
                    problems.append(f"{where}: no such file")
                elif fragment and linked.suffix == ".md" and fragment not in anchors(linked, cache):
                    problems.append(f"{where}: no heading with anchor #{fragment}")
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"{checked} relative links checked, all resolve")
    return 0


if __name__ == "__main__":
    if any(arg in ("-h", "--help") for arg in sys.argv[1:]):
        print(__doc__.strip())
        sys.exit(0)
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
    sys.exit(check(root.resolve()))
