"""What the rewritten entry costs at run time.

- Import time of the rewritten entry against a hand-written equivalent (init
  first, then plain imports), each in a fresh interpreter, for a small Flask
  application and for a bare runtime that imports nothing (not even
  ``typing``, which the block must not import either).
- Per-call time of the re-exported handler, eager (it must be the runtime's
  own object) and lazy (a stand-in until the first call, which a server may
  hold: a ``functools.partial`` that then calls the runtime's function).
- The late-import guard with nothing loaded, taken from the generated block.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from bench.config import Config
from bench.entries import (
    BARE_RUNTIME,
    ENTRY_SOURCE,
    FLASK_RUNTIME,
    HAND_WRITTEN_SOURCE,
    write_runtime_package,
)
from bench.measure import (
    MISS,
    NOT_AVAILABLE,
    PASS,
    BenchError,
    Row,
    at_most,
    clean_env,
    interleave,
    ms,
    ns,
    python,
    run_process,
    us,
)
from rewriter.config import Settings
from rewriter.runner import rewrite_file

SCRIPTS = Path(__file__).resolve().parent / "scripts"
RELATIVE_BUDGET = 0.05
ABSOLUTE_BUDGET = 0.0005
TARGET = "≤ +5% or +0.5 ms"


def rewrite(entry: Path, settings: Settings) -> None:
    report = rewrite_file(entry, settings)
    if report.status != "changed" or report.findings:
        raise BenchError(f"{entry} was not rewritten cleanly: {report}")


def import_rows(work: Path, label: str, runtime: str, config: Config) -> list[Row]:
    rewritten = write_runtime_package(work, "rewritten", runtime, ENTRY_SOURCE)
    write_runtime_package(work, "hand", runtime, HAND_WRITTEN_SOURCE)
    rewrite(rewritten, Settings(init="./instrument_server.py"))
    env = clean_env()
    script = SCRIPTS / "import_time.py"

    def side(module: str) -> tuple[str, Callable[[], float]]:
        def run() -> float:
            _, out = run_process([python(), script, work, module], env=env)
            return float(out)

        if config.warm_up:
            run()  # writes the bytecode cache
        return module, run

    times = interleave([side("rewritten.index"), side("hand.index")], config.import_rounds)
    new, old = times["rewritten.index"], times["hand.index"]
    extra = new - old
    allowed = max(RELATIVE_BUDGET * old, ABSOLUTE_BUDGET)
    return [
        Row(
            f"runtime, import of the rewritten entry vs hand-written (init, then imports): {label}",
            f"{ms(new)} vs {ms(old)} ({extra * 1000:+.2f} ms)",
            f"{new / old:.3f}x",
            TARGET,
            PASS if extra <= allowed else MISS,
        )
    ]


def call_rows(work: Path) -> list[Row]:
    env = clean_env()
    script = SCRIPTS / "call_overhead.py"
    eager = write_runtime_package(work, "eager", BARE_RUNTIME, ENTRY_SOURCE)
    rewrite(eager, Settings(init="./instrument_server.py"))
    _, out = run_process([python(), script, work, "eager.index", "eager.chunks.web"], env=env)
    data = json.loads(out)
    rows = [
        Row(
            "runtime, per call, eager: the entry's `handler` vs the runtime's",
            f"{ns(data['entry'])} vs {ns(data['runtime'])} (same object: {data['same_object']})",
            "same object" if data["same_object"] else "wrapped",
            "`entry.handler is runtime.handler`",
            PASS if data["same_object"] and data["held_is_runtime"] else MISS,
        )
    ]
    lazy = write_runtime_package(work, "lazy", BARE_RUNTIME, ENTRY_SOURCE)
    try:
        rewrite(lazy, Settings(init="./instrument_server.py", lazy=True))
    except BenchError as error:
        rows.append(
            Row("runtime, per call, lazy", f"not available: {error}", "-", "-", NOT_AVAILABLE)
        )
        return rows
    _, out = run_process([python(), script, work, "lazy.index", "lazy.chunks.web"], env=env)
    data = json.loads(out)
    rows.append(
        Row(
            "runtime, per call, lazy, after the first call: the wrapper a server holds"
            " vs the runtime's `handler`",
            f"{ns(data['entry'])} vs {ns(data['runtime'])}"
            f" ({(data['entry'] - data['runtime']) * 1e9:+.0f} ns per call;"
            f" the entry's attribute is the runtime's object: {data['same_object']})",
            f"{data['entry'] / data['runtime']:.2f}x",
            "≤ 1.20x",
            at_most(data["entry"] / data["runtime"], 1.2),
        )
    )
    return rows


def guard_row(work: Path) -> Row:
    entry = work / "rewritten" / "index.py"
    _, out = run_process([python(), SCRIPTS / "guard_time.py", entry, "rewritten"], env=clean_env())
    data = json.loads(out)
    seconds = data["seconds"]
    return Row(
        f"runtime, late-import guard with nothing loaded ({data['modules']} modules checked)",
        f"{us(seconds)} per import of the entry",
        f"{seconds / ABSOLUTE_BUDGET:.3f} of 0.5 ms",
        "≤ 0.5 ms",
        PASS if seconds <= ABSOLUTE_BUDGET else MISS,
    )


def run(work: Path, config: Config) -> list[Row]:
    rows = import_rows(work / "flask", "small Flask app", FLASK_RUNTIME, config)
    rows += import_rows(work / "bare", "bare runtime (no `typing`)", BARE_RUNTIME, config)
    rows += call_rows(work / "calls")
    rows.append(guard_row(work / "flask"))
    return rows
