"""What the rewritten entry costs per call.

- Per-call time of the re-exported handler, eager (it must be the runtime's
  own object) and lazy (a stand-in until the first call, which a server may
  hold: a ``functools.partial`` that then calls the runtime's function),
  for a trivial WSGI handler and for a minimal Flask request served through
  the handler (in process, through the WSGI interface).

Import times, and the late-import guard, are in ``startup.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.config import Config
from bench.entries import (
    BARE_RUNTIME,
    ENTRY_SOURCE,
    FLASK_HANDLER_RUNTIME,
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
    ns,
    python,
    run_json,
    us,
)
from rewriter.config import Settings
from rewriter.runner import rewrite_file

SCRIPTS = Path(__file__).resolve().parent / "scripts"
LAZY_EXTRA = 60e-9  # seconds per call the lazy stand-in may add to a trivial handler
LAZY_REQUEST = 1.01  # and the ratio it may reach on a minimal Flask request
INIT = Settings(init="./instrument_server.py")
LAZY = Settings(init="./instrument_server.py", lazy=True)


def rewrite(entry: Path, settings: Settings) -> None:
    report = rewrite_file(entry, settings)
    if report.status != "changed" or report.findings:
        raise BenchError(f"{entry} was not rewritten cleanly: {report}")


def per_call(work: Path, package: str, config: Config, *options: str) -> dict[str, Any]:
    """Run ``scripts/call_overhead.py`` on ``package``'s entry and runtime."""
    argv = [python(), SCRIPTS / "call_overhead.py", work, f"{package}.index"]
    argv += [f"{package}.chunks.web", "--repeat", str(config.call_repeats), *options]
    report: dict[str, Any] = run_json(argv, env=clean_env())
    return report


def call_rows(work: Path, config: Config) -> list[Row]:
    eager = write_runtime_package(work, "eager", BARE_RUNTIME, ENTRY_SOURCE)
    rewrite(eager, INIT)
    data = per_call(work, "eager", config)
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
    flask = write_runtime_package(work, "lazyflask", FLASK_HANDLER_RUNTIME, ENTRY_SOURCE)
    try:
        rewrite(lazy, LAZY)
        rewrite(flask, LAZY)
    except BenchError as error:
        for what in ("trivial handler", "minimal Flask request"):
            label = f"runtime, per call, lazy, {what}"
            rows.append(Row(label, f"not available: {error}", "-", "-", NOT_AVAILABLE))
        return rows
    data = per_call(work, "lazy", config)
    extra = data["entry"] - data["runtime"]
    rows.append(
        Row(
            "runtime, per call, lazy, after the first call: the stand-in a server holds"
            " vs the runtime's `handler`, a trivial handler called from Python",
            f"{ns(data['entry'])} vs {ns(data['runtime'])}"
            f" (the entry's attribute is the runtime's object: {data['same_object']})",
            f"{extra * 1e9:+.0f} ns",
            f"≤ +{LAZY_EXTRA * 1e9:.0f} ns",
            at_most(extra, LAZY_EXTRA),
        )
    )
    data = per_call(work, "lazyflask", config, "--request")
    value = data["entry"] / data["runtime"]
    rows.append(
        Row(
            "runtime, per call, lazy, after the first call: a minimal Flask request (WSGI, in"
            " process) through the stand-in vs through the runtime's `handler`",
            f"{us(data['entry'])} vs {us(data['runtime'])}"
            f" ({(data['entry'] - data['runtime']) * 1e9:+.0f} ns)",
            f"{value:.3f}x",
            f"≤ {LAZY_REQUEST:.2f}x",
            at_most(value, LAZY_REQUEST),
        )
    )
    return rows


def run(work: Path, config: Config) -> list[Row]:
    return call_rows(work / "calls", config)
