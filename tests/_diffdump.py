"""The child of the differential tests: runs one entry and prints what it did, as JSON.

It runs in a fresh interpreter (``python -S``), copied beside the vendor
package the entries may put on ``sys.path`` (``VENDOR``), and is started as
``python -S -c "__import__('_diffdump').main()" SPEC``, which binds nothing in
``__main__``. ``SPEC`` is a JSON object:

- ``kind``: ``package`` (the entry is imported by name with
  ``importlib.import_module``, as gunicorn and uvicorn import an app) or
  ``script`` (the entry file runs as ``__main__``, as ``python index.py``
  runs it: ``sys.argv[0]`` and ``sys.path[0]`` set from the file, ``__file__``,
  ``__cached__`` and ``__loader__`` as CPython's ``pymain_run_file`` sets
  them, ``__package__`` and ``__spec__`` None);
- ``target``: the module name or the file;
- ``probes``: ``[kind, name]`` pairs run after the entry, in order, as other
  code would: ``hasattr``, ``getattr`` (with a default of None), ``star``
  (``from <entry> import *``), ``call`` (call the attribute with no
  arguments; a coroutine is run to its result);
- ``touch``: names read as attributes of the entry after the probes (lazy
  mode loads what it deferred on the first one), and ``call``: names called
  after that, as ``call`` probes (a lazy handler stand-in loads on its first
  call);
- ``hide``: module names that ``builtins.__import__`` refuses with
  ``ModuleNotFoundError``, as a test that hides a module does.

The entry's own code may call ``snapshot(globals())`` and ``failure(error)``
(through ``__import__``, so they are not import statements of the entry).

Printed: ``error`` (the exception the entry raised, or None), ``before``
(its namespace when it finished), ``trace`` (runtime modules in the order
they were first imported, each with whether init had run), ``calls`` (the
``__import__`` calls of the entry's statements, not those of the init or
lazy block's own functions), ``probes`` (their results), ``after``,
``trace_after`` and ``calls_after`` (the same, once the names were touched). Values are
described, not compared by identity: see ``describe``.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import inspect
import json
import os
import sys
import types
from typing import Any

VENDOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vendor")
TRACE_KEY = "_difftrace"
# The generated functions whose own imports (os, sys, _thread...) are the
# block's business, not the entry's statements.
BLOCK_FUNCTIONS = frozenset({"_rewriter_init", "_rewriter_preload", "_rewriter_lazy"})
# Dunder values that differ between two copies of one tree, or by identity.
VOLATILE = frozenset(
    {"__builtins__", "__file__", "__cached__", "__loader__", "__spec__", "__path__"}
)


def _normalise(text: str) -> str:
    return text.replace(os.getcwd(), "<root>")


def describe(value: Any) -> Any:
    """A JSON description of ``value`` that two processes can compare.

    Modules by name; functions by module, qualified name and whether they
    are coroutine functions; classes by module and qualified name; other
    callables by type and coroutine-ness; plain values by type and repr,
    unless the repr holds an address.
    """
    if isinstance(value, types.ModuleType):
        return ["module", value.__name__]
    if isinstance(value, type):
        return ["class", value.__module__, value.__qualname__]
    if isinstance(value, types.FunctionType):
        coroutine = inspect.iscoroutinefunction(value)
        return ["function", coroutine, value.__module__, value.__qualname__]
    if callable(value):
        return ["callable", inspect.iscoroutinefunction(value), type(value).__qualname__]
    text = _normalise(repr(value))
    if " at 0x" in text:
        return ["instance", type(value).__module__, type(value).__qualname__]
    return ["value", type(value).__qualname__, text]


def names(namespace: dict[str, Any]) -> dict[str, Any]:
    """Every name of ``namespace``, described (volatile dunders by name only)."""
    return {
        key: ["dunder"] if key in VOLATILE else describe(value) for key, value in namespace.items()
    }


def failure(error: BaseException) -> list[Any]:
    """An exception as the tests compare it: type, ``name`` (import errors), message."""
    return [type(error).__qualname__, getattr(error, "name", None), _normalise(str(error))]


def snapshot(namespace: dict[str, Any]) -> str:
    """The entry's namespace so far (its own names; snapshots left out)."""
    return json.dumps(
        sorted(
            [key, describe(value)]
            for key, value in namespace.items()
            if not (key.startswith("__") and key.endswith("__")) and not key.startswith("_snap")
        )
    )


