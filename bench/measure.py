"""Timing helpers and the result table.

Every comparison is measured side by side in the same run: one round runs
each side once, the order alternates from round to round (so that a slow
drift of the machine does not favour one side), and the medians are
compared.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PASS, MISS, INFO, NOT_AVAILABLE, ERROR = "PASS", "MISS", "INFO", "N/A", "ERROR"
STATUSES = (PASS, MISS, INFO, NOT_AVAILABLE, ERROR)
COLUMNS = ("benchmark", "measured (medians)", "ratio", "target", "status")


class BenchError(Exception):
    """A benchmark could not run as intended (a command failed, a check did not hold)."""


@dataclass(frozen=True)
class Row:
    """One line of the result table."""

    benchmark: str
    measured: str
    ratio: str
    target: str
    status: str

    def cells(self) -> tuple[str, ...]:
        return (self.benchmark, self.measured, self.ratio, self.target, self.status)


def interleave(sides: Sequence[tuple[str, Callable[[], float]]], rounds: int) -> dict[str, float]:
    """Run every side once per round, alternating the order; the median seconds of each."""
    samples: dict[str, list[float]] = {name: [] for name, _ in sides}
    for number in range(rounds):
        ordered = sides if number % 2 == 0 else list(reversed(sides))
        for name, run in ordered:
            samples[name].append(run())
    return {name: statistics.median(values) for name, values in samples.items()}


def run_process(
    argv: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    expect: Sequence[int] = (0,),
) -> tuple[float, str]:
    """Run a command; its wall time in seconds and its stdout. Raises BenchError on a bad exit."""
    start = time.perf_counter()
    completed = subprocess.run(
        [str(part) for part in argv],
        cwd=cwd,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if completed.returncode not in expect:
        command = " ".join(str(part) for part in argv)
        raise BenchError(
            f"{command!r} exited with {completed.returncode}:\n{completed.stderr[-2000:]}"
        )
    return elapsed, completed.stdout


def timed_process(argv: Sequence[str | Path], **options: object) -> Callable[[], float]:
    """A side for ``interleave`` that runs a command and returns its wall time."""

    def run() -> float:
        return run_process(argv, **options)[0]  # type: ignore[arg-type]

    return run


def timed_call(function: Callable[[], object]) -> Callable[[], float]:
    """A side for ``interleave`` that calls ``function`` in this process."""

    def run() -> float:
        start = time.perf_counter()
        function()
        return time.perf_counter() - start

    return run


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for measured subprocesses: no REWRITER_* or PYTHON* variables."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("REWRITER_", "PYTHON", "OTEL_"))
    }
    env.update(extra)
    return env


def python() -> str:
    return sys.executable


def ms(seconds: float) -> str:
    value = seconds * 1000
    return f"{value:.0f} ms" if value >= 100 else f"{value:.1f} ms"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.2f} µs"


def ns(seconds: float) -> str:
    return f"{seconds * 1e9:.0f} ns"


def ratio(value: float) -> str:
    return f"{value:.2f}x"


def at_most(value: float, limit: float) -> str:
    return PASS if value <= limit else MISS


def at_least(value: float, limit: float) -> str:
    return PASS if value >= limit else MISS


def table(rows: Sequence[Row]) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row.cells()) + " |")
    return "\n".join(lines)
