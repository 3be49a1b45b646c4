"""How a run ends: killed, interrupted, cut off from its reader, crashed, or beside another.

All with real processes: ``python -m rewriter`` over a tree slow enough to
be caught in the middle (40 entries of 300 functions, two jobs). After
every ending, each entry holds either its original bytes or exactly its
rewrite, no temporary file is left, and no worker outlives the run.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from _builds import RUNTIME, make_app

from rewriter.config import Settings
from rewriter.core import rewrite_source
from rewriter.interrupts import INTERRUPTED
from rewriter.runner import run_entries
from rewriter.tree import MemoryTree

ENTRIES = 40


def entry_text(functions: int) -> str:
    lines = ['"""A generated server entry."""', "import os", "from .chunks.app import handler", ""]
    for number in range(functions):
        lines += [f"def route_{number}(request, default={number}):", f"    return {number}", ""]
    return "\n".join(lines) + "\n"


def rewritten(text: str) -> str:
    files = {"instrument.server.py": "", "chunks/__init__.py": "", "chunks/app.py": RUNTIME}
    settings = Settings(init="./instrument.server.py")
    return rewrite_source(text, settings, path="index.py", tree=MemoryTree(files)).output


ORIGINAL = entry_text(300)
REWRITTEN = rewritten(ORIGINAL)


def make_tree(root: Path, entries: int = ENTRIES, text: str = ORIGINAL) -> list[Path]:
    """``root/build/appNN/index.py`` for each entry, with its runtime and init."""
    (root / ".git").mkdir(exist_ok=True)
    return [make_app(root / "build" / f"app{number:02d}", text) for number in range(entries)]


def start(root: Path, *args: str, **options: object) -> subprocess.Popen[str]:
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "rewriter", *args],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,
    )


def children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.add(int(name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its exit status is left


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def states(paths: list[Path]) -> list[str]:
    """``original`` or ``rewritten`` for each entry; anything else fails the test."""
    found = []
    for path in paths:
        text = path.read_text()
        assert text in (ORIGINAL, REWRITTEN), f"{path} is neither the original nor its rewrite"
        found.append("rewritten" if text == REWRITTEN else "original")
    return found


def temporaries(root: Path) -> list[Path]:
    return sorted(root.rglob("*.rewriter.tmp"))


def started_work(process: subprocess.Popen[str], paths: list[Path]) -> list[int]:
    """Wait until the run has workers and has rewritten an entry; return the workers."""
    assert wait_for(lambda: "rewritten" in states(paths), 120), "the run never got going"
    workers = sorted(children(process.pid))
    assert len(workers) >= 2, workers
    return workers


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("kill", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_workers_die_with_the_run_and_write_nothing_after_it(
    tmp_path: Path, kill: signal.Signals
) -> None:
    """The signal goes to the run's process only, as ``subprocess.run(timeout=...)`` sends it."""
    paths = make_tree(tmp_path)
    process = start(tmp_path, "-q", "-j", "2", "build")
    workers = started_work(process, paths)
    process.send_signal(kill)
    # The pipes close: no worker holds the caller's stdout and stderr open.
    process.communicate(timeout=60)
    assert process.returncode == -kill
    assert wait_for(lambda: not any(alive(pid) for pid in workers), 10), "a worker outlived the run"
    time.sleep(0.2)
    at_the_end = states(paths)
    time.sleep(3)
    assert states(paths) == at_the_end, "a file was written after the run had gone"
    assert "original" in at_the_end, "the run finished before the kill"
    assert temporaries(tmp_path) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("group", [True, False], ids=["Ctrl-C", "SIGINT to the run alone"])
def test_ctrl_c_exits_130_with_one_line_and_every_file_whole(tmp_path: Path, group: bool) -> None:
    paths = make_tree(tmp_path)
    process = start(tmp_path, "-j", "2", "build", start_new_session=True)
    workers = started_work(process, paths)
    if group:  # what a terminal does: the whole foreground process group gets it
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert stderr.splitlines()[-1] == INTERRUPTED
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert wait_for(lambda: not any(alive(pid) for pid in workers), 10)
    assert "original" in states(paths)
    assert temporaries(tmp_path) == []


