"""Which files under a PATH are entries, what was skipped and why, and why there may be none.

A directory is searched for the files that the ``entry`` patterns select,
minus what the ``exclude`` patterns and the ``.gitignore`` files inside it
exclude. All three are gitignore patterns with git's semantics
(``rewriter.patterns``): the ``entry`` and ``exclude`` patterns act like a
``.gitignore`` at the top of the directory, so a directory they match
selects (or excludes) everything in it. ``.git``, ``.hg`` and ``.svn`` are
not searched.

Symlinked directories are followed (a framework may generate
``build/server`` as a link to its real output), each real directory once:
a second way to the same directory, a loop included, is skipped and named.
Symlinked files are entries like any other file.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from rewriter.config import Settings
from rewriter.errors import RewriteError
from rewriter.patterns import Pattern, last_match, parse_pattern, read_patterns

if TYPE_CHECKING:
    from rewriter.cache import VerdictCache

_SKIPPED_DIRS = frozenset({".git", ".hg", ".svn"})
_EXAMPLES = 3
# How much of the skipped directories a search that found nothing looks
# through for the entries they hide (they may hold a node_modules).
_HIDDEN_LOOKUPS = 10_000


@dataclass(frozen=True)
class Skip:
    """A file or directory left out of a search, and why."""

    path: str
    """Relative to the searched directory, POSIX; a directory ends with ``/``."""

    def shown(self, root: Path) -> str:
        """The path as the user names it: under ``root``, the searched PATH."""
        return f"{root / self.path}{'/' if self.path.endswith('/') else ''}"

    reason: str
    entry: bool = False
    """The entry patterns select it (a file), so without the reason it would be an entry."""


@dataclass(frozen=True)
class Search:
    """What a search of one PATH found."""

    root: Path
    entries: tuple[Path, ...] = ()
    skipped: tuple[Skip, ...] = ()
    searched: int = 0
    """Files looked at."""
    entry_patterns: tuple[str, ...] = field(default=())

    def nothing_found(self) -> str:
        """Why the search found no entry: which patterns and rules left nothing.

        Only meaningful when ``entries`` is empty.
        """
        patterns = ", ".join(repr(pattern) for pattern in self.entry_patterns) or "(none)"
        dropped = [skip for skip in self.skipped if skip.entry]
        hint = "run with -v to see what was skipped and why"
        if not dropped:
            found = (
                f"no file matches the entry patterns {patterns}"
                f" ({_count(self.searched, 'file')} searched)"
            )
            pruned = [skip for skip in self.skipped if skip.path.endswith("/")]
            if pruned:
                were = "was" if len(pruned) == 1 else "were"
                found += f", and {_count(len(pruned), 'directory')} {were} skipped"
            return f"no entry found: {found}; {hint}"
        examples = "; ".join(
            f"{skip.shown(self.root)} ({skip.reason})" for skip in dropped[:_EXAMPLES]
        )
        more = f"; and {len(dropped) - _EXAMPLES} more" if len(dropped) > _EXAMPLES else ""
        return (
            f"no entry found: {_count(len(dropped), 'file')} the entry patterns"
            f" {patterns} select {'is' if len(dropped) == 1 else 'are'} left out: {examples}{more};"
            f" {hint}"
        )


def search(path: Path, settings: Settings, cache: VerdictCache | None = None) -> Search:
    """The entries that ``path`` names: itself for a file, a search for a directory.

    A file is an entry as it is, whatever the patterns. Raises RewriteError
    when ``path`` does not exist. A ``cache`` keeps what each entry imports
    between runs (``rewriter.discovery``).
    """
    if _kind(path) != "directory":
        if os.path.lexists(path):
            return Search(path, (path,), searched=1, entry_patterns=settings.entry)
        raise RewriteError("no such file or directory")
    return _without_runtime_modules(_Walk(path, settings).run(), settings, cache)


def _without_runtime_modules(
    found: Search, settings: Settings, cache: VerdictCache | None
) -> Search:
    # A file the entry patterns select is no entry when another entry
    # imports it as its runtime (rewriter.discovery).
    from rewriter.discovery import runtime_of_other_entries

    runtime = runtime_of_other_entries(found.entries, settings, cache)
    if not runtime:
        return found
    skips = tuple(
        Skip(
            path.relative_to(found.root).as_posix(),
            f"the runtime of the entry {importer.relative_to(found.root).as_posix()}",
        )
        for path, importer in runtime.items()
    )
    entries = tuple(entry for entry in found.entries if entry not in runtime)
    return replace(found, entries=entries, skipped=(*found.skipped, *skips))


def _kind(path: Path) -> str | None:
    """``"directory"``, ``"file"`` (regular), or None, following symlinks; never raises."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISDIR(mode):
        return "directory"
    return "file" if stat.S_ISREG(mode) else None


def _count(number: int, noun: str) -> str:
    plural = "directories" if noun == "directory" else f"{noun}s"
    return f"{number} {noun if number == 1 else plural}"


def _patterns(texts: tuple[str, ...], origin: str) -> list[Pattern]:
    return [pattern for text in texts if (pattern := parse_pattern(text, origin)) is not None]


