"""Run the benchmark groups, print the table, optionally write ``RESULTS.md``."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench import big, memory, preload, runtime, single, startup, tree
from bench.config import FULL, QUICK, Config
from bench.measure import ERROR, Row, table

Suite = Callable[[Path, Config], list[Row]]

GROUPS: dict[str, Sequence[tuple[str, Suite]]] = {
    "single": [("single", single.run)],
    "big": [("big", big.run)],
    "memory": [("memory", memory.run)],
    "tree": [("second-run", tree.second_run), ("first-run", tree.first_run)],
    "import": [("import", startup.run)],
    "runtime": [("runtime", runtime.run)],
    "preload": [("preload", preload.run)],
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected groups; print the table to stdout (progress goes to stderr)."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes and one round")
    parser.add_argument(
        "--only", action="append", choices=sorted(GROUPS), help="run this group (repeatable)"
    )
    parser.add_argument("--results", type=Path, help="also write the table here (Markdown)")
    args = parser.parse_args(argv)
    config = QUICK if args.quick else FULL
    selected = [name for name in GROUPS if args.only is None or name in args.only]
    before = machine()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    started = time.perf_counter()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="rewriter-bench-") as temporary:
        for group in selected:
            for name, suite in GROUPS[group]:
                print(f"bench: {name} ...", file=sys.stderr, flush=True)
                work = Path(temporary) / name
                work.mkdir()
                try:
                    rows.extend(suite(work, config))
                except Exception as error:  # one broken group must not hide the others
                    traceback.print_exc()
                    rows.append(Row(name, f"{type(error).__name__}: {error}", "-", "-", ERROR))
    elapsed = time.perf_counter() - started
    before["load average at the end"] = _load()
    report = render(rows, before, quick=args.quick, when=when, elapsed=elapsed)
    print(report)
    if args.results is not None:
        args.results.write_text(report, encoding="utf-8")
    return 0


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    except OSError:
        cpu = platform.processor() or "unknown"
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        nproc = str(os.cpu_count())
    return {
        "nproc": nproc.strip(),
        "CPU": cpu,
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "OS": platform.platform(),
        "load average at the start (1, 5, 15 min)": _load(),
    }


def _load() -> str:
    if not hasattr(os, "getloadavg"):
        return "unknown"
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def render(
    rows: Sequence[Row], info: dict[str, str], *, quick: bool, when: str, elapsed: float
) -> str:
    """The Markdown report: how it was run, the machine, and the table."""
    command = "python -m bench --quick" if quick else "python -m bench"
    lines = [
        "# Benchmark results",
        "",
        f"`{command}`, started {when}, {elapsed:.0f} s in all.",
        "",
        *(f"- {key}: {value}" for key, value in info.items()),
        "",
        table(rows),
        "",
    ]
    return "\n".join(lines)
