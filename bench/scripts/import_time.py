"""Import one module in a fresh, bare interpreter and time it from the first byte it imports.

Usage: python -I -S [-B] import_time.py ROOT MODULE [--path DIR]... [--call] [--gc-offset N]

Run it with ``-I -S``: no ``site``, so no ``.pth`` file has imported
anything (a virtualenv's ``distutils-precedence.pth`` and an editable
install's finder import ``importlib``, ``importlib.util``, ``functools``
and ``warnings`` before any script runs, which hides what an entry costs
when it imports them). ``sys.path`` is the standard library, then ROOT first
and each ``--path`` last. This script imports nothing but ``sys`` and
``time``, which the interpreter has loaded before it runs any code (checked),
so the clock covers every module the measured import loads.

``--gc-offset N`` first allocates N empty lists (kept alive), before the
clock. CPython collects its youngest generation after every 700 net
allocations of tracked objects (``gc.get_threshold()[0]``), so where in that
cycle an import starts decides whether it pays for one more collection
(0.03 to 0.07 ms here, about what a small entry costs in all). A server
imports its entry at no particular point of the cycle; the benchmark runs
each side at offsets spread over the whole cycle, the same offset for both
sides of a round.

``--call`` also calls the module's ``handler(environ, start_response)``
once inside the timed part (a lazy entry imports its runtime on that call).

Prints one JSON object: ``seconds`` (wall clock) and ``cpu_seconds`` (this
process's CPU time, which a busy machine does not inflate), ``modules``
(the names that were added to ``sys.modules``, sorted) and ``init_saw``
(what the benchmark's init stand-in recorded, see ``bench/entries.py``;
null if no init ran).
"""

import sys

# No `from __future__` import and no other module: anything imported here
# would be loaded before the clock starts.
_CLOCK_PRELOADED = "time" in sys.modules

import time  # noqa: E402


def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
    return None


def main() -> None:
    if not (sys.flags.isolated and sys.flags.no_site):
        raise SystemExit("import_time.py: run it with -I -S (isolated, no site)")
    if not _CLOCK_PRELOADED:
        raise SystemExit("import_time.py: `time` was not loaded at start-up; no clock is free")
    root, module, *options = sys.argv[1:]
    extra = [options[index + 1] for index, option in enumerate(options) if option == "--path"]
    call = "--call" in options
    offsets = [
        int(options[index + 1]) for index, option in enumerate(options) if option == "--gc-offset"
    ]
    ballast = [[] for _ in range(offsets[-1] if offsets else 0)]
    sys.path[:0] = [root]
    sys.path.extend(extra)
    before = set(sys.modules)
    start, start_cpu = time.perf_counter(), time.process_time()
    __import__(module)
    if call:
        sys.modules[module].handler({}, start_response)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    added = sorted(set(sys.modules) - before)
    del ballast
    import json  # after the clock stopped

    report = {
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "modules": added,
        "init_saw": getattr(sys, "_bench_init", None),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
