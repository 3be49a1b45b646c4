"""The real-entry corpus: entries as people deploy them, rewritten, then served for real.

Each case is an entry made by the real tool (``django-admin startproject``)
or laid out as people write it (dotenv and gevent forms, environment setup
after other statements, a Lambda zip made with ``pip install --target``, an
init file that imports its siblings, Flask and FastAPI apps). Its init
instruments for real: OpenTelemetry's Django, Flask or FastAPI instrumentor
with an in-memory span exporter, and sentry-sdk with a transport that
records events. The case is rewritten with ``python -m rewriter --preset
NAME .``, served by gunicorn, uvicorn or gevent's server on 127.0.0.1 (or
invoked as the AWS runtime invokes a handler), and requested twice.

Every case asserts: both responses are 200; ``rewriter --check`` exits 0;
init ran exactly once in each serving process and in no process twice; it
saw the environment the entry sets up (``seen``: the DSN from ``.env``,
Django's settings module, a ``setdefault``); a server span for the route and
a Sentry event were recorded in the serving process; gevent (where the
entry patches) had patched socket and ssl before init and never warned
``MonkeyPatchWarning``; and the generated code printed nothing at run time
(no guard warning, no logged init failure).

The development servers and launchers (``flask run``, ``fastapi run``,
``manage.py runserver``, ``opentelemetry-instrument``, a launcher that
imports the framework first) are in test_guard_launchers.py, judged the
same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from _corpus import (
    DEPLOYED,
    DOTENV_DSN,
    FASTAPI_APP,
    FLASK_APP,
    Bases,
    Case,
    Layer,
    assert_case_holds,
    django_case,
    lambda_case,
)
from _servers import gunicorn, python_script, uvicorn

FLASK = ("apps/flask", ".")
FASTAPI = ("apps/fastapi", ".")
DOTENV = ("dotenv", ".")
NITRO = ("nitro", ".")
CHUNK = "build/server/chunks/service"  # the app as the Nitro-like build's runtime chunk


def entry(name: str) -> Layer:
    return (f"entries/{name}", ".")


def dotenv_case(name: str, app: Layer, preset: str, command: str) -> Case:
    """An entry that loads ``.env`` (holding the DSN) before importing its application."""
    serve = gunicorn if preset == "wsgi" else uvicorn
    return Case(
        name,
        preset,
        (app, DOTENV, entry(name)),
        lambda port: serve(command, port),
        env={},
        seen={"SENTRY_DSN": DOTENV_DSN},
    )


def gevent_case(
    name: str, seen: Mapping[str, str] = DEPLOYED, sentry_environment: str | None = None
) -> Case:
    """A WSGI entry that patches with gevent, then serves itself on gevent's server."""
    return Case(
        name,
        "wsgi",
        (FLASK, entry(name)),
        lambda port: python_script("wsgi.py"),
        env={**DEPLOYED, "USE_GEVENT": "1"},
        seen=seen,
        sentry_environment=sentry_environment,
        gevent=True,
    )


def sibling_case(name: str, app: str, serve: Callable[[str, int], list[str]]) -> Case:
    """A Nitro-like build whose ``instrument.server.py`` imports ``sentry_options`` beside it."""
    return Case(
        name,
        "nitro",
        (NITRO, (f"{app}/service", CHUNK), entry(name)),
        lambda port: serve("build.server.index:handler", port),
        sentry_environment="siblings",
    )


CASES = [
    Case("plain_flask_gunicorn", "wsgi", FLASK_APP, lambda port: gunicorn("wsgi:app", port)),
    Case("plain_fastapi_uvicorn", "asgi", FASTAPI_APP, lambda port: uvicorn("main:app", port)),
    django_case(
        "django_startproject_wsgi_gunicorn",
        lambda port: gunicorn("mysite.wsgi:application", port),
    ),
    django_case(
        "django_startproject_asgi_uvicorn",
        lambda port: uvicorn("mysite.asgi:application", port),
    ),
    # Issue 12, item 1: preload's import hook instruments Django when it is
    # first imported, which must still come after the settings module is set.
    django_case(
        "django_startproject_preload_gunicorn",
        lambda port: gunicorn("mysite.wsgi:application", port),
        ("--mode", "preload", "--preload", "django", "--init", "mysite.instrument"),
    ),
    dotenv_case("dotenv_bare", FLASK, "wsgi", "wsgi:app"),
    dotenv_case("dotenv_path_constant", FLASK, "wsgi", "wsgi:app"),
    dotenv_case("dotenv_values_update", FLASK, "wsgi", "wsgi:app"),
    dotenv_case("dotenv_if", FASTAPI, "asgi", "main:app"),
    dotenv_case("dotenv_assigned", FASTAPI, "asgi", "main:app"),
    gevent_case("gevent_from_import"),
    gevent_case("gevent_import_module"),
    gevent_case("gevent_try_except"),
    gevent_case("gevent_if_env"),
    gevent_case(
        "setup_after_statements",
        seen={**DEPLOYED, "SENTRY_ENVIRONMENT": "production"},
        sentry_environment="production",
    ),
    lambda_case("lambda_zip_pip_target"),
    sibling_case("init_sibling_absolute", "apps/flask", gunicorn),
    sibling_case("init_sibling_relative", "apps/fastapi", uvicorn),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_real_entry_is_instrumented_when_served(
    case: Case, corpus_bases: Bases, tmp_path: Path
) -> None:
    assert_case_holds(case, tmp_path, corpus_bases)
