"""End-to-end matrix: real frameworks and instrumentation libraries, before and after a rewrite.

Each case copies an application from ``fixtures/presets/matrix/`` into a
temporary directory, runs it in a fresh interpreter, rewrites it with its
preset, and runs it again. Each asserts a behaviour that the rewrite brings
(spans, init before the runtime, no gevent warning); where the library works
whatever the order (sentry-sdk), the case says so with a control run and
asserts that init ran first and the handler answers. Nothing uses the
network: exporters and transports keep what they get in memory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from rewriter import Settings, rewrite_build
from rewriter.report import BuildReport

MATRIX = Path(__file__).resolve().parent.parent / "fixtures" / "presets" / "matrix"

# The probes print one JSON line last; anything the libraries print comes before it.
SPANS = """\
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(exporter))
"""

FLASK_PROBE = f"""\
import builtins, json
import webapp.wsgi as entry
{SPANS}
response = entry.app.test_client().get("/")
print(json.dumps({{
    "status": response.status_code,
    "body": response.get_json(),
    "init": getattr(builtins, "matrix_init", None),
    "spans": [
        [span.name, span.instrumentation_scope.name] for span in exporter.get_finished_spans()
    ],
}}))
"""

FASTAPI_PROBE = f"""\
import builtins, inspect, json, sys
import api.asgi as entry
{SPANS}
event = {{
    "version": "2.0",
    "routeKey": "$default",
    "rawPath": "/items/3",
    "rawQueryString": "",
    "headers": {{"host": "api.example.com", "user-agent": "matrix"}},
    "requestContext": {{
        "accountId": "123456789012",
        "apiId": "api",
        "domainName": "api.example.com",
        "http": {{
            "method": "GET",
            "path": "/items/3",
            "protocol": "HTTP/1.1",
            "sourceIp": "192.0.2.1",
            "userAgent": "matrix",
        }},
        "requestId": "request-1",
        "routeKey": "$default",
        "stage": "$default",
        "time": "01/Jan/2025:00:00:00 +0000",
        "timeEpoch": 1735689600000,
    }},
    "isBase64Encoded": False,
}}


class Context:
    aws_request_id = "request-1"
    function_name = "api"


response = entry.handler(event, Context())
runtime = sys.modules["api.app"]
print(json.dumps({{
    "status": response["statusCode"],
    "body": json.loads(response["body"]),
    "init": getattr(builtins, "matrix_init", None),
    "spans": [
        [span.name, span.instrumentation_scope.name] for span in exporter.get_finished_spans()
    ],
    "same_objects": entry.app is runtime.app and entry.handler is runtime.handler,
    "asgi_app_is_async": inspect.iscoroutinefunction(type(entry.app).__call__),
}}))
"""

DJANGO_PROBE = """\
import builtins, json
from wsgiref.util import setup_testing_defaults
import mysite.wsgi as entry

environ = {"PATH_INFO": "/"}
setup_testing_defaults(environ)
statuses = []
body = b"".join(entry.application(environ, lambda status, headers, *_: statuses.append(status)))
print(json.dumps({
    "status": statuses[0],
    "body": json.loads(body),
    "init": getattr(builtins, "matrix_init", None),
}))
"""

SENTRY_PROBE = """\
import builtins, importlib.util, json, sys
import server.index as entry
import sentry_sdk

if "--late-init" in sys.argv:
    # The control: init runs only after the runtime (and flask) are imported.
    spec = importlib.util.spec_from_file_location("late_init", "server/sentry.server.config.py")
    spec.loader.exec_module(importlib.util.module_from_spec(spec))

client = entry.handler.test_client()
ok = client.get("/")
boom = client.get("/boom")
sentry_sdk.flush()
events = [
    item.payload.json
    for envelope in getattr(sentry_sdk.get_client().transport, "envelopes", [])
    for item in envelope.items
    if item.type == "event"
]
print(json.dumps({
    "ok": [ok.status_code, ok.get_json()],
    "boom": boom.status_code,
    "init": getattr(builtins, "matrix_init", None),
    "exceptions": [
        [value["type"], value["value"]]
        for event in events
        for value in event["exception"]["values"]
    ],
}))
"""

GEVENT_PROBE = """\
import builtins, importlib, json, sys
entry = importlib.import_module(sys.argv[1])
print(json.dumps({
    "response": entry.handler({}, None),
    "init": getattr(builtins, "matrix_init", None),
}))
"""

LAMBDA_PROBE = """\
import builtins, json
import lambda_function


