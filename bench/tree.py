"""A build directory of many entries: the second run (all rewritten) and the first run.

Second run: ``python -m rewriter --check build`` (default jobs) against a
LibCST parse and print of the same entries (``scripts/libcst_roundtrip.py``)
and against ``isort --check-only`` on the same entry files. First run: the
same entries, pristine, rewritten with ``-j 1`` and with ``-j 2``; the tree is
restored from a pristine copy before every run, outside the timing.
"""

from __future__ import annotations

import os
import shutil
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.config import Config
from bench.entries import write_tree
from bench.measure import (
    INFO,
    MISS,
    NOT_AVAILABLE,
    PASS,
    BenchError,
    Row,
    at_least,
    clean_env,
    interleave,
    ms,
    python,
    ratio,
    run_process,
    timed_call,
    timed_process,
)
from rewriter.runner import chunk_size

SCRIPTS = Path(__file__).resolve().parent / "scripts"
SECOND_RUN_TARGET = 10.0
PARALLEL_TARGET = 1.6
PYPROJECT = '[tool.rewriter]\ninit = "./instrument_server.py"\n'


def second_run(work: Path, config: Config) -> list[Row]:
    entries = write_tree(work / "build", config.tree_entries, config.tree_lines)
    (work / "pyproject.toml").write_text(PYPROJECT)
    env = clean_env()
    rewrite = [python(), "-m", "rewriter", "-q", "build"]
    run_process(rewrite, cwd=work, env=env)
    check = [python(), "-m", "rewriter", "-q", "--check", "build"]
    fresh = [*check, "--no-cache"]
    run_process(check, cwd=work, env=env)  # keeps the verdicts the timed checks reuse
    libcst: list[str | Path] = [python(), SCRIPTS / "libcst_roundtrip.py", "build"]
    relative = [str(entry.relative_to(work)) for entry in entries]
    isort = [python(), "-m", "isort", "--check-only", "--quiet", *relative]
    sides = [
        ("rewriter", timed_process(check, cwd=work, env=env)),
        ("fresh", timed_process(fresh, cwd=work, env=env)),
        ("libcst", timed_process(libcst, cwd=work, env=env)),
        ("isort", timed_process(isort, cwd=work, env=env, expect=(0, 1))),
    ]
    for _, side in sides if config.warm_up else ():
        side()
    times = interleave(sides, config.second_run_rounds)
    lines = sum(len(entry.read_text().splitlines()) for entry in entries) // len(entries)
    speedup = times["libcst"] / times["rewriter"]
    fresh_speedup = times["libcst"] / times["fresh"]
    over_isort = times["isort"] / times["rewriter"]
    parsing = _parse_time(work / "build", config.second_run_rounds)
    what = f"{len(entries)} rewritten entries of about {lines} lines"
    return [
        Row(
            f"tree, second run: `rewriter --check` on {what} vs LibCST parse + print",
            f"{ms(times['rewriter'])} vs {ms(times['libcst'])}",
            f"{ratio(speedup)} faster",
            f"≥ {SECOND_RUN_TARGET:.1f}x faster",
            at_least(speedup, SECOND_RUN_TARGET),
        ),
        Row(
            "tree, second run without the cache: `rewriter --check --no-cache` vs LibCST"
            " parse + print",
            f"{ms(times['fresh'])} vs {ms(times['libcst'])}",
            f"{ratio(fresh_speedup)} faster",
            f"≥ {SECOND_RUN_TARGET:.1f}x faster",
            at_least(fresh_speedup, SECOND_RUN_TARGET),
        ),
        Row(
            "tree, what any analysis must do: CPython's `ast.parse` of every file in the tree"
            " (entries and runtime modules, in one process, texts already read) vs LibCST"
            " parse + print",
            f"{ms(parsing)} vs {ms(times['libcst'])}",
            f"{ratio(times['libcst'] / parsing)} faster",
            "-",
            INFO,
        ),
        Row(
            f"tree, second run: `rewriter --check` vs `isort --check-only` on the {len(entries)}"
            " entry files",
            f"{ms(times['rewriter'])} vs {ms(times['isort'])}",
            f"{ratio(over_isort)} faster",
            "faster (> 1.00x)",
            PASS if over_isort > 1 else MISS,
        ),
    ]


def _parse_time(build: Path, rounds: int) -> float:
    """Median seconds for ``ast.parse`` of every ``.py`` file under ``build``."""
    import ast

    texts = [path.read_text() for path in sorted(build.rglob("*.py"))]

    def parse_all() -> float:
        start = time.perf_counter()
        for text in texts:
            ast.parse(text)
        return time.perf_counter() - start

    return statistics.median(parse_all() for _ in range(max(rounds, 1)))


def first_run(work: Path, config: Config) -> list[Row]:
    pristine = work / "pristine"
    write_tree(pristine, config.tree_entries, config.tree_lines)
    (work / "pyproject.toml").write_text(PYPROJECT)
    build = work / "build"
    env = clean_env()
    what = f"tree, first run: {config.tree_entries} entries of {config.tree_lines} lines"

    def rewrite(jobs: str) -> float:
        if build.exists():
            shutil.rmtree(build)
        shutil.copytree(pristine, build)
        command = [python(), "-m", "rewriter", "-q", "-j", jobs, "build"]
        elapsed, _ = run_process(command, cwd=work, env=env)
        if (build / "app0000" / "index.py").read_bytes() == (
            pristine / "app0000" / "index.py"
        ).read_bytes():
            raise BenchError("the first run did not rewrite the entries")
        return elapsed

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if (cpus or 1) < 2:
        return [Row(f"{what}, -j 2 vs -j 1", "one CPU only", "-", "-", NOT_AVAILABLE)]
    times = interleave(
        [
            ("j1", lambda: rewrite("1")),
            ("j2", lambda: rewrite("2")),
            ("spin1", timed_call(lambda: spin(1, config.tree_entries))),
            ("spin2", timed_call(lambda: spin(2, config.tree_entries))),
        ],
        config.first_run_rounds,
    )
    speedup = times["j1"] / times["j2"]
    capacity = times["spin1"] / times["spin2"]
    return [
        Row(
            f"{what}, `-j 2` vs `-j 1`",
            f"{ms(times['j2'])} vs {ms(times['j1'])}",
            f"{ratio(speedup)} faster",
            f"≥ {PARALLEL_TARGET:.1f}x faster",
            at_least(speedup, PARALLEL_TARGET),
        ),
        Row(
            "machine check, in the same rounds: CPU-bound Python work in 2 processes vs 1"
            " (what 2 jobs can gain here at best)",
            f"{ms(times['spin2'])} vs {ms(times['spin1'])}",
            f"{ratio(capacity)} faster",
            "-",
            INFO,
        ),
    ]


def spin(workers: int, tasks: int) -> None:
    """The same pure-Python work as ``tasks`` small jobs, in a pool of ``workers`` processes."""
    # The runner's chunks, so that one process is not left finishing a long
    # last chunk alone (which would understate the machine).
    chunksize = chunk_size(tasks, workers)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_count, [200_000] * tasks, chunksize=chunksize))


def _count(limit: int) -> int:
    total = 0
    for number in range(limit):
        total += number * number
    return total
