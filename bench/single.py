"""One entry from the command line, against the floor ``python -c "import libcst"``.

The entry (about 200 lines, see ``entries.py``) is restored from a pristine
copy before every first run, so each is a real first rewrite: read,
rewrite, verify, write. Rows:

- first run, warm: every cache as the previous rounds left it (the page
  cache, the bytecode of every module, jinja2's compiled templates);
- first run, cold: before each run of either side, the kernel's page cache
  is dropped (``/proc/sys/vm/drop_caches``, so every file is read from the
  disk again) and ``TMPDIR`` is a new empty directory (no compiled
  templates). The bytecode of the installed packages and of the standard
  library stays, as ``pip install`` and the Python installer wrote it;
- second run: ``--check`` on the rewritten entry, and which of the heavy
  modules that run imported (from ``python -X importtime``);
- the imports alone, and ``--version``, for where the time goes;
- the least any first run can take with LibCST and jinja2: import both,
  then parse and print the entry with LibCST. The target cannot be met
  where this floor is above it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from bench.config import Config
from bench.entries import write_app
from bench.measure import (
    INFO,
    NOT_AVAILABLE,
    BenchError,
    Row,
    at_most,
    clean_env,
    drop_page_cache,
    imported_modules,
    interleave,
    ms,
    page_cache_problem,
    python,
    ratio,
    run_process,
    timed_process,
)

TARGET = 1.3
CHECK_TARGET = 0.5
HEAVY = ("libcst", "jinja2", "pathspec")
FLOOR = "`python -c 'import libcst'`"
PYPROJECT = '[tool.rewriter]\ninit = "./instrument_server.py"\n'
REWRITE = ("-m", "rewriter", "-q", "app/index.py")
# -X importtime also lists the imports that failed (`msvcrt`, `nt`, ...), as
# the run tried them: try them too.
IMPORT_ALL = """
import sys
for name in sys.argv[1:]:
    try:
        __import__(name)
    except ImportError:
        pass
"""
# The least a first run can do: it imports LibCST and jinja2 (the template
# engine), and parses and prints the entry with LibCST.
LEAST = """
import sys
import jinja2
import libcst
with open(sys.argv[1], encoding="utf-8") as file:
    libcst.parse_module(file.read()).code
