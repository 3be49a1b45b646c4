"""The framework side: third-party presets (entry points) and the ``rewrite_build`` hook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rewriter import RewriteError, Settings, rewrite_build

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
GOOD = FIXTURES / "presets" / "plugins" / "good"
BROKEN = FIXTURES / "presets" / "plugins" / "broken"
FRAMEWORK = FIXTURES / "framework"


def _env(*pythonpath: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("REWRITER_") and key != "PYTHONPATH"
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(str(path) for path in pythonpath)
    return env


def _run(
    argv: list[str], cwd: Path, *pythonpath: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv],
        cwd=cwd,
        env=_env(*pythonpath),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# A project built by the fictional "myserverless", laid out as mypreset expects.
SERVERLESS = {
    "pyproject.toml": "[tool.rewriter]\n",
    "out/serve.py": '"""Function entry."""\nfrom runtime import serve\n',
    "out/runtime.py": (
        "import builtins\n\n"
        "INIT_RAN_BEFORE_RUNTIME = hasattr(builtins, 'plugin_init')\n\n\n"
        "def serve():\n"
        "    return {'init_ran_before_runtime': INIT_RAN_BEFORE_RUNTIME}\n"
    ),
    "out/otel_init.py": "import builtins\n\nbuiltins.plugin_init = True\n",
    "out/vendor/serve.py": "def serve():\n    return 'vendored'\n",
}


@pytest.fixture
def serverless(tmp_path: Path) -> Path:
    for relpath, text in SERVERLESS.items():
        (tmp_path / relpath).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relpath).write_text(text)
    return tmp_path


def test_list_presets_shows_a_plugin(tmp_path: Path) -> None:
    result = _run(["-m", "rewriter", "--list-presets"], tmp_path, GOOD)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [
        "nitro", "wsgi", "asgi", "django", "lambda", "mypreset"
    ]
    assert lines[-1] == (
        "mypreset  Functions built by myserverless: serve.py exporting serve"
        " [plugin: mypreset 0.1]"
    )


def test_a_plugin_preset_is_used_by_name(serverless: Path) -> None:
    result = _run(
        ["-m", "rewriter", "--preset", "mypreset", "--format", "json", "out"], serverless, GOOD
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    # The plugin's entry pattern finds serve.py; its exclude skips vendor/.
    assert [(item["path"], item["reexports"]) for item in report["files"]] == [
        ("out/serve.py", ["serve"])
    ]
    assert (serverless / "out/vendor/serve.py").read_text() == SERVERLESS["out/vendor/serve.py"]
    # The plugin's init file name was found beside the entry.
    assert "otel_init.py" in (serverless / "out/serve.py").read_text()

    probe = "import json, serve; print(json.dumps(serve.serve()))"
    served = _run(["-c", probe], serverless / "out")
    assert served.returncode == 0, served.stderr
    assert json.loads(served.stdout) == {"init_ran_before_runtime": True}


def test_a_plugin_preset_from_pyproject(serverless: Path) -> None:
    (serverless / "pyproject.toml").write_text('[tool.rewriter]\npreset = "mypreset"\n')
    result = _run(["-m", "rewriter", "--check", "out"], serverless, GOOD)
    assert result.returncode == 1
    assert result.stderr.endswith("would rewrite out/serve.py\n1 file would be rewritten.\n")


def test_without_the_plugin_the_name_is_unknown(serverless: Path) -> None:
    result = _run(["-m", "rewriter", "--preset", "mypreset", "out"], serverless)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(
        "error: unknown preset 'mypreset'; known presets: nitro, wsgi, asgi, django, lambda"
    )


def test_broken_plugins_are_listed_with_the_reason(tmp_path: Path) -> None:
    result = _run(["-m", "rewriter", "--list-presets"], tmp_path, BROKEN)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # A plugin cannot take over a built-in name: nitro stays the built-in one.
    assert lines[0].startswith("nitro       Nitro-style build output")
    assert lines[5:] == [
        "badvalues   (unusable: cannot be loaded: ConfigError: handler must be a Python"
        " identifier, got 'not valid') [plugin: brokenpreset 0.1]",
        "missing     (unusable: cannot be loaded: ModuleNotFoundError: No module named"
        " 'no_such_module_for_rewriter') [plugin: brokenpreset 0.1]",
        "notapreset  (unusable: is a dict, not a rewriter.presets.Preset)"
        " [plugin: brokenpreset 0.1]",
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    (
        pytest.param(
            "notapreset",
            "error: preset 'notapreset' (brokenpreset:NOT_A_PRESET) is a dict,"
            " not a rewriter.presets.Preset\n",
            id="not a preset",
        ),
        pytest.param(
            "missing",
            "error: preset 'missing' (no_such_module_for_rewriter:PRESET) cannot be loaded:"
            " ModuleNotFoundError: No module named 'no_such_module_for_rewriter'\n",
            id="missing module",
        ),
        pytest.param(
            "badvalues",
            "error: preset 'badvalues' (badvalues_preset:PRESET) cannot be loaded:"
            " ConfigError: handler must be a Python identifier, got 'not valid'\n",
            id="invalid values",
        ),
    ),
)
def test_a_broken_plugin_is_a_usage_error(serverless: Path, name: str, message: str) -> None:
    result = _run(["-m", "rewriter", "--preset", name, "out"], serverless, BROKEN)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", message)
    assert (serverless / "out/serve.py").read_text() == SERVERLESS["out/serve.py"]


# --- the framework build that calls the hook -------------------------------------------------

SERVE = """\
import json, sys
import server.index as entry

