"""The disk side of a rewrite: finding entries and reading sources (``writing`` writes them).

Sources are decoded the way Python decodes them (PEP 263 cookie, UTF-8 BOM)
and without newline translation, so a file written back keeps its encoding,
its BOM and its line endings byte for byte.
"""

from __future__ import annotations

import io
import os
import posixpath
import stat
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rewriter import probes
from rewriter.config import DEFAULT_MAX_SIZE, Settings
from rewriter.errors import RewriteError

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class SourceFile:
    """A decoded source file and what it takes to write it back faithfully.

    ``raw`` holds the bytes as read, so that ``write_atomic`` can tell whether
    the file changed on disk in the meantime. ``encoding`` is the codec to
    encode with (``"utf-8-sig"`` for a file with a BOM).
    """

    path: Path
    text: str
    encoding: str
    raw: bytes


def decode_source(raw: bytes) -> tuple[str, str]:
    """Decode Python source bytes; return ``(text, encoding)``.

    Follows ``tokenize.detect_encoding`` (PEP 263 cookie, UTF-8 BOM) and keeps
    line endings as they are. Raises RewriteError, positioned at the fault,
    for an unknown encoding, an undecodable byte or a NUL character.
    """
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    except SyntaxError as error:
        raise _detect_error(raw, error) from None
    body, codec = (raw[len(_BOM) :], "utf-8") if encoding == "utf-8-sig" else (raw, encoding)
    try:
        text = body.decode(codec)
    except UnicodeDecodeError as error:
        line, column = _byte_position(body, error.start, codec)
        raise RewriteError(
            f"cannot decode byte 0x{body[error.start]:02x} as {encoding}", line, column
        ) from None
    nul = text.find("\0")
    if nul >= 0:
        raise RewriteError("source contains a NUL character", *text_position(text, nul))
    return text, encoding


def read_source(path: Path, max_size: int = DEFAULT_MAX_SIZE) -> SourceFile:
    """Read and decode the Python source file at ``path``.

    Raises RewriteError for a directory or anything else that is not a
    regular file (a FIFO, a device, a socket: never read, so never replaced
    by a write), an unreadable file, a file larger than ``max_size`` bytes,
    or bytes that ``decode_source`` rejects.
    """
    require_regular_file(path)
    try:
        # Non-blocking, so that opening a FIFO does not wait for a writer;
        # the kind of file is judged on what was opened.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with open(descriptor, "rb") as stream:
            kind = os.fstat(descriptor).st_mode
            if not stat.S_ISREG(kind):
                raise RewriteError(f"is not a regular file ({_kind_name(kind)}); not read")
            raw = _read_at_most(stream, max_size + 1)
    except OSError as error:
        raise RewriteError(f"cannot read file: {error.strerror or error}") from None
    if len(raw) > max_size:
        raise RewriteError(f"file is larger than max_size ({max_size} bytes)")
    text, encoding = decode_source(raw)
    return SourceFile(path, text, encoding, raw)


def require_regular_file(path: Path) -> None:
    """Raise RewriteError unless ``path`` (symlinks followed) is a regular file or missing.

    A directory, FIFO, device or socket is never opened: opening a FIFO
    waits for a writer, a device may never end, and a socket cannot be
    opened at all. A missing path is left to whoever opens it.
    """
    try:
        kind = path.stat().st_mode
    except (OSError, ValueError):  # missing, unreachable, a name too long: reported on open
        return
    if stat.S_ISDIR(kind):
        raise RewriteError("is a directory, not a Python file")
    if not stat.S_ISREG(kind):
        raise RewriteError(f"is not a regular file ({_kind_name(kind)}); not read")


