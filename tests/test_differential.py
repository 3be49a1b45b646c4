"""Differential execution: a rewritten entry behaves as the original, with init first.

Hypothesis draws a runtime tree and an entry importing it (tests/_trees.py
says what it can and cannot draw). The tree is written twice, under
``orig/`` and ``new/``; ``new/`` gets the entry rewritten by ``rewrite_file``
(sometimes with one runtime import moved above the init block and rewritten
again, as a later edit or a merge leaves it). Each copy runs in a fresh
interpreter (tests/_diffdump.py, ``python -S``): a package entry imported by
name, a script entry run as ``__main__``. The entry ends by importing its
init module (the bug the tool fixes: the runtime loads before init). Then
probes do what other code does with the entry (``hasattr``, ``getattr`` with
a default, ``from entry import *``, handler calls), and every name the
original bound is read as an attribute (the first use, in lazy mode).

Every mode (``dynamic-import``, ``top-level-import``, ``preload`` with an
init, ``lazy``) and both entry kinds are compared; ``compare`` says what
must hold:

- the same exception, if any (type, ``name`` and message);
- the same names bound to the same kind of objects (``_diffdump.describe``),
  and no other name: not a helper, not the init module; in lazy mode, until
  first use, the deferred names may be missing and only ``__getattr__`` and
  handler stand-ins of the original's call kind added (README, ``--lazy``);
- the same probe results;
- the same runtime modules loaded in the same order, all after init;
- the same ``__import__`` calls from the entry's statements (in lazy mode
  the same calls once everything is loaded), so import hooks see them.

The seven examples of issue 13 are explicit cases below
(``test_issue13_example``), each in every mode it applies to.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _trees import (
    HANDLER_NAMES,
    INIT_FILE,
    INIT_SOURCE,
    PACKAGE,
    TRACE_LINE,
    VENDOR_FILES,
    EntryKind,
    Probe,
    Program,
    programs,
)
from hypothesis import HealthCheck, Phase, event, find, given, note, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

import rewriter
from rewriter.config import Settings
from rewriter.runner import rewrite_file

TESTS = Path(__file__).resolve().parent
# These tests also run against rewriter before the redesign (issue 13's
# "fails on the old code"), which had no --undo.
HAS_UNDO = (Path(rewriter.__file__).parent / "undo.py").is_file()
MODES = ("dynamic-import", "top-level-import", "preload", "lazy")
KINDS: tuple[EntryKind, ...] = ("package", "script")
PRELOAD = {"preload": ("flask",)}  # never imported by the entries: it stays inert

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


def mode_settings(mode: str, base: str = "dynamic-import", **options: Any) -> Settings:
    """The settings of ``mode``; lazy mode over ``base``; preload with an init."""
    if mode == "lazy":
        return mode_settings(base, **options, lazy=True)
    if mode == "preload":
        options.setdefault("init", f"./{INIT_FILE}")
        return Settings(mode="preload", **PRELOAD, **options)
    return Settings(mode=mode, **options)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Case:
    """One differential comparison: a tree, an entry, the settings, what to do after.

    ``files`` are relative to the entry's directory; ``entry`` is the entry's
    file name there (``__init__.py`` makes the package itself the entry).
    ``moved``: an import line of ``text`` to move above the init block of
    the rewritten entry before rewriting it again; ``meaning`` is then the
    original with that line moved (what the edited file means).
    """

    kind: EntryKind
    files: dict[str, str]
    text: str
    settings: Settings
    entry: str = "index.py"
    probes: Sequence[Probe] = ()
    hide: Sequence[str] = ()
    moved: str | None = None
    meaning: str | None = None

    @property
    def lazy(self) -> bool:
        return self.settings.lazy

    @property
    def target(self) -> str:
        if self.entry == "__init__.py":
            return PACKAGE
        return f"{PACKAGE}.{self.entry.removesuffix('.py')}"


@dataclass(frozen=True)
class Run:
    """What one run of an entry did (see tests/_diffdump.py)."""

    error: list[Any] | None
    before: dict[str, Any]
    trace: list[tuple[str, bool]]
    calls: list[Any]
    probes: list[Any]
    after: dict[str, Any]
    trace_after: list[tuple[str, bool]]
    calls_after: list[Any]
    stderr: str


@pytest.fixture(scope="module")
def helper_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The child helper and the third-party package the entries may import."""
    directory = tmp_path_factory.mktemp("helper")
    shutil.copy(TESTS / "_diffdump.py", directory / "_diffdump.py")
    for relpath, text in VENDOR_FILES.items():
        path = directory / "vendor" / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return directory


