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

A record is found by a key made of the record's kind, the entry's path as
given, the current directory, and the settings (with a preset's handler
names and, in preload mode, the preload plan). It lives in the folder of the
tool's fingerprint: the texts of this package and its templates, the Python
version, and the installed versions of LibCST, jinja2, MarkupSafe and
pathspec (from their ``*.dist-info`` folders). A fresh install of the same
versions, such as a new CI job's, has the same fingerprint.

The directory is ``$REWRITER_CACHE_DIR``, else ``$XDG_CACHE_HOME/rewriter``,
else ``~/.cache/rewriter``; ``--no-cache`` turns the cache off. It is made
private (mode 0700), with a ``.gitignore`` and a ``CACHEDIR.TAG`` (so that
git and backup tools leave it out). A directory that another user owns or
can write to is not used (``CacheUnusable`` says why), a record that cannot
be read is a miss, and a record that cannot be written is skipped: the cache
never changes a verdict or fails a run.

Each process appends its records to a journal of its own (one line each, so
that workers never wait for each other), and the run's ``save`` puts the
journals into one file of records, ``records.json``. The folders of other
fingerprints that no run has saved to for 30 days are removed then.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import stat
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rewriter import digests, probes
from rewriter.config import Settings

ENVIRONMENT_VARIABLE = "REWRITER_CACHE_DIR"
_FORMAT = 1  # bumped when the record layout changes


class CacheUnusable(Exception):
    """The cache directory cannot be used; the message says why."""


