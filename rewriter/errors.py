"""Diagnostics and the error type every layer raises for bad input."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass


@dataclass(frozen=True)
class Diagnostic:
    """A message tied to a position in a file (1-based line and column)."""

    message: str
    line: int = 1
    column: int = 1
    path: str | None = None
    """The file it is about, relative to the entry's directory (None: the entry)."""

    def format(self, path: str, severity: str = "error") -> str:
        """Render as ``severity: PATH:LINE:COL: message`` on one line.

        ``path`` is the entry's path; a diagnostic about another file beside
        the entry is shown with that file's path instead.
        """
        text = " ".join(self.message.split())
        return f"{severity}: {self.file(path)}:{self.line}:{self.column}: {text}"

    def file(self, path: str) -> str:
        """The path of the file this is about, given the entry's ``path``."""
        if self.path is None:
            return path
        return posixpath.normpath(posixpath.join(posixpath.dirname(path), self.path))


class RewriteError(Exception):
    """Bad input (source, settings or path): the file cannot be rewritten.

    Raised by the pure layers; the per-file runner turns it into a failed
    report, and the CLI prints it as ``error: PATH:LINE:COL: message``.
    """

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.diagnostic = Diagnostic(message, line, column)


class ConfigError(RewriteError):
    """A bad setting: a wrong value, an unknown key, an unsafe name (exit code 2).

    ``key`` is the ``[tool.rewriter]`` key (the Settings field) that the error
    is about, when the error is about one, so that the command line can point
    at that key in the pyproject.toml it came from.
    """

    def __init__(
        self, message: str, line: int = 1, column: int = 1, *, key: str | None = None
    ) -> None:
        super().__init__(message, line, column)
        self.key = key


class ConfigFileError(ConfigError):
    """The config file cannot be read at all: about the file, not a place in it (exit code 2)."""
