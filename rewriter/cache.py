"""Verdicts of earlier runs, reused while nothing they depend on has changed.

A second run over entries that are already rewritten (``--check`` in CI or
in the pre-commit hook, a build that rewrites again) would analyse each of
them again only to find that nothing has to change. Like black and ruff,
rewriter keeps what it found between runs. A record is kept for an entry
only when its run was clean: nothing to change, no warning, no finding.

A record holds the digest of the entry's bytes, every question the analysis
asked the file system with its answer (``rewriter.probes``: the runtime
modules it read, the files it looked for and did not find, the directories
it listed, the modules it found installed), and what the run reported. It
is used only while the entry's bytes are the same and every question gets
the same answer again; otherwise the entry is analysed as on a first run.

Records are found by a key made of the record's kind, the entry's absolute
path, the settings (with the preload plan, in preload mode) and what else
decides a verdict: this package's files and templates (names, sizes,
modification times, texts), the Python version and interpreter, the current
directory, and the installed versions of LibCST, jinja2, MarkupSafe and
pathspec (their ``__init__.py`` files' sizes and modification times).

The directory is ``$REWRITER_CACHE_DIR``, else ``$XDG_CACHE_HOME/rewriter``,
else ``~/.cache/rewriter``; ``--no-cache`` turns the cache off. It is made
private (mode 0700). A directory that another user owns or can write to is
not used, a record that cannot be read is a miss, and a record that cannot
be written is skipped: the cache never changes a verdict or fails a run.
Each fingerprint (below) has a folder of its own; the folders of other
fingerprints that no run has written to for 30 days are removed when a new
one is made.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import stat
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rewriter import probes
from rewriter.config import Settings

ENVIRONMENT_VARIABLE = "REWRITER_CACHE_DIR"
_FORMAT = 1  # bumped when the record layout changes


class VerdictCache:
    """The records under one cache ``directory`` for this interpreter and package.

    Instances are sent to worker processes (they pickle as the directory and
    the fingerprint of the run).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._fingerprint = _run_fingerprint()
        self._answers: dict[tuple[object, ...], probes.Answer] = {}

    @property
    def records(self) -> Path:
        """The folder of this fingerprint's records (a new version of anything starts a new one)."""
        return self.directory / self._fingerprint[:32]

    @classmethod
    def open(cls, directory: Path | None = None) -> VerdictCache | None:
        """The cache in ``directory`` (default: ``default_directory``); None if unusable.

        The directory is created (mode 0700) when missing. It is unusable when
        it cannot be created, is not a directory, or is owned by another user
        or writable by group or others, and when the current directory is
        gone.
        """
        where = directory if directory is not None else default_directory()
        if where is None:
            return None
        try:
            where.mkdir(mode=0o700, parents=True, exist_ok=True)
            status = os.stat(where)
        except (OSError, ValueError):
            return None
        mine = not hasattr(os, "getuid") or status.st_uid == os.getuid()
        private = not status.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        if not (stat.S_ISDIR(status.st_mode) and mine and private):
            return None
        try:
            return cls(where)
        except OSError:  # no current directory (removed while the run started)
            return None

    def __getstate__(self) -> dict[str, Any]:
        return {"directory": self.directory, "_fingerprint": self._fingerprint, "_answers": {}}

    def lookup(self, kind: str, entry: Path, settings: Settings, raw: bytes) -> Any:
        """The payload stored for ``entry`` holding ``raw`` bytes, if it still holds; else None.

        It holds when the entry's bytes are the same and every probe of the
        record gets the same answer now (``rewriter.probes.answer``).
        """
        key = self._key(kind, entry, settings)
        if key is None:
            return None
        try:
            record = _read_record(self.records / key)
            if record["content"] != _content_digest(raw):
                return None
            for probe_kind, subject, answer in record["probes"]:
                if self._answer(probe_kind, subject, answer) != answer:
                    return None
            return record["payload"]
        except (OSError, ValueError, TypeError, KeyError):
            return None  # no record, or a damaged one

    def store(
        self,
        kind: str,
        entry: Path,
        settings: Settings,
        raw: bytes,
        asked: Iterable[probes.Probe],
        payload: Any,
    ) -> None:
        """Keep ``payload`` for ``entry`` (``raw`` bytes), valid while the ``asked`` probes hold."""
        key = self._key(kind, entry, settings)
        if key is None:
            return
        unique = {(kind_, subject): answer for kind_, subject, answer in asked}
        record = {
            "content": _content_digest(raw),
            "probes": [[kind_, subject, answer] for (kind_, subject), answer in unique.items()],
            "payload": payload,
        }
        try:
            data = json.dumps(record, separators=(",", ":"))
            if not self.records.is_dir():
                self.records.mkdir(mode=0o700)
                _prune(self.directory, keep=self.records)
            handle, temporary = tempfile.mkstemp(dir=self.records, prefix=".record-")
        except (OSError, ValueError, TypeError):
            return
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(data)
            os.replace(temporary, self.records / key)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temporary)

    def _answer(
        self, kind: probes.ProbeKind, subject: str, recorded: probes.Answer
    ) -> probes.Answer:
        # A run asks the same question for many entries (a shared runtime
        # module, a site-packages listing): each is answered once per run.
        question = probes.question(kind, subject, recorded)
        if question not in self._answers:
            self._answers[question] = probes.answer(kind, subject, recorded)
        return self._answers[question]

    def _key(self, kind: str, entry: Path, settings: Settings) -> str | None:
        try:
            preload = _preload_plan(settings)
            handlers = repr(settings.handlers)  # a preset's names are read when asked
        except Exception:  # a plan that cannot be made fails the run elsewhere
            return None
        # The entry's path as given (the current directory is part of the
        # fingerprint): its package is read from the path's parts, and
        # `a/../b` goes through `a`, which may be a symlink.
        where = os.fspath(entry)
        # The number of jobs decides where an entry is analysed, not how.
        decisive = repr(dataclasses.replace(settings, jobs=None))
        parts = [str(_FORMAT), self._fingerprint, kind, where, decisive, handlers, preload]
        return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _read_record(path: Path) -> Any:
    """The JSON of a record file; raises OSError unless it is a regular file of sane size."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with open(descriptor, "rb") as file:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode) or status.st_size > _LARGEST_RECORD:
            raise OSError(f"not a record: {path}")
        return json.loads(file.read())


_LARGEST_RECORD = 64 * 1024 * 1024
"""Bytes; a record lists the probes of one entry (a few KB for a typical entry)."""


_UNUSED_FOR = 30 * 24 * 3600
"""Seconds after which the records of another fingerprint are removed (30 days)."""


def _prune(directory: Path, *, keep: Path) -> None:
    """Remove the folders of other fingerprints that no run has written to for 30 days."""
    import shutil
    import time

    now = time.time()
    try:
        folders = [path for path in directory.iterdir() if path != keep]
        for folder in folders:
            if folder.is_dir() and now - folder.stat().st_mtime > _UNUSED_FOR:
                shutil.rmtree(folder, ignore_errors=True)
    except OSError:
        pass


def default_directory() -> Path | None:
    """``$REWRITER_CACHE_DIR``, else ``$XDG_CACHE_HOME/rewriter``, else ``~/.cache/rewriter``."""
    given = os.environ.get(ENVIRONMENT_VARIABLE)
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME")
    if base and os.path.isabs(base):
        return Path(base) / "rewriter"
    try:
        return Path.home() / ".cache" / "rewriter"
    except RuntimeError:  # no home directory
        return None


def _content_digest(raw: bytes) -> str:
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def _preload_plan(settings: Settings) -> str:
    if settings.mode != "preload":
        return ""
    from rewriter.preload import preload_plan

    return repr(preload_plan(settings))


def _run_fingerprint() -> str:
    """What decides a verdict besides the settings and the files a rewrite reads."""
    import rewriter
    from rewriter.templates import engine_fingerprint

    parts = [rewriter.__version__, sys.version, sys.executable, os.getcwd()]
    parts.append(engine_fingerprint() or "no templates fingerprint")
    parts.extend(_files_state(os.path.dirname(rewriter.__file__ or "")))
    parts.extend(_library_state(name) for name in _LIBRARIES)
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


_LIBRARIES = ("libcst", "jinja2", "markupsafe", "pathspec")
"""The libraries whose version can change a verdict (found, not imported)."""


def _library_state(name: str) -> str:
    # An upgrade writes the package's __init__.py again: its size and
    # modification time change.
    from importlib.util import find_spec

    try:
        spec = find_spec(name)
        origin = spec.origin if spec is not None else None
        status = os.stat(origin) if origin else None
    except (ImportError, OSError, ValueError):
        return f"{name}: unknown"
    if status is None:
        return f"{name}: missing"
    return f"{name}:{origin}:{status.st_size}:{status.st_mtime_ns}"


def _files_state(directory: str) -> list[str]:
    """``name:size:mtime`` of every file below ``directory`` (``__pycache__`` left out)."""
    found = []
    for folder, folders, files in os.walk(directory):
        folders[:] = sorted(name for name in folders if name != "__pycache__")
        for name in sorted(files):
            try:
                status = os.stat(os.path.join(folder, name))
            except OSError:
                continue
            found.append(f"{os.path.join(folder, name)}:{status.st_size}:{status.st_mtime_ns}")
    return found