def _kind_name(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"


def _read_at_most(stream: io.BufferedReader, limit: int) -> bytes:
    # In pieces: read(limit) would allocate all of ``limit`` up front.
    chunks = []
    left = limit
    while left > 0:
        chunk = stream.read(min(left, _CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


_CHUNK = 1024 * 1024


def encode_source(text: str, encoding: str) -> bytes:
    """Encode ``text`` with a source's encoding; RewriteError if a character does not fit."""
    try:
        return text.encode(encoding)
    except UnicodeEncodeError as error:
        raise RewriteError(
            f"cannot encode {text[error.start]!r} as {encoding}", *text_position(text, error.start)
        ) from None


def expand_paths(paths: Iterable[Path], settings: Settings) -> list[Path]:
    """The entry files that ``paths`` name, sorted and without duplicates.

    A file is an entry as it is; a directory is searched (``rewriter.search``,
    where ``search`` also says what was skipped and why a directory yields
    nothing). A missing path raises RewriteError.
    """
    from rewriter.search import search

    found: set[Path] = set()
    for path in paths:
        found.update(search(path, settings).entries)
    return sorted(found)


class DiskTree:
    """A ``SourceTree`` that reads the files under ``root`` from the disk.

    Relative paths are POSIX-style and may start with ``..``. Unreadable or
    undecodable files read as None. Texts and file kinds are cached for one
    rewrite (the same paths are asked about many times). Every question that
    reaches the disk is noted for ``rewriter.probes``, with the path under
    ``root`` as it is (relative to the current directory when ``root`` is).
    """

    def __init__(self, root: Path, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self.root = root
        self.max_size = max_size
        # Not normalised: `a/../b` goes through `a`, which may be a symlink.
        self._base = os.fspath(root)
        self._texts: dict[str, str | None] = {}
        self._kinds: dict[str, int] = {}

    def is_file(self, relpath: str) -> bool:
        """True if ``relpath`` names a regular file (symlinks followed)."""
        return self._kind(relpath) == stat.S_IFREG

    def is_dir(self, relpath: str) -> bool:
        """True if ``relpath`` names a directory (symlinks followed)."""
        return self._kind(relpath) == stat.S_IFDIR

    def _kind(self, relpath: str) -> int:
        if relpath not in self._kinds:
            path = self._path(relpath)
            kind = 0
            if path is not None:
                kind = probes.file_kind(path)
                probes.note("kind", path, kind)
            self._kinds[relpath] = kind
        return self._kinds[relpath]

    def read_text(self, relpath: str) -> str | None:
        """The decoded text of ``relpath``, or None if it cannot be read."""
        if relpath not in self._texts:
            path = self._path(relpath)
            text = None
            if path is not None:
                text = read_text_or_none(path, self.max_size)
                probes.note("text", path, probes.text_answer(self.max_size, text))
            self._texts[relpath] = text
        return self._texts[relpath]

    def identity(self, relpath: str) -> tuple[str, int] | None:
        """The directory's real path and modification time (None if it is not one)."""
        path = self._path(relpath)
        if path is None:
            return None
        found = probes.directory_identity(path)
        probes.note("identity", path, None if found is None else list(found))
        return found

    def list_dir(self, relpath: str) -> list[str] | None:
        """The names in the directory ``relpath``, sorted (None if it is not one)."""
        path = self._path(relpath)
        if path is None:
            return None
        names = probes.directory_names(path)
        probes.note("names", path, probes.names_digest(names))
        return names

    def _path(self, relpath: str) -> str | None:
        if posixpath.isabs(relpath) or "\\" in relpath or "\0" in relpath:
            return None
        return os.path.join(self._base, *relpath.split("/"))


def read_text_or_none(path: str | Path, max_size: int) -> str | None:
    """The decoded source at ``path`` (``read_source``), or None when it cannot be read."""
    try:
        return read_source(Path(path), max_size).text
    except RewriteError:
        return None


def text_position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of the character at ``index`` in ``text``."""
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


def _byte_position(body: bytes, offset: int, codec: str) -> tuple[int, int]:
    line_start = body.rfind(b"\n", 0, offset) + 1
    column = len(body[line_start:offset].decode(codec, errors="replace")) + 1
    return body.count(b"\n", 0, offset) + 1, column


def _detect_error(raw: bytes, error: SyntaxError) -> RewriteError:
    message = str(error.msg)
    if message.startswith("unknown encoding"):
        name = message.partition(":")[2].strip()
        line = 1 if b"coding" in raw.split(b"\n", 1)[0] else 2
        return RewriteError(f"unknown encoding {name!r} in the coding cookie", line, 1)
    if raw.startswith(_BOM) and message == "encoding problem: utf-8":
        line = 1 if b"coding" in raw.split(b"\n", 1)[0] else 2
        return RewriteError("the coding cookie contradicts the UTF-8 byte order mark", line, 1)
    body = raw[len(_BOM) :] if raw.startswith(_BOM) else raw
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as decode_error:
        line, column = _byte_position(body, decode_error.start, "utf-8")
        return RewriteError(
            f"cannot decode byte 0x{body[decode_error.start]:02x} as utf-8", line, column
        )
    return RewriteError(f"bad encoding declaration: {message}")
