"""Timing helpers and the result table.

Every comparison is measured side by side in the same run: one round runs
each side once, the order alternates from round to round (so that a slow
drift of the machine does not favour one side), and the medians are
compared.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def run_json(argv: Sequence[str | Path], *, env: Mapping[str, str] | None = None) -> Any:
    """Run a command that prints one JSON value; the value. Raises BenchError on a bad exit."""
    _, out = run_process(argv, env=env)
    return json.loads(out)


def imported_modules(
    argv: Sequence[str | Path], *, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> set[str]:
    """Every module a Python command imported, read from its ``-X importtime`` lines.

    ``argv`` starts with the interpreter; ``-X importtime`` is added after it.
    Raises BenchError on a bad exit.
    """
    command = [str(argv[0]), "-X", "importtime", *(str(part) for part in argv[1:])]
    completed = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise BenchError(
            f"{command!r} exited with {completed.returncode}:\n{completed.stderr[-2000:]}"
        )
    return {
        line.rpartition("|")[2].strip()
        for line in completed.stderr.splitlines()
        if line.startswith("import time:")
    }


PEAK_MEMORY = Path(__file__).resolve().parent / "scripts" / "peak_memory.py"


def peak_python(
    args: Sequence[str | Path], *, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> tuple[float, int]:
    """Run ``python ARGS...``; its wall time in seconds and its peak resident set size in bytes.

    The peak is the child's own, read by ``scripts/peak_memory.py`` inside
    it when the program ends (see there why ``wait4``'s ``ru_maxrss`` will
    not do). Raises BenchError on a non-zero exit.
    """
    with tempfile.TemporaryDirectory() as directory:
        output = Path(directory) / "peak"
        elapsed, _ = run_process([python(), PEAK_MEMORY, output, *args], cwd=cwd, env=env)
        return elapsed, int(output.read_text(encoding="ascii"))


DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def page_cache_problem() -> str | None:
    """Why ``drop_page_cache`` cannot work here (it needs root and a writable ``/proc/sys``)."""
    if not os.access(DROP_CACHES, os.W_OK):
        return f"cannot drop the page cache here (no write access to {DROP_CACHES})"
    return None


def drop_page_cache() -> None:
    """Empty the kernel's page cache (clean pages only, after a sync). Raises BenchError if denied.

    It drops every file's pages on the machine, not only ours, so other
    processes read from the disk again too.
    """
    os.sync()
    try:
        DROP_CACHES.write_text("3\n")
    except OSError as error:
        raise BenchError(f"cannot drop the page cache ({DROP_CACHES}: {error.strerror})") from None


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
    """The environment for measured subprocesses: no REWRITER_* or PYTHON* variables.

    Runs keep their verdicts (``rewriter.cache``) in a folder of this bench
    run, which starts empty and is removed at its end, not in the user's.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("REWRITER_", "PYTHON", "OTEL_"))
    }
    env["REWRITER_CACHE_DIR"] = _verdict_cache()
    env.update(extra)
    return env


@functools.cache
def _verdict_cache() -> str:
    folder = tempfile.mkdtemp(prefix="rewriter-bench-cache-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def python() -> str:
    return sys.executable


def bare_python(*flags: str) -> list[str]:
    """This interpreter, isolated (``-I``) and without ``site`` (``-S``): no ``.pth`` file runs."""
    return [python(), "-I", "-S", *flags]


def ms(seconds: float) -> str:
    value = seconds * 1000
    return f"{value:.0f} ms" if value >= 100 else f"{value:.1f} ms"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.2f} µs"


def ns(seconds: float) -> str:
    return f"{seconds * 1e9:.0f} ns"


def mib(size: int) -> str:
    value = size / 2**20
    if value < 1:
        return f"{size / 1024:,.0f} KiB"
    return f"{value:,.{0 if value >= 10 else 1}f} MiB"


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
