"""Big entries in process: ``rewrite_source`` against LibCST's parse and print of the same text.

The generated entries have 5,000 and 50,000 lines; the per-line times show
whether the rewrite stays linear.
"""

from __future__ import annotations

import gc
from pathlib import Path

import libcst

from bench.config import Config
from bench.entries import write_app
from bench.measure import BenchError, Row, at_most, interleave, ms, ratio, timed_call, us
from rewriter.config import Settings
from rewriter.core import rewrite_source
from rewriter.files import DiskTree

TARGET = 1.5
LINEAR = 1.5


def run(work: Path, config: Config) -> list[Row]:
    settings = Settings(init="./instrument_server.py")
    warm = write_app(work / "warm", 50)
    rewrite_source(warm.read_text(), settings, path="index.py", tree=DiskTree(warm.parent))
    rows = []
    per_line = []
    for lines, rounds in zip(config.big_sizes, config.big_rounds, strict=True):
        entry = write_app(work / f"big{lines}", lines)
        source = entry.read_text()
        count = len(source.splitlines())

        def rewrite(source: str = source, root: Path = entry.parent) -> object:
            result = rewrite_source(source, settings, path="index.py", tree=DiskTree(root))
            if not result.changed:
                raise BenchError("the big entry was not rewritten")
            return result

        def roundtrip(source: str = source) -> str:
            return libcst.parse_module(source).code

        gc.collect()
        times = interleave(
            [("rewrite", timed_call(rewrite)), ("libcst", timed_call(roundtrip))], rounds
        )
        value = times["rewrite"] / times["libcst"]
        per_line.append((count, times["rewrite"] / count, times["libcst"] / count))
        rows.append(
            Row(
                f"big entry, {count:,} lines: `rewrite_source` vs LibCST parse + print",
                f"{ms(times['rewrite'])} vs {ms(times['libcst'])}",
                ratio(value),
                f"≤ {TARGET:.2f}x",
                at_most(value, TARGET),
            )
        )
    (small, small_time, small_libcst), (large, large_time, large_libcst) = per_line[0], per_line[-1]
    growth = large_time / small_time
    rows.append(
        Row(
            f"big entry, linear growth: rewrite time per line at {small:,} vs {large:,} lines",
            f"{us(small_time)} vs {us(large_time)} per line (LibCST parse + print alone:"
            f" {us(small_libcst)} vs {us(large_libcst)}, {ratio(large_libcst / small_libcst)})",
            ratio(growth),
            f"≤ {LINEAR:.2f}x",
            at_most(growth, LINEAR),
        )
    )
    return rows
