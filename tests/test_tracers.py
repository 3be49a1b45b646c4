"""Static tracers and type checkers still see the runtime of a rewritten entry.

The rewrite keeps each runtime import as the original statement (in a pin),
so stdlib ``modulefinder`` (and the bundlers built like it, such as
PyInstaller) find the runtime modules, and mypy and pyright see the
handler's real signature. In lazy mode the deferred imports stay under
``if TYPE_CHECKING:``, which type checkers take and which ``modulefinder``
reads in the bytecode.
"""

from __future__ import annotations

import ast
import json
import modulefinder
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rewriter.config import Settings
from rewriter.runner import rewrite_file

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "formatters"
ENTRY = "app/server/index.py"
ENTRY_MODULE = "app.server.index"
# Every module the entry imports from its build, written out by hand.
RUNTIME_MODULES = {
    "app.server.chunks",
    "app.server.chunks.nitro",
    "app.server.chunks.nitro.nitro",
    "app.server.chunks.routes",
    "app.server.chunks.utils",
}


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture tree with ``app/server/index.py`` rewritten."""
    root = tmp_path_factory.mktemp("tracers") / "build"
    shutil.copytree(FIXTURE, root)
    report = rewrite_file(root / ENTRY, Settings())
    assert report.status == "changed", report.error
    return root


def find_modules(root: Path) -> modulefinder.ModuleFinder:
    """``modulefinder`` run on ``import app.server.index``."""
    # Searching only the build keeps it fast (no walk through the stdlib and
    # flask); the modules it cannot find there are still listed as tried.
    finder = modulefinder.ModuleFinder(path=[str(root)])
    finder.import_hook(ENTRY_MODULE)
    return finder


class _DropLateImports(ast.NodeTransformer):
    """Empties every block after the init block that holds import statements."""

    def visit_Try(self, node: ast.Try) -> ast.AST:
        if any(isinstance(inner, (ast.Import, ast.ImportFrom)) for inner in node.body):
            node.body = [ast.Pass()]
        return node


def test_modulefinder_finds_every_runtime_module(build: Path) -> None:
    finder = find_modules(build)
    assert set(finder.modules) >= RUNTIME_MODULES
    assert ENTRY_MODULE in finder.modules
    assert {"flask", "json"} <= set(finder.badmodules)


def test_modulefinder_relies_on_the_original_statements(build: Path, tmp_path: Path) -> None:
    # The control: the same output without the pinned import statements hides
    # the runtime, so the test above does measure them.
    root = tmp_path / "build"
    shutil.copytree(build, root)
    entry = root / ENTRY
    tree = _DropLateImports().visit(ast.parse(entry.read_text(encoding="utf-8")))
    entry.write_text(ast.unparse(tree), encoding="utf-8")
    finder = find_modules(root)
    assert ENTRY_MODULE in finder.modules
    assert not RUNTIME_MODULES & {*finder.modules, *finder.badmodules}


# A module that uses the rewritten entry the way a type-checked app would.
# Each `reveal_type` and the deliberately wrong calls are on the line given
# in EXPECTED_MYPY.
CONSUMER = """\
from typing import reveal_type

from app.server.index import PORT, default, handler, routes, server, u

reveal_type(handler)
reveal_type(server)
reveal_type(default)
reveal_type(u.port)
reveal_type(routes.ROUTES)
reveal_type(PORT)
handler("not an event")
u.port(8080)
"""

# Written from the runtime modules' annotations, not from mypy's output.
EXPECTED_MYPY = [
    'consumer.py:5: note: Revealed type is "def (event: dict[str, '
    "str], context: object =) -> dict[str, "
    'object]"',
    'consumer.py:6: note: Revealed type is "def (scope: dict[str, '
    "object], receive: object, send: object) -> "
    'typing.Coroutine[Any, Any, None]"',
    'consumer.py:7: note: Revealed type is "def () -> str"',
    'consumer.py:8: note: Revealed type is "def (value: str) -> int"',
    'consumer.py:9: note: Revealed type is "dict[str, str]"',
    'consumer.py:10: note: Revealed type is "int"',
    'consumer.py:11: error: Argument 1 to "handler" has incompatible type "str"; '
    'expected "dict[str, str]"  [arg-type]',
    'consumer.py:12: error: Argument 1 to "port" has incompatible type "int"; '
    'expected "str"  [arg-type]',
]

# flask is typed and large; skipping it keeps one uncached mypy run short.
MYPY_CONFIG = """\
[mypy]
python_version = 3.11
warn_unused_configs = True

