"""Import one module in this fresh interpreter; print how long the import took, in seconds.

Usage: python import_time.py ROOT MODULE
"""

from __future__ import annotations

import importlib
import sys
import time


def main() -> None:
    root, module = sys.argv[1:]
    sys.path.insert(0, root)
    start = time.perf_counter()
    importlib.import_module(module)
    print(repr(time.perf_counter() - start))


if __name__ == "__main__":
    main()