statuses = []
body = b"".join(
    entry.handler({"PATH_INFO": sys.argv[1]}, lambda status, headers: statuses.append(status))
)
print(json.dumps({"status": statuses[0], "body": json.loads(body)}))
"""


def _build(out: Path, *options: str) -> subprocess.CompletedProcess[str]:
    build = FRAMEWORK / "myframework" / "build.py"
    return _run([str(build), str(FRAMEWORK / "example"), str(out), *options], out.parent)


def _serve(out: Path, path: str) -> dict[str, Any]:
    result = _run(["-c", SERVE, path], out)
    assert result.returncode == 0, result.stderr
    served: dict[str, Any] = json.loads(result.stdout)
    return served


def test_framework_build_calls_the_hook(tmp_path: Path) -> None:
    out = tmp_path / "output"
    result = _build(out)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "myframework: rewrote server/index.py\nmyframework: 1 file rewritten.\n"
    assert result.stderr == ""
    # The route called index is no entry: the preset excludes chunks/.
    route = out / "server/chunks/routes/index.py"
    assert route.read_text() == (FRAMEWORK / "example/app/routes/index.py").read_text()

    assert _serve(out, "/") == {
        "status": "200 OK",
        "body": {
            "route": {"path": "/", "init": {"runtime_loaded_before_init": False}},
            "init_ran_before_runtime": True,
        },
    }
    assert _serve(out, "/hello")["body"]["route"] == {"path": "/hello", "hello": "world"}

    # A second build regenerates the output and rewrites it again.
    again = _build(out)
    assert again.returncode == 0, again.stderr
    assert again.stdout == result.stdout


def test_framework_build_without_the_hook(tmp_path: Path) -> None:
    out = tmp_path / "output"
    result = _build(out, "--no-rewrite")
    assert result.returncode == 0, result.stderr
    # The generated entry imports the runtime and never loads the init file.
    assert _serve(out, "/")["body"] == {
        "route": {"path": "/", "init": None},
        "init_ran_before_runtime": False,
    }


def test_rewrite_build_reports_bad_files_and_goes_on(tmp_path: Path) -> None:
    files = {
        "server/index.py": "from .chunks.app import handler\n",
        "server/chunks/__init__.py": "",
        "server/chunks/app.py": "def handler(event, context):\n    return 1\n",
        "server/instrument.py": "",
        "broken/server/index.py": "def handler(:\n",
        "undecodable/server/index.py": "",
    }
    for relpath, text in files.items():
        (tmp_path / relpath).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relpath).write_text(text)
    (tmp_path / "undecodable/server/index.py").write_bytes(b"x = '\xff'\n")

    report = rewrite_build(tmp_path, Settings(preset="nitro", init="instrument"))
    assert [item.path for item in report.rewritten] == [str(tmp_path / "server/index.py")]
    assert [
        (Path(item.path).relative_to(tmp_path).as_posix(), item.error.line, item.error.column)
        for item in report.failed
        if item.error is not None
    ] == [("broken/server/index.py", 1, 13), ("undecodable/server/index.py", 1, 6)]
    assert report.exit_code() == 123
    assert (tmp_path / "broken/server/index.py").read_text() == files["broken/server/index.py"]


def test_rewrite_build_of_a_missing_directory_raises(tmp_path: Path) -> None:
    with pytest.raises(RewriteError, match="no such file or directory"):
        rewrite_build(tmp_path / "missing", Settings(preset="nitro", init="instrument"))

