"""Preload mode against ``opentelemetry-instrument``: process start to the first request served.

The same Flask application, plain for ``opentelemetry-instrument python
serve_one.py`` and rewritten with ``--mode preload`` for ``python
serve_one.py``, which then sets an SDK tracer provider itself (late
initialisation). Both must serve the request through the instrumented
Flask class. Exporters are off on both sides. The plain application without
any instrumentation is timed in the same rounds, as the floor that both
sides start from.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bench.config import Config
from bench.entries import ENTRY_SOURCE, FLASK_RUNTIME, write_runtime_package
from bench.measure import (
    NOT_AVAILABLE,
    BenchError,
    Row,
    at_most,
    clean_env,
    interleave,
    ms,
    python,
    ratio,
    run_process,
)
from rewriter.config import Settings
from rewriter.runner import rewrite_file

SCRIPTS = Path(__file__).resolve().parent / "scripts"
INSTRUMENTED = "_InstrumentedFlask"
TARGET = 0.6  # the issue: at most 0.6x the time of opentelemetry-instrument
LABEL = (
    "preload: process start to first request served, `--mode preload` vs `opentelemetry-instrument`"
)


def run(work: Path, config: Config) -> list[Row]:
    instrument = Path(python()).parent / "opentelemetry-instrument"
    if not instrument.exists():
        return [Row(LABEL, "opentelemetry-instrument is not installed", "-", "-", NOT_AVAILABLE)]
    write_runtime_package(work, "plain", FLASK_RUNTIME, ENTRY_SOURCE)
    preloaded = write_runtime_package(work, "preloaded", FLASK_RUNTIME, ENTRY_SOURCE)
    report = rewrite_file(preloaded, Settings(mode="preload"))
    if report.status != "changed":
        reason = report.error.message if report.error else "nothing changed"
        return [Row(LABEL, f"not available: {reason}", "-", "-", NOT_AVAILABLE)]
    off = {f"OTEL_{kind}_EXPORTER": "none" for kind in ("TRACES", "METRICS", "LOGS")}
    env = clean_env(**off)
    script = SCRIPTS / "serve_one.py"

    def side(argv: list[str | Path], instrumented: bool = True) -> Callable[[], float]:
        def run() -> float:
            elapsed, out = run_process(argv, env=env)
            if not out.startswith("200 ") or (INSTRUMENTED in out) != instrumented:
                raise BenchError(f"instrumented Flask should be {instrumented}: {out!r}")
            return elapsed

        if config.warm_up:
            run()
        return run

    times = interleave(
        [
            ("preload", side([python(), script, work, "preloaded.index", "--tracer-provider"])),
            ("otel", side([instrument, python(), script, work, "plain.index"])),
            ("floor", side([python(), script, work, "plain.index"], instrumented=False)),
        ],
        config.preload_rounds,
    )
    value = times["preload"] / times["otel"]
    return [
        Row(
            LABEL,
            f"{ms(times['preload'])} vs {ms(times['otel'])} (the plain app, not instrumented: "
            f"{ms(times['floor'])})",
            ratio(value),
            f"≤ {TARGET:.2f}x",
            at_most(value, TARGET),
        )
    ]
