"""Hostile input never takes the run down: the ``hostile_*`` cases of ``fixtures/bad/``.

Each case once crashed the process (LibCST's native parser overflowed its
stack: exit 139, no message, no summary), ran for minutes, or ended in an
internal error. Here every case runs as a real ``python -m rewriter``, with
a memory limit, so that a crash or a runaway parse fails the test instead of
taking pytest down; and all of them together, with good entries between
them, in one build directory, one job and two, and through the
``rewrite_build`` hook: every other entry is still rewritten and reported.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from _builds import make_app
from test_bad_input import BAD, load_case

HOSTILE = sorted(path.name for path in BAD.iterdir() if path.name.startswith("hostile_"))
MEMORY_LIMIT = 3 * 1024**3  # bytes of address space; the old parses needed more


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def rewriter(
    *args: str, cwd: Path, timeout: float = 120
) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "rewriter", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit_memory,
        check=False,
    )
    return result, time.monotonic() - started


def copy_case(name: str, root: Path) -> Path:
    shutil.copytree(BAD / name, root, ignore=shutil.ignore_patterns("case.toml"))
    (root / ".git").mkdir(exist_ok=True)
    return root


@pytest.mark.parametrize("name", HOSTILE)
def test_each_case_fails_fast_in_its_own_process(name: str, tmp_path: Path) -> None:
    meta = load_case(name)
    root = copy_case(name, tmp_path / name)
    before = (root / "index.py").read_bytes()
    result, elapsed = rewriter("index.py", cwd=root)
    assert (result.returncode, result.stderr.splitlines(), result.stdout) == (
        meta["exit"],
        meta["stderr"],
        "",
    )
    # The bound of the case, plus the start of an interpreter that imports LibCST.
    assert elapsed < meta["seconds"] + 5
    assert (root / "index.py").read_bytes() == before


def hostile_build(root: Path) -> Path:
    """``root/build``: a good entry before, between and after every hostile one."""
    build = root / "build"
    for number, name in enumerate(HOSTILE):
        copy_case(name, build / f"app{2 * number + 1:02d}")
        shutil.rmtree(build / f"app{2 * number + 1:02d}" / ".git")
    for number in range(0, 2 * len(HOSTILE) + 1, 2):
        make_app(build / f"app{number:02d}")
    (root / ".git").mkdir()
    return build


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_every_other_entry_is_rewritten_and_reported(jobs: str, tmp_path: Path) -> None:
    build = hostile_build(tmp_path)
    good = len(HOSTILE) + 1
    result, _ = rewriter("-j", jobs, "--format", "json", "build", cwd=tmp_path, timeout=300)
    assert result.returncode == 123, result.stderr
    report = json.loads(result.stdout)
    statuses = {item["path"]: item["status"] for item in report["files"]}
    assert len(statuses) == good + len(HOSTILE)
    for path, status in statuses.items():
        number = int(Path(path).parent.name.removeprefix("app"))
        assert status == ("changed" if number % 2 == 0 else "failed"), path
    for number in range(0, 2 * len(HOSTILE) + 1, 2):
        assert "# rewriter:init" in (build / f"app{number:02d}" / "index.py").read_text()
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        load_case(name)["stderr"][0].replace(
            "error: index.py", f"error: build/app{2 * number + 1:02d}/index.py", 1
        )
        for number, name in enumerate(HOSTILE)
    ]
    assert result.stderr.splitlines()[-1] == (
        f"{good} files rewritten, {len(HOSTILE)} files failed to rewrite."
    )


def test_the_build_hook_reports_them_and_returns(tmp_path: Path) -> None:
    """``rewrite_build`` keeps its promise: a report, never a crash or an exception."""
    build = hostile_build(tmp_path)
    program = textwrap.dedent(
        f"""
        from rewriter import Settings, rewrite_build

        report = rewrite_build({str(build)!r}, Settings(), jobs=1)
        print(len(report.rewritten), len(report.failed), report.exit_code())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=limit_memory,
        check=False,
    )
    assert (result.returncode, result.stdout) == (
        0,
        f"{len(HOSTILE) + 1} {len(HOSTILE)} 123\n",
    ), result.stderr
