"""The late-import guard under the launchers people use (issue 14, item 3).

A correctly rewritten app must start with no word from rewriter's generated
code, whatever imported the framework before the entry: ``flask --app wsgi
run`` and ``fastapi run`` import flask or fastapi first, Django's
``manage.py runserver --noreload`` sets Django up before it imports
``wsgi.py``, ``opentelemetry-instrument`` imports every instrumented
library (and requests) before the app, and a hand-written launcher imports
fastapi before it hands ``main:app`` to uvicorn. None of that is evidence
that the app's own code escaped the instrumentation, and each of these runs
records its request's span.

Each launcher serves a real-entry corpus case (see test_real_entries.py)
and is judged the same way: 200s, ``--check`` exits 0, init ran once per
serving process and saw the environment, a span and a Sentry event were
recorded, and nothing from rewriter was printed (no guard warning, no
logged init failure) on the server's stdout or stderr.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _corpus import DEPLOYED, FASTAPI_APP, FLASK_APP, Bases, Case, assert_case_holds, django_case
from _servers import (
    fastapi_run,
    flask_run,
    gunicorn,
    manage_runserver,
    opentelemetry_instrument,
    python_script,
)

# opentelemetry-instrument exports nowhere: the init adds its own exporter to the provider.
OTEL_OFFLINE = {f"OTEL_{kind}_EXPORTER": "none" for kind in ("TRACES", "METRICS", "LOGS")}

LAUNCHERS = [
    Case("flask_run", "wsgi", FLASK_APP, lambda port: flask_run("wsgi", port)),
    Case("fastapi_run", "asgi", FASTAPI_APP, lambda port: fastapi_run("main.py", port)),
    django_case("django_manage_runserver", manage_runserver),
    Case(
        "opentelemetry_instrument_gunicorn",
        "wsgi",
        FLASK_APP,
        lambda port: opentelemetry_instrument(gunicorn("wsgi:app", port)),
        env={**DEPLOYED, **OTEL_OFFLINE},
    ),
    Case(
        "launcher_imports_framework_first",
        "asgi",
        (*FASTAPI_APP, ("launchers/framework_first", ".")),
        lambda port: python_script("serve.py"),
    ),
]


@pytest.mark.parametrize("case", LAUNCHERS, ids=lambda case: case.name)
def test_rewritten_app_starts_silently_under_launcher(
    case: Case, corpus_bases: Bases, tmp_path: Path
) -> None:
    assert_case_holds(case, tmp_path, corpus_bases)
