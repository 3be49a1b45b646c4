"""Writes keep everything the old file had (``rewriter.writing``).

The usual Docker build runs rewriter as root on files that belong to the app
user. The tests do the same, for real: a second user and group (1234:5678)
own the entry, it carries extended attributes (``user.origin``; an ACL is
the ``system.posix_acl_access`` attribute, an SELinux label
``security.selinux``), and a process running as that user must still read
the rewritten entry and serve it. A property that cannot be kept is a
refusal that changes nothing: a second hard link, or an owner that a
process which is not root may not give.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import struct
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _builds import ENTRY, make_app

from rewriter import cli
from rewriter.config import Settings
from rewriter.errors import RewriteError
from rewriter.files import encode_source, read_source
from rewriter.runner import rewrite_file
from rewriter.writing import STALE_AFTER, write_atomic

ROOT = Path(__file__).resolve().parent.parent
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
NEEDS_ROOT = pytest.mark.skipif(
    not IS_ROOT, reason="needs root: to give files to another user and run a process as them"
)
APP_UID, APP_GID = 1234, 5678
OTHER_UID = 4321
SETTINGS = Settings(init="./instrument.server.py")


def leftovers(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir() if path.name.endswith(".tmp"))


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory that other users may enter (pytest's own tmp_path is private to root)."""
    directory = Path(tempfile.mkdtemp(prefix="rewriter-writing-", dir="/tmp"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory)


def make_build(root: Path) -> Path:
    """``root/server``: an entry package with its runtime and init; returns the entry."""
    (root / ".git").mkdir()
    return make_app(root / "server", package=True)


def owner_and_mode(path: Path) -> tuple[int, int, int]:
    status = path.stat()
    return status.st_uid, status.st_gid, stat.S_IMODE(status.st_mode)


def run_rewriter(root: Path, *args: str) -> int:
    cwd = os.getcwd()
    os.chdir(root)
    try:
        return cli.main(["-q", *args])
    finally:
        os.chdir(cwd)


def supports_user_xattrs(directory: Path) -> str | None:
    """None if ``directory``'s filesystem takes ``user.*`` attributes, else exactly why not."""
    if not hasattr(os, "setxattr"):
        return f"os.setxattr does not exist on {sys.platform}"
    probe = directory / ".xattr-probe"
    probe.write_text("")
    try:
        os.setxattr(probe, "user.probe", b"1")
    except OSError as error:
        return f"the filesystem of {directory} refuses user.* attributes: {error.strerror}"
    finally:
        probe.unlink()
    return None


def as_user(
    command: list[str], uid: int, gid: int, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        user=uid,
        group=gid,
        extra_groups=[],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **kwargs,  # type: ignore[call-overload]
    )


def python_for(uid: int, gid: int) -> str | None:
    """A Python of this version that ``uid`` may run and that can load the test venv's packages.

    The test's own interpreter may live where another user cannot reach it
    (pyenv under /root, mode 700); a system Python of the same minor version
    can load the venv's packages (see ``rewriter_as``).
    """
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [
        sys.executable,
        getattr(sys, "_base_executable", None),
        shutil.which(f"python{version}"),
        f"/usr/bin/python{version}",
        "/usr/bin/python3",
    ]
    probe = f"{_SITE}; import libcst, rewriter.cli; assert sys.version.startswith({version!r})"
    for candidate in dict.fromkeys(filter(None, candidates)):
        try:
            result = as_user([candidate, "-c", probe], uid, gid)
        except OSError:
            continue
        if result.returncode == 0:
            return candidate
    return None


# The venv's site directory, with the .pth file of rewriter's editable install.
_SITE = f"import site, sys; site.addsitedir({sysconfig.get_paths()['purelib']!r})"


def rewriter_as(python: str, *args: str) -> list[str]:
    """The command line of ``rewriter ARGS`` run by ``python`` (see ``python_for``)."""
    return [python, "-c", f"{_SITE}; from rewriter.cli import main; sys.exit(main())", *args]


def attribute_access(uid: int) -> bytes:
    """A POSIX ACL, as the ``system.posix_acl_access`` attribute: user ``uid`` may read.

    The layout of <linux/posix_acl_xattr.h>: a version, then (tag, permissions, id)
    per entry, in the order owner, named users, owning group, mask, others.
    """
    entries = [(0x01, 6, 0xFFFFFFFF), (0x02, 4, uid), (0x04, 4, 0xFFFFFFFF)]
    entries += [(0x10, 4, 0xFFFFFFFF), (0x20, 0, 0xFFFFFFFF)]
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *entry) for entry in entries)


