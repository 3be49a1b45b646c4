"""How ``rewriter --trace`` reads: a text report per entry, one JSON object, the exit code.

The JSON object follows ``rewriter.json_report`` (``version`` changes when a
field is removed or changes meaning; new fields may appear)::

    {
      "version": 1,
      "tool": {"name": "rewriter", "version": "0.2.0.dev0"},
      "trace": true,
      "exit_code": 1,
      "summary": {"entries": 1, "ok": 0, "broken": 1, "failed": 0, "findings": 1},
      "entries": [
        {
          "path": "build/server/index.py",
          "status": "broken",            # "ok", "broken" or "failed"
          "import": {"how": "module", "target": "build.server.index", "root": "/abs/dir"},
                                         # "how": "module" or "path"; null: not imported
          "init_expected": true,         # false: preload mode, the application inits
          "startup_ms": 58.7,            # null when the import failed
          "modules": 412,                # modules loaded by the import
          "init": INIT or null,          # null: init did not run
          "preloads": [{"name", "start_ms", "ms", "error": PROBLEM or null}, ...],
          "before_init": [{"module", "file", "kind", "start_ms",
                           "chain": [{"module", "file", "line"}, ...]}, ...],
          "during_init": [...],          # as before_init: runtime modules the init's
                                         # own code imported while it ran
          "deferred": [{"module", "file", "line", "ms"}, ...],
          "environment_after_init": [{"name", "line", "at_ms"}, ...],
          "warnings": [{"category", "message", "file", "line", "at_ms", "phase"}, ...],
          "imports": [LOAD, ...],        # every module, in load order
          "errors": [DIAGNOSTIC],        # empty unless status is "failed"
          "findings": [DIAGNOSTIC, ...]
        }
      ]
    }

where INIT is ``{"spec", "observed", "start_ms", "ms", "errors": [PROBLEM]}``
(``observed`` is ``"audit"`` or ``"import"``), PROBLEM is ``{"type",
"message", "file", "line", "notes", "logged"}``, LOAD is ``{"module", "file",
"importer", "importer_file", "line", "start_ms", "ms", "error", "phase",
"kind"}`` (``phase``: ``"before init"``, ``"init"``, ``"after init"`` or ``"no
init"``; ``kind``: ``"runtime"``, ``"instrumented"`` or ``"other"``) and
DIAGNOSTIC is as in ``rewriter.json_report``. Times are milliseconds from the
start of the entry's import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from rewriter.json_report import FORMAT_VERSION, diagnostic_json
from rewriter.report import EXIT_FAILED, EXIT_OK, EXIT_WOULD_CHANGE
from rewriter.trace import (
    EarlyImport,
    EntryTrace,
    Load,
    Phase,
    Problem,
    Shown,
    shown_path,
    step_text,
)


def exit_code(traces: Sequence[EntryTrace]) -> int:
    """123 when an entry could not be traced, 1 when a guarantee is broken, else 0."""
    if any(trace.status == "failed" for trace in traces):
        return EXIT_FAILED
    if any(trace.findings for trace in traces):
        return EXIT_WOULD_CHANGE
    return EXIT_OK


def summary(traces: Sequence[EntryTrace]) -> str:
    """One line: ``2 entries traced: 1 ok, 1 broken.``"""
    if not traces:
        return "No entries found."
    counts = [
        f"{count} {status}"
        for status in ("ok", "broken", "failed")
        if (count := sum(trace.status == status for trace in traces))
    ]
    noun = "entry" if len(traces) == 1 else "entries"
    return f"{len(traces)} {noun} traced: {', '.join(counts)}."


def text_report(trace: EntryTrace) -> str:
    """What importing the entry did, for people: one block of lines ending in a newline."""
    lines = [trace.path]
    if trace.how == "module":
        lines[0] += f" (imported as module {trace.target} from {shown_path(trace.root)})"
    elif trace.how == "path":
        lines[0] += " (imported as path)"
    if trace.error is not None:
        lines.append(f"  failed: {trace.error.message}")
    if trace.startup_ms is not None:
        lines.append(f"  start-up  {trace.startup_ms:.1f} ms, {_modules(trace.loads)}")
    lines.extend(_before_init(trace))
    lines.extend(_init(trace))
    lines.extend(_after_init(trace))
    lines.extend(
        _warning(f"  warning {shown.phase}", shown)
        for shown in trace.warnings
        if shown.phase not in ("init", "after init")
    )
    verdict = {"ok": "ok", "failed": "failed", "broken": f"broken: {_count(trace.findings)}"}
    lines.append(f"  {verdict[trace.status]}")
    return "\n".join(lines) + "\n"


def _before_init(trace: EntryTrace) -> list[str]:
    if trace.init is None or trace.init.start_ms is None:
        return []
    loads = _in_phase(trace.loads, "before init")
    lines = [f"  before init  {_modules(loads)} in {trace.init.start_ms:.1f} ms"]
    return lines + _chains(trace.early)


def _init(trace: EntryTrace) -> list[str]:
    init = trace.init
    lines: list[str] = []
    if init is None and trace.error is not None:
        return lines  # the import did not finish: init may have been yet to come
    if init is None:
        none = "did not run" if trace.init_expected else "none: the application initialises itself"
        lines.append(f"  init  {none}")
    else:
        seen = "audit events" if init.observed == "audit" else "the import of the init module"
        if init.start_ms is None:
            ran = "failed before it started"
        elif init.ms is None:
            ran = "did not finish"
        else:
            ran = f"ran in {init.ms:.1f} ms, {_modules(_in_phase(trace.loads, 'init'))}"
        lines.append(f"  init  {init.spec}  {ran} (seen by {seen})")
        lines.extend(f"    raised  {_problem(problem)}" for problem in init.errors)
    for preload in trace.preloads:
        took = "did not finish" if preload.ms is None else f"{preload.ms:.1f} ms"
        lines.append(f"  preload  {preload.name}  {took}")
        if preload.error is not None:
            lines.append(f"    raised  {_problem(preload.error)}")
    lines.extend(_chains(trace.during_init))
    lines.extend(_warning("    warned", shown) for shown in trace.warnings if shown.phase == "init")
    return lines


def _chains(items: tuple[EarlyImport, ...]) -> list[str]:
    return [
        f"    {item.load.kind:<12}  {item.load.module}  "
        + " -> ".join(step_text(step) for step in item.chain)
        for item in items
    ]


def _after_init(trace: EntryTrace) -> list[str]:
    init = trace.init
    if init is None or init.start_ms is None or init.ms is None:
        return []
    loads = _in_phase(trace.loads, "after init")
    lines = [f"  after init  {_modules(loads)}"]
    if trace.startup_ms is not None:
        lines[0] += f" in {trace.startup_ms - init.start_ms - init.ms:.1f} ms"
    for load in trace.deferred:
        where = f"{shown_path(load.importer_file)}:{load.line}" if load.importer_file else ""
        took = "did not finish" if load.ms is None else f"{load.ms:.1f} ms"
        lines.append(f"    deferred  {load.module}  {took}  {where}".rstrip())
    for change in trace.environment:
        lines.append(f"    sets  {change.name}  {trace.path}:{change.line}")
    lines.extend(
        _warning("    warning", shown) for shown in trace.warnings if shown.phase == "after init"
    )
    return lines


def build_trace_json(
    traces: Sequence[EntryTrace], *, exit_code: int, tool_version: str
) -> dict[str, object]:
    """The JSON-ready report of a ``--trace`` run."""
    return {
        "version": FORMAT_VERSION,
        "tool": {"name": "rewriter", "version": tool_version},
        "trace": True,
        "exit_code": exit_code,
        "summary": {
            "entries": len(traces),
            "ok": sum(trace.status == "ok" for trace in traces),
            "broken": sum(trace.status == "broken" for trace in traces),
            "failed": sum(trace.status == "failed" for trace in traces),
            "findings": sum(len(trace.findings) for trace in traces),
        },
        "entries": [entry_json(trace) for trace in traces],
    }


def entry_json(trace: EntryTrace) -> dict[str, object]:
    """The JSON-ready report of one traced entry."""
    return {
        "path": trace.path,
        "status": trace.status,
        "import": None
        if trace.how == "not imported"
        else {"how": trace.how, "target": trace.target, "root": trace.root},
        "init_expected": trace.init_expected,
        "startup_ms": trace.startup_ms,
        "modules": len(trace.loads),
        "init": None if trace.init is None else asdict(trace.init),
        "preloads": [asdict(preload) for preload in trace.preloads],
        "before_init": [_early_json(item) for item in trace.early],
        "during_init": [_early_json(item) for item in trace.during_init],
        "deferred": [
            {"module": load.module, "file": load.file, "line": load.line, "ms": load.ms}
            for load in trace.deferred
        ],
        "environment_after_init": [asdict(change) for change in trace.environment],
        "warnings": [asdict(shown) for shown in trace.warnings],
        "imports": [asdict(load) for load in trace.loads],
        "errors": [] if trace.error is None else [diagnostic_json(trace.error, trace.path)],
        "findings": [diagnostic_json(finding, trace.path) for finding in trace.findings],
    }


def _in_phase(loads: Sequence[Load], phase: Phase) -> list[Load]:
    return [load for load in loads if load.phase == phase]


def _problem(problem: Problem) -> str:
    text = f"{problem.type}: {problem.message}"
    if problem.file is not None:
        text += f"  {shown_path(problem.file)}:{problem.line}"
    return text + ("  (logged by the block, which carried on)" if problem.logged else "")


def _warning(label: str, shown: Shown) -> str:
    where = f"{shown_path(shown.file)}:{shown.line}"
    return f"{label}  {shown.category}: {_one_line(shown.message)}  {where}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _count(findings: Sequence[object]) -> str:
    return _plural(len(findings), "finding")


def _modules(loads: Sequence[Load]) -> str:
    return _plural(len(loads), "module")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _early_json(item: EarlyImport) -> dict[str, object]:
    return {
        "module": item.load.module,
        "file": item.load.file,
        "kind": item.load.kind,
        "start_ms": item.load.start_ms,
        "chain": [asdict(step) for step in item.chain],
    }