"""


def run(work: Path, config: Config) -> list[Row]:
    entry = write_app(work / "app", config.single_lines)
    (work / "pyproject.toml").write_text(PYPROJECT)
    pristine = entry.read_text()
    env = clean_env()
    lines = len(pristine.splitlines())

    def rewrite(environment: dict[str, str] = env) -> float:
        entry.write_text(pristine)
        elapsed, _ = run_process([python(), *REWRITE], cwd=work, env=environment)
        if entry.read_text() == pristine:
            raise BenchError("the entry was not rewritten")
        return elapsed

    floor = timed_process([python(), "-c", "import libcst"], env=env)
    # Every module a one-entry run imports, and nothing run: the part of the
    # single-entry ratio that is import time alone.
    entry.write_text(pristine)
    run_modules = imported_modules([python(), *REWRITE], cwd=work, env=env)
    modules = sorted(name for name in run_modules if name and "__main__" not in name)
    imports = timed_process([python(), "-c", IMPORT_ALL, *modules], env=env)
    copy = work / "pristine.py"
    copy.write_text(pristine)
    least = timed_process([python(), "-c", LEAST, str(copy)], env=env)
    version = timed_process([python(), "-m", "rewriter", "--version"], env=env)
    bare = timed_process([python(), "-c", "pass"], env=env)
    if config.warm_up:
        rewrite(), floor()
    times = interleave(
        [
            ("rewrite", rewrite),
            ("floor", floor),
            ("imports", imports),
            ("least", least),
            ("version", version),
            ("bare", bare),
        ],
        config.single_rounds,
    )
    value = times["rewrite"] / times["floor"]
    what = f"on a {lines}-line entry vs {FLOOR}"
    rows = [
        Row(
            f"single entry, first run, warm: `python -m rewriter` {what}",
            f"{ms(times['rewrite'])} vs {ms(times['floor'])}",
            ratio(value),
            f"≤ {TARGET:.2f}x",
            at_most(value, TARGET),
        ),
        cold_row(work, config, rewrite, what),
        *second_run_rows(work, config, env),
        Row(
            f"single entry, imports alone: every module a first run imports vs {FLOOR}",
            f"{ms(times['imports'])} vs {ms(times['floor'])}",
            ratio(times["imports"] / times["floor"]),
            "-",
            INFO,
        ),
        Row(
            "single entry, the least a first run can take: import LibCST and jinja2, parse"
            f" and print the entry with LibCST, vs {FLOOR}",
            f"{ms(times['least'])} vs {ms(times['floor'])}",
            ratio(times["least"] / times["floor"]),
            f"the floor of the {TARGET:.2f}x target",
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
    return rows


def cold_row(
    work: Path, config: Config, rewrite: Callable[[dict[str, str]], float], what: str
) -> Row:
    label = (
        "single entry, first run, cold (page cache dropped, no compiled templates):"
        f" `python -m rewriter` {what}"
    )
    reason = page_cache_problem()
    if reason is not None:
        return Row(label, reason, "-", "-", NOT_AVAILABLE)
    temporary = work / "tmp"

    def cold(run: Callable[[dict[str, str]], float]) -> Callable[[], float]:
        def side() -> float:
            shutil.rmtree(temporary, ignore_errors=True)
            temporary.mkdir()
            environment = clean_env(TMPDIR=str(temporary))
            drop_page_cache()
            return run(environment)

        return side

    def floor(environment: dict[str, str]) -> float:
        return run_process([python(), "-c", "import libcst"], env=environment)[0]

    times = interleave([("rewrite", cold(rewrite)), ("floor", cold(floor))], config.cold_rounds)
    value = times["rewrite"] / times["floor"]
    return Row(
        label,
        f"{ms(times['rewrite'])} vs {ms(times['floor'])}",
        ratio(value),
        f"≤ {TARGET:.2f}x",
        at_most(value, TARGET),
    )


def second_run_rows(work: Path, config: Config, env: dict[str, str]) -> list[Row]:
    """``--check`` on the entry the first run rewrote, and what that run imports.

    The first ``--check`` keeps its verdict, which the timed ones reuse
    (``rewriter.cache``); the same check with ``--no-cache`` analyses the
    entry every time, as on a machine that has not run it before.
    """
    check = [python(), "-m", "rewriter", "-q", "--check", "app/index.py"]
    fresh = [*check, "--no-cache"]
    run_process(check, cwd=work, env=env)  # exit 0: already rewritten and sound
    floor = timed_process([python(), "-c", "import libcst"], env=env)
    times = interleave(
        [
            ("check", timed_process(check, cwd=work, env=env)),
            ("fresh", timed_process(fresh, cwd=work, env=env)),
            ("floor", floor),
        ],
        config.single_rounds,
    )
    value = times["check"] / times["floor"]
    imported = imported_modules(check, cwd=work, env=env)
    imported_fresh = imported_modules(fresh, cwd=work, env=env)
    heavy = [name for name in HEAVY if name in imported]
    heavy_fresh = [name for name in HEAVY if name in imported_fresh]
    return [
        Row(
            f"single entry, second run: `python -m rewriter --check` on the rewritten entry"
            f" vs {FLOOR}",
            f"{ms(times['check'])} vs {ms(times['floor'])}",
            ratio(value),
            f"≤ {CHECK_TARGET:.2f}x",
            at_most(value, CHECK_TARGET),
        ),
        Row(
            f"single entry, second run without the cache: `--check --no-cache` vs {FLOOR}",
            f"{ms(times['fresh'])} vs {ms(times['floor'])}",
            ratio(times["fresh"] / times["floor"]),
            f"≤ {CHECK_TARGET:.2f}x",
            at_most(times["fresh"] / times["floor"], CHECK_TARGET),
        ),
        Row(
            "single entry, second run: heavy modules that `--check` imported"
            " (`python -X importtime`), with the cache; without",
            f"{', '.join(heavy) or 'none'}; {', '.join(heavy_fresh) or 'none'}",
            "-",
            "no libcst",
            INFO,
        ),
    ]