# -- The write itself ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    (
        pytest.param(b"x = 1\n", b"x = 1\nt = '\xc3\xa8'\n", id="utf-8"),
        pytest.param(
            b"# coding: latin-1\ns = '\xe9'\n",
            b"# coding: latin-1\ns = '\xe9'\nt = '\xe8'\n",
            id="latin-1 kept",
        ),
        pytest.param(b"\xef\xbb\xbfx = 1\n", b"\xef\xbb\xbfx = 1\nt = '\xc3\xa8'\n", id="BOM kept"),
        pytest.param(
            b"s = '\xc3\xa9'\r\n", b"s = '\xc3\xa9'\r\nt = '\xc3\xa8'\r\n", id="CRLF kept"
        ),
    ),
)
def test_round_trip(tmp_path: Path, raw: bytes, expected: bytes) -> None:
    path = tmp_path / "index.py"
    path.write_bytes(raw)
    source = read_source(path)
    newline = "\r\n" if "\r\n" in source.text else "\n"
    data = encode_source(f"{source.text}t = 'è'{newline}", source.encoding)
    assert write_atomic(path, data, source.raw) is True
    assert path.read_bytes() == expected
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("mode", (0o755, 0o600, 0o644, 0o4750))
def test_the_mode_is_kept(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "index.py"
    path.write_text("x = 1\n")
    path.chmod(mode)
    write_atomic(path, b"x = 2\n", b"x = 1\n")
    assert (path.read_text(), stat.S_IMODE(path.stat().st_mode)) == ("x = 2\n", mode)


def test_a_file_that_already_holds_the_output_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "index.py"
    path.write_text("x = 2\n")
    inode = path.stat().st_ino
    assert write_atomic(path, b"x = 2\n", b"x = 1\n") is False
    assert (path.read_text(), path.stat().st_ino) == ("x = 2\n", inode)
    assert leftovers(tmp_path) == []


def test_a_file_changed_since_it_was_read_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "index.py"
    path.write_text("x = 'edited meanwhile'\n")
    with pytest.raises(RewriteError, match="changed on disk since it was read; not overwritten"):
        write_atomic(path, b"x = 2\n", b"x = 1\n")
    assert path.read_text() == "x = 'edited meanwhile'\n"
    assert leftovers(tmp_path) == []


def test_an_unwritable_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "index.py"
    path.write_text("x = 1\n")

    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    # Running as root ignores directory modes, so simulate the refusal.
    monkeypatch.setattr("tempfile.mkstemp", refuse)
    with pytest.raises(RewriteError, match="cannot write file: Permission denied"):
        write_atomic(path, b"x = 2\n", b"x = 1\n")
    assert path.read_text() == "x = 1\n"


def test_a_failed_rename_leaves_the_original(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "index.py"
    path.write_text("x = 1\n")

    def fail(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("os.replace", fail)
    with pytest.raises(RewriteError, match="No space left on device"):
        write_atomic(path, b"x = 2\n", b"x = 1\n")
    assert path.read_text() == "x = 1\n"
    assert leftovers(tmp_path) == []


def test_a_symlinked_entry_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real.py"
    real.write_text("x = 1\n")
    link = tmp_path / "index.py"
    link.symlink_to(real)
    write_atomic(link, b"x = 2\n", b"x = 1\n")
    assert link.is_symlink()
    assert real.read_text() == "x = 2\n"


# -- Owner, group, extended attributes, links: real users, real runs ----------------


@NEEDS_ROOT
def test_owner_group_and_mode_are_kept_and_the_app_user_can_serve_it(shared_dir: Path) -> None:
    entry = make_build(shared_dir)
    for path in [shared_dir / "server", *(shared_dir / "server").rglob("*")]:
        os.chown(path, APP_UID, APP_GID)
    entry.chmod(0o640)
    assert run_rewriter(shared_dir, "server/index.py") == 0
    assert owner_and_mode(entry) == (APP_UID, APP_GID, 0o640)
    assert "# rewriter:init" in entry.read_text()
    read = as_user(["cat", str(entry)], APP_UID, APP_GID)
    assert (read.returncode, read.stdout) == (0, entry.read_text()), read.stderr
    python = python_for(APP_UID, APP_GID)
    if python is None:
        pytest.skip(f"no Python {sys.version_info[:2]} that uid {APP_UID} may run")
    serve = as_user(
        [python, "-c", "import server.index as i; print(i.handler(None, None))"],
        APP_UID,
        APP_GID,
        cwd=shared_dir,
    )
    assert (serve.returncode, serve.stdout) == (0, "served\n"), serve.stderr


@NEEDS_ROOT
def test_extended_attributes_are_kept(shared_dir: Path) -> None:
    reason = supports_user_xattrs(shared_dir)
    if reason is not None:
        pytest.skip(reason)
    entry = make_build(shared_dir)
    os.setxattr(entry, "user.origin", b"generated by the framework")
    os.setxattr(entry, "trusted.build-id", b"42")  # a namespace only root may set
    assert run_rewriter(shared_dir, "server/index.py") == 0
    assert "# rewriter:init" in entry.read_text()
    assert {name: os.getxattr(entry, name) for name in os.listxattr(entry)} == {
        "user.origin": b"generated by the framework",
        "trusted.build-id": b"42",
    }


@NEEDS_ROOT
def test_an_acl_is_kept_and_still_lets_its_user_read(shared_dir: Path) -> None:
    entry = make_build(shared_dir)
    entry.chmod(0o640)
    acl = attribute_access(OTHER_UID)
    try:
        os.setxattr(entry, "system.posix_acl_access", acl)
    except OSError as error:
        pytest.skip(f"the filesystem of {shared_dir} takes no POSIX ACLs: {error.strerror}")
    assert as_user(["cat", str(entry)], OTHER_UID, OTHER_UID).returncode == 0
    assert run_rewriter(shared_dir, "server/index.py") == 0
    assert "# rewriter:init" in entry.read_text()
    assert os.getxattr(entry, "system.posix_acl_access") == acl
    read = as_user(["cat", str(entry)], OTHER_UID, OTHER_UID)
    assert (read.returncode, read.stdout) == (0, entry.read_text()), read.stderr


@NEEDS_ROOT
def test_the_new_file_gets_no_attribute_the_old_one_lacked(shared_dir: Path) -> None:
    """A default ACL on the directory would give a new file an ACL of its own."""
    entry = make_build(shared_dir)
    try:
        default = attribute_access(OTHER_UID)
        os.setxattr(entry.parent, "system.posix_acl_default", default)
    except OSError as error:
        pytest.skip(f"the filesystem of {shared_dir} takes no POSIX ACLs: {error.strerror}")
    assert "system.posix_acl_access" not in os.listxattr(entry)
    assert run_rewriter(shared_dir, "server/index.py") == 0
    assert "# rewriter:init" in entry.read_text()
    assert "system.posix_acl_access" not in os.listxattr(entry)


def test_a_file_with_other_hard_links_is_refused_and_left_alone(tmp_path: Path) -> None:
    entry = make_build(tmp_path)
    other = tmp_path / "index-copy.py"
    os.link(entry, other)
    inode = entry.stat().st_ino
    report = rewrite_file(entry, SETTINGS)
    assert report.status == "failed"
    assert report.error is not None
    assert report.error.message == (
        "has 1 other hard link: a new file would leave the other names with the old text,"
        " and writing in place is not atomic, so it is not written; break the link first"
        " (cp FILE FILE.new && mv FILE.new FILE)"
    )
    assert (entry.read_text(), other.read_text()) == (ENTRY, ENTRY)
    assert (entry.stat().st_ino, entry.stat().st_nlink) == (inode, 2)
    assert leftovers(entry.parent) == []


def test_check_and_diff_do_not_mind_hard_links(tmp_path: Path) -> None:
    entry = make_build(tmp_path)
    os.link(entry, tmp_path / "index-copy.py")
    assert rewrite_file(entry, SETTINGS, write=False).status == "changed"


@NEEDS_ROOT
def test_a_symlinked_entry_keeps_its_targets_owner_and_attributes(shared_dir: Path) -> None:
    entry = make_build(shared_dir)
    real = shared_dir / "server" / "real_index.py"
    entry.rename(real)
    entry.symlink_to("real_index.py")
    os.chown(real, APP_UID, APP_GID)
    real.chmod(0o640)
    reason = supports_user_xattrs(shared_dir)
    if reason is None:
        os.setxattr(real, "user.origin", b"framework")
    assert run_rewriter(shared_dir, "server/index.py") == 0
    assert entry.is_symlink() and os.readlink(entry) == "real_index.py"
    assert owner_and_mode(real) == (APP_UID, APP_GID, 0o640)
    assert "# rewriter:init" in real.read_text()
    if reason is None:
        assert os.getxattr(real, "user.origin") == b"framework"


@NEEDS_ROOT
def test_an_owner_the_process_may_not_give_is_refused(shared_dir: Path) -> None:
    """Not root, the app user may write the file but cannot give a new file its owner."""
    python = python_for(APP_UID, APP_GID)
    if python is None:
        pytest.skip(f"no Python {sys.version_info[:2]} that uid {APP_UID} may run")
    entry = make_build(shared_dir)
    for path in [shared_dir, *shared_dir.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)
    os.chown(entry, OTHER_UID, OTHER_UID)
    result = as_user(rewriter_as(python, "server/index.py"), APP_UID, APP_GID, cwd=shared_dir)
    assert (result.returncode, result.stderr.splitlines()) == (
        123,
        [
            f"error: server/index.py:1:1: is owned by uid {OTHER_UID} and gid {OTHER_UID},"
            f" and this process (uid {APP_UID}) may not give a new file that owner and"
            " group, so it is not written; run as that user, or as root",
            "1 file failed to rewrite.",
        ],
    )
    assert entry.read_text() == ENTRY
    assert entry.stat().st_uid == OTHER_UID
    assert leftovers(entry.parent) == []


# -- Temporary files that a killed run left behind ------------------------------------


def _leave_temporary(entry: Path, suffix: str = "abcd1234", age: float = 60) -> Path:
    temporary = entry.parent / f".{entry.name}.{suffix}.rewriter.tmp"
    temporary.write_bytes(b"half a rewrite")
    then = time.time() - age
    os.utime(temporary, (then, then))
    return temporary


def test_a_run_removes_what_a_killed_run_left_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = make_build(tmp_path)
    left = _leave_temporary(entry)
    others = [
        _leave_temporary(entry, "abcd", 60),  # not a name rewriter makes
        tmp_path / "server" / ".other.py.abcd1234.rewriter.tmp",  # another file's
        _leave_temporary(entry, "fresh123", 0),  # may be a live run's
    ]
    others[1].write_text("")
    os.utime(others[1], (time.time() - 60, time.time() - 60))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        code = cli.main(["server/index.py"])
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err.splitlines()
    assert code == 0
    assert not left.exists()
    assert all(path.exists() for path in others)
    assert err[0] == (
        "warning: server/.index.py.abcd1234.rewriter.tmp:1:1: removed: a temporary file"
        " that an interrupted run left behind"
    )


def test_check_names_what_a_killed_run_left_and_removes_nothing(tmp_path: Path) -> None:
    entry = make_build(tmp_path)
    left = _leave_temporary(entry)
    report = rewrite_file(entry, SETTINGS, write=False)
    assert left.exists()
    assert [(warning.path, warning.message) for warning in report.warnings][:1] == [
        (
            left.name,
            "a temporary file that an interrupted run left behind; a run without --check or"
            " --diff removes it",
        )
    ]


def test_a_temporary_file_a_live_run_holds_is_left_alone(tmp_path: Path) -> None:
    """Another run, in another process, is writing: its file is locked, however old."""
    entry = make_build(tmp_path)
    held = _leave_temporary(entry, "live1234", age=STALE_AFTER * 10)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time\n"
            f"f = open({str(held)!r}, 'rb')\n"
            "fcntl.flock(f, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        report = rewrite_file(entry, SETTINGS)
    finally:
        holder.kill()
        holder.wait()
    assert report.status == "changed"
    assert held.exists()
    assert report.warnings == ()
