"""Package entries and script entries both initialise before their runtime once rewritten.

Every entry runs in a fresh interpreter. The fixture's init file counts its
runs in ``builtins`` and its runtime module records that count when it is
imported, so ``handler()`` reports whether init ran, and whether it ran first.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rewriter.config import Settings
from rewriter.runner import rewrite_file

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "e2e"
ENTRY = "build/server/index.py"
LATE_IMPORT_WARNING = "imported before instrumentation init"

NO_INIT = {"handler": "nitro", "init_runs_at_import": 0, "init_runs": 0}
INIT_FIRST = {"handler": "nitro", "init_runs_at_import": 1, "init_runs": 1}

CONSUMER = """\
import json

import build.server.index as entry

print(json.dumps(entry.handler()))
"""
TOP_LEVEL_IMPORT = "import json, index; print(json.dumps(index.handler()))"
TWO_NAMES = """\
import builtins
import json
import sys

sys.path.insert(1, "build/server")
import build.server.index as package_entry
import index as top_level_entry

print(json.dumps({
    "distinct": package_entry is not top_level_entry,
    "same_handler": package_entry.handler is top_level_entry.handler,
    "init_runs": getattr(builtins, "_e2e_init_runs", 0),
}))
"""
RUN_AFTER_IMPORT = """\
import builtins
import json
import runpy

import build.server.index as entry

main = runpy.run_module("build.server.index", run_name="__main__")
print(json.dumps({
    "distinct": True,
    "same_handler": main["handler"] is entry.handler,
    "init_runs": getattr(builtins, "_e2e_init_runs", 0),
}))
"""


def _project(tmp_path: Path, kind: str) -> Path:
    project = tmp_path / kind
    shutil.copytree(FIXTURES / kind, project)
    (project / "consumer.py").write_text(CONSUMER, encoding="utf-8")
    return project


def _rewrite(project: Path, settings: Settings | None = None) -> str:
    entry = project / ENTRY
    original = entry.read_text(encoding="utf-8")
    report = rewrite_file(entry, settings or Settings())
    assert report.error is None, report.error
    rewritten = entry.read_text(encoding="utf-8")
    assert rewritten != original
    assert "# rewriter:init" in rewritten
    return rewritten


def _run(
    project: Path, *args: str, cwd: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("REWRITER_", "E2E_")) and key != "PYTHONPATH"
    }
    clean["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(
        [sys.executable, *args],
        cwd=project / cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _report(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.parametrize(
    ("kind", "args", "cwd"),
    [
        pytest.param("package", ("-m", "build.server.index"), "", id="package entry run with -m"),
        pytest.param("package", ("consumer.py",), "", id="package entry imported by a module"),
        pytest.param("script", (ENTRY,), "", id="script entry run by path"),
        pytest.param(
            "script", ("-c", TOP_LEVEL_IMPORT), "build/server", id="script entry imported as index"
        ),
    ],
)
def test_rewritten_entry_runs_init_before_its_runtime(
    tmp_path: Path, kind: str, args: tuple[str, ...], cwd: str
) -> None:
    project = _project(tmp_path, kind)
    assert _report(_run(project, *args, cwd=cwd)) == NO_INIT

    _rewrite(project)

    result = _run(project, *args, cwd=cwd)
    assert _report(result) == INIT_FIRST
    assert LATE_IMPORT_WARNING not in result.stderr


@pytest.mark.parametrize(
    ("kind", "probe"),
    [
        pytest.param("script", TWO_NAMES, id="script entry as build.server.index and as index"),
        pytest.param("package", RUN_AFTER_IMPORT, id="package entry imported, then run as main"),
    ],
)
def test_entry_loaded_under_two_names_initialises_once(
    tmp_path: Path, kind: str, probe: str
) -> None:
    project = _project(tmp_path, kind)
    _rewrite(project)

    report = _report(_run(project, "-c", probe))

    assert report == {"distinct": True, "same_handler": True, "init_runs": 1}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("1", NO_INIT, id="1 disables"),
        pytest.param("true", NO_INIT, id="true disables"),
        pytest.param("yes", NO_INIT, id="yes disables"),
        pytest.param("0", INIT_FIRST, id="0 keeps init"),
        pytest.param("", INIT_FIRST, id="empty keeps init"),
    ],
)
def test_rewriter_disable_init(tmp_path: Path, value: str, expected: dict[str, Any]) -> None:
    project = _project(tmp_path, "script")
    _rewrite(project)

    result = _run(project, ENTRY, env={"REWRITER_DISABLE_INIT": value})

    assert _report(result) == expected


def test_failing_init_is_logged_and_the_app_still_loads_by_default(tmp_path: Path) -> None:
    project = _project(tmp_path, "script")
    _rewrite(project)

    result = _run(project, ENTRY, env={"E2E_INIT_FAIL": "1"})

    assert _report(result) == NO_INIT
    assert "instrumentation init failed; the application starts without it" in result.stderr
    assert "Traceback (most recent call last):" in result.stderr
    assert "RuntimeError: init exploded" in result.stderr


def test_failing_init_propagates_with_on_init_error_raise(tmp_path: Path) -> None:
    project = _project(tmp_path, "script")
    _rewrite(project, Settings(on_init_error="raise"))
    assert _report(_run(project, ENTRY)) == INIT_FIRST

    result = _run(project, ENTRY, env={"E2E_INIT_FAIL": "1"})

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.rstrip().endswith("RuntimeError: init exploded")
    assert "instrumentation init failed" not in result.stderr


NAMESPACE_PROBE = """\
import json
import sys

