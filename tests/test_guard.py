"""The late-import guard: what it says, when, and what it never does.

It warns as a fact when a runtime module of the entry was imported before
init (that module bound its names before the instrumentation could patch
them). A third-party library that is merely loaded is no evidence of
anything: the guard says nothing about it unless ``guard = "strict"``, and
then words it as a possibility. The warning is issued after init has run,
so no warnings filter (``-W error`` included) can stop the init; it is
attributed to the code that imported the entry, so nothing is left in the
entry's namespace. The launchers (``flask run``, ``fastapi run``,
``manage.py runserver``, ``opentelemetry-instrument``) are run for real in
``tests/test_guard_launchers.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from rewriter.config import Settings
from rewriter.runner import rewrite_file

RUNTIME_WARNING = (
    "rewriter: the runtime was imported before the instrumentation init, so what it bound"
    " is not instrumented: app.chunks.rt"
)


@pytest.fixture
def build(tmp_path: Path) -> Path:
    files = {
        "app/__init__.py": "",
        "app/chunks/__init__.py": "",
        "app/chunks/rt.py": "def handler():\n    return 'ok'\n",
        "app/index.py": "from .chunks.rt import handler\n",
        "app/instrument_server.py": "import builtins\nbuiltins.INIT_RAN = True\n",
        "fakelib/__init__.py": "",
    }
    for relpath, text in files.items():
        (tmp_path / relpath).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relpath).write_text(text, encoding="utf-8")
    return tmp_path


def _run(
    root: Path, code: str, *options: str, warnings: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *options, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root), "PYTHONWARNINGS": warnings},
        timeout=60,
        check=False,
    )


def _import_entry(root: Path, before: str, *, twice: bool = False) -> list[dict[str, Any]]:
    """Import app.index (after running ``before``) and return the warnings raised."""
    code = f"""
        import json, sys, warnings
        warnings.simplefilter("always")
        {before}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import app.index
            if {twice}:
                import importlib.util
                name = "app.index_again"
                spec = importlib.util.spec_from_file_location(name, app.index.__file__)
                spec.loader.exec_module(importlib.util.module_from_spec(spec))
        print(json.dumps([
            {{"category": w.category.__name__, "message": str(w.message),
              "filename": w.filename}}
            for w in caught
        ]))
    """
    result = _run(root, code)
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout.strip().splitlines()[-1]))


def test_nothing_loaded_means_no_warning(build: Path) -> None:
    rewrite_file(build / "app/index.py", Settings(guard="strict", instrumented=("fakelib",)))
    assert _import_entry(build, "pass") == []


def test_a_runtime_module_loaded_before_init_is_a_fact(build: Path) -> None:
    rewrite_file(build / "app/index.py", Settings())
    [warning] = _import_entry(build, "import app.chunks.rt")
    assert warning == {
        "category": "RuntimeWarning",
        "message": RUNTIME_WARNING,
        # The code that imported the entry, never a generated line.
        "filename": "<string>",
    }


def test_a_loaded_library_is_no_warning_by_default(build: Path) -> None:
    rewrite_file(build / "app/index.py", Settings(instrumented=("fakelib", "json")))
    assert _import_entry(build, "import fakelib, json") == []


def test_strict_names_loaded_libraries_as_a_possibility(build: Path) -> None:
    rewrite_file(build / "app/index.py", Settings(guard="strict", instrumented=("fakelib", "json")))
    [warning] = _import_entry(build, "import fakelib")
    assert warning["category"] == "RuntimeWarning"
    message = warning["message"]
    assert message.startswith("rewriter: fakelib, json already imported when the")
    assert "may not be instrumented" in message
    assert "(the process runs '-c')" in message


def test_strict_knows_flask_by_default(build: Path) -> None:
    rewrite_file(build / "app/index.py", Settings(guard="strict"))
    [warning] = _import_entry(build, "import flask")
    assert warning["message"].startswith("rewriter: flask already imported")


def test_the_guard_warns_once_even_when_the_entry_is_loaded_twice(build: Path) -> None:
    rewrite_file(build / "app/index.py", Settings())
    warnings = _import_entry(build, "import app.chunks.rt", twice=True)
    assert [w["message"] for w in warnings] == [RUNTIME_WARNING]


def test_the_warning_can_be_filtered_by_its_message(build: Path) -> None:
    rewrite_file(build / "app/index.py", Settings())
    code = """
        import sys, warnings
        import app.chunks.rt
        warnings.filterwarnings('ignore', message='rewriter: the runtime was imported')
        import app.index
        print("ok")
    """
    result = _run(build, code, "-W", "error")
    assert (result.returncode, result.stdout.strip()) == (0, "ok"), result.stderr


@pytest.mark.parametrize(
    ("options", "environment"),
    [
        pytest.param(("-W", "error"), "", id="-W error"),
        pytest.param((), "error", id="PYTHONWARNINGS=error"),
        pytest.param((), "", id="simplefilter error"),
    ],
)
def test_warnings_as_errors_never_stop_the_init(
    build: Path, options: tuple[str, ...], environment: str
) -> None:
    # The guard warns after init has run: an error filter raises the warning
    # out of the entry's import, as it would any warning, but init ran.
    rewrite_file(build / "app/index.py", Settings())
    code = """
        import builtins, sys, warnings
        if not sys.warnoptions:
            warnings.simplefilter("error")
        import app.chunks.rt
        try:
            import app.index
        except RuntimeWarning as warning:
            print(getattr(builtins, "INIT_RAN", False), str(warning).startswith("rewriter:"))
    """
    result = _run(build, code, *options, warnings=environment)
    assert result.stdout.split() == ["True", "True"], result.stderr


def test_the_warning_leaves_nothing_in_the_entry(build: Path) -> None:
    rewrite_file(build / "app/index.py", Settings())
    code = """
        import app.chunks.rt, json, warnings
        warnings.simplefilter("ignore")
        import app.index
        print(json.dumps(sorted(name for name in vars(app.index) if not name.startswith("__")
                                or name == "__warningregistry__")))
    """
    result = _run(build, code)
    assert json.loads(result.stdout) == ["handler"], result.stderr


def test_an_entry_package_is_never_reported_before_its_own_init(tmp_path: Path) -> None:
    # A rewritten flask/__init__.py is in sys.modules while its own init runs.
    files = {
        "flask/__init__.py": "from .app import Flask\n",
        "flask/app.py": "class Flask:\n    pass\n",
        "flask/instrument_server.py": "",
    }
    for relpath, text in files.items():
        (tmp_path / relpath).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relpath).write_text(text, encoding="utf-8")
    report = rewrite_file(tmp_path / "flask/__init__.py", Settings(guard="strict"))
    assert report.status == "changed", report.error
    code = """
        import json, warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import flask
        print(json.dumps([str(w.message) for w in caught]))
    """
    result = _run(tmp_path, code)
    assert json.loads(result.stdout) == [], result.stderr


def test_guard_false_leaves_the_check_out(build: Path) -> None:
    rewrite_file(build / "app/index.py", Settings(guard=False))
    text = (build / "app/index.py").read_text()
    assert "_warnings" not in text
    assert _import_entry(build, "import app.chunks.rt") == []
