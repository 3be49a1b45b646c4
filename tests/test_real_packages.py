"""Real standard-library packages, rewritten and used.

Each package is copied twice under new names (``rw_<name>`` and
``ref_<name>``), so that its relative imports resolve inside the copy. The
``rw_`` copy's ``__init__.py`` is rewritten as an entry whose runtime is the
package's own submodules, with an init file beside it. Each copy is then
imported in its own subprocess, which describes every name in the package's
namespace (kind, qualified name, defining module; the value for plain
data) with the package name masked, and runs a small program with it.

The rewritten package must expose the same names, bound to equivalent
objects (rewriter's own ``_rewriter_*`` helpers aside), must run its init
before any of its submodules is imported, and must give the program the same
results.

Packages and what they exercise:

- ``json``: ``from .decoder import A, B`` next to a stdlib import (its
  ``decoder`` imports ``json.scanner`` absolutely, which is the real stdlib
  module in both copies);
- ``asyncio``: sixteen star imports, ``__all__`` built from the submodules'
  ``__all__`` right after them, a platform-conditional star import;
- ``unittest``: parenthesised multi-line imports, a module ``__getattr__``
  and ``__dir__`` that import lazily;
- ``tomllib``: a name used right after its deferred import
  (``TOMLDecodeError.__module__ = __name__``);
- ``zoneinfo``: ``from . import _tzpath``, imports in ``try/except
  ImportError`` with a C accelerator, module ``__getattr__``;
- ``importlib.metadata``: ``from . import a, b`` and many
  ``from ._x import ...`` among stdlib imports, in a 1000-line module.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from rewriter.config import Settings
from rewriter.runner import rewrite_file

STDLIB = Path(sysconfig.get_paths()["stdlib"])
INIT_FILE = "instrument.server.py"

# Runs in the subprocess: `python describe.py PACKAGE PROGRAM`. Prints one JSON object.
DESCRIBE = r"""
import builtins
import importlib
import json
import sys
import types

package_name, program = sys.argv[1], sys.argv[2]
package = importlib.import_module(package_name)
MASK = "PKG"

def mask(text):
    return text.replace(package_name, MASK) if isinstance(text, str) else text

PLAIN = (str, int, float, bool, type(None), bytes)

def plain(value):
    if isinstance(value, PLAIN):
        return True
    if isinstance(value, (tuple, list, frozenset, set)):
        return all(plain(item) for item in value)
    return False

def describe(name, value):
    if name in {"__file__", "__path__", "__cached__", "__spec__", "__loader__", "__builtins__"}:
        return ["dunder"]
    if isinstance(value, types.ModuleType):
        return ["module", mask(value.__name__)]
    if isinstance(value, type):
        return ["class", mask(value.__module__), value.__qualname__]
    if callable(value) and hasattr(value, "__qualname__"):
        return ["callable", type(value).__name__, mask(getattr(value, "__module__", None)),
                value.__qualname__]
    if plain(value):
        shown = sorted(value) if isinstance(value, (set, frozenset)) else value
        return ["value", mask(repr(shown))]
    return ["object", mask(type(value).__module__), type(value).__qualname__]

namespace = {
    name: describe(name, getattr(package, name))
    for name in dir(package)
    if not name.startswith("_rewriter_") and hasattr(package, name)
}
loaded = sorted(
    mask(name)
    for name in sys.modules
    # The init file the test adds is loaded as a module of the package too.
    if name.partition(".")[0] == package_name and "._rewriter_init_" not in name
)
results = {}
exec(compile(program, "<program>", "exec"), {"pkg": package, "results": results})
print(json.dumps({
    "namespace": namespace,
    "loaded": loaded,
    "at_init": [mask(name) for name in getattr(builtins, "_rw_loaded_at_init", ["<no init>"])],
    "results": results,
}, default=repr))
"""

INIT_SOURCE = '''\
"""Instrumentation init for the rewritten package: records what is loaded already."""
import builtins
import sys

builtins._rw_loaded_at_init = sorted(
    name
    for name in sys.modules
    # The package's modules, but not this init module (registered while it runs).
    if name.split(".")[0].startswith("rw_") and name != __name__
)
'''

PROGRAMS = {
    "json": """
data = {"name": "caf\\u00e9", "values": [1, 2.5, None, True], "nested": {"a": []}}
text = pkg.dumps(data, sort_keys=True, indent=1)
results["round_trip"] = pkg.loads(text) == data
results["text"] = text
try:
    pkg.loads("{bad json")
except ValueError as error:  # the C scanner raises the real json's JSONDecodeError
    results["error"] = [type(error).__name__, error.pos]
results["encoder"] = pkg.JSONEncoder(separators=(",", ":")).encode([1, {"b": 2}])
""",
    "asyncio": """