class VerdictCache:
    """The records under one cache ``directory`` for this interpreter and package.

    Instances are sent to worker processes (they pickle as the directory and
    the fingerprint). ``reused`` counts the payloads that ``lookup`` gave
    back in this process, by kind.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._fingerprint = _tool_fingerprint()
        self._start()

    reused: dict[str, int]
    _answers: dict[tuple[object, ...], probes.Answer]
    _settings_keys: dict[Settings, str | None]
    _loaded: dict[str, Any] | None
    _journal: int | None

    def _own_folder(self) -> bool:
        # A fingerprint folder that is a symlink may be anybody's directory.
        return not self.records.is_symlink()

    @property
    def records(self) -> Path:
        """The folder of this fingerprint's records (a new version of anything starts a new one)."""
        return self.directory / self._fingerprint[:32]

    @classmethod
    def open(cls, directory: Path | None = None) -> VerdictCache:
        """The cache in ``directory`` (default: ``default_directory``).

        The directory is created (mode 0700, with ``.gitignore`` and
        ``CACHEDIR.TAG``) when missing. Raises ``CacheUnusable`` when there
        is no directory to use (no home), when it cannot be created or is
        not a directory, or is owned by another user or writable by group
        or others.
        """
        where = directory if directory is not None else default_directory()
        if where is None:
            raise CacheUnusable("no cache directory: neither REWRITER_CACHE_DIR nor a home is set")
        try:
            if not where.is_dir():
                where.mkdir(mode=0o700, parents=True)
                _mark_as_cache(where)
            status = os.stat(where)
        except OSError as error:
            raise CacheUnusable(f"{where}: cannot be made: {error.strerror or error}") from None
        except ValueError as error:  # a NUL in the path
            raise CacheUnusable(f"{where!r}: cannot be made: {error}") from None
        if hasattr(os, "getuid") and status.st_uid != os.getuid():
            raise CacheUnusable(f"{where}: owned by another user")
        if status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise CacheUnusable(f"{where}: others can write to it (chmod go-w to use it)")
        return cls(where)

    def __getstate__(self) -> dict[str, Any]:
        # A worker starts with nothing loaded and a journal of its own.
        return {"directory": self.directory, "_fingerprint": self._fingerprint}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.directory = state["directory"]
        self._fingerprint = state["_fingerprint"]
        self._start()

    def _start(self) -> None:
        self.reused = {}
        self._answers = {}
        self._settings_keys = {}
        self._loaded = None
        self._journal = None

    def lookup(self, kind: str, entry: Path, settings: Settings, raw: bytes) -> Any:
        """The payload stored for ``entry`` holding ``raw`` bytes, if it still holds; else None.

        It holds when the entry's bytes are the same and every probe of the
        record gets the same answer now (``rewriter.probes.answer``).
        """
        key = self._key(kind, entry, settings)
        if key is None:
            return None
        record = self._records().get(key)
        try:
            if record is None or record["content"] != _content_digest(raw):
                return None
            for probe_kind, subject, answer in record["probes"]:
                if self._answer(probe_kind, subject, answer) != answer:
                    return None
            payload = record["payload"]
        except Exception:  # a damaged record: any shape, any probe
            return None
        self.reused[kind] = self.reused.get(kind, 0) + 1
        return payload

    def store(
        self,
        kind: str,
        entry: Path,
        settings: Settings,
        raw: bytes,
        asked: Iterable[probes.Probe],
        payload: Any,
    ) -> None:
        """Keep ``payload`` for ``entry`` (``raw`` bytes), valid while the ``asked`` probes hold.

        The record goes to this process's journal, one line; ``save`` puts
        the journals together.
        """
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
            line = json.dumps([key, record], separators=(",", ":")).encode("ascii") + b"\n"
            if self._journal is None:
                if not self._own_folder():
                    return
                self.records.mkdir(mode=0o700, exist_ok=True)
                name = f"{os.getpid()}-{os.urandom(4).hex()}{_JOURNAL}"
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
                self._journal = os.open(self.records / name, flags, 0o600)
            os.write(self._journal, line)  # one write: a line is whole or missing
        except (OSError, ValueError, TypeError):
            return

    def save(self) -> None:
        """Put the records of every journal in the pack, and remove those journals.

        The run calls this at its end (workers' journals are closed by then).
        Other runs may write at the same time: a record lost to a race is
        only a miss next time. Never raises.
        """
        if self._journal is not None:
            with contextlib.suppress(OSError):
                os.close(self._journal)
            self._journal = None
        if not self._own_folder():
            return
        try:
            journals = [path for path in self.records.glob(f"*{_JOURNAL}") if path.is_file()]
            if not journals:
                return
            merged = _read_records(self.records / _PACK, sorted(journals))
            temporary = self.records / f".{_PACK}.{os.getpid()}.tmp"
            temporary.unlink(missing_ok=True)  # left by a run killed while it saved
            data = json.dumps(merged, separators=(",", ":")).encode("ascii")
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            with open(os.open(temporary, flags, 0o600), "wb") as file:
                file.write(data)
            os.replace(temporary, self.records / _PACK)
        except (OSError, ValueError, TypeError):
            return
        for journal in journals:
            with contextlib.suppress(OSError):
                journal.unlink()
        _prune(self.directory, keep=self.records)

    def _records(self) -> dict[str, Any]:
        if self._loaded is None and not self._own_folder():
            self._loaded = {}
        if self._loaded is None:
            try:
                journals = sorted(self.records.glob(f"*{_JOURNAL}"))
            except OSError:
                journals = []
            self._loaded = _read_records(self.records / _PACK, journals)
        return self._loaded

    def forget_answers(self) -> None:
        """Ask every probe again from now on (files may have been written since)."""
        self._answers = {}

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
        decisive = self._settings_key(settings)
        if decisive is None:
            return None
        # The entry's path as given, from the current directory: its package
        # is read from the path's parts, and `a/../b` goes through `a`, which
        # may be a symlink.
        try:
            here = os.getcwd()
        except OSError:  # no current directory
            return None
        parts = [str(_FORMAT), kind, here, os.fspath(entry), decisive]
        return digests.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()

    def _settings_key(self, settings: Settings) -> str | None:
        if settings not in self._settings_keys:
            try:
                preload = _preload_plan(settings)
                handlers = repr(settings.handlers)  # a preset's names are read when asked
                # The number of jobs decides where an entry is analysed, not how.
                decisive = repr(dataclasses.replace(settings, jobs=None))
            except Exception:  # a plan that cannot be made fails the run elsewhere
                self._settings_keys[settings] = None
            else:
                self._settings_keys[settings] = "\0".join([decisive, handlers, preload])
        return self._settings_keys[settings]


def _mark_as_cache(directory: Path) -> None:
    # As ruff does: git and backup tools that honour CACHEDIR.TAG skip it.
    (directory / ".gitignore").write_text("# Made by rewriter: its verdict cache.\n*\n")
    (directory / "CACHEDIR.TAG").write_text(
        "Signature: 8a477f597d28d172789f06886806bc55\n"
        "# This file is a cache directory tag made by rewriter.\n"
        "# For information about cache directory tags, see https://bford.info/cachedir/\n"
    )


_PACK = "records.json"
"""The records of earlier runs: ``{key: record}``."""

_JOURNAL = ".journal"
"""The suffix of a process's journal: one ``[key, record]`` JSON line per record."""

_LARGEST_FILE = 256 * 1024 * 1024
"""Bytes; a pack holds the records of every entry checked (about 4 KB each)."""


