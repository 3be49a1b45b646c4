"""``rewriter --trace``: import each entry as a server would and judge what really ran.

``--check`` reads the entry; this runs it. ``trace_entry`` starts a fresh
interpreter on ``rewriter/_trace_child.py`` (which imports the entry, serves
nothing, and records every module load with the code that made it, the init
block's audit events, warnings, the block's log records and environment
changes), waits up to the time limit, and judges the child's report with the
entry's own settings:

- a loaded module is runtime when the module name resolves, by the rewrite's
  own rules (``ModuleLocator``), to the very file that was loaded, and
  ``RuntimeClassifier`` counts that file as runtime; it is an instrumented
  library when its top-level package is in ``Settings.instrumented``;
- init runs between the block's ``rewriter.init`` and ``rewriter.init.done``
  audit events; blocks written before those events existed are timed by the
  import of the init module (and the call of its callable), and their
  swallowed failures are read from the ``rewriter`` logger.

The guarantee is broken at run time (a finding) when a runtime module is
loaded before init, init does not run, init raises or warns (even when the
block logs the error and carries on), a warning says that the start-up order
is wrong (gevent's ``MonkeyPatchWarning``), or the entry sets an environment
variable after init (init could not see it: Django's settings module, a DSN
from ``.env``). An entry whose import raises, crashes the interpreter or
outlasts the time limit is a failure.
"""

from __future__ import annotations

import ast
import contextlib
import keyword
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rewriter.config import Settings
from rewriter.context import Context, init_location
from rewriter.errors import Diagnostic, RewriteError
from rewriter.files import DiskTree, require_regular_file

DEFAULT_TIMEOUT = 30.0
"""Seconds an entry's import may take before the child is stopped."""

Phase = Literal["before init", "init", "after init", "no init"]
Kind = Literal["runtime", "instrumented", "other"]
Status = Literal["ok", "broken", "failed"]

_CHILD = Path(__file__).with_name("_trace_child.py")
_GRACE = 3.0  # seconds between SIGTERM (the child writes what it has) and SIGKILL
# Warnings that say the start-up order is wrong wherever they are raised, as
# (package, class name): gevent patches after something (the init, typically)
# imported ssl. The class moves between gevent's modules across versions.
_ORDER_WARNINGS = (("gevent", "MonkeyPatchWarning"),)


@dataclass(frozen=True)
class TraceOptions:
    """How ``trace_entry`` imports an entry.

    ``python`` is the interpreter to run; ``by_path`` loads the entry by file
    path (mod_wsgi, ``runpy.run_path``) instead of as a module of its package;
    ``environment`` is the child's whole environment (None: this process's);
    ``timeout`` is in seconds.
    """

    python: str = sys.executable
    by_path: bool = False
    environment: Mapping[str, str] | None = None
    timeout: float = DEFAULT_TIMEOUT


@dataclass(frozen=True)
class Load:
    """A module that the entry's start-up imported for the first time.

    ``importer`` is the module whose code imported it, ``importer_file`` and
    ``line`` where (all None when the server's import of the entry loaded it:
    the entry and its enclosing packages). Times are milliseconds from the
    start of the entry's import; ``ms`` (inclusive of what it imported) is
    None when the trace ended during its load. ``error`` names the exception
    its execution raised, if any.
    """

    module: str
    file: str | None
    importer: str | None
    importer_file: str | None
    line: int | None
    start_ms: float
    ms: float | None
    error: str | None
    phase: Phase
    kind: Kind


@dataclass(frozen=True)
class Step:
    """One link of an import chain: ``module`` (in ``file``) imports the next at ``line``."""

    module: str
    file: str | None
    line: int | None


@dataclass(frozen=True)
class EarlyImport:
    """A runtime module or instrumented library loaded before init.

    ``chain`` runs from the outermost importer the trace saw to the module
    itself (whose step has no line).
    """

    load: Load
    chain: tuple[Step, ...]


@dataclass(frozen=True)
class Problem:
    """An exception: ``type`` qualified by module, ``file``/``line`` where it was raised
    (the innermost frame in the entry's tree when there is one); ``logged`` when the
    init block logged it and let the application start."""

    type: str
    message: str
    file: str | None
    line: int | None
    notes: tuple[str, ...] = ()
    logged: bool = False