async def worker(queue, number):
    await pkg.sleep(0)
    await queue.put(number * number)

async def main():
    queue = pkg.Queue()
    await pkg.gather(*(worker(queue, number) for number in range(5)))
    async with pkg.timeout(5):
        await pkg.sleep(0)
    lock = pkg.Lock()
    async with lock:
        pass
    return sorted(queue.get_nowait() for _ in range(queue.qsize()))

results["squares"] = pkg.run(main())
results["all"] = sorted(pkg.__all__)
results["has_unix_events"] = hasattr(pkg, "unix_events")
""",
    "unittest": """
import io

class Arithmetic(pkg.TestCase):
    def test_add(self):
        self.assertEqual(1 + 1, 2)

    @pkg.skip("skipped on purpose")
    def test_skipped(self):
        raise AssertionError

    def test_fails(self):
        self.assertEqual(1, 2)

suite = pkg.defaultTestLoader.loadTestsFromTestCase(Arithmetic)
outcome = pkg.TextTestRunner(stream=io.StringIO(), verbosity=0).run(suite)
results["run"] = [outcome.testsRun, len(outcome.failures), len(outcome.skipped)]
results["lazy"] = pkg.IsolatedAsyncioTestCase.__qualname__
results["dir_has_lazy"] = "IsolatedAsyncioTestCase" in dir(pkg)
""",
    "tomllib": """
document = pkg.loads('title = "x"\\n[owner]\\nname = "y"\\nvalues = [1, 2.5, true]\\n')
results["document"] = document
results["error_module"] = pkg.TOMLDecodeError.__module__.replace(pkg.__name__, "PKG")
try:
    pkg.loads("a = ")
except pkg.TOMLDecodeError as error:
    results["error"] = str(error)
""",
    "zoneinfo": """
# No time zone data is needed: the C ZoneInfo type, the path API, the errors.
results["zoneinfo_type"] = [pkg.ZoneInfo.__module__, pkg.ZoneInfo.__qualname__]
results["tzpath_is_tuple"] = isinstance(pkg.TZPATH, tuple)
pkg.reset_tzpath(to=["/nonexistent/zoneinfo"])
results["tzpath"] = pkg.TZPATH
results["zones"] = sorted(pkg.available_timezones())
results["error_is_key_error"] = issubclass(pkg.ZoneInfoNotFoundError, KeyError)
try:
    pkg.ZoneInfo("No/Such_Zone")
except KeyError as error:
    results["not_found"] = type(error).__name__
""",
    "importlib.metadata": """
results["libcst"] = pkg.version("libcst")
results["scripts"] = sorted(
    point.name for point in pkg.entry_points(group="console_scripts") if point.name == "rewriter"
)
results["requires_jinja2"] = any(
    requirement.startswith("jinja2") for requirement in pkg.requires("rewriter") or ()
)
try:
    pkg.version("no-such-distribution-for-rewriter")
except pkg.PackageNotFoundError as error:
    results["missing"] = type(error).__name__
""",
}


def copy_package(dotted: str, destination: Path) -> None:
    source = STDLIB.joinpath(*dotted.split("."))
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns("__pycache__", "test"))


def describe(root: Path, package: str, program: str) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run(
        [sys.executable, str(root / "describe.py"), package, program],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    described: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return described


@pytest.mark.parametrize("dotted", sorted(PROGRAMS))
def test_rewritten_package_works_like_the_original(dotted: str, tmp_path: Path) -> None:
    name = dotted.rpartition(".")[2]
    (tmp_path / "describe.py").write_text(DESCRIBE)
    reference, rewritten = tmp_path / f"ref_{name}", tmp_path / f"rw_{name}"
    copy_package(dotted, reference)
    copy_package(dotted, rewritten)
    (rewritten / INIT_FILE).write_text(INIT_SOURCE)

    settings = Settings(init=f"./{INIT_FILE}", handler=())
    entry = rewritten / "__init__.py"
    original = entry.read_text(encoding="utf-8")
    report = rewrite_file(entry, settings)
    assert report.status == "changed", report.error
    assert report.result is not None
    assert report.result.runtime_modules, "no submodule import was deferred"
    assert report.findings == ()
    assert report.warnings == ()
    assert rewrite_file(entry, settings).status == "unchanged"
    assert entry.read_text(encoding="utf-8") != original

    before = describe(tmp_path, reference.name, PROGRAMS[dotted])
    after = describe(tmp_path, rewritten.name, PROGRAMS[dotted])
    # Only the package itself (being imported) is loaded when init runs.
    assert after["at_init"] == ["PKG"], "a submodule was imported before init"
    assert after["namespace"] == before["namespace"]
    assert after["loaded"] == before["loaded"]
    assert after["results"] == before["results"]
    assert before["results"], "the program recorded nothing"
