"""Peak memory of a first run on big entries, and the figure that memory-aware ``-j`` assumes.

Each side is a fresh process, and its peak is its own maximum resident set
size (``VmHWM``, see ``scripts/peak_memory.py``): ``python -m rewriter``
rewriting one entry (restored from a pristine copy before every run)
against ``scripts/libcst_roundtrip.py`` parsing and printing the same file
with LibCST. The medians of the rounds
are compared. Then the peaks, against the entry sizes, are checked against
``rewriter.workers.worker_need``, which ``-j`` uses to decide how many
workers the available memory holds.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from bench.config import Config
from bench.entries import write_app
from bench.measure import (
    MISS,
    PASS,
    BenchError,
    Row,
    at_most,
    clean_env,
    mib,
    peak_python,
    ratio,
)
from rewriter.workers import PEAK_BYTES_PER_SOURCE_BYTE, read_memory, worker_need

SCRIPTS = Path(__file__).resolve().parent / "scripts"
TARGET = 1.2
PYPROJECT = '[tool.rewriter]\ninit = "./instrument_server.py"\n'


def run(work: Path, config: Config) -> list[Row]:
    env = clean_env()
    rows = []
    peaks: list[tuple[int, int]] = []  # (entry bytes, peak bytes of the rewrite)
    for lines, rounds in zip(config.memory_sizes, config.memory_rounds, strict=True):
        app = work / f"app{lines}"
        entry = write_app(app, lines)
        (app / "pyproject.toml").write_text(PYPROJECT)
        pristine = entry.read_bytes()
        samples: dict[str, list[tuple[float, int]]] = {"rewrite": [], "libcst": []}
        for number in range(rounds):
            order = ("rewrite", "libcst") if number % 2 == 0 else ("libcst", "rewrite")
            for side in order:
                entry.write_bytes(pristine)
                if side == "rewrite":
                    args: list[str | Path] = ["-m", "rewriter", "-q", "index.py"]
                else:
                    args = [SCRIPTS / "libcst_roundtrip.py", "index.py"]
                samples[side].append(peak_python(args, cwd=app, env=env))
                if side == "rewrite" and entry.read_bytes() == pristine:
                    raise BenchError(f"the {lines}-line entry was not rewritten")
        peak = {side: statistics.median(p for _, p in values) for side, values in samples.items()}
        seconds = statistics.median(s for s, _ in samples["rewrite"])
        peaks.append((len(pristine), int(peak["rewrite"])))
        value = peak["rewrite"] / peak["libcst"]
        count = len(pristine.decode().splitlines())
        rows.append(
            Row(
                f"memory, first run on a {count:,}-line entry ({mib(len(pristine))}): peak RSS of"
                " `python -m rewriter` vs a LibCST parse + print of the same file",
                f"{mib(int(peak['rewrite']))} vs {mib(int(peak['libcst']))}"
                f" (the rewrite took {seconds:.1f} s)",
                ratio(value),
                f"≤ {TARGET:.2f}x",
                at_most(value, TARGET),
            )
        )
    rows.append(factor_row(peaks))
    return rows


def factor_row(peaks: list[tuple[int, int]]) -> Row:
    """The measured growth of the peak per entry byte against what ``-j`` assumes."""
    (small, small_peak), (large, large_peak) = peaks[0], peaks[-1]
    slope = (large_peak - small_peak) / (large - small)
    short = [size for size, peak in peaks if peak > worker_need(size)]
    memory = read_memory()
    if memory is None:
        here = "memory unknown here"
    else:
        here = (
            f"here, now: {mib(memory.available)} available ({memory.source}), so at most"
            f" {memory.available // worker_need(large):,} workers for the largest entry"
        )
    return Row(
        "memory-aware `-j`: peak growth per byte of entry, measured vs the factor `-j` assumes"
        " (`rewriter.workers`)",
        f"{slope:.0f} vs {PEAK_BYTES_PER_SOURCE_BYTE} bytes per byte; largest entry: peak"
        f" {mib(large_peak)} vs {mib(worker_need(large))} assumed; {here}",
        f"{slope / PEAK_BYTES_PER_SOURCE_BYTE:.2f}x",
        "every peak ≤ assumed",
        PASS if not short else MISS,
    )
