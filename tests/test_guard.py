"""The late-import guard: before init, the injected code warns once about
runtime modules and instrumented libraries that are already imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rewriter.config import Settings
from rewriter.runner import rewrite_file


@pytest.fixture
def build(tmp_path: Path) -> Path:
    files = {
        "app/__init__.py": "",
        "app/chunks/__init__.py": "",
        "app/chunks/rt.py": "def handler():\n    return 'ok'\n",
        "app/index.py": "from .chunks.rt import handler\n",
        "app/instrument_server.py": "",
        "fakelib/__init__.py": "",
    }
    for relpath, text in files.items():
        (tmp_path / relpath).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relpath).write_text(text, encoding="utf-8")
    return tmp_path


def _import_entry(root: Path, before: str, *, twice: bool = False) -> list[dict[str, str]]:
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
            {{"category": w.category.__name__, "base": w.category.__mro__[1].__name__,
              "message": str(w.message)}}
            for w in caught
        ]))
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout.strip().splitlines()[-1]))


def test_nothing_loaded_means_no_warning(build: Path) -> None:
    rewrite_file(build / "app/index.py", Settings(instrumented=("fakelib",)))
    assert _import_entry(build, "pass") == []


def test_a_runtime_module_loaded_before_init_is_named(build: Path) -> None:
    rewrite_file(build / "app/index.py", Settings())
    [warning] = _import_entry(build, "import app.chunks.rt")
    assert warning == {
        "category": "RewriterLateImportWarning",
        "base": "RuntimeWarning",
        "message": "rewriter: imported before instrumentation init, so not instrumented: "
        "app.chunks.rt",
    }


def test_configured_instrumented_libraries_are_checked(build: Path) -> None:
    rewrite_file(build / "app/index.py", Settings(instrumented=("fakelib", "json")))
    [warning] = _import_entry(build, "import fakelib")
    assert warning["message"].endswith("not instrumented: fakelib, json")


def test_the_default_list_names_flask(build: Path) -> None:
    rewrite_file(build / "app/index.py", Settings())
    [warning] = _import_entry(build, "import flask")
    assert "flask" in warning["message"].rpartition(": ")[2].split(", ")


def test_the_guard_warns_once_even_when_the_entry_is_loaded_twice(build: Path) -> None:
    rewrite_file(build / "app/index.py", Settings())
    warnings = _import_entry(build, "import app.chunks.rt", twice=True)
    assert [w["category"] for w in warnings] == ["RewriterLateImportWarning"]


def test_the_warning_can_be_filtered_by_its_message(build: Path) -> None:
    rewrite_file(build / "app/index.py", Settings())
    before = (
        "import app.chunks.rt; "
        "warnings.filterwarnings('ignore', message='rewriter: imported before')"
    )
    code = f"""
        import sys, warnings
        {before}
        import app.index
        print("ok")
    """
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=build,
        env={**os.environ, "PYTHONPATH": str(build)},
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout.strip()) == (0, "ok"), result.stderr


def test_guard_false_leaves_the_check_out(build: Path) -> None:
    rewrite_file(build / "app/index.py", Settings(guard=False))
    text = (build / "app/index.py").read_text()
    assert "_rewriter_guard" not in text
    assert _import_entry(build, "import app.chunks.rt") == []
