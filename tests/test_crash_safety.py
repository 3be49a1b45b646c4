"""Crash safety: ``python -m rewriter index.py`` killed with SIGKILL at random
moments never leaves a half-written entry.

A generated entry of a few thousand lines is rewritten in a subprocess that
is killed after a random delay, uniform over the time a whole run takes, 200
times (two at a time). Another batch is killed right after the temporary file
appears, which is when a non-atomic write would tear the file. After every
kill the entry holds either exactly the original bytes or exactly the
rewritten bytes, and keeps its mode. A SIGKILL leaves no chance to clean up,
so the temporary file may stay behind: it is a hidden
``.index.py.*.rewriter.tmp`` file beside the entry, never an entry itself,
and the next run removes it and says so.
"""

from __future__ import annotations

import os
import random
import re
import signal
import stat
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from rewriter import cli
from rewriter.writing import STALE_AFTER

pytestmark = pytest.mark.slow

SEED = 1337
UNIFORM_KILLS = 200
TARGETED_KILLS = 30
WORKERS = 2
FUNCTIONS = 100
MODE = 0o640
TEMPORARY = re.compile(r"\.index\.py\.[A-Za-z0-9_]+\.rewriter\.tmp")


def big_entry(functions: int) -> bytes:
    lines = [
        '"""A big generated server entry."""',
        "import os",
        "from .chunks.app import handler",
        "from .chunks import app as _app",
        "",
    ]
    for number in range(functions):
        lines += [
            f"def function_{number}(value, other={number}):",
            f'    """Function {number}."""',
            f"    return value * {number} + other  # {number}",
            "",
        ]
    return ("\n".join(lines) + "\n").encode()


FILES = {
    "instrument.server.py": b"# instrumentation init\n",
    "chunks/__init__.py": b"",
    "chunks/app.py": b"def handler(event, context):\n    return 'ok'\n",
}
ORIGINAL = big_entry(FUNCTIONS)


def make_copy(directory: Path) -> Path:
    """A fresh build directory with the big entry (mode 0640); returns the entry."""
    for relpath, data in FILES.items():
        (directory / relpath).parent.mkdir(parents=True, exist_ok=True)
        (directory / relpath).write_bytes(data)
    (directory / ".git").mkdir()
    entry = directory / "index.py"
    entry.write_bytes(ORIGINAL)
    entry.chmod(MODE)
    return entry


def start(directory: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "rewriter", "-q", "index.py"],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@dataclass(frozen=True)
class Outcome:
    state: str  # "original" or "rewritten"
    exited: bool  # the run had finished before the kill
    leftovers: tuple[str, ...]


def outcome(directory: Path, process: subprocess.Popen[bytes], rewritten: bytes) -> Outcome:
    _, stderr = process.communicate(timeout=120)
    entry = directory / "index.py"
    data = entry.read_bytes()
    assert data in (ORIGINAL, rewritten), "the entry is neither the original nor the rewrite"
    assert stat.S_IMODE(entry.stat().st_mode) == MODE
    leftovers = tuple(
        sorted(set(os.listdir(directory)) - {"index.py", ".git", *(p.split("/")[0] for p in FILES)})
    )
    for name in leftovers:
        assert TEMPORARY.fullmatch(name), f"unexpected file left behind: {name}"
    exited = process.returncode == 0
    if exited:
        assert stderr == b""
    else:
        assert process.returncode == -signal.SIGKILL
    return Outcome("rewritten" if data == rewritten else "original", exited, leftovers)


def kill_after(directory: Path, delay: float, rewritten: bytes) -> Outcome:
    process = start(directory)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    return outcome(directory, process, rewritten)


def kill_during_write(directory: Path, delay: float, rewritten: bytes) -> Outcome:
    """Kill ``delay`` seconds after the temporary file appears (or when the run ends)."""
    process = start(directory)
    while process.poll() is None:
        if any(name.endswith(".rewriter.tmp") for name in os.listdir(directory)):
            time.sleep(delay)
            break
        time.sleep(0.0002)  # leaves the CPU to the rewriter
    process.send_signal(signal.SIGKILL)
    return outcome(directory, process, rewritten)


def test_sigkill_never_tears_the_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A first whole run warms the caches (bytecode, file system) up; then two
    # at a time, like the kills below: the rewritten bytes, and how long a run
    # takes when the machine is as busy as during the kills.
    warm_up = tmp_path / "warm_up"
    warm_up.mkdir()
    make_copy(warm_up)
    assert start(warm_up).wait(timeout=300) == 0
    rewritten = (warm_up / "index.py").read_bytes()
    assert rewritten != ORIGINAL
    references = [tmp_path / "reference0", tmp_path / "reference1"]
    for reference in references:
        reference.mkdir()
        make_copy(reference)
    started = time.monotonic()
    processes = [start(reference) for reference in references]
    for process in processes:
        _, stderr = process.communicate(timeout=300)
        assert (process.returncode, stderr) == (0, b"")
    duration = time.monotonic() - started
    for reference in references:
        assert (reference / "index.py").read_bytes() == rewritten
        assert stat.S_IMODE((reference / "index.py").stat().st_mode) == MODE
        assert not [name for name in os.listdir(reference) if name.endswith(".tmp")]

    chance = random.Random(SEED)
    jobs = []
    for number in range(UNIFORM_KILLS):
        jobs.append((kill_after, tmp_path / f"u{number}", chance.uniform(0, duration * 1.1)))
    for number in range(TARGETED_KILLS):
        jobs.append((kill_during_write, tmp_path / f"t{number}", chance.uniform(0, 0.01)))
    for _, directory, _ in jobs:
        directory.mkdir()
        make_copy(directory)
    with ThreadPoolExecutor(WORKERS) as pool:
        outcomes = list(pool.map(lambda job: job[0](job[1], job[2], rewritten), jobs))

    assert len(outcomes) == UNIFORM_KILLS + TARGETED_KILLS
    counts = Counter(
        (result.state, "exited" if result.exited else "killed", bool(result.leftovers))
        for result in outcomes
    )
    left = [name for result in outcomes for name in result.leftovers]
    with capsys.disabled():
        print(
            f"\ncrash safety: one run takes {duration:.2f}s; outcomes "
            f"(state, exited/killed, temp file left): {dict(sorted(counts.items()))}; "
            f"{len(left)} temporary files left behind"
        )
    # Both outcomes were seen, so the kills really landed before and after the rename.
    assert {result.state for result in outcomes} == {"original", "rewritten"}

    # A temporary file left by a kill is not an entry: the next run removes it
    # (once it is older than a live run's could be) and says so.
    for result, (_, directory, _) in zip(outcomes, jobs, strict=True):
        if result.leftovers and result.state == "original":
            monkeypatch.chdir(directory)
            then = time.time() - 2 * STALE_AFTER
            for name in result.leftovers:
                os.utime(directory / name, (then, then))
            capsys.readouterr()
            assert cli.main(["."]) == 0
            assert (directory / "index.py").read_bytes() == rewritten
            assert not set(result.leftovers) & set(os.listdir(directory))
            warnings = capsys.readouterr().err.splitlines()
            for name in result.leftovers:
                assert (
                    f"warning: {name}:1:1: removed: a temporary file that an interrupted run"
                    " left behind"
                ) in warnings
            break
