"""Smoke tests for performance: the benchmark suite runs, and the CLI starts light.

``python -m bench --quick`` (tiny sizes, one round) must run every group and
print the full table; only its structure is checked, never a timing.
``--version`` and ``--help`` must not import LibCST, jinja2, pathspec or
``importlib.metadata``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = ["benchmark", "measured (medians)", "ratio", "target", "status"]
STATUSES = {"PASS", "MISS", "INFO", "N/A"}
# Every row the full benchmark prints, by the start of its first cell.
EXPECTED_ROWS = [
    "single entry: `python -m rewriter`",
    "single entry, imports alone",
    "start-up: `python -m rewriter --version`",
    "big entry, 1",
    "big entry, 6",
    "big entry, linear growth",
    "tree, second run: `rewriter --check` on",
    "tree, second run: `rewriter --check` vs `isort",
    "tree, first run:",
    "machine check, in the same rounds",
    "runtime, import of the rewritten entry vs hand-written (init, then imports): small Flask",
    "runtime, import of the rewritten entry vs hand-written (init, then imports): bare runtime (no",
    "runtime, per call, eager",
    "runtime, per call, lazy",
    "runtime, late-import guard",
    "preload: process start to first request served",
]
HEAVY = {"libcst", "jinja2", "pathspec"}
# Not a dependency, but slower to import than the rest of `--version`.
HEAVY_STDLIB = {"importlib.metadata"}


def environment() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("REWRITER_")}


def table_rows(output: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        for line in output.splitlines()
        if line.startswith("| ")
    ]


def test_quick_benchmark_prints_every_row() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=ROOT,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    header, *rows = table_rows(completed.stdout)
    assert header == COLUMNS
    assert all(len(row) == len(COLUMNS) for row in rows), rows
    assert {row[-1] for row in rows} <= STATUSES, completed.stderr
    names = [row[0] for row in rows]
    assert len(names) == len(EXPECTED_ROWS)
    for name, expected in zip(names, EXPECTED_ROWS, strict=True):
        assert name.startswith(expected)
    for key in ("nproc", "CPU", "Python"):
        assert f"\n- {key}: " in completed.stdout


@pytest.mark.parametrize(
    "option", [pytest.param("--version", id="version"), pytest.param("--help", id="help")]
)
def test_version_and_help_import_nothing_heavy(option: str, tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "rewriter", option],
        cwd=tmp_path,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    imported = {
        line.rpartition("|")[2].strip()
        for line in completed.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "rewriter.cli" in imported
    assert {name for name in imported if name.partition(".")[0] in HEAVY} == set()
    assert imported & HEAVY_STDLIB == set()


def test_compiled_templates_are_cached_per_newline_style(tmp_path: Path) -> None:
    # Compiled templates are kept in jinja2's private cache directory under
    # TMPDIR; LF and CRLF entries must each get their own newline style, from
    # a fresh compile and from the cache alike.
    build = tmp_path / "build"
    (build / "chunks").mkdir(parents=True)
    (build / "chunks" / "__init__.py").write_text("")
    (build / "chunks" / "app.py").write_text("def handler(event):\n    return 1\n")
    (build / "instrument_server.py").write_text("")
    entry = '"""Entry."""\nfrom .chunks.app import handler\n'
    env = {**environment(), "TMPDIR": str(tmp_path)}
    outputs = []
    for _ in range(2):
        for name, newline in (("lf.py", "\n"), ("crlf.py", "\r\n")):
            (build / name).write_bytes(entry.replace("\n", newline).encode())
            completed = subprocess.run(
                [sys.executable, "-m", "rewriter", "-q", "--init", "./instrument_server.py", name],
                cwd=build,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert completed.returncode == 0, completed.stderr
            outputs.append((build / name).read_bytes())
    lf, crlf, lf_again, crlf_again = outputs
    assert (lf_again, crlf_again) == (lf, crlf)
    assert b"\r" not in lf
    assert crlf.count(b"\n") == crlf.count(b"\r\n") > 100
    cached = [path.name for path in tmp_path.glob(f"_jinja2-cache-{os.getuid()}/*.cache")]
    assert any("_lf_" in name for name in cached)
    assert any("_crlf_" in name for name in cached)
