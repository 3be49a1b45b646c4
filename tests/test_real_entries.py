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

from collections.abc import Mapping
from pathlib import Path

import pytest
from _corpus import DEPLOY_DSN, DOTENV_DSN, Bases, Case, run_case
from _servers import gunicorn, python_script, uvicorn

FLASK = ("apps/flask", ".")
FASTAPI = ("apps/fastapi", ".")
DJANGO = ("apps/django", ".")
DOTENV = ("dotenv", ".")
NITRO = ("nitro", ".")
CHUNK = "build/server/chunks/service"  # the app as the Nitro-like build's runtime chunk
DEPLOYED = {"SENTRY_DSN": DEPLOY_DSN}


def entry(name: str, destination: str = ".") -> tuple[str, str]:
    return (f"entries/{name}", destination)


def dotenv_case(name: str, app: tuple[str, str], preset: str, command: str) -> Case:
    """An entry that loads ``.env`` (holding the DSN) before importing its application."""
    serve = gunicorn if preset == "wsgi" else uvicorn
    return Case(
        name,
        preset,
        (app, DOTENV, entry(name)),
        lambda port: serve(command, port),
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


CASES = [
    Case(
        "plain_flask_gunicorn",
        "wsgi",
        (FLASK, entry("plain_flask")),
        lambda port: gunicorn("wsgi:app", port),
        env=DEPLOYED,
        seen=DEPLOYED,
    ),
    Case(
        "plain_fastapi_uvicorn",
        "asgi",
        (FASTAPI, entry("plain_fastapi")),
        lambda port: uvicorn("main:app", port),
        env=DEPLOYED,
        seen=DEPLOYED,
    ),
    Case(
        "django_startproject_wsgi_gunicorn",
        "django",
        (DJANGO,),
        lambda port: gunicorn("mysite.wsgi:application", port),
        base="django",
        path="/hello/",
        route="hello/",
        env=DEPLOYED,
        seen={**DEPLOYED, "DJANGO_SETTINGS_MODULE": "mysite.settings"},
    ),
    Case(
        "django_startproject_asgi_uvicorn",
        "django",
        (DJANGO,),
        lambda port: uvicorn("mysite.asgi:application", port),
        base="django",
        path="/hello/",
        route="hello/",
        env=DEPLOYED,
        seen={**DEPLOYED, "DJANGO_SETTINGS_MODULE": "mysite.settings"},
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
    Case(
        "lambda_zip_pip_target",
        "lambda",
        (DOTENV, entry("lambda_zip")),
        None,
        base="lambda",
        route=None,
        seen={"SENTRY_DSN": DOTENV_DSN},
    ),
    Case(
        "init_sibling_absolute",
        "nitro",
        (NITRO, ("apps/flask/service", CHUNK), entry("init_sibling_absolute")),
        lambda port: gunicorn("build.server.index:handler", port),
        env=DEPLOYED,
        seen=DEPLOYED,
        sentry_environment="siblings",
    ),
    Case(
        "init_sibling_relative",
        "nitro",
        (NITRO, ("apps/fastapi/service", CHUNK), entry("init_sibling_relative")),
        lambda port: uvicorn("build.server.index:handler", port),
        env=DEPLOYED,
        seen=DEPLOYED,
        sentry_environment="siblings",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_real_entry_is_instrumented_when_served(
    case: Case, corpus_bases: Bases, tmp_path: Path
) -> None:
    verdict = run_case(case, tmp_path, corpus_bases)
    if verdict.problems:
        pytest.fail(verdict.report(), pytrace=False)