[mypy-flask]
follow_imports = skip
"""


def test_mypy_sees_the_real_handler_types(build: Path, tmp_path: Path) -> None:
    (build / "consumer.py").write_text(CONSUMER, encoding="utf-8")
    (build / "mypy.ini").write_text(MYPY_CONFIG, encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            "mypy.ini",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            "--no-error-summary",
            "--no-color-output",
            "--hide-error-context",
            "consumer.py",
            ENTRY,
        ],
        cwd=build,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [re.sub(r"\s+", " ", line) for line in result.stdout.splitlines()]
    expected = [re.sub(r"\s+", " ", line) for line in EXPECTED_MYPY]
    # The rewritten entry itself type-checks: every message is about consumer.py.
    assert lines == expected, result.stdout + result.stderr
    assert result.returncode == 1


# Pyright's wording for the same annotations as EXPECTED_MYPY, by line.
EXPECTED_PYRIGHT = {
    5: 'Type of "handler" is "(event: dict[str, str], context: object = None) -> '
    'dict[str, object]"',
    6: 'Type of "server" is "(scope: dict[str, object], receive: object, send: object) -> '
    'CoroutineType[Any, Any, None]"',
    7: 'Type of "default" is "() -> str"',
    8: 'Type of "u.port" is "(value: str) -> int"',
    9: 'Type of "routes.ROUTES" is "dict[str, str]"',
    10: 'Type of "PORT" is "int"',
    11: 'Argument of type "Literal[\'not an event\']" cannot be assigned to parameter "event" '
    'of type "dict[str, str]" in function "handler"',
    12: 'Argument of type "Literal[8080]" cannot be assigned to parameter "value" of type '
    '"str" in function "port"',
}


def pyright_messages(root: Path, *, write: bool = True) -> dict[int, str]:
    """Pyright's messages on ``consumer.py`` (the first line of each), by line."""
    if write:
        (root / "consumer.py").write_text(CONSUMER, encoding="utf-8")
    config = '{"pythonVersion": "3.11", "typeCheckingMode": "standard"}'
    (root / "pyrightconfig.json").write_text(config, encoding="utf-8")
    result = subprocess.run(
        [
            Path(sys.executable).parent / "basedpyright",
            "--outputjson",
            "--pythonpath",
            sys.executable,
            "consumer.py",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(result.stdout)
    return {
        found["range"]["start"]["line"] + 1: found["message"].splitlines()[0]
        for found in report["generalDiagnostics"]
    }


def test_pyright_sees_the_real_handler_types(build: Path, tmp_path: Path) -> None:
    root = tmp_path / "build"
    shutil.copytree(build, root)
    assert pyright_messages(root) == EXPECTED_PYRIGHT


LAZY_FIXTURE = ROOT / "fixtures" / "linters" / "nitro"
LAZY_CONSUMER = """\
from typing import reveal_type

from app.server.index import handler

reveal_type(handler)
"""


@pytest.fixture(scope="module")
def lazy_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``fixtures/linters/nitro`` rewritten in lazy mode: its handler import is deferred."""
    root = tmp_path_factory.mktemp("lazy") / "build"
    shutil.copytree(LAZY_FIXTURE, root)
    report = rewrite_file(root / ENTRY, Settings(lazy=True, init="./instrument.server.py"))
    assert report.status == "changed", report.error
    assert "if TYPE_CHECKING:  # rewriter:deferred" in (root / ENTRY).read_text()
    return root


def test_a_lazy_entry_keeps_its_runtime_visible(lazy_build: Path, tmp_path: Path) -> None:
    finder = find_modules(lazy_build)
    assert "app.server.handlers" in finder.modules
    root = tmp_path / "build"
    shutil.copytree(lazy_build, root)
    (root / "consumer.py").write_text(LAZY_CONSUMER, encoding="utf-8")
    expected = 'Type of "handler" is "(event: dict[str, str]) -> dict[str, str]"'
    assert pyright_messages(root, write=False) == {5: expected}

    # The control: without the deferred mirror, pyright no longer knows it.
    entry = root / ENTRY
    source = entry.read_text(encoding="utf-8")
    mirror = "if TYPE_CHECKING:  # rewriter:deferred"
    head, _, tail = source.partition(mirror)
    statement, _, rest = tail.partition("\n    from .handlers import handler\n")
    entry.write_text(head + mirror + statement + "\n    pass\n" + rest, encoding="utf-8")
    assert pyright_messages(root, write=False) != {5: expected}
