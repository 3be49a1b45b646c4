"""Differential execution: the rewritten entry binds what the original bound, after init.

Hypothesis draws a runtime tree and an entry importing it (tests/_trees.py).
The tree is written twice, under ``orig/`` and ``new/``; ``new/`` gets the
entry rewritten by ``rewrite_file``. Each copy runs in a fresh interpreter,
both at once. The entry ends by importing its init module (the bug the tool
fixes: the runtime loads before init) and then dumps its namespace and the
order in which runtime modules were first imported, with whether init had
run by then.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _trees import (
    HANDLER_NAMES,
    INIT_SOURCE,
    PACKAGE,
    TRACE_LINE,
    EntryKind,
    Program,
    programs,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rewriter.config import Settings
from rewriter.runner import rewrite_file

# Imported by the entry through `__import__`, so it is not an import statement
# the tool would look at; it lives outside the entry's tree.
DUMP_HELPER = f"""\
import builtins
import json
import types

HANDLERS = {set(HANDLER_NAMES)!r}


def describe(value):
    if isinstance(value, types.ModuleType):
        return ["module", value.__name__]
    if isinstance(value, (types.FunctionType, type)):
        return ["object", value.__module__, value.__qualname__]
    return ["value", repr(value)]


def names(namespace):
    return {{
        key: describe(value)
        for key, value in namespace.items()
        if not key.startswith("_rewriter_") and not (key.startswith("__") and key.endswith("__"))
    }}


def snapshot(namespace):
    return json.dumps(
        sorted(
            [key, value]
            for key, value in names(namespace).items()
            if key not in HANDLERS and not key.startswith("_snap")
        )
    )


def dump(namespace):
    trace = builtins.__dict__.get("_difftrace", [])
    print(json.dumps({{"names": names(namespace), "trace": trace}}))
"""

FOOTER = '__import__("_diffdump").dump(globals())\n'

# How an entry imports its init module when a formatter put it last.
INIT_LAST = {
    "package": st.sampled_from(
        [
            "from . import instrument_server",
            f"from {PACKAGE} import instrument_server",
            f"import {PACKAGE}.instrument_server",
        ]
    ),
    "script": st.just("import instrument_server"),
}


@dataclass(frozen=True)
class Run:
    """What one run of an entry printed."""

    names: dict[str, Any]
    trace: list[tuple[str, bool]]
    stderr: str


@pytest.fixture(scope="module")
def helper_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("helper")
    (directory / "_diffdump.py").write_text(DUMP_HELPER, encoding="utf-8")
    return directory


def write_copy(base: Path, kind: EntryKind, files: dict[str, str], entry_text: str) -> Path:
    """Write the tree and the entry under ``base``; return the entry's path."""
    directory = base / PACKAGE if kind == "package" else base
    for relpath, text in {**files, "index.py": entry_text}.items():
        path = directory / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return directory / "index.py"


def start(base: Path, entry: Path, kind: EntryKind, helper: Path) -> subprocess.Popen[str]:
    """Run the entry in a fresh interpreter: imported as a package, or as a script."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "REWRITER_"))
    }
    env.update(PYTHONPATH=str(helper), PYTHONDONTWRITEBYTECODE="1")
    if kind == "package":
        command = [sys.executable, "-S", "-c", f"import {PACKAGE}.index"]
    else:
        command = [sys.executable, "-S", str(entry)]
    return subprocess.Popen(
        command, cwd=base, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(process: subprocess.Popen[str], label: str, entry: Path) -> Run:
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, (
        f"{label} entry failed:\n{stderr}\n--- entry ---\n{entry.read_text(encoding='utf-8')}"
    )
    data = json.loads(stdout.splitlines()[-1])
    return Run(data["names"], [(name, ran) for name, ran in data["trace"]], stderr)


def run_both(
    kind: EntryKind, files: dict[str, str], entry_text: str, helper: Path
) -> tuple[Run, Run, str]:
    """Run the original and the rewritten entry; return both runs and the rewrite."""
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        original = write_copy(root / "orig", kind, files, entry_text)
        rewritten = write_copy(root / "new", kind, files, entry_text)
        report = rewrite_file(rewritten, Settings())
        assert report.status == "changed", report.error
        processes = [
            start(root / "orig", original, kind, helper),
            start(root / "new", rewritten, kind, helper),
        ]
        before = finish(processes[0], "original", original)
        after = finish(processes[1], "rewritten", rewritten)
        output = rewritten.read_text(encoding="utf-8")
        assert rewrite_file(rewritten, Settings()).status == "unchanged", output
        return before, after, output


def run_program(program: Program, init_last: str, helper: Path) -> tuple[Run, Run, str]:
    entry_text = program.entry.text + init_last + "\n" + FOOTER
    return run_both(program.entry.kind, program.files, entry_text, helper)


def check_same_bindings(before: Run, after: Run, rewritten: str) -> None:
    context = f"--- rewritten entry ---\n{rewritten}"
    # The rewrite may bind a handler name explicitly that the original only
    # reached as an attribute of a runtime module; nothing else may differ.
    extra = set(after.names) - set(before.names)
    assert extra <= set(HANDLER_NAMES), context
    assert {name: after.names.get(name) for name in before.names} == before.names, context
    # The same runtime modules load in the same order...
    assert [name for name, _ in after.trace] == [name for name, _ in before.trace], context
    # ...but only the rewritten entry initialises first, and no late-import
    # warning fires.
    assert before.trace, "the entry imports the runtime unconditionally first"
    assert not any(ran for _, ran in before.trace), "init imported last must run too late"
    assert all(ran for _, ran in after.trace), context
    assert "rewriter" not in after.stderr, after.stderr


DIFFERENTIAL = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@DIFFERENTIAL
@given(
    program=programs("package", differential=True, handlers=True),
    init_last=INIT_LAST["package"],
)
def test_package_entry_binds_the_same_names_after_init(
    program: Program, init_last: str, helper_dir: Path
) -> None:
    check_same_bindings(*run_program(program, init_last, helper_dir))


@settings(DIFFERENTIAL, max_examples=25)
@given(
    program=programs("script", differential=True, handlers=True),
    init_last=INIT_LAST["script"],
)
def test_script_entry_binds_the_same_names_after_init(
    program: Program, init_last: str, helper_dir: Path
) -> None:
    check_same_bindings(*run_program(program, init_last, helper_dir))


def test_failing_from_import_binds_the_names_before_the_failure(helper_dir: Path) -> None:
    files = {
        "__init__.py": "",
        "instrument_server.py": INIT_SOURCE,
        "chunks/__init__.py": f"{TRACE_LINE}\nfa = 1\n",
    }
    entry = (
        "from .chunks import *\n"
        "try:\n"
        "    from .chunks import fa as first, nope\n"
        "except ImportError:\n"
        "    pass\n"
        "from . import instrument_server\n" + FOOTER
    )
    before, after, rewritten = run_both("package", files, entry, helper_dir)
    assert before.names["first"] == ["value", "1"]
    check_same_bindings(before, after, rewritten)
