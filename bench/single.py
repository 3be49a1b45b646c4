"""One entry from the command line, against the floor ``python -c "import libcst"``.

The entry (about 200 lines, see ``entries.py``) is restored from a pristine
copy before every run, so each run is a real first rewrite: read, rewrite,
verify, write.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.config import Config
from bench.entries import write_app
from bench.measure import (
    INFO,
    BenchError,
    Row,
    at_most,
    clean_env,
    interleave,
    ms,
    python,
    ratio,
    run_process,
    timed_process,
)

TARGET = 1.3


def run(work: Path, config: Config) -> list[Row]:
    entry = write_app(work / "app", config.single_lines)
    (work / "pyproject.toml").write_text('[tool.rewriter]\ninit = "./instrument_server.py"\n')
    pristine = entry.with_name("index.py.pristine")
    shutil.copyfile(entry, pristine)
    env = clean_env()

    def rewrite() -> float:
        shutil.copyfile(pristine, entry)
        elapsed, _ = run_process(
            [python(), "-m", "rewriter", "-q", "app/index.py"], cwd=work, env=env
        )
        if entry.read_text() == pristine.read_text():
            raise BenchError("the entry was not rewritten")
        return elapsed

    floor = timed_process([python(), "-c", "import libcst"], env=env)
    # The modules a one-entry run imports (jinja2 and tomllib included), and
    # nothing run: the part of the single-entry ratio that is import time alone.
    modules = "libcst, tomllib, rewriter.cli, rewriter.runner, rewriter.core, rewriter.fastpath"
    imports = timed_process([python(), "-c", f"import {modules}, rewriter.verify"], env=env)
    version = timed_process([python(), "-m", "rewriter", "--version"], env=env)
    bare = timed_process([python(), "-c", "pass"], env=env)
    if config.warm_up:
        rewrite(), floor()
    times = interleave(
        [
            ("rewrite", rewrite),
            ("floor", floor),
            ("imports", imports),
            ("version", version),
            ("bare", bare),
        ],
        config.single_rounds,
    )
    lines = len(pristine.read_text().splitlines())
    value = times["rewrite"] / times["floor"]
    return [
        Row(
            f"single entry: `python -m rewriter` on a {lines}-line entry"
            " vs `python -c 'import libcst'`",
            f"{ms(times['rewrite'])} vs {ms(times['floor'])}",
            ratio(value),
            f"≤ {TARGET:.2f}x",
            at_most(value, TARGET),
        ),
        Row(
            "single entry, imports alone: rewriter's modules (jinja2 included)"
            " vs `python -c 'import libcst'`",
            f"{ms(times['imports'])} vs {ms(times['floor'])}",
            ratio(times["imports"] / times["floor"]),
            "-",
            INFO,
        ),
        Row(
            "start-up: `python -m rewriter --version` vs `python -c pass`",
            f"{ms(times['version'])} vs {ms(times['bare'])}",
            ratio(times["version"] / times["bare"]),
            "-",
            INFO,
        ),
    ]
