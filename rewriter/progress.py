"""A progress line on the terminal while a run works through many entries.

The line reads ``rewriter: 120/500 entries, 2 failed, 3.4 s`` and is redrawn
in place on stderr as entries finish, at most every ``interval`` seconds. It
is for a person watching, so it is shown only when stderr is a terminal, and
it never ends up in a log: it is erased before anything else is written to
the terminal (messages, a diff on a terminal stdout) and when the run ends.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO, cast

from rewriter.report import FileReport

# Below this, a run is over before a line could tell anyone anything.
_MIN_ENTRIES = 2
_FALLBACK_COLUMNS = 80


class ProgressLine:
    """``done/total`` entries, failures so far and time elapsed, on one terminal line.

    ``stream`` is the terminal the line is drawn on (stderr). ``total`` is
    the number of entries the run will report. ``clock`` returns seconds
    (``time.monotonic``); ``interval`` is the least time, in seconds,
    between two redraws while entries keep finishing.
    """

    def __init__(
        self,
        stream: TextIO,
        total: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        interval: float = 0.1,
    ) -> None:
        self.stream = stream
        self.total = total
        self.done = 0
        self.failed = 0
        self._clock = clock
        self._interval = interval
        self._started = clock()
        self._drawn_at: float | None = None
        self._shown = ""

    def text(self) -> str:
        """The line as it reads now, before it is fitted to the terminal's width."""
        return (
            f"rewriter: {self.done}/{self.total} entries, {self.failed} failed, "
            f"{_elapsed(self._clock() - self._started)}"
        )

    def advance(self, report: FileReport) -> None:
        """Count one finished entry and redraw when it is time to.

        The line is redrawn when it is not on screen (it was erased for a
        message), when the last entry is done, and otherwise at most every
        ``interval`` seconds.
        """
        self.done += 1
        self.failed += report.status == "failed"
        now = self._clock()
        due = self._drawn_at is None or now - self._drawn_at >= self._interval
        if not self._shown or due or self.done == self.total:
            self.draw()

    def draw(self) -> None:
        """Draw the line in place of the one on screen."""
        line = self.text()[: _columns(self.stream) - 1]
        # Padding blanks out what is left of a longer line drawn before.
        padding = " " * (len(self._shown) - len(line))
        self.stream.write(f"\r{line}{padding}")
        self.stream.flush()
        self._shown = line
        self._drawn_at = self._clock()

    def erase(self) -> None:
        """Blank the line and put the cursor back at its start; nothing if not shown."""
        if self._shown:
            self.stream.write(f"\r{' ' * len(self._shown)}\r")
            self.stream.flush()
            self._shown = ""

    def track(self, reports: Iterable[FileReport]) -> Iterator[FileReport]:
        """Yield ``reports``, counting each one once the caller has handled it.

        While this runs, whatever the caller writes to ``sys.stderr`` (and to
        ``sys.stdout`` when it is a terminal too) erases the line first; the
        next report draws it again. The line is erased when ``reports`` ends
        or raises.
        """
        with contextlib.ExitStack() as stack:
            stack.callback(self.erase)
            stack.enter_context(contextlib.redirect_stderr(_erasing(sys.stderr, self)))
            if sys.stdout is not None and sys.stdout.isatty():
                stack.enter_context(contextlib.redirect_stdout(_erasing(sys.stdout, self)))
            if not self._shown:
                self.draw()
            for report in reports:
                yield report
                self.advance(report)


class _NoProgress:
    """What ``progress_line`` gives when no line is shown: reports pass through."""

    def track(self, reports: Iterable[FileReport]) -> Iterable[FileReport]:
        return reports


def progress_line(total: int, *, enabled: bool) -> ProgressLine | _NoProgress:
    """A progress line on ``sys.stderr`` for a run over ``total`` entries.

    It is shown only when ``enabled`` (the caller's choice: not under
    ``-q`` or ``--format json``), stderr is a terminal, and there are at
    least two entries; otherwise ``track`` just passes the reports through.
    """
    stream = sys.stderr
    if not enabled or total < _MIN_ENTRIES or stream is None or not stream.isatty():
        return _NoProgress()
    return ProgressLine(stream, total)


class _ErasingStream:
    """Writes to ``stream``, erasing the progress line first.

    It stands in for ``sys.stderr`` or ``sys.stdout``: it has what ``print``
    and other writers reach for, without being a ``TextIO`` (see ``_erasing``).
    """

    def __init__(self, stream: TextIO, line: ProgressLine) -> None:
        self._stream = stream
        self._line = line

    def write(self, text: str) -> int:
        if text:
            self._line.erase()
        written = self._stream.write(text)
        self._stream.flush()
        return written

    def __getattr__(self, name: str) -> Any:
        # Bytes written to the buffer go around write(): erase before them too.
        if name == "buffer":
            self._line.erase()
        return getattr(self._stream, name)


def _erasing(stream: TextIO, line: ProgressLine) -> TextIO:
    return cast(TextIO, _ErasingStream(stream, line))


def _columns(stream: TextIO) -> int:
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError):
        return _FALLBACK_COLUMNS
    # A pseudo-terminal nobody has sized yet reports 0 columns.
    return columns if columns > 1 else _FALLBACK_COLUMNS


def _elapsed(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s"
