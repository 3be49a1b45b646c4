"""Smoke tests for performance: the benchmark suite runs, and the CLI starts light.

``python -m bench --quick`` (tiny sizes, one round) must run every group and
print the full table; only its structure is checked, never a timing.
``--version`` and ``--help`` must not import LibCST, jinja2, pathspec or
``importlib.metadata``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IMPORT_TIME = ROOT / "bench" / "scripts" / "import_time.py"
COLUMNS = ["benchmark", "measured (medians)", "ratio", "target", "status"]
STATUSES = {"PASS", "MISS", "INFO", "N/A"}
# The modes the import rows measure, in their order (bench/startup.py).
IMPORT_VARIANTS = [
    "default mode",
    "default mode, no guard",
    "top-level-import",
    "preload (flask)",
    "lazy",
    "path-loaded init `./instrument.server.py`",
]
# Every row the full benchmark prints, by the start of its first cell.
EXPECTED_ROWS = [
    "single entry, first run, warm: `python -m rewriter`",
    "single entry, first run, cold (page cache dropped",
    "single entry, second run: `python -m rewriter --check`",
    "single entry, second run without the cache: `--check --no-cache`",
    "single entry, second run: heavy modules that `--check` imported",
    "single entry, imports alone",
    "single entry, the least a first run can take",
    "start-up: `python -m rewriter --version`",
    "big entry, 1",
    "big entry, 6",
    "big entry, linear growth",
    "memory, first run on a 310-line entry",
    "memory, first run on a 1,500-line entry",
    "memory-aware `-j`: peak growth per byte of entry",
    "tree, second run: `rewriter --check` on",
    "tree, second run without the cache: `rewriter --check --no-cache`",
    "tree, what any analysis must do: CPython's `ast.parse`",
    "tree, second run: `rewriter --check` vs `isort",
    "tree, first run:",
    "machine check, in the same rounds",
    *(
        f"import, {variant}, {cache}: rewritten bare runtime vs hand-written"
        for variant in IMPORT_VARIANTS
        for cache in ("bytecode cached", "no bytecode cache")
    ),
    "import, late-import guard with nothing loaded",
    "import, modules in `sys.modules` after the rewritten bare runtime",
    *(f"generated code, {variant}: lines" for variant in IMPORT_VARIANTS),
    "import, small Flask app",
    "runtime, per call, eager",
    "runtime, per call, lazy, after the first call: the stand-in a server holds",
    "runtime, per call, lazy, after the first call: a minimal Flask request",
    "preload: process start to first request served, `--mode preload` vs"
    " `opentelemetry-instrument`, every installed integration",
    "preload: process start to first request served, `--mode preload` vs"
    " `opentelemetry-instrument`, fair",
    "preload, fair, the least any preload can take",
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
    assert len(names) == len(EXPECTED_ROWS), names
    for name, expected in zip(names, EXPECTED_ROWS, strict=True):
        assert name.startswith(expected)
    by_name = {row[0]: row for row in rows}
    modules = next(row for name, row in by_name.items() if "modules in `sys.modules`" in name)
    for variant in IMPORT_VARIANTS:
        assert f"{variant}: " in modules[1]
    for name, row in by_name.items():
        if name.startswith("generated code, "):
            assert re.fullmatch(r"[1-9]\d* lines", row[2]), row
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
    assert b"# rewriter:init" in crlf
    assert crlf.count(b"\n") == crlf.count(b"\r\n") > 50
    cached = [path.name for path in tmp_path.glob(f"_jinja2-cache-{os.getuid()}/*.cache")]
    assert any("_lf_" in name for name in cached)
    assert any("_crlf_" in name for name in cached)


def python_run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run this interpreter with ``args``, for a minute at most; its output captured."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_import_time_starts_the_clock_before_anything_the_import_loads(tmp_path: Path) -> None:
    # The script used to import `importlib` before its clock: modules that a
    # rewritten entry imports through it were loaded, untimed, on both sides.
    package = tmp_path / "entry"
    package.mkdir()
    (package / "__init__.py").write_text("import importlib, functools, warnings, os\n")
    completed = python_run("-I", "-S", IMPORT_TIME, tmp_path, "entry")
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert {"entry", "importlib", "functools", "warnings", "os"} <= set(report["modules"])
    assert report["seconds"] > 0
    assert report["init_saw"] is None


def test_import_time_refuses_an_interpreter_that_ran_site(tmp_path: Path) -> None:
    (tmp_path / "entry.py").write_text("")
    completed = python_run("-I", IMPORT_TIME, tmp_path, "entry")
    assert completed.returncode != 0
    assert "-I -S" in completed.stderr


def imported_modules(root: Path, *options: str) -> set[str]:
    """The modules that importing ``web.index`` from ``root`` loads in a bare interpreter."""
    completed = python_run("-I", "-S", IMPORT_TIME, root, "web.index", *options)
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["init_saw"] == [], "the init ran after the runtime, or not at all"
    return set(report["modules"])


@pytest.mark.parametrize("variant", range(6), ids=IMPORT_VARIANTS)
def test_generated_code_imports_nothing_the_hand_written_entry_does_not(
    variant: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 16: no importlib, functools, warnings or logging on the success
    # path. The lazy stand-in is a partial from the built-in `_functools`
    # (a staticmethod object would need no import, but it cannot be copied
    # or pickled and is not callable before Python 3.10).
    from bench.entries import write_web_app
    from bench.startup import VARIANTS
    from rewriter.runner import rewrite_file

    chosen = VARIANTS[variant]
    assert chosen.name == IMPORT_VARIANTS[variant]
    write_web_app(tmp_path / "hand", hand_written=True)
    entry = write_web_app(tmp_path / "rewritten")
    monkeypatch.chdir(tmp_path / "rewritten")
    assert rewrite_file(entry, chosen.settings).status == "changed"
    call = ["--call"] if chosen.call else []
    extra = imported_modules(tmp_path / "rewritten", *call) - imported_modules(
        tmp_path / "hand", *call
    )
    # The once-per-process record, and a path-loaded init under its own name.
    allowed = {"_rewriter_state", "web._rewriter_init_instrument_server"}
    if chosen.settings.lazy:
        allowed.add("_functools")
    assert extra - allowed == set()


def test_peak_memory_is_each_childs_own() -> None:
    # On Linux, wait4's ru_maxrss of a child includes the parent's size at
    # the fork: a small child of a big parent must still read small, and a
    # big child big.
    code = """
import json, sys
from bench.measure import peak_python
ballast = bytearray(300 * 2**20)
ballast[::4096] = b"1" * len(ballast[::4096])  # resident, not only reserved
grow = "x = bytearray(200 * 2**20); x[::4096] = b'1' * len(x[::4096])"
print(json.dumps([peak_python(["-c", grow])[1], peak_python(["-c", "pass"])[1]]))
"""
    completed = python_run("-c", code, cwd=ROOT)
    assert completed.returncode == 0, completed.stderr
    big, small = json.loads(completed.stdout)
    assert 200 * 2**20 < big < 290 * 2**20
    assert small < 100 * 2**20
