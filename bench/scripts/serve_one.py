"""Import an entry, serve one WSGI request through its ``handler``, and exit.

Usage: python serve_one.py ROOT ENTRY_MODULE [--tracer-provider | --sdk]

After importing the entry (late initialisation, as in preload mode), the
application sets up OpenTelemetry itself:

- ``--tracer-provider``: an SDK ``TracerProvider``, nothing else;
- ``--sdk``: the SDK exactly as ``opentelemetry-instrument`` configures it,
  through the same distro and configurator classes that it finds by entry
  point (``opentelemetry-distro``), with the same environment.

Prints the status line, the length of the body, the class of the
application object (so the caller can check that the Flask instrumentation
is in place) and the class of the global tracer provider (``-`` when
OpenTelemetry was never imported).
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
    if "--sdk" in options:
        from opentelemetry.distro import OpenTelemetryConfigurator, OpenTelemetryDistro

        OpenTelemetryDistro().configure()
        OpenTelemetryConfigurator().configure()
    environ: dict[str, object] = {}
    setup_testing_defaults(environ)
    statuses: list[str] = []

    def start_response(status: str, headers: object, exc_info: object = None) -> None:
        statuses.append(status)

    body = b"".join(entry.handler(environ, start_response))
    trace_api = sys.modules.get("opentelemetry.trace")
    provider = "-" if trace_api is None else type(trace_api.get_tracer_provider()).__name__
    print(statuses[0], len(body), type(entry.handler).__name__, provider)


if __name__ == "__main__":
    main()
