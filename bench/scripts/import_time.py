"""Import one module in this fresh interpreter; print how long the import took, in seconds.

Usage: python import_time.py ROOT MODULE [PRELOADED_MODULE...]
The preloaded modules are imported first, outside the timing.
"""

from __future__ import annotations

import importlib
import sys
import time


def main() -> None:
    root, module, *preloaded = sys.argv[1:]
    sys.path.insert(0, root)
    for name in preloaded:
        importlib.import_module(name)
    start = time.perf_counter()
    importlib.import_module(module)
    print(repr(time.perf_counter() - start))


if __name__ == "__main__":
    main()
