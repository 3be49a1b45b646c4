"""Helpers for the golden fixture cases in ``fixtures/cases``.

Each case is a directory with ``input/`` (the entry and the files beside it),
``expected/<entry>`` (the rewritten entry, as bytes) and ``options.toml``
(``entry = "path/inside/input.py"`` plus any ``Settings`` field).
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from rewriter.config import Settings
from rewriter.parsing import parsed_code

CASES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "cases"
UPDATE_ENV = "REWRITER_UPDATE_GOLDEN"
DEFAULT_ENTRY = "index.py"
# The copy of input/ is always named like this, so that a package entry gets
# the same dotted name in every run.
BUILD_NAME = "output"


@dataclass(frozen=True)
class Case:
    """One golden case: where its files are and how to rewrite it."""

    name: str
    directory: Path
    entry: str
    settings: Settings

    @classmethod
    def load(cls, directory: Path) -> Case:
        """Read ``directory/options.toml``; ``entry`` is the only key that is not a setting."""
        options_path = directory / "options.toml"
        options: dict[str, object] = {}
        if options_path.is_file():
            options = tomllib.loads(options_path.read_text(encoding="utf-8"))
        entry = options.pop("entry", DEFAULT_ENTRY)
        assert isinstance(entry, str), f"{options_path}: entry must be a string"
        return cls(directory.name, directory, entry, Settings.from_mapping(options))

    @property
    def already_rewritten(self) -> bool:
        """A case whose input is rewriter's own output: nothing to rewrite.

        Its input is the output of an earlier run, so updating the expected
        files also refreshes its input (after a template change, say).
        """
        return self.name.startswith("already_rewritten")

    @property
    def input_dir(self) -> Path:
        return self.directory / "input"

    @property
    def expected_path(self) -> Path:
        return self.directory / "expected" / self.entry


def all_cases() -> list[Case]:
    """Every case directory under ``fixtures/cases``, by name."""
    return [Case.load(path) for path in sorted(CASES_DIR.iterdir()) if path.is_dir()]


def copy_input(case: Case, tmp_path: Path) -> Path:
    """A copy of the case's input tree under ``tmp_path`` (always named ``BUILD_NAME``)."""
    build = tmp_path / BUILD_NAME
    shutil.copytree(case.input_dir, build)
    return build


def updating() -> bool:
    """True when expected files should be (re)written instead of compared."""
    return os.environ.get(UPDATE_ENV, "") not in ("", "0")


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root``, as ``{relative posix path: bytes}``."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def has_relative_import(source: bytes) -> bool:
    """True if the module uses a relative import anywhere (so it must run as a package).

    Tests probe two builds at once on two threads: the parse takes turns
    with rewriter's (``parsed_code``; python/cpython#106905).
    """
    tree = parsed_code(source)
    return any(isinstance(node, ast.ImportFrom) and node.level > 0 for node in ast.walk(tree))


# Runs in a fresh interpreter: imports the entry, then prints what its
# namespace binds and the order in which modules from the build were loaded.
_PROBE = r"""
import importlib, inspect, json, os, runpy, sys, types

mode, top, entry_dir, target = sys.argv[1:]

def describe(value):
    if isinstance(value, types.ModuleType):
        return ["module", value.__name__]
    if inspect.isclass(value):
        return ["class", value.__module__, value.__qualname__]
    if inspect.isfunction(value):
        kind = "async def" if inspect.iscoroutinefunction(value) else "def"
        return [kind, value.__module__, value.__qualname__]
    if isinstance(value, (str, int, float, bool, type(None), list, tuple, dict)):
        return ["value", repr(value)]
    kind = type(value)
    return ["instance", kind.__module__, kind.__qualname__]

if mode == "package":
    sys.path[:0] = [top, entry_dir]
    namespace = vars(importlib.import_module(target))
else:
    sys.path.insert(0, entry_dir)
    namespace = runpy.run_path(target)

loaded = []
for name, module in list(sys.modules.items()):
    path = getattr(module, "__file__", None)
    inside = bool(path) and os.path.abspath(path).startswith(entry_dir + os.sep)
    if name.startswith("_rewriter_init_") or inside:
        loaded.append([name, os.path.relpath(path, entry_dir) if path else None])
names = {
    name: describe(value)
    for name, value in namespace.items()
    if not (name.startswith("__") and name.endswith("__")) or name == "__all__"
}
print(json.dumps({"names": names, "loaded": loaded}))
"""


@dataclass(frozen=True)
class Probe:
    """What importing an entry bound, and which build modules it loaded, in order."""

    names: dict[str, list[object]]
    loaded: list[tuple[str, str | None]]
    stderr: str


def probe(build: Path, entry: str) -> Probe:
    """Import the entry at ``build/entry`` in a subprocess and describe the result.

    An entry with relative imports is imported as a package module
    (``build.<entry>``); any other entry is run as a script, with its
    directory first on ``sys.path``.
    """
    entry_path = build / entry
    entry_dir = str(entry_path.parent)
    if has_relative_import(entry_path.read_bytes()):
        dotted = ".".join((BUILD_NAME, *Path(entry).with_suffix("").parts))
        argv = ["package", str(build.parent), entry_dir, dotted]
    else:
        argv = ["script", str(build.parent), entry_dir, str(entry_path)]
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("REWRITER_", "PYTHON"))
    }
    environment["PYTHONDONTWRITEBYTECODE"] = "1"
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        cwd=build.parent,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    data = json.loads(completed.stdout)
    return Probe(data["names"], [tuple(item) for item in data["loaded"]], completed.stderr)
