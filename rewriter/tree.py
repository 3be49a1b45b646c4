"""The files beside an entry, as the pure core sees them.

The core never touches the disk. It asks a ``SourceTree`` whether a module
file exists and what it contains; ``files.DiskTree`` answers from the disk and
``MemoryTree`` from a dict (for tests and for callers that already hold the
sources in memory). Paths are POSIX-style and relative to the entry's
directory; they may start with ``..`` for modules above it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Hashable, Mapping
from typing import Protocol


class SourceTree(Protocol):
    """Read-only view of the entry's directory tree."""

    def is_file(self, relpath: str) -> bool:
        """True if ``relpath`` names a file."""
        ...

    def is_dir(self, relpath: str) -> bool:
        """True if ``relpath`` names a directory."""
        ...

    def read_text(self, relpath: str) -> str | None:
        """The decoded text of ``relpath``, or None if it cannot be read."""
        ...

    def list_dir(self, relpath: str) -> list[str] | None:
        """The names in the directory ``relpath``, sorted (None if it is not one)."""
        ...

    def identity(self, relpath: str) -> Hashable | None:
        """A value that changes when the directory ``relpath`` changes (None: unknown)."""
        ...


class MemoryTree:
    """A ``SourceTree`` backed by a ``{relpath: source}`` mapping."""

    def __init__(self, files: Mapping[str, str]) -> None:
        self._files = {posixpath.normpath(path): text for path, text in files.items()}
        self._dirs = {parent for path in self._files for parent in _parents(path)}

    def is_file(self, relpath: str) -> bool:
        return posixpath.normpath(relpath) in self._files

    def is_dir(self, relpath: str) -> bool:
        return posixpath.normpath(relpath) in self._dirs

    def read_text(self, relpath: str) -> str | None:
        return self._files.get(posixpath.normpath(relpath))

    def identity(self, relpath: str) -> Hashable | None:
        return None  # a mapping in memory: nothing worth caching

    def list_dir(self, relpath: str) -> list[str] | None:
        directory = posixpath.normpath(relpath)
        if directory not in self._dirs:
            return None
        prefix = "" if directory == "." else f"{directory}/"
        names = {
            path[len(prefix) :].split("/", 1)[0]
            for path in [*self._files, *self._dirs]
            if path.startswith(prefix) and path != directory and path != "."
        }
        return sorted(names)


def _parents(path: str) -> list[str]:
    parents = []
    parent = posixpath.dirname(path)
    while parent:
        parents.append(parent)
        parent = posixpath.dirname(parent)
    parents.append(".")
    return parents
