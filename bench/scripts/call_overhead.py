"""Per-call time of the entry's ``handler`` against the runtime's own, after the first call.

Usage: python call_overhead.py ROOT ENTRY_MODULE RUNTIME_MODULE [--request] [--repeat N]

Without ``--request`` a call is ``handler({}, start_response)``, for a
trivial handler, timed in batches of about 50 ms: N batches of each side,
alternating, and the median of the per-call CPU times of the batches (a
call is too short to time alone). With ``--request`` a call is a whole WSGI
request: a fresh copy of a ``GET /`` environ, the call, and the response
read and closed, as a WSGI server does it; such a call is long enough to
time alone, so N x 500 requests of each side are timed one by one,
alternating side by side, and the medians compared (a batch median let
the same function differ from itself by 2% on a busy machine).

Prints JSON: whether the entry's handler is the runtime's object after the
first call (``same_object``), whether the handler taken from the entry
before the first call already was (``held_is_runtime``), and the seconds
per call of that held handler (``entry``) and of the runtime's (``runtime``).
"""

from __future__ import annotations

import importlib
import io
import json
import statistics
import sys
import time
import timeit
from collections.abc import Callable, Iterable
from wsgiref.util import setup_testing_defaults

Handler = Callable[..., Iterable[bytes]]


def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
    return None


# A side is a statement for timeit and its globals. A trivial call is timed
# as the statement itself, as a server's own Python code would make it: a
# function around it would add a frame to both sides and blur the difference.
Side = tuple[str, dict[str, object]]


def trivial_call(handler: Handler) -> Side:
    return "handler(environ, start_response)", {
        "handler": handler,
        "environ": {},
        "start_response": start_response,
    }


def wsgi_request(handler: Handler) -> Callable[[], bytes]:
    base: dict[str, object] = {}
    setup_testing_defaults(base)

    def request() -> bytes:
        environ = dict(base, **{"wsgi.input": io.BytesIO(b"")})
        response = handler(environ, start_response)
        try:
            return b"".join(response)
        finally:
            close = getattr(response, "close", None)
            if close is not None:
                close()

    return request


def per_call(sides: dict[str, Side], repeat: int) -> dict[str, float]:
    """Median seconds per call of each side; every repeat times each side once, alternating."""
    # CPU time of this process: the calls are pure computation, and other
    # processes on a shared machine stretch the wall clock, not this.
    timers = {
        name: timeit.Timer(stmt, timer=time.process_time, globals=names)
        for name, (stmt, names) in sides.items()
    }
    first = next(iter(timers.values()))
    number = max(1, int(0.05 / (first.timeit(100) / 100)))  # about 50 ms a repeat
    samples: dict[str, list[float]] = {name: [] for name in timers}
    order = list(timers)
    for index in range(repeat):
        for name in order if index % 2 == 0 else reversed(order):
            samples[name].append(timers[name].timeit(number) / number)
    return {name: statistics.median(values) for name, values in samples.items()}


def per_request(calls: dict[str, Callable[[], object]], count: int) -> dict[str, float]:
    """Median seconds per call of each side, each call timed alone, the sides alternating."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    order = list(calls)
    clock = time.perf_counter
    for index in range(count):
        for name in order if index % 2 == 0 else reversed(order):
            call = calls[name]
            start = clock()
            call()
            samples[name].append(clock() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    root, entry_name, runtime_name, *options = sys.argv[1:]
    repeat = int(options[options.index("--repeat") + 1]) if "--repeat" in options else 31
    sys.path.insert(0, root)
    entry = importlib.import_module(entry_name)
    held = entry.handler  # what a server keeps, taken before the first call
    if "--request" in options:
        wsgi_request(held)()  # the first call (in lazy mode it imports the runtime)
        runtime = importlib.import_module(runtime_name)
        requests = {"entry": wsgi_request(held), "runtime": wsgi_request(runtime.handler)}
        times = per_request(requests, repeat * 500)
    else:
        statement, names = trivial_call(held)
        exec(statement, names)  # the first call
        runtime = importlib.import_module(runtime_name)
        times = per_call(
            {"entry": trivial_call(held), "runtime": trivial_call(runtime.handler)}, repeat
        )
    report = {
        "same_object": entry.handler is runtime.handler,
        "held_is_runtime": held is runtime.handler,
        **times,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
