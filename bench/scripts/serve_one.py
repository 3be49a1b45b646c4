"""Import an entry, serve one WSGI request through its ``handler``, and exit.

Usage: python serve_one.py ROOT ENTRY_MODULE [--tracer-provider]
With ``--tracer-provider`` the application sets an SDK tracer provider after
importing the entry (late initialisation, as in preload mode). Prints the
status line and the class of the application object, so the caller can
check that the Flask instrumentation is in place.
"""

from __future__ import annotations

import importlib
import sys
from wsgiref.util import setup_testing_defaults


def main() -> None:
    root, entry_name, *options = sys.argv[1:]
    sys.path.insert(0, root)
    entry = importlib.import_module(entry_name)
    if "--tracer-provider" in options:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider

        trace.set_tracer_provider(TracerProvider())
    environ: dict[str, object] = {}
    setup_testing_defaults(environ)
    statuses: list[str] = []

    def start_response(status: str, headers: object, exc_info: object = None) -> None:
        statuses.append(status)

    body = b"".join(entry.handler(environ, start_response))
    print(statuses[0], len(body), type(entry.handler).__name__)


if __name__ == "__main__":
    main()