@pytest.mark.parametrize(
    ("broken", "code"),
    [pytest.param(False, 1, id="diff found work"), pytest.param(True, 123, id="a file failed")],
)
def test_a_closed_stdout_ends_quietly_with_the_code_the_run_earned(
    tmp_path: Path, broken: bool, code: int
) -> None:
    paths = make_tree(tmp_path, entries=6, text=entry_text(50))
    if broken:
        paths[-1].write_text("def broken(:\n")
    result = subprocess.run(
        [
            "bash",
            "-c",
            f"{sys.executable} -m rewriter --diff build | head -1; exit ${{PIPESTATUS[0]}}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == code, result.stderr
    assert result.stdout.startswith("--- a/build/app00/index.py")
    assert len(result.stdout.splitlines()) == 1
    for trace in ("Traceback", "BrokenPipeError", "Exception ignored"):
        assert trace not in result.stderr, result.stderr
    assert result.stderr.splitlines()[-1] == (
        "6 files would be rewritten."
        if not broken
        else "5 files would be rewritten, 1 file would fail to rewrite."
    )


def test_two_runs_over_one_tree_both_succeed(tmp_path: Path) -> None:
    """Each one finds files the other has just rewritten: unchanged, not failed."""
    paths = make_tree(tmp_path, entries=30, text=entry_text(50))
    runs = [start(tmp_path, "-j", "1", "build") for _ in range(2)]
    outcomes = [run.communicate(timeout=300) for run in runs]
    for run, (_, stderr) in zip(runs, outcomes, strict=True):
        assert run.returncode == 0, stderr
        assert "error" not in stderr
    assert [path.read_text() for path in paths] == [rewritten(entry_text(50))] * len(paths)
    assert temporaries(tmp_path) == []


def test_usage_errors_are_one_line_with_the_one_prefix(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rewriter", "--mode", "nope", "build"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr.splitlines()) == (
        2,
        "",
        [
            "error: argument --mode: invalid choice: 'nope' (choose from 'dynamic-import',"
            " 'top-level-import', 'preload') (see rewriter --help)"
        ],
    )


def test_diff_of_an_unrewritten_tree_prints_no_errors(
    tmp_path: Path,
) -> None:
    make_tree(tmp_path, entries=2, text=entry_text(2))
    unsound = tmp_path / "build" / "app01" / "instrument.server.py"
    unsound.write_text("from chunks import app\n")  # init imports the runtime: still wrong after
    result = subprocess.run(
        [sys.executable, "-m", "rewriter", "--diff", "build"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout.count("--- a/build/") == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: build/app01/instrument.server.py:1:1: imports chunks.app before init"
        " (index.py:5 -> instrument.server.py:1 -> chunks/app.py)"
    ]


@pytest.mark.skipif(
    multiprocessing.get_start_method() != "fork", reason="the unbounded parse is patched in by fork"
)
def test_a_crash_of_libcsts_native_parser_ends_only_its_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real crash: LibCST's parser, given a 20,000-operand ``or`` on a 1 MiB stack, overflows it.

    The limits of ``rewriter.parsing`` never let such a parse happen; they
    are lifted here to stand for what no limit covers. The worker dies with
    SIGSEGV, and the entries without a report run again, each alone.
    """
    import rewriter.parsing

    monkeypatch.setattr(rewriter.parsing, "check_libcst_depth", lambda source, tree: None)
    monkeypatch.setattr(rewriter.parsing, "PARSER_STACK_BYTES", 1024 * 1024)
    paths = make_tree(tmp_path, entries=5, text=entry_text(2))
    crash = paths[2]
    crash.write_text("value = " + " or ".join(["handler"] * 20_000) + "\n")
    settings = Settings(init="./instrument.server.py")
    reports = list(run_entries(paths, settings, jobs=2))
    assert [report.path for report in reports] == [str(path) for path in paths]
    # The other worker may have rewritten an entry whose report the dead pool
    # lost: its second run finds it rewritten.
    statuses = [report.status for report in reports]
    assert statuses[2] == "failed"
    assert set(statuses[:2] + statuses[3:]) <= {"changed", "unchanged"}
    assert reports[2].error is not None
    assert reports[2].error.message == (
        "the process rewriting this file died (signal SIGSEGV) before it finished; writes are"
        " atomic, so the file is whole"
    )
    for path in paths[:2] + paths[3:]:
        assert "# rewriter:init" in path.read_text()