class Context:
    aws_request_id = "8f5e-request"
    function_name = "orders"

    def get_remaining_time_in_millis(self):
        return 3000


response = lambda_function.lambda_handler({"item": "book", "quantity": 2}, Context())
print(json.dumps({
    "status": response["statusCode"],
    "body": json.loads(response["body"]),
    "init": getattr(builtins, "matrix_init", None),
}))
"""


FASTAPI_SCOPE = "opentelemetry.instrumentation.fastapi"


def _env() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "REWRITER_", "SENTRY_", "DJANGO_")) and key != "PYTHONPATH"
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _copy(case: str, tmp_path: Path) -> Path:
    project = tmp_path / case
    shutil.copytree(MATRIX / case, project)
    return project


def _probe(cwd: Path, code: str, *args: str) -> tuple[dict[str, Any], str]:
    """Run ``code`` in a fresh interpreter in ``cwd``; its last stdout line (JSON) and stderr."""
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report, result.stderr


def _rewrite(build_dir: Path, settings: Settings, entries: list[str]) -> BuildReport:
    """Rewrite ``build_dir`` through the plugin hook; exactly ``entries`` must change."""
    report = rewrite_build(build_dir, settings)
    changed = [Path(item.path).relative_to(build_dir).as_posix() for item in report.rewritten]
    assert changed == entries
    assert not report.failed
    assert not report.findings
    return report


def test_flask_with_the_opentelemetry_instrumentor(tmp_path: Path) -> None:
    project = _copy("flask", tmp_path)

    before, _ = _probe(project, FLASK_PROBE)
    # Init ran, but after the app had bound the unpatched flask.Flask.
    assert before["init"] == {"flask_loaded": True}
    assert (before["status"], before["body"]) == (200, {"init_ran_before_app": False})
    assert before["spans"] == []

    report = _rewrite(
        project / "webapp", Settings(preset="wsgi", init="webapp.instrument"), ["wsgi.py"]
    )
    assert report.files[0].result is not None
    assert report.files[0].result.reexports == ("app",)

    after, stderr = _probe(project, FLASK_PROBE)
    assert after["init"] == {"flask_loaded": False}
    assert (after["status"], after["body"]) == (200, {"init_ran_before_app": True})
    assert after["spans"] == [["GET /", "opentelemetry.instrumentation.flask"]]
    assert "imported before instrumentation init" not in stderr


def test_fastapi_with_the_opentelemetry_instrumentor_behind_mangum(tmp_path: Path) -> None:
    project = _copy("fastapi", tmp_path)

    before, _ = _probe(project, FASTAPI_PROBE)
    assert before["init"] == {"fastapi_loaded": True}
    assert before["status"] == 200
    assert before["body"] == {"item_id": 3, "init_ran_before_app": False}
    # FastAPI's own telemetry reports spans either way; the instrumentor's come only after.
    assert [name for name, scope in before["spans"] if scope == FASTAPI_SCOPE] == []

    report = _rewrite(project / "api", Settings(preset="asgi", init="api.instrument"), ["asgi.py"])
    assert report.files[0].result is not None
    assert report.files[0].result.reexports == ("app", "handler")

    after, _ = _probe(project, FASTAPI_PROBE)
    assert after["init"] == {"fastapi_loaded": False}
    assert after["status"] == 200
    assert after["body"] == {"item_id": 3, "init_ran_before_app": True}
    assert [name for name, scope in after["spans"] if scope == FASTAPI_SCOPE] == [
        "GET /items/{item_id} http send",
        "GET /items/{item_id} http send",
        "GET /items/{item_id}",
    ]
    # The entry re-exports the runtime's own objects: the ASGI app stays async.
    assert after["same_objects"] is True
    assert after["asgi_app_is_async"] is True


def test_django_wsgi_application(tmp_path: Path) -> None:
    project = _copy("django", tmp_path)

    before, _ = _probe(project, DJANGO_PROBE)
    # django-admin's wsgi.py never imports the init.
    assert before == {"status": "200 OK", "body": {"init": None}, "init": None}

    # The django preset finds wsgi.py, and instrument.py beside it as the init.
    report = _rewrite(project, Settings(preset="django"), ["mysite/wsgi.py"])
    assert report.files[0].result is not None
    assert report.files[0].result.reexports == ("application",)

    after, stderr = _probe(project, DJANGO_PROBE)
    expected_init = {"django_loaded": False}
    assert after == {"status": "200 OK", "body": {"init": expected_init}, "init": expected_init}
    assert "imported before instrumentation init" not in stderr


def test_sentry_captures_a_handler_exception(tmp_path: Path) -> None:
    project = _copy("sentry", tmp_path)
    captured = [["RuntimeError", "boom from the handler"]]

    before, _ = _probe(project, SENTRY_PROBE)
    # The Nitro-like entry never loads sentry.server.config.py by itself.
    assert before["init"] is None
    assert before["boom"] == 500
    assert before["exceptions"] == []

    # Order does not matter for sentry-sdk's Flask integration: it patches
    # Flask.__call__ on the class, so an init after the runtime still captures.
    late, _ = _probe(project, SENTRY_PROBE, "--late-init")
    assert late["init"] == {"runtime_loaded": True}
    assert late["exceptions"] == captured

    _rewrite(project, Settings(preset="nitro"), ["server/index.py"])
    after, _ = _probe(project, SENTRY_PROBE)
    assert after["init"] == {"runtime_loaded": False}
    assert after["ok"] == [200, {"init_ran_before_runtime": True}]
    assert after["boom"] == 500
    assert after["exceptions"] == captured


def test_gevent_prelude_stays_first(tmp_path: Path) -> None:
    project = _copy("gevent", tmp_path)

    before, stderr = _probe(project, GEVENT_PROBE, "server.index")
    assert before["init"] is None
    assert before["response"]["init_ran_before_runtime"] is False
    assert "MonkeyPatchWarning" not in stderr

    # The control: init placed above the prelude by hand imports ssl before
    # gevent patches it, and gevent says so.
    naive, stderr = _probe(project, GEVENT_PROBE, "server.naive_index")
    assert naive["init"] == {"socket_patched": False, "runtime_loaded": False}
    assert "MonkeyPatchWarning" in stderr

    # naive_index.py is no entry for the nitro preset; only index.py changes.
    _rewrite(project, Settings(preset="nitro"), ["server/index.py"])
    after, stderr = _probe(project, GEVENT_PROBE, "server.index")
    assert after["init"] == {"socket_patched": True, "runtime_loaded": False}
    assert after["response"]["init_ran_before_runtime"] is True
    assert after["response"]["tls"] == "PROTOCOL_TLS_CLIENT"
    assert "MonkeyPatchWarning" not in stderr
    assert "Warning" not in stderr


def test_plain_lambda_function_through_the_cli(tmp_path: Path) -> None:
    project = _copy("lambda", tmp_path)
    task = project / "task"
    expected_body = {"order": {"item": "book", "quantity": 2}, "request_id": "8f5e-request"}

    before, _ = _probe(task, LAMBDA_PROBE)
    assert before["init"] is None
    assert before["status"] == 200
    assert before["body"] == {**expected_body, "init_ran_before_service": False}

    (project / "pyproject.toml").write_text('[tool.rewriter]\npreset = "lambda"\n')
    rewrite = subprocess.run(
        [sys.executable, "-m", "rewriter", "--format", "json", "task"],
        cwd=project,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert rewrite.returncode == 0, rewrite.stderr
    report = json.loads(rewrite.stdout)
    assert [
        (item["path"], item["status"], item["reexports"], item["runtime_modules"])
        for item in report["files"]
    ] == [("task/lambda_function.py", "changed", ["lambda_handler"], ["orders.service"])]

    after, _ = _probe(task, LAMBDA_PROBE)
    assert after["init"] == {"service_loaded": False}
    assert after["status"] == 200
    assert after["body"] == {**expected_body, "init_ran_before_service": True}