import build.server.index as entry

print(json.dumps({
    "typing imported": "typing" in sys.modules,
    "TYPE_CHECKING": getattr(entry, "TYPE_CHECKING", "unbound"),
    **entry.handler(),
}))
"""


LAZY_ENTRY = (
    '"""Server entry (generated): the handler is imported on first use."""\n'
    "{}from .chunks.nitro import handler\n"
)


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
def test_rewritten_entry_neither_imports_typing_nor_leaves_type_checking(
    tmp_path: Path, lazy: bool
) -> None:
    # Lazy mode keeps the deferred imports under `if TYPE_CHECKING:` for type
    # checkers; the block binds that name while the entry runs, without
    # importing typing, and the lazy block deletes it again.
    project = _project(tmp_path, "package")
    (project / ENTRY).write_text(LAZY_ENTRY.format(""), encoding="utf-8")
    (project / "probe.py").write_text(NAMESPACE_PROBE, encoding="utf-8")
    before = {"typing imported": False, "TYPE_CHECKING": "unbound", **NO_INIT}
    assert _report(_run(project, "probe.py")) == before

    rewritten = _rewrite(project, Settings(lazy=lazy))

    assert ("if TYPE_CHECKING:  # rewriter:deferred" in rewritten) == lazy
    after = {"typing imported": False, "TYPE_CHECKING": "unbound", **INIT_FIRST}
    assert _report(_run(project, "probe.py")) == after


def test_type_checking_bound_above_the_block_is_the_entrys_own(tmp_path: Path) -> None:
    project = _project(tmp_path, "package")
    (project / "probe.py").write_text(NAMESPACE_PROBE, encoding="utf-8")
    entry = project / ENTRY
    entry.write_text(LAZY_ENTRY.format("from typing import TYPE_CHECKING\n"), encoding="utf-8")
    settings = Settings(prelude=("typing",), lazy=True)  # keeps that import above init

    rewritten = _rewrite(project, settings)

    assert rewritten.index("from typing import TYPE_CHECKING") < rewritten.index("rewriter:init")
    assert "if TYPE_CHECKING:  # rewriter:deferred" in rewritten
    assert "TYPE_CHECKING = False" not in rewritten
    assert "del TYPE_CHECKING" not in rewritten
    after = {"typing imported": True, "TYPE_CHECKING": False, **INIT_FIRST}
    assert _report(_run(project, "probe.py")) == after
    assert rewrite_file(entry, settings).status == "unchanged"