def _selects(patterns: list[Pattern], relpath: str, is_dir: bool) -> Pattern | None:
    """The pattern that selects ``relpath`` (the last match, when it is not negated)."""
    pattern = last_match(patterns, relpath, is_dir)
    return None if pattern is None or pattern.negated else pattern


class _Walk:
    """One search of a directory, in sorted order, depth first."""

    def __init__(self, root: Path, settings: Settings) -> None:
        self.root = root
        self.settings = settings
        self.entry = _patterns(settings.entry, "entry pattern")
        self.exclude = _patterns(settings.exclude, "exclude pattern")
        self.entries: list[Path] = []
        self.skipped: list[Skip] = []
        self.searched = 0
        self.seen: set[tuple[int, int]] = set()

    def run(self) -> Search:
        self._enter(self.root)
        # (relative path with a trailing "/" or "", .gitignore patterns so far, selected by entry)
        stack: list[tuple[str, list[Pattern], bool]] = [("", [], False)]
        while stack:
            prefix, ignores, selected = stack.pop()
            stack.extend(reversed(self._directory(prefix, ignores, selected)))
        if not self.entries:
            self.skipped.extend(self._hidden_entries())
        return Search(
            self.root,
            tuple(self.entries),
            tuple(self.skipped),
            self.searched,
            self.settings.entry,
        )

    def _directory(
        self, prefix: str, ignores: list[Pattern], selected: bool
    ) -> list[tuple[str, list[Pattern], bool]]:
        directory = self.root / prefix if prefix else self.root
        try:
            names = sorted(os.listdir(directory))
        except OSError as error:
            self.skipped.append(Skip(prefix, f"cannot be read: {error.strerror or error}"))
            return []
        if ".gitignore" in names and _kind(directory / ".gitignore") == "file":
            ignores = [*ignores, *self._gitignore(directory / ".gitignore", prefix.rstrip("/"))]
        below = []
        for name in names:
            relpath = f"{prefix}{name}"
            path = directory / name
            kind = _kind(path)
            if kind == "directory" and name not in _SKIPPED_DIRS:
                below.extend(self._subdirectory(relpath, path, ignores, selected))
            elif kind == "file":
                self._file(relpath, path, ignores, selected)
        return below

    def _subdirectory(
        self, relpath: str, path: Path, ignores: list[Pattern], selected: bool
    ) -> list[tuple[str, list[Pattern], bool]]:
        reason = self._left_out(relpath, True, ignores)
        if reason is not None:
            self.skipped.append(Skip(f"{relpath}/", reason))
            return []
        if not self._enter(path):
            self.skipped.append(
                Skip(f"{relpath}/", "searched already: a symlink to a directory met before")
            )
            return []
        selected = selected or _selects(self.entry, relpath, True) is not None
        return [(f"{relpath}/", ignores, selected)]

    def _file(self, relpath: str, path: Path, ignores: list[Pattern], selected: bool) -> None:
        self.searched += 1
        if not (selected or _selects(self.entry, relpath, False) is not None):
            return
        reason = self._left_out(relpath, False, ignores)
        if reason is None:
            self.entries.append(path)
        else:
            self.skipped.append(Skip(relpath, reason, entry=True))

    def _left_out(self, relpath: str, is_dir: bool, ignores: list[Pattern]) -> str | None:
        excluded = _selects(self.exclude, relpath, is_dir)
        if excluded is not None:
            return f"excluded by the {excluded.describe()}"
        # Deeper .gitignore files come later in ``ignores``, so they win, as in git.
        ignored = _selects(ignores, relpath, is_dir)
        if ignored is not None:
            return f"ignored by {ignored.describe()}"
        return None

    def _hidden_entries(self) -> list[Skip]:
        """Files the entry patterns select inside the directories left out, with the reason."""
        hidden: list[Skip] = []
        lookups = 0
        for skip in [skip for skip in self.skipped if skip.path.endswith("/")]:
            top = skip.path.rstrip("/")
            for directory, dirnames, filenames in os.walk(self.root / top):
                relative = Path(directory).relative_to(self.root).as_posix()
                dirnames[:] = sorted(name for name in dirnames if name not in _SKIPPED_DIRS)
                for name in sorted(filenames):
                    lookups += 1
                    relpath = f"{relative}/{name}"
                    if _selects(self.entry, relpath, False) is not None:
                        reason = f"in {self.root / top}/, {skip.reason}"
                        hidden.append(Skip(relpath, reason, entry=True))
                if len(hidden) > _EXAMPLES or lookups > _HIDDEN_LOOKUPS:
                    return hidden
        return hidden

    def _gitignore(self, path: Path, base: str) -> list[Pattern]:
        try:
            data = path.read_bytes()
        except OSError:
            return []
        return read_patterns(data, str(path), base)

    def _enter(self, directory: Path) -> bool:
        """Remember ``directory``; False if it was entered before (by another way)."""
        try:
            status = os.stat(directory)
        except OSError:
            return False
        identity = (status.st_dev, status.st_ino)
        if identity in self.seen:
            return False
        self.seen.add(identity)
        return True


__all__ = ["Search", "Skip", "search"]
