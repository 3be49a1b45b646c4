"""The progress line: on a real pseudo-terminal, never without one."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from rewriter.errors import Diagnostic
from rewriter.progress import ProgressLine
from rewriter.report import FileReport, Status

FRAME = re.compile(r"rewriter: (\d+)/(\d+) entries, (\d+) failed, \d+\.\d s *")
ENTRIES = 12
TIMEOUT = 120  # seconds


def write_build(root: Path, *, broken: bool = True) -> None:
    """``root/build``: ENTRIES entries, the first of them broken when ``broken``."""
    (root / "pyproject.toml").write_text('[tool.rewriter]\ninit = "instrument"\n')
    (root / "instrument.py").write_text("")  # where a server started in root imports it
    for number in range(ENTRIES):
        server = root / "build" / f"s{number:02d}"
        server.mkdir(parents=True)
        (server / "__init__.py").write_text("")
        (server / "app.py").write_text("def handler(event, context):\n    return event\n")
        body = "from .app import handler\n"
        if broken and number == 0:
            body = "def handler(:\n"
        (server / "index.py").write_text(body)


@dataclass
class Run:
    returncode: int
    terminal: str  # everything written to the pseudo-terminal
    stdout: str  # what went to the pipe, when stdout is not the terminal


def run_on_terminal(
    cwd: Path, *args: str, columns: int = 80, stdout_too: bool = False
) -> Run:
    """Run ``python -m rewriter ARGS`` with stderr (and stdout) on a pseudo-terminal."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {key: value for key, value in os.environ.items() if not key.startswith("REWRITER_")}
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "rewriter", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=slave if stdout_too else subprocess.PIPE,
            stderr=slave,
        )
    finally:
        os.close(slave)
    chunks = []
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every process holding the terminal has exited
                break
            if not chunk:
                break
            chunks.append(chunk)
        stdout = process.stdout.read().decode() if process.stdout else ""
        returncode = process.wait(timeout=TIMEOUT)
    finally:
        process.kill()
        if process.stdout:
            process.stdout.close()
        os.close(master)
    return Run(returncode, b"".join(chunks).decode(), stdout)


def screen(transcript: str) -> list[str]:
    """The lines a terminal shows for ``transcript`` (carriage returns overwrite)."""
    lines: list[list[str]] = [[]]
    column = 0
    for char in transcript:
        if char == "\r":
            column = 0
        elif char == "\n":
            lines.append([])
            column = 0
        else:
            line = lines[-1]
            line.extend(" " * (column + 1 - len(line)))
            line[column] = char
            column += 1
    shown = ["".join(line).rstrip() for line in lines]
    while shown and not shown[-1]:
        shown.pop()
    return shown


def frames(transcript: str) -> list[tuple[int, int, int]]:
    """Every progress line drawn, as ``(done, total, failed)``."""
    return [
        (int(match[1]), int(match[2]), int(match[3]))
        for piece in re.split(r"[\r\n]", transcript)
        if (match := FRAME.fullmatch(piece))
    ]


def run_on_pipes(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rewriter", *args],
        cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )


def test_progress_line_on_a_terminal(tmp_path: Path) -> None:
    write_build(tmp_path)
    run = run_on_terminal(tmp_path, "-j", "1", "--check", "build")
    assert run.returncode == 123, run.terminal
    drawn = frames(run.terminal)
    assert drawn[0] == (0, ENTRIES, 0)
    assert drawn[-1] == (ENTRIES, ENTRIES, 1)
    assert drawn == sorted(drawn)
    # The line was erased before each message and at the end: what stays on
    # screen is what the run prints without a terminal.
    plain = run_on_pipes(tmp_path, "-j", "1", "--check", "build")
    assert plain.stderr.startswith("error: build/s00/index.py:1:13: ")
    assert plain.stderr.count("would rewrite ") == ENTRIES - 1
    assert screen(run.terminal) == plain.stderr.splitlines()


def test_progress_line_with_a_process_pool(tmp_path: Path) -> None:
    write_build(tmp_path, broken=False)
    run = run_on_terminal(tmp_path, "-j", "2", "build")
    assert run.returncode == 0, run.terminal
    assert frames(run.terminal)[-1] == (ENTRIES, ENTRIES, 0)
    assert screen(run.terminal) == [f"{ENTRIES} files rewritten."]