def _read_records(pack: Path, journals: Iterable[Path]) -> dict[str, Any]:
    """The records of ``pack`` and then of ``journals`` (a later record of a key wins).

    What cannot be read (missing, not a regular file, too large, not JSON,
    a line cut short by a kill) is left out.
    """
    records: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError, RecursionError):
        packed = json.loads(_read_file(pack))
        if isinstance(packed, dict):
            records.update(packed)
    for journal in journals:
        try:
            lines = _read_file(journal).splitlines()
        except OSError:
            continue
        for line in lines:
            with contextlib.suppress(ValueError, RecursionError):
                item = json.loads(line)
                if isinstance(item, list) and len(item) == 2 and isinstance(item[0], str):
                    records[item[0]] = item[1]
    return records


def _read_file(path: Path) -> bytes:
    """The bytes of ``path``; raises OSError unless it is a regular file of sane size."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with open(descriptor, "rb") as file:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode) or status.st_size > _LARGEST_FILE:
            raise OSError(f"not a cache file: {path}")
        return file.read()


_UNUSED_FOR = 30 * 24 * 3600
"""Seconds after which the records of another fingerprint are removed (30 days)."""


def _prune(directory: Path, *, keep: Path) -> None:
    """Remove the folders of other fingerprints that no run has saved to for 30 days.

    Only folders that are rewriter's own: named as a fingerprint, holding
    nothing but records, journals and temporary files of ``save``. The
    cache directory may be one the user had before (``REWRITER_CACHE_DIR``).
    """
    import shutil
    import time

    now = time.time()
    with contextlib.suppress(OSError):
        for folder in directory.iterdir():
            if (
                folder != keep
                and _FINGERPRINT_FOLDER.fullmatch(folder.name)
                and not folder.is_symlink()
                and folder.is_dir()
                and now - folder.stat().st_mtime > _UNUSED_FOR
                and all(_is_cache_file(path) for path in folder.iterdir())
            ):
                shutil.rmtree(folder, ignore_errors=True)


_FINGERPRINT_FOLDER = re.compile(r"[0-9a-f]{32}")


def _is_cache_file(path: Path) -> bool:
    name = path.name
    ours = name == _PACK or name.endswith(_JOURNAL) or name.startswith(f".{_PACK}.")
    return ours and path.is_file() and not path.is_symlink()


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
    return digests.short_hexdigest(raw)


def _preload_plan(settings: Settings) -> str:
    if settings.mode != "preload":
        return ""
    from rewriter.preload import preload_plan

    return repr(preload_plan(settings))


def _tool_fingerprint() -> str:
    """What decides a verdict besides the entry, the settings and the files a rewrite reads."""
    import rewriter
    from rewriter.templates import engine_fingerprint

    digest = digests.sha256()
    for part in [rewriter.__version__, sys.version, engine_fingerprint() or "unknown templates"]:
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    _add_texts(digest, os.path.dirname(rewriter.__file__ or ""))
    for name in _LIBRARIES:
        digest.update(_library_version(name).encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()


_LIBRARIES = ("libcst", "jinja2", "markupsafe", "pathspec")
"""The libraries whose version can change a verdict (found, not imported)."""


def _library_version(name: str) -> str:
    """``NAME-VERSION`` from the ``*.dist-info`` folder beside the package; else its text."""
    from importlib.util import find_spec

    try:
        spec = find_spec(name)
        origin = spec.origin if spec is not None else None
    except (ImportError, ValueError):
        origin = None
    if not origin:
        return f"{name}: missing"
    site = os.path.dirname(os.path.dirname(origin))
    wanted = name.lower().replace("_", "-")
    try:
        for folder in sorted(os.listdir(site)):
            base = folder.lower().replace("_", "-")
            if base.endswith(".dist-info") and base.startswith(f"{wanted}-"):
                return folder
        with open(origin, "rb") as file:  # no metadata beside it: the package's own text
            return f"{name}: {digests.sha256(file.read()).hexdigest()}"
    except OSError:
        return f"{name}: unknown"


def _add_texts(digest: Any, directory: str) -> None:
    """Add the name and text of every file below ``directory`` (``__pycache__`` left out)."""
    for folder, folders, files in os.walk(directory):
        folders[:] = sorted(name for name in folders if name != "__pycache__")
        for name in sorted(files):
            path = os.path.join(folder, name)
            try:
                with open(path, "rb") as file:
                    text = file.read()
            except OSError:
                continue
            digest.update(os.path.relpath(path, directory).encode("utf-8", "surrogatepass"))
            digest.update(len(text).to_bytes(8, "big") + text)
