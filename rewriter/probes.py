"""What a rewrite asked the file system, so that its verdict can be reused.

The core reads the disk only through ``files.DiskTree`` and the few
environment questions in ``rewriter.context``. Each of them reports the
question and its answer here (``note``) while a ``recording`` is active. A
question is a ``Probe``: a kind, a subject (an absolute path, or a module
name) and the answer, in a form that JSON keeps (texts and directory
listings as digests). ``answer`` asks the same question again: a verdict
recorded with its probes still holds when every probe gets the same answer
(``rewriter.cache``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Literal

from rewriter import digests

ProbeKind = Literal["kind", "text", "names", "identity", "importable"]
Answer = int | str | bool | list[object] | None
Probe = tuple[ProbeKind, str, Answer]
"""``(kind, subject, answer)``:

- ``("kind", path, file type bits of os.stat, 0 when missing)``
- ``("text", path, [largest size read in bytes, digest of the decoded source or None])``
- ``("names", path, digest of the sorted directory listing, None when no directory)``
- ``("identity", path, [real path, modification time in ns], None when none)``
- ``("importable", top-level module name, bool)``
"""

_recordings: list[list[Probe]] = []


@contextmanager
def recording() -> Iterator[list[Probe]]:
    """Collect every probe noted inside the block (nested recordings each get them all)."""
    probes: list[Probe] = []
    _recordings.append(probes)
    try:
        yield probes
    finally:
        _recordings.remove(probes)


def note(kind: ProbeKind, subject: str, answer: Answer) -> None:
    """Report one question and its answer to every active recording."""
    for probes in _recordings:
        probes.append((kind, subject, answer))


def digest(text: str | None) -> str | None:
    """The digest a ``text`` or ``names`` probe keeps (``digests.short_hexdigest``)."""
    if text is None:
        return None
    return digests.short_hexdigest(text.encode("utf-8", "surrogatepass"))


def file_kind(path: str) -> int:
    """The file type bits (``stat.S_IFMT``) of ``path``, symlinks followed; 0 when missing."""
    try:
        return stat.S_IFMT(os.stat(path).st_mode)
    except (OSError, ValueError):
        return 0


def directory_names(path: str) -> list[str] | None:
    """The names in directory ``path``, sorted; None when it is not one or cannot be listed."""
    if file_kind(path) != stat.S_IFDIR:
        return None
    try:
        return sorted(os.listdir(path))
    except OSError:
        return None


def directory_identity(path: str) -> tuple[str, int] | None:
    """``(real path, st_mtime_ns)`` of ``path``; None when it cannot be looked at."""
    try:
        return os.path.realpath(path), os.stat(path).st_mtime_ns
    except (OSError, ValueError):
        return None


def names_digest(names: Sequence[str] | None) -> str | None:
    """The ``names`` probe's answer for a directory listing."""
    return None if names is None else digest("\0".join(names))


def text_answer(max_size: int, text: str | None) -> Answer:
    """The ``text`` probe's answer for ``text``, read within ``max_size`` bytes."""
    return [max_size, digest(text)]


def question(kind: ProbeKind, subject: str, recorded: Answer) -> tuple[object, ...]:
    """What identifies a probe's question: a text is read again within its recorded size."""
    return (kind, subject, _size_of(recorded) if kind == "text" else None)


def answer(kind: ProbeKind, subject: str, recorded: Answer) -> Answer:
    """The answer that the probe ``(kind, subject)``, recorded as ``recorded``, gets now."""
    if kind == "text":
        from rewriter.files import read_text_or_none

        size = _size_of(recorded)
        return text_answer(size, read_text_or_none(subject, size))
    return _ANSWERS[kind](subject)


def _size_of(recorded: Answer) -> int:
    if isinstance(recorded, list) and recorded and type(recorded[0]) is int and recorded[0] >= 0:
        return recorded[0]
    return 0


def _importable_answer(top: str) -> Answer:
    from rewriter.context import importable_here

    return importable_here(top)


def _listed(found: tuple[str, int] | None) -> Answer:
    return None if found is None else list(found)


_ANSWERS: dict[str, Callable[[str], Answer]] = {
    "kind": file_kind,
    "names": lambda path: names_digest(directory_names(path)),
    "identity": lambda path: _listed(directory_identity(path)),
    "importable": _importable_answer,
}
