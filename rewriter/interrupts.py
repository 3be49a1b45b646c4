"""How the command line writes, and ends when it is interrupted or its reader goes away.

- Ctrl-C (SIGINT, ``KeyboardInterrupt``) ends the run with exit code 130
  (128 + SIGINT, as shells report it) and one line on stderr. Every file
  is whole: a write is a rename of a complete file, and the workers remove
  their temporary files as they stop (``rewriter.lifeline``).
- A closed stdout (``rewriter --diff build | head -1``) is not an error of
  the run: what would go to stdout is dropped, quietly, and the run goes on
  to the exit code it earns (1 when the diff found work).
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import IO

EXIT_INTERRUPTED = 130
INTERRUPTED = (
    "error: interrupted; every file is whole (rewritten before the interrupt, or untouched)"
)


class Stdout:
    """Standard output that a reader may close: writes after that are dropped, quietly."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream
        self.closed = False

    @property
    def stream(self) -> IO[str]:
        """The text stream written to (``sys.stdout`` unless given, looked up at each write)."""
        return self._stream if self._stream is not None else sys.stdout

    def write(self, text: str) -> None:
        """Write and flush ``text``; bytes of a name that are not UTF-8 are kept as they are."""
        encoding = getattr(self.stream, "encoding", None) or "utf-8"
        try:
            data = text.encode(encoding, errors="surrogateescape")
        except (UnicodeEncodeError, LookupError):
            data = text.encode("utf-8", errors="surrogateescape")
        self.write_bytes(data)

    def write_bytes(self, data: bytes) -> None:
        """Write and flush ``data`` as it is (through the text stream's buffer when it has one)."""
        if self.closed:
            return
        stream = self.stream
        try:
            stream.flush()
            buffer = getattr(stream, "buffer", None)
            if buffer is None:
                stream.write(data.decode("utf-8", errors="replace"))
            else:
                buffer.write(data)
                buffer.flush()
        except BrokenPipeError:
            self._close()

    def _close(self) -> None:
        self.closed = True
        silence_stdout()


def say(line: str) -> None:
    """Print one line to stderr; bytes of a name that are not UTF-8 are shown as ``\\xNN``."""
    print(printable(line), file=sys.stderr)


def printable(text: str) -> str:
    """``text`` that any stream can take: the bytes of a file name that are not UTF-8 as ``\\xNN``.

    A name read from the file system holds such bytes as lone surrogates,
    which a strict encoder (a captured stream, a pipe) refuses.
    """
    try:
        raw = os.fsencode(text)
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="backslashreplace").decode("utf-8")
    return raw.decode("utf-8", errors="backslashreplace")


def silence_stdout() -> None:
    """Point the process's stdout at the null device, so that no later flush fails.

    Python flushes ``sys.stdout`` once more at exit; with the reader gone,
    that flush would print a BrokenPipeError of its own.
    """
    with contextlib.suppress(OSError, ValueError, AttributeError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)


__all__ = ["EXIT_INTERRUPTED", "INTERRUPTED", "Stdout", "printable", "say", "silence_stdout"]