def test_progress_line_fits_a_narrow_terminal(tmp_path: Path) -> None:
    write_build(tmp_path, broken=False)
    run = run_on_terminal(tmp_path, "-j", "1", "build", columns=30)
    assert run.returncode == 0, run.terminal
    drawn = [piece for piece in re.split(r"[\r\n]", run.terminal) if piece.startswith("rewr")]
    assert drawn
    # One column short of the width: a line that fills it makes some terminals wrap.
    assert {len(piece.rstrip()) for piece in drawn} == {29}
    assert screen(run.terminal) == [f"{ENTRIES} files rewritten."]


def test_a_diff_on_the_same_terminal_stays_readable(tmp_path: Path) -> None:
    write_build(tmp_path, broken=False)
    run = run_on_terminal(tmp_path, "-j", "1", "--diff", "build", stdout_too=True)
    assert run.returncode == 1
    assert frames(run.terminal)
    # What stays on screen is what the run prints to a pipe (each diff is
    # flushed after the messages about its file).
    plain = subprocess.run(
        [sys.executable, "-m", "rewriter", "-j", "1", "--diff", "build"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=TIMEOUT, check=False,
    )
    assert plain.stdout.count("+++ b/build/") == ENTRIES
    assert screen(run.terminal) == plain.stdout.splitlines()


def test_nothing_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    write_build(tmp_path)
    result = run_on_pipes(tmp_path, "-j", "1", "build")
    assert result.returncode == 123
    error, summary = result.stderr.splitlines()
    assert error.startswith("error: build/s00/index.py:1:13: ")
    assert summary == f"{ENTRIES - 1} files rewritten, 1 file failed to rewrite."
    assert "\r" not in result.stderr


def test_nothing_when_quiet(tmp_path: Path) -> None:
    write_build(tmp_path)
    run = run_on_terminal(tmp_path, "-q", "-j", "1", "build")
    assert run.returncode == 123
    assert run.terminal.startswith("error: build/s00/index.py:1:13: ")
    assert run.terminal.count("\r") == 1  # the terminal's own, before the newline
    assert run.terminal.endswith("\r\n")


def test_nothing_with_json_output(tmp_path: Path) -> None:
    write_build(tmp_path)
    run = run_on_terminal(tmp_path, "--format", "json", "-j", "1", "build")
    assert run.returncode == 123
    assert frames(run.terminal) == []
    assert "\r" not in run.terminal.replace("\r\n", "\n")
    assert json.loads(run.stdout)["exit_code"] == 123


class FakeTerminal(io.StringIO):
    """A text stream that says it is a terminal (80 columns: it has no file descriptor)."""

    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def report(status: Status) -> FileReport:
    if status == "failed":
        return FileReport.from_error("x.py", Diagnostic("broken"))
    return FileReport("x.py", status)


def test_line_text() -> None:
    clock = Clock()
    line = ProgressLine(FakeTerminal(), 3, clock=clock)
    clock.now += 0.25
    line.advance(report("failed"))
    assert line.text() == "rewriter: 1/3 entries, 1 failed, 0.2 s"
    clock.now += 125
    assert line.text() == "rewriter: 1/3 entries, 1 failed, 2 min 05 s"


def test_redraws_at_most_once_per_interval() -> None:
    clock = Clock()
    terminal = FakeTerminal()
    line = ProgressLine(terminal, 5, clock=clock, interval=0.1)
    line.advance(report("changed"))  # first: nothing on screen yet
    line.advance(report("changed"))
    line.advance(report("unchanged"))
    clock.now += 0.15
    line.advance(report("changed"))  # the interval has passed
    line.advance(report("changed"))  # the last entry is always shown
    assert [done for done, _, _ in frames(terminal.getvalue())] == [1, 4, 5]


def test_erase_leaves_a_blank_line() -> None:
    terminal = FakeTerminal()
    line = ProgressLine(terminal, 2, clock=Clock())
    line.draw()
    line.erase()
    line.erase()  # nothing more to erase
    assert screen(terminal.getvalue()) == []
    assert terminal.getvalue().count("\r") == 3


def test_messages_written_while_tracking_erase_the_line_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    line = ProgressLine(terminal, 2, clock=Clock())
    for item in line.track([report("failed"), report("changed")]):
        if item.status == "failed":
            print("error: x.py: broken", file=sys.stderr)
    assert sys.stderr is terminal
    assert frames(terminal.getvalue())[-1] == (2, 2, 1)
    assert screen(terminal.getvalue()) == ["error: x.py: broken"]