@dataclass(frozen=True)
class Shown:
    """A warning that was shown (not swallowed by ``catch_warnings``), and when."""

    category: str
    message: str
    file: str
    line: int
    at_ms: float
    phase: Phase


@dataclass(frozen=True)
class InitRun:
    """The init's run: ``observed`` by the block's audit events or, for blocks
    without them, by the import of the init module. ``start_ms`` is None when
    the block failed before the init started (the only trace is the error it
    logged); ``ms`` is None when the init never finished."""

    spec: str | None
    observed: Literal["audit", "import"]
    start_ms: float | None
    ms: float | None
    errors: tuple[Problem, ...]


@dataclass(frozen=True)
class Preloaded:
    """One integration that a preload block started (``rewriter.preload`` events)."""

    name: str
    start_ms: float
    ms: float | None
    error: Problem | None


@dataclass(frozen=True)
class EnvironmentChange:
    """An environment variable that the entry's own code set or unset after init."""

    name: str
    at_ms: float
    line: int | None


@dataclass(frozen=True)
class EntryTrace:
    """What importing one entry did, judged.

    ``how`` is ``"module"`` (``target`` is the dotted name, ``root`` the
    directory put first on sys.path), ``"path"`` (``target`` is the file) or
    ``"not imported"`` (the settings are wrong; ``target`` and ``root`` are empty).
    ``status`` is ``"failed"`` when ``error`` is set (the entry could not be
    traced: its import raised, the interpreter died, the time limit struck,
    or its settings are wrong), ``"broken"`` when there are ``findings``,
    else ``"ok"``. ``startup_ms`` is the whole import of the entry.
    """

    path: str
    how: Literal["module", "path", "not imported"]
    target: str
    root: str
    status: Status
    init_expected: bool = True
    """False in preload mode without an init spec: the application initialises itself."""
    startup_ms: float | None = None
    init: InitRun | None = None
    preloads: tuple[Preloaded, ...] = ()
    early: tuple[EarlyImport, ...] = ()
    during_init: tuple[EarlyImport, ...] = ()
    """Runtime modules that code in the entry's tree (the init module or a
    module it imports) loaded while the init ran: bound before anything was
    patched. A library's own import (Django's settings, loaded by
    ``DjangoInstrumentor``) is not one."""
    deferred: tuple[Load, ...] = ()
    environment: tuple[EnvironmentChange, ...] = ()
    warnings: tuple[Shown, ...] = ()
    loads: tuple[Load, ...] = ()
    error: Diagnostic | None = None
    findings: tuple[Diagnostic, ...] = ()


def trace_entries(
    entries: Iterable[Path], settings: Settings, options: TraceOptions
) -> Iterator[EntryTrace]:
    """``trace_entry`` for each entry, one at a time (parallel imports would skew the times)."""
    for entry in entries:
        yield trace_entry(entry, settings, options)


def trace_entry(entry: Path, settings: Settings, options: TraceOptions) -> EntryTrace:
    """Import ``entry`` in a fresh interpreter and judge its start-up.

    Never raises for a bad entry: a failure is an ``EntryTrace`` with
    ``status == "failed"``.
    """
    path = str(entry)
    try:
        require_regular_file(entry)
        tree = DiskTree(entry.parent, settings.max_size)
        # What the init does at run time is what the trace is there to see.
        context = Context.create(settings, path, tree, check_init=False)
    except RewriteError as error:
        return EntryTrace(path, "not imported", "", "", "failed", error=error.diagnostic)
    how, target, root = _import_plan(entry, context.entry.package, by_path=options.by_path)
    hints = _init_hints(context, entry)
    raw, failure = _run_child([how, target, root, *hints], options)
    if raw is None:
        return EntryTrace(path, how, target, root, "failed", error=failure)
    judge = _Judge(raw, entry, context, settings, options)
    return judge.trace(path, how, target, root, failure)


