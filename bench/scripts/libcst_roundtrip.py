"""Baseline of the tree and memory benchmarks: parse and print entries with LibCST.

Usage: python libcst_roundtrip.py PATH
PATH is one file, or a directory whose ``index.py`` files are all taken.
"""

from __future__ import annotations

import sys
from pathlib import Path

import libcst


def main() -> int:
    path = Path(sys.argv[1])
    files = [path] if path.is_file() else sorted(path.rglob("index.py"))
    for file in files:
        text = file.read_text(encoding="utf-8")
        if libcst.parse_module(text).code != text:
            print(f"the round trip changed {file}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
