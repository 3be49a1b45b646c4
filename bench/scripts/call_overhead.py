"""Per-call time of the entry's ``handler`` against the runtime's own, after the first call.

Usage: python call_overhead.py ROOT ENTRY_MODULE RUNTIME_MODULE
Prints JSON: whether the entry's handler is the runtime's object, and the
best time per call of the handler a server would hold (taken from the entry
before the first call) and of the runtime's handler.
"""

from __future__ import annotations

import importlib
import json
import sys
import timeit
from collections.abc import Callable


def start_response(status: str, headers: list[tuple[str, str]]) -> None:
    return None


def per_call(handler: Callable[..., object]) -> float:
    environ: dict[str, object] = {}
    number = 200_000
    timer = timeit.Timer("handler(environ, start_response)", globals=locals() | globals())
    return min(timer.repeat(repeat=7, number=number)) / number


def main() -> None:
    root, entry_name, runtime_name = sys.argv[1:]
    sys.path.insert(0, root)
    entry = importlib.import_module(entry_name)
    held = entry.handler  # what a server keeps, taken before the first call
    held({}, start_response)  # the first call (in lazy mode it imports the runtime)
    runtime = importlib.import_module(runtime_name)
    print(
        json.dumps(
            {
                "same_object": entry.handler is runtime.handler,
                "held_is_runtime": held is runtime.handler,
                "entry": per_call(held),
                "runtime": per_call(runtime.handler),
            }
        )
    )


if __name__ == "__main__":
    main()
