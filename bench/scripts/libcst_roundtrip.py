"""Baseline of the tree benchmark: parse and print every entry under a directory with LibCST.

Usage: python libcst_roundtrip.py BUILD_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import libcst


def main() -> int:
    for path in sorted(Path(sys.argv[1]).rglob("index.py")):
        text = path.read_text(encoding="utf-8")
        if libcst.parse_module(text).code != text:
            print(f"the round trip changed {path}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
