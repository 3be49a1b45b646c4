"""Writing an entry back: atomically, and keeping everything the old file had.

``write_atomic`` writes a temporary file beside the entry, gives it the
entry's owner and group, extended attributes (ACLs, SELinux labels and
``user.*`` attributes are extended attributes) and mode, fsyncs it, and
renames it over the entry, so that a reader, or a crash, sees the old file
or the new one and never a mix. A symlinked entry is written through: the
link stays a link. What cannot be kept is refused, before anything changes:

- an owner or group the process may not give a file (``chown`` needs root
  to give another user's file, or a group the user is not in);
- an extended attribute the process may not set;
- a second hard link: a rename would give this name a new file and leave
  the other names with the old text, and writing in place is never atomic
  (a reader could import half a file), so a file with other hard links is
  not written at all.

Temporary files are named ``.NAME.XXXXXXXX.rewriter.tmp`` and locked
(``flock``) for as long as they exist, so that ``stale_temporaries`` can
tell one that a killed run left from one that a live run is writing.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from rewriter.errors import Diagnostic, RewriteError
from rewriter.lifeline import check_run_alive

TEMPORARY_SUFFIX = ".rewriter.tmp"
STALE_AFTER = 5.0
"""Seconds after which an unlocked temporary file counts as left behind.
A live run holds the lock from a moment after it creates the file; this
covers that moment, and any older rewriter that did not lock."""

# Temporary files of this process that exist right now, for a signal handler.
_in_flight: set[str] = set()

_NO_XATTRS = {errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENODATA, errno.ENOENT}


def write_atomic(path: Path, data: bytes, expected: bytes) -> bool:
    """Replace the file at ``path``, which held ``expected``, with ``data``, atomically.

    Keeps the file's mode, owner, group and extended attributes, and writes
    through a symlink. Returns True when written, and False when the file
    already holds ``data`` (another run got there first): nothing to do.
    Raises RewriteError, leaving the file untouched and no temporary file
    behind, when the file holds anything else (it changed since it was
    read), has other hard links, or has an owner, group or extended
    attribute that this process cannot give the new file; and for any
    failed system call.
    """
    target = Path(os.path.realpath(path))
    try:
        current = target.read_bytes()
        status = os.stat(target)
    except OSError as error:
        raise _os_error(error) from None
    if current == data:
        return False
    if current != expected:
        raise RewriteError("changed on disk since it was read; not overwritten")
    if status.st_nlink > 1:
        raise RewriteError(
            f"has {status.st_nlink - 1} other hard link{'s' if status.st_nlink > 2 else ''}: a"
            " new file would leave the other names with the old text, and writing in place"
            " is not atomic, so it is not written; break the link first"
            " (cp FILE FILE.new && mv FILE.new FILE)"
        )
    # Imported here, after the LibCST parse that sets a first run's peak
    # memory: tempfile and random add 0.3 MiB to it otherwise.
    import tempfile

    attributes = _extended_attributes(target)
    try:
        descriptor, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=TEMPORARY_SUFFIX
        )
    except OSError as error:
        raise _os_error(error) from None
    _in_flight.add(temporary)
    try:
        _lock(descriptor)
        _write_all(descriptor, data)
        _give_owner(descriptor, status)
        _give_attributes(descriptor, attributes)
        os.fchmod(descriptor, stat.S_IMODE(status.st_mode))
        os.fsync(descriptor)
        now = _read_bytes(target)
        if now == data:
            return False
        if now != expected:
            raise RewriteError("changed on disk since it was read; not overwritten")
        check_run_alive()
        os.replace(temporary, target)
        _in_flight.discard(temporary)
    except OSError as error:
        raise _os_error(error) from None
    finally:
        os.close(descriptor)
        if temporary in _in_flight:
            _remove(temporary)
            _in_flight.discard(temporary)
    _fsync_directory(target.parent)
    return True


def discard_in_flight() -> None:
    """Remove this process's temporary files; for a handler of a signal that ends it."""
    for temporary in list(_in_flight):
        _remove(temporary)
        _in_flight.discard(temporary)


def stale_temporaries(entry: Path) -> Iterator[Path]:
    """The temporary files of ``entry`` that a run left behind (killed before its rename).

    Only rewriter's own: named ``.NAME.XXXXXXXX.rewriter.tmp`` for the
    entry's real name, beside its real file, a regular file, unchanged for
    ``STALE_AFTER`` seconds, and not locked by a live run.
    """
    target = Path(os.path.realpath(entry))
    suffix = re.escape(TEMPORARY_SUFFIX)
    pattern = re.compile(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}{suffix}")
    try:
        names = os.listdir(target.parent)
    except OSError:
        return
    now = time.time()
    for name in sorted(names):
        candidate = target.parent / name
        if not pattern.fullmatch(name):
            continue
        try:
            status = os.lstat(candidate)
        except OSError:
            continue
        old = now - status.st_mtime >= STALE_AFTER
        if stat.S_ISREG(status.st_mode) and old and not _locked(candidate):
            yield candidate