def write_copy(base: Path, case: Case, text: str) -> Path:
    """Write the tree and the entry under ``base``; return the entry's path."""
    directory = base / PACKAGE if case.kind == "package" else base
    for relpath, content in {**case.files, case.entry: text}.items():
        path = directory / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return directory / case.entry


def run_entry(base: Path, entry: Path, case: Case, helper: Path, touch: Sequence[str] = ()) -> Run:
    """Run the entry in a fresh interpreter (tests/_diffdump.py) and read its report."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "REWRITER_"))
    }
    env.update(PYTHONPATH=str(helper), PYTHONDONTWRITEBYTECODE="1")
    spec = {
        "kind": case.kind,
        "target": case.target if case.kind == "package" else str(entry),
        "probes": [list(probe) for probe in case.probes],
        "touch": list(touch),
        "call": sorted(set(HANDLER_NAMES) | set(case.settings.handler or ())),
        "hide": list(case.hide),
    }
    process = subprocess.run(
        [sys.executable, "-S", "-c", "__import__('_diffdump').main()", json.dumps(spec)],
        cwd=base,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.returncode == 0, (
        f"the child died:\n{process.stderr}\n--- entry ---\n{entry.read_text(encoding='utf-8')}"
    )
    data = json.loads(process.stdout.splitlines()[-1])
    return Run(
        error=data["error"],
        before=data["before"],
        trace=[(name, ran) for name, ran in data["trace"]],
        calls=data["calls"],
        probes=data["probes"],
        after=data["after"],
        trace_after=[(name, ran) for name, ran in data["trace_after"]],
        calls_after=data["calls_after"],
        stderr=process.stderr,
    )


def is_wrapper(node: ast.stmt) -> bool:
    """A top-level statement that holds original import lines: a pin or a mirror.

    Pins (``try`` whose handler adds rewriter's note), deferred mirrors
    (``if TYPE_CHECKING:``) and rewriter 0.1's ``if _rewriter_typing.TYPE_CHECKING:``.
    """
    if isinstance(node, ast.Try):
        return any(
            isinstance(call, ast.Attribute) and call.attr == "add_note"
            for handler in node.handlers
            for call in ast.walk(handler)
        )
    if isinstance(node, ast.If):
        test = node.test
        name = test.attr if isinstance(test, ast.Attribute) else getattr(test, "id", None)
        return name == "TYPE_CHECKING"
    return False


def move_above_block(text: str, statement: str) -> str:
    """``text`` (a rewritten entry) with the import ``statement`` moved above its init block.

    The statement (alone on its lines, as written in the original) is taken
    out of its place, with its pin or mirror when it was alone in it, and put
    right above the block's marker comments, as an edit, a formatter or a
    merge may leave it.
    """
    lines = text.splitlines(keepends=True)

    def alone(node: ast.stmt, siblings: list[ast.stmt]) -> bool:
        segment = ast.get_source_segment(text, node, padded=True) or ""
        shared = [
            other
            for other in siblings
            if other is not node
            and (
                other.lineno <= node.lineno <= (other.end_lineno or 0)
                or node.lineno <= other.lineno <= (node.end_lineno or 0)
            )
        ]
        return textwrap.dedent(segment) == statement and not shared

    body = ast.parse(text).body
    for node in body:
        if alone(node, body):
            span: ast.stmt = node
            break
        nested: list[ast.stmt] = getattr(node, "body", [])
        inner = [child for child in nested if alone(child, nested)]
        if inner and is_wrapper(node):
            span = node if len(nested) == 1 else inner[0]
            break
    else:
        raise AssertionError(f"{statement!r} not found in\n{text}")
    assert span.end_lineno is not None
    del lines[span.lineno - 1 : span.end_lineno]
    marker = next(
        number
        for number, line in enumerate(lines)
        if line.startswith(("# rewriter:init", "# rewriter:preload"))
    )
    lines.insert(marker, statement + "\n")
    return "".join(lines)


def rewrite(case: Case, entry: Path) -> str | None:
    """Rewrite the entry as the case says; the output, or None if a move was refused."""
    report = rewrite_file(entry, case.settings)
    assert report.status == "changed", report.error
    output = entry.read_text(encoding="utf-8")
    if HAS_UNDO:
        from rewriter.undo import undo_source

        undone = undo_source(output).output
        # Known bug (test_undo_removes_the_marker_of_a_block_that_starts_the_file): the
        # marker comments of a block that starts the file stay behind.
        left = undone[: len(undone) - len(case.text)]
        if undone.endswith(case.text) and left.startswith("# rewriter:"):
            undone = (
                case.text if all(line.startswith("#") for line in left.splitlines()) else undone
            )
        assert undone == case.text, f"--undo lost the original:\n{output}"
    if case.moved is not None:
        edited = move_above_block(output, case.moved)
        entry.write_text(edited, encoding="utf-8")
        check = rewrite_file(entry, case.settings, write=False)
        assert check.status == "changed" or check.findings, (
            f"--check accepts a runtime import above the init block:\n{edited}"
        )
        report = rewrite_file(entry, case.settings)
        if report.status == "failed":
            # Refusing is allowed, with the position of the import.
            assert report.error is not None
            moved_line = edited.splitlines().index(case.moved.splitlines()[0]) + 1
            assert report.error.line == moved_line, report.error
            return None
        assert report.status == "changed", report.error
        output = entry.read_text(encoding="utf-8")
    final = rewrite_file(entry, case.settings, write=False)
    assert final.status == "unchanged", f"a second run changes the entry:\n{output}"
    assert not final.findings, final.findings
    return output


def run_case(case: Case, helper: Path) -> tuple[Run, Run, str] | None:
    """Run the original and the rewritten entry; both runs and the rewrite (None: refused)."""
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        original = write_copy(root / "orig", case, case.meaning or case.text)
        rewritten = write_copy(root / "new", case, case.text)
        output = rewrite(case, rewritten)
        if output is None:
            return None
        before = run_entry(root / "orig", original, case, helper)
        names = [name for name in before.before if not name.startswith("__")]
        after = run_entry(root / "new", rewritten, case, helper, touch=names)
        return before, after, output


def check_case(case: Case, helper: Path) -> None:
    """Run ``case`` and compare; the rewrite must not refuse it."""
    ran = run_case(case, helper)
    assert ran is not None, "the rewrite refused the entry"
    compare(case, *ran)


def call_kind(description: Any) -> tuple[bool, bool | None]:
    """What a server checks of a handler: callable, and ``async def`` or not."""
    if description[0] in ("function", "callable"):
        return True, description[1]
    return description[0] == "class", None


def compare(case: Case, before: Run, after: Run, rewritten: str) -> None:
    """Assert that the rewritten run (``after``) behaves as the original (``before``)."""
    context = f"--- rewritten entry ---\n{rewritten}"
    assert after.error == before.error, f"exception {after.error} != {before.error}\n{context}"
    if before.error is not None and case.lazy:
        return  # lazy mode never ran its lazy block: nothing else to compare
    stand_ins = set(HANDLER_NAMES) | set(case.settings.handler or ())
    if case.lazy:
        # Until first use: the names lazy mode has bound are the original's.
        for name, value in after.before.items():
            if name not in before.before or value == before.before[name]:
                continue
            assert name in stand_ins, f"{name!r}: {value} != {before.before[name]}\n{context}"
            assert call_kind(value) == call_kind(before.before[name]), (
                f"stand-in {name!r} is {value}, the handler {before.before[name]}\n{context}"
            )
    else:
        differ = {
            name: (value, after.before.get(name))
            for name, value in before.before.items()
            if after.before.get(name) != value
        }
        assert not differ, f"names bound differently (original, rewritten): {differ}\n{context}"
    assert after.probes == before.probes, f"probes {after.probes} != {before.probes}\n{context}"
    # The same runtime modules in the same order; in lazy mode once loaded.
    order = [name for name, _ in after.trace_after]
    expected = [name for name, _ in before.trace_after]
    assert order == expected, f"runtime import order {order} != {expected}\n{context}"
    if not case.lazy:
        assert [name for name, _ in after.trace] == [name for name, _ in before.trace], context
        assert after.calls == before.calls, (
            f"__import__ calls {after.calls} != {before.calls}\n{context}"
        )
    assert sorted(map(str, after.calls_after)) == sorted(map(str, before.calls_after)), (
        f"__import__ calls {after.calls_after} != {before.calls_after}\n{context}"
    )
    # ...but only the rewritten entry initialises first.
    assert all(ran for _, ran in after.trace_after), f"runtime loaded before init\n{context}"
    if case.lazy:
        added = set(after.before) - set(before.before) - {"__getattr__"}
        assert not added, f"lazy mode added {added} before first use\n{context}"
    extra = set(after.after) - set(before.after)
    missing = set(before.after) - set(after.after)
    assert not extra and not missing, f"extra names {extra}, missing {missing}\n{context}"
    assert after.after == before.after, context
    if before.error is None:
        assert "rewriter" not in after.stderr, after.stderr


def test_a_script_entry_runs_as_python_runs_the_file(helper_dir: Path, tmp_path: Path) -> None:
    # The child runs a script entry itself (to report what it raised and to
    # probe it afterwards); the entry must see what `python index.py` shows it.
    entry = tmp_path / "index.py"
    entry.write_text(
        "import json, sys\n"
        "print(json.dumps([sys.path[0], sys.argv, __package__, repr(__spec__), __file__,\n"
        "                  __cached__, type(__loader__).__name__, __name__, sorted(globals())]))\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(helper_dir), "PYTHONDONTWRITEBYTECODE": "1"}
    spec = json.dumps({"kind": "script", "target": str(entry)})
    outputs = [
        subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, check=True, timeout=60
        ).stdout.splitlines()[0]
        for command in (
            [sys.executable, "-S", str(entry)],
            [sys.executable, "-S", "-c", "__import__('_diffdump').main()", spec],
        )
    ]
    assert outputs[1] == outputs[0]


# ---------------------------------------------------------------------------
# Generated programs


# Per (kind, mode): 8 tests. The budget is about 60 s of CPU for this file,
# where one example costs two child interpreters and one or two rewrites
# (0.2 to 0.3 s): 25 examples each, 200 in all.
DIFFERENTIAL = settings(
    # DIFFERENTIAL_EXAMPLES=500 searches deeper (about 1 s of CPU per 4 examples).
    max_examples=int(os.environ.get("DIFFERENTIAL_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def program_case(program: Program, init_last: str, settings_: Settings) -> Case:
    """The case of a generated program: its entry ending with the init import."""
    return Case(
        kind=program.entry.kind,
        files=program.files,
        text=program.entry.text + init_last + "\n",
        settings=settings_,
        probes=program.probes,
        moved=program.moved_block,
        meaning=program.moved_text + init_last + "\n",
    )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
@DIFFERENTIAL
@given(data=st.data())
def test_rewritten_entry_behaves_as_the_original(
    kind: EntryKind, mode: str, data: st.DataObject, helper_dir: Path
) -> None:
    program = data.draw(
        programs(kind, differential=True, handlers=True, lazy_safe=mode == "lazy"),
        label="program",
    )
    base = "dynamic-import"
    if mode == "lazy":
        base = data.draw(st.sampled_from(MODES[:3]), label="lazy over")
    case = program_case(program, data.draw(INIT_LAST[kind]), mode_settings(mode, base))
    for feature in sorted(program.features):
        event(feature)
    note(f"--- entry ({mode} over {base}) ---\n{case.text}")
    if case.moved is not None:
        note(f"--- moved above the init block ---\n{case.moved}")
    note("".join(f"--- {path} ---\n{text}" for path, text in sorted(case.files.items())))
    ran = run_case(case, helper_dir)
    if ran is None:
        event("move refused")
        return
    before, after, output = ran
    if "# rewriter:deferred" in output:
        event("lazy mode deferred an import")
    # The original really imports the runtime before its init.
    assert before.trace and not any(ran for _, ran in before.trace), before.trace
    compare(case, before, after, output)


FEATURES = frozenset(
    {
        "preamble",
        "dotted-stdlib",
        "dotted-third-party",
        "shadowed-submodule",
        "replaced-module",
        "replaced-object",
        "replaced-stdlib",
        "order-dependent",
        "relative-fallback",
        "optional-import",
        "entry-all",
        "uncaught-failure",
        "moved-above-block",
        "probe-star",
        "probe-hasattr",
        "probe-getattr",
        "probe-call",
        "handler-async",
        "handler-sync-over-async",
        "handler-partial",
        "handler-instance",
    }
)


@pytest.mark.parametrize("lazy_safe", [False, True], ids=["eager", "lazy"])
@pytest.mark.parametrize("kind", KINDS)
def test_the_generator_draws_every_shape(kind: EntryKind, lazy_safe: bool) -> None:
    # Generation only, until every shape has been drawn at least once.
    seen: set[str] = set()

    def all_seen(program: Program) -> bool:
        seen.update(program.features)
        return seen >= FEATURES

    try:
        find(
            programs(kind, differential=True, handlers=True, lazy_safe=lazy_safe),
            all_seen,
            settings=settings(max_examples=1000, database=None, phases=[Phase.generate]),
        )
    except NoSuchExample:
        pytest.fail(f"never drawn in 1000 programs: {sorted(FEATURES - seen)}")


# ---------------------------------------------------------------------------
# The seven examples of issue 13


def runtime(text: str = "") -> str:
    """A runtime module's text: the trace line, then ``text``."""
    return f"{TRACE_LINE}\n{text}"


def package_files(**modules: str) -> dict[str, str]:
    """``app/__init__.py``, the init file, and runtime modules (``chunks__app``: chunks/app.py)."""
    files = {"__init__.py": "", INIT_FILE: INIT_SOURCE, "chunks/__init__.py": runtime()}
    for name, text in modules.items():
        files[name.replace("__", "/") + ".py"] = text
    return files


HANDLER = runtime("def handler():\n    return __name__\n")


def example_1(mode: str) -> Case:
    # `import os.path` after code binds sys.modules["os"], not posixpath.
    text = (
        "import sys\n"
        'sys.path.insert(0, "/opt/vendor")\n'
        "import os.path\n"
        "from .chunks.app import handler\n"
        "ROOT = os.path.dirname(__file__)\n"
        "from . import instrument_server\n"
    )
    return Case("package", package_files(chunks__app=HANDLER), text, mode_settings(mode))


def example_2(mode: str, replacement: str) -> Case:
    # `import app.chunks.compat` binds `app`, whatever compat put in its place
    # in sys.modules (json, or an object without __name__: CPython never asks).
    compat = runtime(f'__import__("sys").modules[__name__] = {replacement}\n')
    text = (
        "import app.chunks.compat\n"
        "import app.chunks.compat as compat\n"
        "from .chunks.app import handler\n"
        "from . import instrument_server\n"
    )
    files = package_files(chunks__app=HANDLER, chunks__compat=compat)
    return Case("package", files, text, mode_settings(mode))


def example_2_json(mode: str) -> Case:
    return example_2(mode, '__import__("json")')


def example_2_nameless(mode: str) -> Case:
    return example_2(mode, '__import__("types").SimpleNamespace(value=1)')


def example_3(mode: str) -> Case:
    # The Flask layout: chunks/__init__.py binds `app`, the name of its submodule.
    files = package_files(
        chunks__app=runtime('app = __import__("types").SimpleNamespace(kind="flask app")\n')
    )
    files["chunks/__init__.py"] = runtime("from .app import app\n")
    text = (
        "import app.chunks.app as application\n"
        "from .chunks import app as flask_app\n"
        "from . import instrument_server\n"
    )
    return Case("package", files, text, mode_settings(mode))


def example_4(mode: str) -> Case:
    # A runtime import above an existing init block, rewritten again.
    text = (
        "from .chunks.app import handler\n"
        "from .chunks import routes\n"
        "from . import instrument_server\n"
    )
    files = package_files(chunks__app=HANDLER, chunks__routes=runtime("ROUTES = 1\n"))
    return Case(
        "package",
        files,
        text,
        mode_settings(mode),
        moved="from .chunks import routes",
        meaning="from .chunks import routes\nfrom .chunks.app import handler\n"
        "from . import instrument_server\n",
    )


def example_5(mode: str) -> Case:
    # The dual-mode fallback, run as `python index.py`: ImportError, not TypeError.
    files = {
        INIT_FILE: INIT_SOURCE,
        "settings.py": runtime("DEBUG = True\n"),
        "chunks/__init__.py": runtime(),
        "chunks/app.py": HANDLER,
    }
    text = (
        "try:\n"
        "    from .settings import DEBUG\n"
        "except ImportError:\n"
        "    from settings import DEBUG\n"
        "from chunks.app import handler\n"
        "import instrument_server\n"
    )
    return Case("script", files, text, mode_settings(mode))


NITRO = runtime(
    'def handler():\n    return __name__\nclass server:\n    pass\nCONFIG = {"debug": False}\n'
)


def example_6_star(mode: str) -> Case:
    # `from entry import *` without __all__ binds every public name.
    text = "from .chunks.nitro import handler, server, CONFIG\nfrom . import instrument_server\n"
    files = package_files(chunks__nitro=NITRO)
    return Case("package", files, text, mode_settings(mode), probes=[("star", "")])


def example_6_optional(mode: str) -> Case:
    # An optional import that fails: probes return False and None, every time.
    text = (
        "from .chunks.app import handler\n"
        "try:\n"
        "    from .chunks.optional import extra\n"
        "except ImportError:\n"
        "    pass\n"
        "from . import instrument_server\n"
    )
    probes = [("hasattr", "extra"), ("getattr", "extra"), ("getattr", "extra"), ("star", "")]
    files = package_files(chunks__app=HANDLER)
    return Case("package", files, text, mode_settings(mode), probes=probes)


def example_6_order(mode: str) -> Case:
    # Two modules that read each other at import time: the order is the value.
    peek = 'getattr(__import__("sys").modules.get({!r}), {!r}, None)'
    files = package_files(
        chunks__a=runtime(f"A = 'a saw b.B=' + repr({peek.format('app.chunks.b', 'B')})\n"),
        chunks__b=runtime(f"B = 'b saw a.A=' + repr({peek.format('app.chunks.a', 'A')})\n"),
    )
    text = "from .chunks.a import A\nfrom .chunks.b import B\nfrom . import instrument_server\n"
    probes = [("getattr", "B"), ("getattr", "A")]
    return Case("package", files, text, mode_settings(mode), probes=probes)


def example_6_sync_over_async(mode: str) -> Case:
    # A Lambda handler: `async def` under a synchronous decorator is synchronous.
    handlers = runtime(
        "import asyncio\n"
        "import functools\n"
        "def sync(function):\n"
        "    @functools.wraps(function)\n"
        "    def wrapper(*args):\n"
        "        return asyncio.run(function(*args))\n"
        "    return wrapper\n"
        "@sync\n"
        "async def lambda_handler(*args):\n"
        '    return {"statusCode": 200}\n'
    )
    text = "from .chunks.handlers import lambda_handler\nfrom . import instrument_server\n"
    files = package_files(chunks__handlers=handlers)
    settings_ = mode_settings(mode, handler=("lambda_handler",))
    return Case("package", files, text, settings_, probes=[("call", "lambda_handler")])


def example_7_hidden(mode: str) -> Case:
    # A test hides a runtime module by patching __import__: the import fails.
    text = "from .chunks.app import handler\nfrom . import instrument_server\n"
    files = package_files(chunks__app=HANDLER)
    return Case("package", files, text, mode_settings(mode), hide=["app.chunks.app"])


def example_7_namespace(mode: str) -> Case:
    # After the import, the entry holds what the original holds, nothing else.
    text = (
        '"""Entry."""\n'
        "import os\n"
        "from .chunks.app import handler\n"
        "from .chunks import *\n"
        "from . import instrument_server\n"
    )
    files = package_files(chunks__app=HANDLER)
    return Case("package", files, text, mode_settings(mode), probes=[("star", "")])


def example_7_package_entry(mode: str) -> Case:
    # A package's __init__.py as the entry: the init module is no attribute of it.
    files = {INIT_FILE: INIT_SOURCE, "chunks/__init__.py": runtime(), "chunks/app.py": HANDLER}
    text = "from .chunks.app import handler\n"
    return Case(
        "package", files, text, mode_settings(mode), entry="__init__.py", probes=[("star", "")]
    )


# (example, the modes it applies to). Lazy mode imports on first use by
# design, so a hidden module fails there at first use, not at import.
EXAMPLES = {
    "1-import-os-path-after-code": (example_1, MODES),
    "2-module-replaced-by-json": (example_2_json, MODES),
    "2-module-replaced-without-name": (example_2_nameless, MODES),
    "3-attribute-shadowed-submodule": (example_3, MODES),
    "4-import-above-the-init-block": (example_4, MODES),
    "5-script-relative-fallback": (example_5, MODES),
    "6-star-import-of-the-entry": (example_6_star, ("lazy",)),
    "6-optional-import-probes": (example_6_optional, ("lazy",)),
    "6-order-dependent-modules": (example_6_order, ("lazy",)),
    "6-async-def-under-sync-decorator": (example_6_sync_over_async, ("lazy",)),
    "7-patched-import-hides-a-module": (example_7_hidden, MODES[:3]),
    "7-namespace-holds-no-helper": (example_7_namespace, MODES),
    "7-package-entry-no-init-attribute": (example_7_package_entry, MODES),
}


@pytest.mark.parametrize(
    ("example", "mode"),
    [
        pytest.param(example, mode, id=f"{name}-{mode}")
        for name, (example, modes) in EXAMPLES.items()
        for mode in modes
    ],
)
def test_issue13_example(example: Any, mode: str, helper_dir: Path) -> None:
    check_case(example(mode), helper_dir)


# ---------------------------------------------------------------------------
# Bugs the differential tests found in the redesigned core, each as its
# smallest input (all fixed; the generator in tests/_trees.py draws the lazy
# shapes again).


def test_undo_removes_the_marker_of_a_block_that_starts_the_file() -> None:
    from rewriter.core import rewrite_source
    from rewriter.undo import undo_source

    source = "from .chunks import handler\n"
    rewritten = rewrite_source(source, Settings(init="instrument_server")).output
    assert undo_source(rewritten).output == source


def test_a_package_entry_whose_init_module_is_in_its_package_is_sound(tmp_path: Path) -> None:
    # app/__init__.py is the entry; its init imports app.instrument_server,
    # whose package is the entry itself, already running: nothing loads early.
    entry = tmp_path / PACKAGE / "__init__.py"
    files = {INIT_FILE: INIT_SOURCE, "chunks/__init__.py": "", "chunks/app.py": HANDLER}
    write_copy(
        tmp_path,
        Case("package", files, "", Settings(), entry="__init__.py"),
        "from .chunks.app import handler\n",
    )
    report = rewrite_file(entry, Settings(init=f"{PACKAGE}.instrument_server"))
    assert report.status == "changed"
    assert report.findings == ()


def test_lazy_defers_no_name_that_a_star_import_already_bound(helper_dir: Path) -> None:
    # `X` exists (the star's) before first use, so __getattr__ never loads the
    # deferred import: the entry's X is chunks.a's until something else loads.
    files = package_files(chunks__a=runtime("X = 'a'\n"), chunks__b=runtime("X = 'b'\n"))
    text = "from .chunks.a import *\nfrom .chunks.b import X\nfrom . import instrument_server\n"
    case = Case("package", files, text, mode_settings("lazy"), probes=[("getattr", "X")])
    check_case(case, helper_dir)


def test_lazy_keeps_the_namespace_that_the_entry_reads_at_import_time(helper_dir: Path) -> None:
    # dir() at import time misses the deferred X and sees the block's
    # TYPE_CHECKING, which is gone afterwards: `from entry import *` fails.
    files = package_files(chunks__other=runtime("X = 1\n"))
    text = (
        "from .chunks.other import X\n"
        "__all__ = [name for name in dir() if not name.startswith('_')]\n"
        "from . import instrument_server\n"
    )
    case = Case("package", files, text, mode_settings("lazy"), probes=[("star", "")])
    check_case(case, helper_dir)


def test_lazy_keeps_the_order_of_an_import_in_a_function_called_at_import_time(
    helper_dir: Path,
) -> None:
    # b loads (from load()) before the deferred a, so b sees a.A unset.
    peek = 'getattr(__import__("sys").modules.get({!r}), {!r}, None)'
    files = package_files(
        chunks__a=runtime(f"A = 'a saw b.B=' + repr({peek.format('app.chunks.b', 'B')})\n"),
        chunks__b=runtime(f"B = 'b saw a.A=' + repr({peek.format('app.chunks.a', 'A')})\n"),
    )
    text = (
        "from .chunks.a import A\n"
        "def load():\n"
        "    from .chunks.b import B\n"
        "    return B\n"
        "SEEN = load()\n"
        "from . import instrument_server\n"
    )
    case = Case("package", files, text, mode_settings("lazy"))
    check_case(case, helper_dir)
