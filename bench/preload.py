"""Preload mode against ``opentelemetry-instrument``: process start to the first request served.

The same Flask application, plain for ``opentelemetry-instrument python
serve_one.py`` and rewritten with ``--mode preload`` for ``python
serve_one.py``. Both must serve the request through the instrumented Flask
class. Exporters are off on both sides. The plain application without any
instrumentation is timed in the same rounds, as the floor that both sides
start from. Two comparisons:

- as a user gets them by default: preload with every installed integration,
  the application setting a bare SDK tracer provider itself, against
  ``opentelemetry-instrument`` with every installed instrumentor and its
  SDK configuration;
- fair: both instrument Flask alone and configure the same SDK. Preload is
  run with ``--preload flask``; ``opentelemetry-instrument`` with
  ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` naming every other installed
  instrumentor (it then neither imports nor checks them); and the preloaded
  application configures the SDK through the same distro and configurator
  classes that ``opentelemetry-instrument`` loads (``serve_one.py --sdk``).
  Both must end with an SDK ``TracerProvider``.

The fair comparison has a third side, the least any preload can take: a
hand-written entry that instruments Flask (``FlaskInstrumentor``, with the
same ``skip_dep_check`` as the preload block) before it imports the
application, with the same SDK configuration. The target cannot be met
where this side is above it.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path

from bench.config import Config
from bench.entries import ENTRY_SOURCE, FLASK_RUNTIME, write_runtime_package
from bench.measure import (
    INFO,
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
SDK_PROVIDER = "TracerProvider"
TARGET = 0.6  # the issue: at most 0.6x the time of opentelemetry-instrument
LABEL = (
    "preload: process start to first request served, `--mode preload` vs `opentelemetry-instrument`"
)
DEFAULT = f"{LABEL}, every installed integration"
FAIR = f"{LABEL}, fair: Flask alone on both sides, the same SDK configuration"
LEAST = (
    "preload, fair, the least any preload can take: a hand-written entry that instruments"
    " Flask before the app, the same SDK configuration, vs `opentelemetry-instrument`"
)
HAND_INSTRUMENTED = """\
from opentelemetry.instrumentation.flask import FlaskInstrumentor

FlaskInstrumentor().instrument(skip_dep_check=True)

"""


def run(work: Path, config: Config) -> list[Row]:
    instrument = Path(python()).parent / "opentelemetry-instrument"
    if not instrument.exists():
        reason = "opentelemetry-instrument is not installed"
        return [Row(label, reason, "-", "-", NOT_AVAILABLE) for label in (DEFAULT, FAIR, LEAST)]
    write_runtime_package(work, "plain", FLASK_RUNTIME, ENTRY_SOURCE)
    preloaded = write_runtime_package(work, "preloaded", FLASK_RUNTIME, ENTRY_SOURCE)
    flask_only = write_runtime_package(work, "flaskonly", FLASK_RUNTIME, ENTRY_SOURCE)
    write_runtime_package(work, "handwritten", FLASK_RUNTIME, HAND_INSTRUMENTED + ENTRY_SOURCE)
    for entry, settings in (
        (preloaded, Settings(mode="preload")),
        (flask_only, Settings(mode="preload", preload=("flask",))),
    ):
        report = rewrite_file(entry, settings)
        if report.status != "changed":
            reason = report.error.message if report.error else "nothing changed"
            return [
                Row(label, f"not available: {reason}", "-", "-", NOT_AVAILABLE)
                for label in (DEFAULT, FAIR, LEAST)
            ]
    off = {f"OTEL_{kind}_EXPORTER": "none" for kind in ("TRACES", "METRICS", "LOGS")}
    env = clean_env(**off)
    others = sorted(
        point.name
        for point in entry_points(group="opentelemetry_instrumentor")
        if point.name != "flask"
    )
    fair_env = clean_env(**off, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=",".join(others))
    script = SCRIPTS / "serve_one.py"

    def side(
        argv: list[str | Path],
        environment: dict[str, str],
        *,
        instrumented: bool = True,
        provider: str | None = None,
    ) -> Callable[[], float]:
        def run() -> float:
            elapsed, out = run_process(argv, env=environment)
            fields = out.split()
            if fields[:1] != ["200"] or (INSTRUMENTED in fields) != instrumented:
                raise BenchError(f"instrumented Flask should be {instrumented}: {out!r}")
            if provider is not None and fields[-1] != provider:
                raise BenchError(f"the tracer provider should be {provider}: {out!r}")
            return elapsed

        if config.warm_up:
            run()
        return run

    times = interleave(
        [
            (
                "preload",
                side([python(), script, work, "preloaded.index", "--tracer-provider"], env),
            ),
            ("otel", side([instrument, python(), script, work, "plain.index"], env)),
            (
                "preload fair",
                side(
                    [python(), script, work, "flaskonly.index", "--sdk"], env, provider=SDK_PROVIDER
                ),
            ),
            (
                "otel fair",
                side(
                    [instrument, python(), script, work, "plain.index"],
                    fair_env,
                    provider=SDK_PROVIDER,
                ),
            ),
            (
                "hand-written fair",
                side(
                    [python(), script, work, "handwritten.index", "--sdk"],
                    env,
                    provider=SDK_PROVIDER,
                ),
            ),
            ("floor", side([python(), script, work, "plain.index"], env, instrumented=False)),
        ],
        config.preload_rounds,
    )
    floor = f"the plain app, not instrumented: {ms(times['floor'])}"
    rows = []
    for label, ours, theirs, extra in (
        (DEFAULT, "preload", "otel", ""),
        (
            FAIR,
            "preload fair",
            "otel fair",
            f"; disabled for opentelemetry-instrument: {', '.join(others) or 'none'}",
        ),
    ):
        value = times[ours] / times[theirs]
        rows.append(
            Row(
                label,
                f"{ms(times[ours])} vs {ms(times[theirs])} ({floor}{extra})",
                ratio(value),
                f"≤ {TARGET:.2f}x",
                at_most(value, TARGET),
            )
        )
    least = times["hand-written fair"] / times["otel fair"]
    rows.append(
        Row(
            LEAST,
            f"{ms(times['hand-written fair'])} vs {ms(times['otel fair'])}"
            f" (`--mode preload`: {ms(times['preload fair'])})",
            ratio(least),
            f"the floor of the {TARGET:.2f}x target",
            INFO,
        )
    )
    return rows