def leftover_warnings(entry: Path, *, remove: bool) -> tuple[Diagnostic, ...]:
    """A warning for each of the ``stale_temporaries`` of ``entry``, removed first if ``remove``.

    Each warning's path is the temporary file's, relative to the entry's
    directory. Never raises: a file that cannot be removed is named as left.
    """
    warnings = []
    try:
        for candidate in stale_temporaries(entry):
            where = os.path.relpath(candidate, entry.parent)
            if remove:
                try:
                    os.unlink(candidate)
                except FileNotFoundError:
                    continue
                except OSError as error:
                    reason = _reason(error)
                    message = f"left behind by an interrupted run; cannot remove it: {reason}"
                else:
                    message = "removed: a temporary file that an interrupted run left behind"
            else:
                message = (
                    "a temporary file that an interrupted run left behind; a run without"
                    " --check or --diff removes it"
                )
            warnings.append(Diagnostic(message, path=where))
    except (OSError, ValueError):
        pass  # an entry whose directory cannot be listed fails later, with a reason
    return tuple(warnings)


def _extended_attributes(path: Path) -> dict[str, bytes]:
    """Every extended attribute of ``path`` ({} where the platform or filesystem has none)."""
    if not hasattr(os, "listxattr"):
        return {}
    try:
        names = os.listxattr(path)
    except OSError as error:
        if error.errno in _NO_XATTRS:
            return {}
        raise _os_error(error) from None
    attributes = {}
    for name in names:
        try:
            attributes[name] = os.getxattr(path, name)
        except OSError as error:
            if error.errno not in _NO_XATTRS:  # removed meanwhile
                message = f"cannot read extended attribute {name!r}: {_reason(error)}"
                raise RewriteError(message) from None
    return attributes


def _give_attributes(descriptor: int, attributes: dict[str, bytes]) -> None:
    # The new file may have its own (a default ACL or an SELinux label from
    # the directory); it must end up with exactly the old file's.
    if not hasattr(os, "listxattr"):
        return
    try:
        present = set(os.listxattr(descriptor))
    except OSError as error:
        if error.errno in _NO_XATTRS and not attributes:
            return
        raise
    for name, value in attributes.items():
        try:
            os.setxattr(descriptor, name, value)
        except OSError as error:
            raise RewriteError(
                f"cannot keep extended attribute {name!r} ({_reason(error)}), so it is not"
                " written; run as a user who may set it"
            ) from None
    for name in present - attributes.keys():
        try:
            os.removexattr(descriptor, name)
        except OSError as error:
            raise RewriteError(
                f"cannot leave out extended attribute {name!r}, which the old file did not"
                f" have ({_reason(error)}), so it is not written"
            ) from None


def _give_owner(descriptor: int, status: os.stat_result) -> None:
    new = os.fstat(descriptor)
    if (new.st_uid, new.st_gid) == (status.st_uid, status.st_gid):
        return
    try:
        os.fchown(descriptor, status.st_uid, status.st_gid)
    except PermissionError:
        raise RewriteError(
            f"is owned by uid {status.st_uid} and gid {status.st_gid}, and this process"
            f" (uid {os.geteuid()}) may not give a new file that owner and group, so it is"
            " not written; run as that user, or as root"
        ) from None


def _lock(descriptor: int) -> None:
    try:
        import fcntl
    except ImportError:  # not POSIX: the age of a file alone tells it is stale
        return
    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _locked(path: Path) -> bool:
    """True if a live process holds the lock of ``path``."""
    try:
        import fcntl
    except ImportError:
        return False
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return True  # cannot tell: leave it alone
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(descriptor)
    return False


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename durable; not every platform or filesystem allows it.
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    with contextlib.suppress(OSError):
        os.fsync(descriptor)
    os.close(descriptor)


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def _os_error(error: OSError) -> RewriteError:
    return RewriteError(f"cannot write file: {_reason(error)}")


__all__ = [
    "STALE_AFTER",
    "TEMPORARY_SUFFIX",
    "discard_in_flight",
    "leftover_warnings",
    "stale_temporaries",
    "write_atomic",
]
