"""End to end with real OpenTelemetry: a Flask build produces spans only once rewritten.

The fixture entry imports its runtime (which runs ``from flask import Flask``)
before the module that installs a tracer provider and the Flask
instrumentor. The app is then built from the unpatched class and a request
produces no span. After the rewrite, init runs before the runtime import and
the same request is traced.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "e2e" / "flask"
ENTRY = "build/server/index.py"
INIT = "build.server.instrument_server"

# Imports the entry first, so nothing else loads flask before it does. The
# probe's own exporter goes on whatever global provider init installed.
PROBE = """\
import json
import sys

import build.server.index as entry

from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

provider = trace.get_tracer_provider()
exporter = InMemorySpanExporter()
provider.add_span_processor(SimpleSpanProcessor(exporter))
response = entry.handler.test_client().get("/")
spans = exporter.get_finished_spans()
print(json.dumps({
    "provider": type(provider).__name__,
    "status": response.status_code,
    "body": response.get_data(as_text=True),
    "spans": len(spans),
    "routes": [span.attributes.get("http.route") for span in spans],
    "kinds": [span.kind.name for span in spans],
}))
"""


def _env() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "REWRITER_")) and key != "PYTHONPATH"
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _request(project: Path) -> tuple[dict[str, Any], str]:
    """Import the entry in a fresh interpreter, make one request; the report and stderr."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=project,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report, result.stderr


def test_flask_request_is_traced_only_after_the_rewrite(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(FIXTURE, project)
    # The nearest pyproject.toml is the config: keep the run independent of the machine.
    (project / "pyproject.toml").write_text("[tool.rewriter]\n", encoding="utf-8")

    before, _ = _request(project)
    # Init ran (the SDK provider is installed), only too late for flask.Flask.
    assert before["provider"] == "TracerProvider"
    assert (before["status"], before["body"]) == (200, "hello")
    assert before["spans"] == 0

    original = (project / ENTRY).read_text(encoding="utf-8")
    rewrite = subprocess.run(
        [sys.executable, "-m", "rewriter", ENTRY, "--init", INIT],
        cwd=project,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert rewrite.returncode == 0, rewrite.stderr
    assert rewrite.stderr.endswith("1 file rewritten.\n")
    rewritten = (project / ENTRY).read_text(encoding="utf-8")
    assert rewritten != original
    assert "# rewriter:init" in rewritten
    block_end = rewritten.index("    del _rewriter_init")
    assert '__import__("build.server.instrument_server")' in rewritten[:block_end]
    assert rewritten.index("from .chunks.app import handler") > block_end

    after, stderr = _request(project)
    assert after["provider"] == "TracerProvider"
    assert (after["status"], after["body"]) == (200, "hello")
    assert after["spans"] >= 1
    assert "/" in after["routes"]
    assert "SERVER" in after["kinds"]
    # Nothing the guard watches (the runtime, flask) was loaded before init.
    assert "rewriter:" not in stderr
