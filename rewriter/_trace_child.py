"""The subprocess side of ``rewriter --trace``: import one entry, record its start-up.

``rewriter.trace`` runs this file by path in a fresh interpreter, never imports it::

    python _trace_child.py REPORT MODE TARGET ROOT [HINT...]

MODE ``module`` imports the dotted name TARGET with the directory ROOT first
on ``sys.path``, as ``gunicorn pkg.wsgi:application`` does; MODE ``path``
executes the file TARGET as a module named ``__rewriter_trace__`` with its
directory first on ``sys.path``, as mod_wsgi and ``runpy.run_path`` do. The
entry is not run as ``__main__``, so nothing is served. Each HINT names the
init for blocks that emit no audit events (entries rewritten before them):
``spec=SPEC``, ``module=NAME``, ``file=PATH`` and ``callable=NAME``.

What is recorded, with times in seconds from the start of the import:

- every module the import system executes (the loaders' ``create_module`` and
  ``exec_module`` are wrapped at class level, so plain import statements,
  ``importlib.import_module`` and files loaded by path all pass through),
  with the code that imported it: the innermost frame outside importlib,
  this file and the rewriter block's ``_rewriter_*`` helpers;
- the audit events of the init block (``rewriter.init``, ``rewriter.init.done``,
  ``rewriter.preload``, ``rewriter.preload.done``); without them, the load of
  the init module named by the hints (and the call of its callable);
- every warning shown (not those that a ``catch_warnings(record=True)``
  swallows), records of the ``rewriter`` logger at WARNING or above (the
  block logs a failed init there), and environment variables set or unset
  (``os.putenv``/``os.unsetenv`` audit events; names only, never values).

When the import ends, or when SIGTERM arrives (the parent's time limit), the
report is written to REPORT as one Python literal, read back with
``ast.literal_eval``; ``Recorder.report`` gives its shape. This file imports
nothing that the interpreter has not loaded before running it (sys, os,
_thread, _signal, time, warnings), so every module the entry imports is
recorded as the entry's. It stays valid Python 3.8 for ``--python``.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # signal itself is not loaded at start-up
import _thread
import os
import sys
import time
import warnings

# typing is not loaded at start-up: importing it here would hide the entry's own import.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType, ModuleType, TracebackType
    from typing import Any

_HERE = os.path.abspath(__file__)
_PATH_ENTRY_NAME = "__rewriter_trace__"
_BOOTSTRAP = sys.modules["_frozen_importlib"]
_EXTERNAL = sys.modules["_frozen_importlib_external"]
_EXIT_TIMEOUT = 124
_MAX_FRAMES = 12


def main(argv: list[str]) -> None:
    """Import the entry that ``argv`` (after the program name) names; write the report; exit."""
    report_path, mode, target, root, *hint_items = argv
    hints = dict(item.split("=", 1) for item in hint_items)
    _own_directory_off_sys_path()
    del sys.argv[1:]  # the entry sees a bare command line, not the tracer's
    sys.dont_write_bytecode = True  # tracing writes nothing into the build
    entry_name = target if mode == "module" else _PATH_ENTRY_NAME
    recorder = Recorder(entry_name, hints)

    def on_timeout(signum: int, frame: FrameType | None) -> None:
        recorder.finish(report_path, error=None, timeout=_stack(frame))
        _exit(_EXIT_TIMEOUT)

    _signal.signal(_signal.SIGTERM, on_timeout)
    sys.path.insert(0, root if mode == "module" else os.path.dirname(target))
    recorder.install()
    error = None
    try:
        if mode == "module":
            __import__(target)
        else:
            _execute_file(target)
    except BaseException as raised:  # SystemExit too: a server would not start either
        error = describe(raised)
    recorder.finish(report_path, error=error, timeout=None)
    _exit(0)


class Recorder:
    """Everything the entry's import does that the report needs, kept as plain tuples."""

    def __init__(self, entry_name: str, hints: dict[str, str]) -> None:
        self.entry_name = entry_name
        self.hints = hints
        self.init_file = _same_file_key(hints["file"]) if "file" in hints else None
        self.started = time.perf_counter()
        self.main_thread = _thread.get_ident()
        # (name, file, importer, importer_file, importer_line, start, end, error, main_thread)
        self.loads: list[list[Any]] = []
        # (kind, time, spec or integration name, error, source): kind is "init",
        # "init.done", "preload" or "preload.done"; source "audit" or "import"
        self.events: list[tuple[Any, ...]] = []
        self.warnings: list[tuple[Any, ...]] = []  # (category, message, file, line, time)
        self.logs: list[tuple[Any, ...]] = []  # (logger, level, message, error, time)
        self.environment: list[tuple[Any, ...]] = []  # (name, time, by_entry, entry_line)
        self._stacks: dict[int, list[list[Any]]] = {}
        self._created: dict[str, float] = {}
        self._audited = False  # the block emits audit events: no fallback
        self._fallback: str | None = None  # None, "open" or "done"
        self._recording = False
        self._restore: list[Callable[[], None]] = []

    def now(self) -> float:
        """Seconds since recording started."""
        return time.perf_counter() - self.started

    def install(self) -> None:
        """Start recording (audit hooks cannot be removed: ``finish`` mutes this one)."""
        self._recording = True
        self.started = time.perf_counter()
        sys.addaudithook(self._audit)
        loaders = {
            _EXTERNAL._LoaderBasics,
            _EXTERNAL.ExtensionFileLoader,
            _BOOTSTRAP.BuiltinImporter,
            _BOOTSTRAP.FrozenImporter,
            *(
                getattr(_EXTERNAL, name)
                for name in ("NamespaceLoader", "_NamespaceLoader")
                if hasattr(_EXTERNAL, name)
            ),
        }
        for loader in loaders:
            self._wrap(loader, "exec_module", self._exec_module)
            self._wrap(loader, "create_module", self._create_module)
        original_show = warnings._showwarnmsg  # type: ignore[attr-defined]
        original_impl = warnings._showwarnmsg_impl  # type: ignore[attr-defined]

        def show(message: warnings.WarningMessage) -> None:
            # catch_warnings(record=True) swaps _showwarnmsg_impl: such a
            # warning is handled by the code that catches it, never shown.
            if self._recording and warnings._showwarnmsg_impl is original_impl:  # type: ignore[attr-defined]
                self._warning(message)
            original_show(message)

        warnings._showwarnmsg = show  # type: ignore[attr-defined]
        self._restore.append(lambda: setattr(warnings, "_showwarnmsg", original_show))
        if "logging" in sys.modules:
            self._watch_logging()

    def finish(self, path: str, *, error: dict[str, Any] | None, timeout: list[Any] | None) -> None:
        """Stop recording and write the report to ``path``."""
        end = self.now()
        self._recording = False
        for restore in reversed(self._restore):
            restore()
        self._restore.clear()
        self._close_fallback(end, None)
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(repr(self.report(end, error, timeout)))

    def report(
        self, end: float, error: dict[str, Any] | None, timeout: list[Any] | None
    ) -> dict[str, Any]:
        """The report: ``entry`` (its module name), ``end`` (seconds), ``error``
        (what the import raised, see ``describe``), ``timeout`` (the stack when
        the time limit struck, innermost last) and the lists ``loads``,
        ``events``, ``warnings``, ``logs`` and ``environment`` (tuples, fields as
        listed in ``__init__``)."""
        return {
            "entry": self.entry_name,
            "end": end,
            "error": error,
            "timeout": timeout,
            "loads": [tuple(load) for load in self.loads],
            "events": self.events,
            "warnings": self.warnings,
            "logs": self.logs,
            "environment": self.environment,
        }

    # Loading modules.

    def _wrap(self, owner: type, name: str, wrapper: Callable[..., Any]) -> None:
        original = owner.__dict__.get(name)
        if original is None:
            return
        # BuiltinImporter's methods are static from Python 3.10, class methods before.
        method = type(original) if isinstance(original, (staticmethod, classmethod)) else None
        function = original.__func__ if method else original

        def wrapped(*args: Any) -> Any:
            return wrapper(function, args)

        setattr(owner, name, method(wrapped) if method else wrapped)
        self._restore.append(lambda: setattr(owner, name, original))

    def _create_module(self, create: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        # Extension modules with single-phase init run their init here, so
        # their time starts here.
        started = self.now()
        try:
            return create(*args)
        finally:
            if self._recording:
                self._created[args[-1].name] = started

    def _exec_module(self, execute: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        if not self._recording:
            return execute(*args)
        module: ModuleType = args[-1]
        name = str(getattr(module, "__name__", "?"))
        started = self._created.pop(name, None)
        load = [
            name,
            getattr(module, "__file__", None),
            *_importer(sys._getframe(2)),
            self.now() if started is None else started,
            None,
            None,
            _thread.get_ident() == self.main_thread,
        ]
        self.loads.append(load)
        stack = self._stacks.setdefault(_thread.get_ident(), [])
        stack.append(load)
        is_init = self._fallback is None and not self._audited and self._is_init(load)
        if is_init:
            self._fallback = "open"
            self.events.append(("init", load[5], self.hints.get("spec", ""), None, "import"))
        failure = None
        try:
            return execute(*args)
        except BaseException as error:
            failure = error
            load[7] = _qualified_name(type(error))
            raise
        finally:
            load[6] = self.now()
            stack.pop()
            if is_init:
                self._init_module_loaded(module, failure)
            if name == "logging" and failure is None:
                self._watch_logging()

    def _is_init(self, load: list[Any]) -> bool:
        if load[0] == self.hints.get("module"):
            return True
        return (
            self.init_file is not None
            and isinstance(load[1], str)
            and _same_file_key(load[1]) == self.init_file
        )

    # Init in blocks without audit events.

    def _init_module_loaded(self, module: ModuleType, failure: BaseException | None) -> None:
        attribute = self.hints.get("callable")
        function = getattr(module, attribute, None) if attribute and failure is None else None
        if function is None or not callable(function):
            self._close_fallback(self.now(), failure)
            return

        def traced(*args: Any, **kwargs: Any) -> Any:
            # The block calls the init callable right after the import.
            error = None
            try:
                return function(*args, **kwargs)
            except BaseException as raised:
                error = raised
                raise
            finally:
                self._close_fallback(self.now(), error)

        setattr(module, str(attribute), traced)

    def _close_fallback(self, end: float, failure: BaseException | None) -> None:
        if self._fallback == "open":
            self._fallback = "done"
            error = None if failure is None else describe(failure)
            self.events.append(("init.done", end, self.hints.get("spec", ""), error, "import"))

    # Audit events: the block's, and environment changes.

    def _audit(self, event: str, args: tuple[Any, ...]) -> None:
        if not self._recording:
            return
        if event.startswith("rewriter."):
            self._block_event(event[len("rewriter.") :], args)
        elif event in ("os.putenv", "os.unsetenv"):
            self._environment_change(os.fsdecode(args[0]))

    def _block_event(self, kind: str, args: tuple[Any, ...]) -> None:
        if kind not in ("init", "init.done", "preload", "preload.done"):
            return
        self._audited = True
        label = str(args[0]) if args else None
        error = args[1] if kind.endswith(".done") and len(args) > 1 else None
        described = describe(error) if isinstance(error, BaseException) else None
        self.events.append((kind, self.now(), label, described, "audit"))

    def _environment_change(self, name: str) -> None:
        stack = self._stacks.get(_thread.get_ident()) or [[None]]
        by_entry = stack[-1][0] == self.entry_name
        line = None
        frame: FrameType | None = sys._getframe(2)
        while by_entry and frame is not None:
            if frame.f_globals.get("__name__") == self.entry_name:
                line = frame.f_lineno
                break
            frame = frame.f_back
        self.environment.append((name, self.now(), by_entry, line))

    # Warnings and log records.

    def _warning(self, message: warnings.WarningMessage) -> None:
        self.warnings.append(
            (
                _qualified_name(message.category),
                str(message.message),
                str(message.filename),
                message.lineno,
                self.now(),
            )
        )

    def _watch_logging(self) -> None:
        logging = sys.modules["logging"]
        recorder = self

        class Capture(logging.Handler):  # type: ignore[name-defined,misc]
            """Keeps the records of the block's logger (a failed init is logged there)."""

            def emit(self, record: Any) -> None:
                if not recorder._recording:
                    return
                error = record.exc_info[1] if record.exc_info else None
                recorder.logs.append(
                    (
                        record.name,
                        record.levelname,
                        str(record.getMessage()),
                        None if error is None else describe(error),
                        recorder.now(),
                    )
                )

        logger = logging.getLogger("rewriter")
        handler = Capture(logging.WARNING)
        logger.addHandler(handler)
        self._restore.append(lambda: logger.removeHandler(handler))


def describe(error: BaseException) -> dict[str, Any]:
    """``{"type", "message", "notes", "traceback"}`` of an exception; the traceback
    lists ``(file, line, function)`` outside importlib and this file, innermost last."""
    try:
        message = str(error)
    except Exception:  # a broken __str__ must not lose the report
        message = "<unprintable>"
    frames = []
    traceback: TracebackType | None = error.__traceback__
    while traceback is not None:
        code = traceback.tb_frame.f_code
        if not _is_machinery(code.co_filename):
            frames.append((code.co_filename, traceback.tb_lineno, code.co_name))
        traceback = traceback.tb_next
    return {
        "type": _qualified_name(type(error)),
        "message": message,
        "notes": [str(note) for note in getattr(error, "__notes__", ())],
        "traceback": frames[-_MAX_FRAMES:],
    }


def _importer(frame: FrameType | None) -> tuple[str | None, str | None, int | None]:
    """The module, file and line of the code that imports: the innermost frame
    outside the import machinery and the block's helpers (they run in the
    entry: the frame that called them is the import site)."""
    while frame is not None:
        code = frame.f_code
        if not _is_machinery(code.co_filename) and not code.co_name.startswith("_rewriter_"):
            return str(frame.f_globals.get("__name__")), code.co_filename, frame.f_lineno
        frame = frame.f_back
    return None, None, None  # this file: the server's own import of the entry


def _is_machinery(filename: str) -> bool:
    return filename.startswith("<frozen ") or filename == _HERE or filename.startswith(_IMPORTLIB)


def _importlib_directory() -> str:
    module = sys.modules.get("importlib")
    location = getattr(module, "__file__", None)
    return os.path.dirname(location) + os.sep if location else "<frozen importlib"


_IMPORTLIB = _importlib_directory()


def _stack(frame: FrameType | None) -> list[tuple[str, int, str]]:
    frames = []
    while frame is not None:
        code = frame.f_code
        if not _is_machinery(code.co_filename):
            frames.append((code.co_filename, frame.f_lineno, code.co_name))
        frame = frame.f_back
    return frames[:_MAX_FRAMES][::-1]


def _qualified_name(cls: type) -> str:
    module = getattr(cls, "__module__", "builtins")
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _same_file_key(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


def _own_directory_off_sys_path() -> None:
    # Python puts a script's directory first on sys.path; this one is the
    # rewriter package, whose modules (config, files, report...) would shadow
    # the application's.
    here = _same_file_key(os.path.dirname(_HERE))
    sys.path[:] = [entry for entry in sys.path if _same_file_key(entry or ".") != here]


def _execute_file(path: str) -> None:
    loader = _EXTERNAL.SourceFileLoader(_PATH_ENTRY_NAME, path)
    spec = _EXTERNAL.spec_from_file_location(_PATH_ENTRY_NAME, path, loader=loader)
    module = _BOOTSTRAP.module_from_spec(spec)
    sys.modules[_PATH_ENTRY_NAME] = module
    loader.exec_module(module)


def _exit(code: int) -> None:
    # No atexit handlers, no waiting for the threads the application started:
    # nothing is served, and what the import did is already recorded.
    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105 -- contextlib may not be loaded, and must not be loaded here
            stream.flush()
        except Exception:  # a closed or replaced stream
            pass
    os._exit(code)


if __name__ == "__main__":
    main(sys.argv[1:])