def _import_plan(
    entry: Path, package: tuple[str, ...], *, by_path: bool
) -> tuple[Literal["module", "path"], str, str]:
    """How the child imports the entry: as a module of its package (the name
    and the sys.path root), or by path when asked or when its file name is no
    module name."""
    absolute = Path(os.path.abspath(entry))
    stem = absolute.name.removesuffix(".py")
    if by_path or absolute.suffix != ".py" or not stem.isidentifier() or keyword.iskeyword(stem):
        return "path", str(absolute), str(absolute.parent)
    root = absolute.parent
    for _ in package:
        root = root.parent
    return "module", ".".join((*package, stem)), str(root)


def _init_hints(context: Context, entry: Path) -> list[str]:
    """What the child needs to see init in blocks that emit no audit events."""
    init = context.init
    if init is None:
        return []
    hints = [f"spec={init}"]
    if init.kind != "file":
        hints.append(f"module={init.target}")
    if init.attribute:
        hints.append(f"callable={init.attribute}")
    relpath = init_location(init, context.locator)
    if relpath is not None and not relpath.endswith("/"):
        hints.append(f"file={os.path.abspath(entry.parent / relpath)}")
    return hints


def _run_child(
    arguments: list[str], options: TraceOptions
) -> tuple[dict[str, Any] | None, Diagnostic | None]:
    """Run the child; return its report (None if it wrote none) and why it failed, if it did."""
    environment = dict(os.environ if options.environment is None else options.environment)
    with tempfile.TemporaryDirectory(prefix="rewriter-trace-") as directory:
        report_path = os.path.join(directory, "report")
        command = [options.python, str(_CHILD), report_path, *arguments]
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=environment,
                start_new_session=True,
            )
        except OSError as error:
            message = f"cannot run {options.python}: {error.strerror or error}"
            return None, Diagnostic(message)
        timed_out = False
        try:
            _, stderr = process.communicate(timeout=options.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _signal_group(process, signal.SIGTERM)
            try:
                _, stderr = process.communicate(timeout=_GRACE)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                _, stderr = process.communicate()
        finally:
            # Whatever the application started in its session goes with it.
            _signal_group(process, signal.SIGKILL)
        raw = _read_report(report_path)
    if timed_out:
        return raw, Diagnostic(f"timed out after {options.timeout:g} s")
    if raw is None:
        how = _exit_description(process.returncode)
        last = stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        detail = f": {last[0].strip()}" if last else ""
        return None, Diagnostic(f"the interpreter {how} before reporting{detail}")
    return raw, None


def _signal_group(process: subprocess.Popen[bytes], number: int) -> None:
    with contextlib.suppress(OSError):
        if hasattr(os, "killpg"):
            os.killpg(process.pid, number)
        elif process.poll() is None:
            process.kill()


def _read_report(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as stream:
            raw = ast.literal_eval(stream.read())
    except (OSError, ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return raw if isinstance(raw, dict) else None


def _exit_description(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


class _Judge:
    """Turns the child's raw report into an ``EntryTrace``."""

    def __init__(
        self,
        raw: dict[str, Any],
        entry: Path,
        context: Context,
        settings: Settings,
        options: TraceOptions,
    ) -> None:
        self.raw = raw
        self.entry = entry
        self.directory = Path(os.path.abspath(entry.parent))
        self.context = context
        self.settings = settings
        self.options = options
        self.entry_module = str(raw.get("entry"))
        logged = [self._problem(error, logged=True) for *_, error, _ in self._logs()]
        self.preloads = self._preloads(logged)
        self.init = self._init_run(logged)
        self.window: tuple[float, float | None] | None = None
        if self.init is not None and self.init.start_ms is not None:
            start, ms = self.init.start_ms, self.init.ms
            self.window = (start, None if ms is None else start + ms)
        self.loads = tuple(self._load(row) for row in raw.get("loads", ()))
        self.by_module = {load.module: load for load in self.loads}

    def trace(
        self,
        path: str,
        how: Literal["module", "path"],
        target: str,
        root: str,
        failure: Diagnostic | None,
    ) -> EntryTrace:
        error = self._failure(failure) if failure else self._import_error()
        if error is None and how == "module" and not self._entry_loaded(target):
            error = Diagnostic(
                f"the name {target} was already taken when the server imported it (a module "
                "the interpreter loads at start-up?), so the entry did not run; use --by-path"
            )
        early = self._early()
        during_init = self._during_init()
        environment = self._environment()
        warnings = tuple(self._shown(row) for row in self.raw.get("warnings", ()))
        findings = [
            *self._early_findings(early, "before init"),
            *self._early_findings(during_init, "during init"),
            # An import that did not finish may yet have run init: say only why it failed.
            *(self._init_findings() if error is None or self.init else ()),
            *self._warning_findings(warnings),
            *(
                Diagnostic(
                    f"the entry sets {change.name} after init, so init did not see it",
                    change.line or 1,
                )
                for change in environment
            ),
        ]
        status: Status = "failed" if error else "broken" if findings else "ok"
        end = self.raw.get("end")
        return EntryTrace(
            path,
            how,
            target,
            root,
            status,
            init_expected=self._init_expected(),
            startup_ms=_ms(end) if error is None and isinstance(end, float) else None,
            init=self.init,
            preloads=self.preloads,
            early=early,
            during_init=during_init,
            deferred=tuple(
                load
                for load in self.loads
                if load.phase == "after init"
                and load.kind == "runtime"
                and load.importer == self.entry_module
            ),
            environment=environment,
            warnings=warnings,
            loads=self.loads,
            error=error,
            findings=tuple(findings),
        )

    def _entry_loaded(self, module: str) -> bool:
        load = self.by_module.get(module)
        return load is not None and load.file is not None and _same_file(self.entry, load.file)

    # The init and the preloaded integrations.

    def _runs(self, start: str, done: str) -> list[tuple[str, float, float | None, Any, str]]:
        """(label, start, end, error, source) of each run, from its pair of events."""
        opened: dict[str, tuple[float, str]] = {}
        runs: list[tuple[str, float, float | None, Any, str]] = []
        for kind, time, label, error, source in self.raw.get("events", ()):
            if kind == start:
                opened.setdefault(str(label or ""), (time, source))
            elif kind == done and str(label or "") in opened:
                started, how = opened.pop(str(label or ""))
                runs.append((str(label or ""), started, time, error, how))
        runs.extend((label, started, None, None, how) for label, (started, how) in opened.items())
        return sorted(runs, key=lambda run: run[1])

    def _init_run(self, logged: list[Problem]) -> InitRun | None:
        """The first init run; ``logged`` are the block's log records not yet
        matched to a preloaded integration: they are the init's errors."""
        runs = self._runs("init", "init.done")
        if not runs:
            if not logged:
                return None
            # The block failed before the init module loaded (it is not
            # importable): the log record is all there is.
            return InitRun(self._spec(), "import", None, None, tuple(logged))
        label, start, end, error, source = runs[0]
        errors = [] if error is None else [_claim(self._problem(error), logged)]
        observed: Literal["audit", "import"] = "audit" if source == "audit" else "import"
        ms = None if end is None else _ms(end - start)
        return InitRun(label or self._spec(), observed, _ms(start), ms, (*errors, *logged))

    def _init_expected(self) -> bool:
        return not (self.settings.mode == "preload" and self.context.init is None)

    def _spec(self) -> str | None:
        return None if self.context.init is None else str(self.context.init)

    def _logs(self) -> Iterator[tuple[str, str, str, Any, float]]:
        # The block logs to "rewriter" only when something failed.
        for name, level, message, error, time in self.raw.get("logs", ()):
            if level in ("WARNING", "ERROR", "CRITICAL") and error is not None:
                yield name, level, message, error, time

    def _preloads(self, logged: list[Problem]) -> tuple[Preloaded, ...]:
        """The integrations a preload block started; their logged errors leave ``logged``."""
        return tuple(
            Preloaded(
                label,
                _ms(start),
                None if end is None else _ms(end - start),
                None if error is None else _claim(self._problem(error), logged),
            )
            for label, start, end, error, _ in self._runs("preload", "preload.done")
        )

    def _init_findings(self) -> Iterator[Diagnostic]:
        for preload in self.preloads:
            if preload.error is not None:
                yield self._problem_finding(f"preload of {preload.name} raised", preload.error)
        if self.init is not None:
            for problem in self.init.errors:
                yield self._problem_finding("init raised", problem)
        elif self._init_expected():
            disabled = (self.options.environment or os.environ).get("REWRITER_DISABLE_INIT")
            reason = f" (REWRITER_DISABLE_INIT={disabled})" if disabled else ""
            yield Diagnostic(
                "init did not run: neither the block's rewriter.init audit event nor an "
                f"import of the init module {self._spec()} was seen{reason}"
            )

    def _problem_finding(self, what: str, problem: Problem) -> Diagnostic:
        message = f"{what} {problem.type}: {problem.message}"
        if problem.logged:
            message += "; the init block logged it and the application started without it"
        return self._diagnostic(message, problem.file, problem.line)

    # Modules.

    def _load(self, row: tuple[Any, ...]) -> Load:
        name, file, importer, importer_file, line, start, end, error, _ = row
        return Load(
            str(name),
            file if isinstance(file, str) else None,
            importer,
            importer_file,
            line,
            _ms(start),
            None if end is None else _ms(end - start),
            error,
            self._phase(_ms(start)),
            self._kind(str(name), file if isinstance(file, str) else None),
        )

    def _phase(self, at_ms: float) -> Phase:
        if self.window is None:
            return "no init"
        start, end = self.window
        if at_ms < start:
            return "before init"
        return "init" if end is None or at_ms < end else "after init"

    def _kind(self, module: str, file: str | None) -> Kind:
        if file is not None and self._is_runtime(module, file):
            return "runtime"
        return "other" if self._library(module) is None else "instrumented"

    def _library(self, module: str) -> str | None:
        """The instrumented library (``Settings.instrumented``) that ``module`` belongs to."""
        for name in self.settings.instrumented:
            if module == name or module.startswith(f"{name}."):
                return name
        return None

    def _is_runtime(self, module: str, file: str) -> bool:
        # The rewrite decides by module name; so does this, and the name must
        # lead to the very file that was loaded (a virtualenv inside the tree
        # is not the application's code). Runtime files are inside the
        # entry's directory: nothing else needs resolving.
        if not self._in_tree(file):
            return False
        relpath = self.context.locator.resolve(module)
        if relpath is None or relpath.endswith("/"):
            return False
        if not _same_file(self.directory / relpath, file):
            return False
        return self.context.classifier.is_runtime_path(relpath)

    def _early(self) -> tuple[EarlyImport, ...]:
        if self.init is None:
            return ()
        early = []
        libraries: set[str] = set()
        for load in self.loads:
            if load.phase != "before init" or load.kind == "other":
                continue
            library = self._library(load.module)
            if load.kind == "instrumented" and library is not None:
                if library in libraries:
                    continue
                libraries.add(library)
            early.append(EarlyImport(load, self._chain(load)))
        return tuple(early)

    def _during_init(self) -> tuple[EarlyImport, ...]:
        return tuple(
            EarlyImport(load, self._chain(load))
            for load in self.loads
            if load.phase == "init"
            and load.kind == "runtime"
            and load.importer_file is not None
            and self._in_tree(load.importer_file)
        )

    def _chain(self, load: Load) -> tuple[Step, ...]:
        steps = [Step(load.module, load.file, None)]
        current = load
        seen = {load.module}
        while current.importer is not None and current.importer not in seen:
            seen.add(current.importer)
            steps.append(Step(current.importer, current.importer_file, current.line))
            parent = self.by_module.get(current.importer)
            if parent is None:
                break
            current = parent
        return tuple(reversed(steps))

    def _early_findings(
        self, early: tuple[EarlyImport, ...], when: Literal["before init", "during init"]
    ) -> Iterator[Diagnostic]:
        # One finding per import site: `from .chunks.app import x` loads
        # chunks/__init__.py too, and the module loaded last names the site best.
        by_site = {}
        for item in early:
            if item.load.kind == "runtime":
                by_site[(item.load.importer_file, item.load.line)] = item
        for item in by_site.values():
            chain = " -> ".join(step_text(step) for step in item.chain)
            importer = item.chain[-2] if len(item.chain) > 1 else None
            yield self._diagnostic(
                f"runtime module {item.load.module} is imported {when} ({chain})",
                importer.file if importer else None,
                importer.line if importer else None,
            )

    # Warnings, the environment, the import's own outcome.

    def _shown(self, row: tuple[Any, ...]) -> Shown:
        category, message, file, line, time = row
        return Shown(category, message, file, line, _ms(time), self._phase(_ms(time)))

    def _warning_findings(self, warnings: tuple[Shown, ...]) -> Iterator[Diagnostic]:
        for shown in warnings:
            if shown.phase == "init":
                what = "init warned"
            elif _is_order_warning(shown.category):
                what = f"warned {shown.phase}"
            else:
                continue
            message = f"{what} {shown.category}: {' '.join(shown.message.split())}"
            yield self._diagnostic(message, shown.file, shown.line)

    def _environment(self) -> tuple[EnvironmentChange, ...]:
        if self.window is None or self.window[1] is None:
            return ()
        end = self.window[1]
        changes = {}
        for name, time, by_entry, line in self.raw.get("environment", ()):
            if by_entry and _ms(time) >= end and name not in changes:
                changes[name] = EnvironmentChange(name, _ms(time), line)
        return tuple(changes.values())

    def _failure(self, failure: Diagnostic) -> Diagnostic:
        """The parent's reason (the time limit), placed where the entry's import was."""
        frames = [(file, line) for file, line, _ in self.raw.get("timeout") or ()]
        if not frames:
            return failure
        file, line = self._innermost(frames)
        where = f" while running {shown_path(file)}:{line}" if file else ""
        return self._diagnostic(f"{failure.message}{where}", file, line)

    def _import_error(self) -> Diagnostic | None:
        error = self.raw.get("error")
        if error is None:
            return None
        problem = self._problem(error)
        notes = "".join(f" ({note})" for note in problem.notes)
        return self._diagnostic(
            f"importing the entry raised {problem.type}: {problem.message}{notes}",
            problem.file,
            problem.line,
        )

    def _problem(self, error: dict[str, Any], *, logged: bool = False) -> Problem:
        file, line = self._innermost([(file, line) for file, line, _ in error.get("traceback", ())])
        return Problem(
            str(error.get("type")),
            " ".join(str(error.get("message")).split()),
            file,
            line,
            tuple(error.get("notes", ())),
            logged,
        )

    def _innermost(self, frames: list[tuple[str, int]]) -> tuple[str | None, int | None]:
        """The innermost frame in the entry's tree, else the innermost one (innermost last)."""
        inside = [frame for frame in frames if self._in_tree(frame[0])]
        found = (inside or frames)[-1:]
        return found[0] if found else (None, None)

    def _in_tree(self, file: str) -> bool:
        try:
            Path(os.path.abspath(file)).relative_to(self.directory)
        except ValueError:
            return False
        return True

    def _diagnostic(self, message: str, file: str | None, line: int | None) -> Diagnostic:
        """A diagnostic about ``file`` (None: the entry) at ``line``."""
        if file is None or _same_file(self.entry, file):
            return Diagnostic(message, line or 1)
        relpath = os.path.relpath(os.path.abspath(file), self.directory)
        return Diagnostic(message, line or 1, path=Path(relpath).as_posix())


def _claim(problem: Problem, logged: list[Problem]) -> Problem:
    """``problem`` as the block logged it, when it did (taken out of ``logged``)."""
    for record in logged:
        if (record.type, record.message) == (problem.type, problem.message):
            logged.remove(record)
            return record
    return problem


def _is_order_warning(category: str) -> bool:
    return (category.partition(".")[0], category.rpartition(".")[2]) in _ORDER_WARNINGS


def step_text(step: Step) -> str:
    """A chain link as the report shows it: ``file:line``, or the module's file last."""
    where = shown_path(step.file) if step.file else step.module
    return where if step.line is None else f"{where}:{step.line}"


def shown_path(file: str) -> str:
    """``file`` as the report shows it: relative to the current directory when inside it."""
    relative = os.path.relpath(file)
    return file if relative.startswith("..") else Path(relative).as_posix()


def _same_file(path: str | os.PathLike[str], other: str) -> bool:
    try:
        return os.path.samefile(path, other)
    except OSError:
        return False


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)