class Watcher:
    """``builtins.__import__``: records the entry's import calls, refuses hidden modules."""

    def __init__(self, entry: str, hide: list[str]) -> None:
        self.original = builtins.__import__
        self.entry = entry
        self.hide = frozenset(hide)
        self.calls: list[list[Any]] = []
        self.namespace: dict[str, Any] | None = None

    def __call__(
        self,
        name: str,
        globals: dict[str, Any] | None = None,
        locals: Any = None,
        fromlist: Any = (),
        level: int = 0,
    ) -> Any:
        if globals is not None and globals.get("__name__") == self.entry:
            self.namespace = globals
            if sys._getframe(1).f_code.co_name not in BLOCK_FUNCTIONS:
                self.calls.append([name, list(fromlist or ()), level])
        if self.hide:
            absolute = _absolute(name, globals, level)
            wanted = {absolute, *(f"{absolute}.{item}" for item in fromlist or ())}
            hidden = sorted(wanted & self.hide)
            if hidden:
                raise ModuleNotFoundError(f"No module named {hidden[0]!r}", name=hidden[0])
        return self.original(name, globals, locals, fromlist, level)


def _absolute(name: str, globals: dict[str, Any] | None, level: int) -> str:
    # importlib._bootstrap._resolve_name, without its checks.
    if not level:
        return name
    package = (globals or {}).get("__package__") or ""
    base = package.rsplit(".", level - 1)[0] if level > 1 else package
    return f"{base}.{name}" if name else base


def run_script(path: str) -> dict[str, Any]:
    """Run the file ``path`` as ``__main__``, as ``python path`` does."""
    from importlib.machinery import SourceFileLoader

    main = sys.modules["__main__"]
    sys.argv = [path]
    sys.path[0] = os.path.dirname(os.path.realpath(path))
    with open(path, "rb") as file:
        code = compile(file.read(), path, "exec")
    main.__file__ = path
    main.__cached__ = None
    main.__loader__ = SourceFileLoader("__main__", path)
    exec(code, main.__dict__)
    return main.__dict__


def probe(module: types.ModuleType, module_name: str, kind: str, name: str) -> Any:
    """What other code sees of the entry: one probe, its result described."""
    try:
        if kind == "hasattr":
            return hasattr(module, name)
        if kind == "getattr":
            return describe(getattr(module, name, None))
        if kind == "star":
            namespace: dict[str, Any] = {}
            exec(f"from {module_name} import *", namespace)
            del namespace["__builtins__"]
            return names(namespace)
        result = getattr(module, name)()
        if inspect.iscoroutine(result):
            import asyncio

            return ["coroutine", describe(asyncio.run(result))]
        return describe(result)
    except Exception as error:
        return ["raised", *failure(error)]


def main() -> None:
    """Run the entry that ``sys.argv[1]`` describes; print the JSON report."""
    spec = json.loads(sys.argv[1])
    kind, target = spec["kind"], spec["target"]
    entry = target if kind == "package" else "__main__"
    watcher = Watcher(entry, spec.get("hide", []))
    builtins.__import__ = watcher
    error = None
    namespace: dict[str, Any] | None = None
    try:
        if kind == "package":
            namespace = vars(importlib.import_module(target))
        else:
            namespace = run_script(target)
    except BaseException as raised:  # any failure is compared, SystemExit included
        error = failure(raised)
        namespace = watcher.namespace
    trace = builtins.__dict__.setdefault(TRACE_KEY, [])
    before = names(namespace or {})
    trace_before = [list(item) for item in trace]
    calls = list(watcher.calls)
    results = []
    if error is None:
        module = sys.modules[entry]
        results = [probe(module, entry, what, name) for what, name in spec.get("probes", [])]
        for name in spec.get("touch", []):
            # A name it no longer has shows in `after`.
            with contextlib.suppress(Exception):
                getattr(module, name)
        for name in spec.get("call", []):
            # A handler stand-in loads the runtime on its first call.
            probe(module, entry, "call", name)
    builtins.__import__ = watcher.original
    report = {
        "error": error,
        "before": before,
        "trace": trace_before,
        "calls": calls,
        "probes": results,
        "after": names(namespace or {}),
        "trace_after": trace,
        "calls_after": watcher.calls,
    }
    sys.stdout.write(json.dumps(report) + "\n")
