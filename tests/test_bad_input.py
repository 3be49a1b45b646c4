"""The bad-input corpus: ``fixtures/bad/<case>/``.

Each case directory holds the user's files and a ``case.toml``:

- ``args``: the command line (run from a copy of the case directory);
- ``exit`` and ``stderr``: the expected exit code and the exact lines on
  stderr, written by hand. Every error is one line
  ``error: PATH:LINE:COL: message``, or for a usage error (exit 2) about
  a PATH or an option as a whole, ``error: PATH: message``;
- ``setup`` (optional): what the test does to the copy first, for what git
  cannot hold (symlink loops, permissions, a 250-character file name);
- ``stdin`` (optional): a file of the case fed to standard input;
- ``[rewritten]`` (success cases only): how the rewritten entry must look;
- ``[as_root]`` (optional): the outcome when the tests run as root, which
  ignores file permissions;
- ``seconds`` (optional): the time the run may take at most. The
  ``hostile_*`` cases, each of which once crashed the process or ran for
  minutes, all have one (``tests/test_hostile_input.py`` also runs them in
  their own process, with a memory limit).

A failed case leaves every file byte for byte (and mode for mode) as it was.
A success case changes only the entry, keeps every line that is not a
runtime import byte for byte (encoding, BOM, line endings, tabs, form
feeds), and a second run leaves it alone.
"""

from __future__ import annotations

import ast
import io
import os
import re
import shutil
import stat
import subprocess
import sys
import time
import tokenize
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rewriter import cli
from rewriter.analysis import EntryLocation, ModuleLocator
from rewriter.bindings import ImportStatement
from rewriter.config import Settings
from rewriter.context import unmatched_runtime_patterns
from rewriter.runner import rewrite_file
from rewriter.tree import MemoryTree

ROOT = Path(__file__).resolve().parent.parent
BAD = ROOT / "fixtures" / "bad"
BOM = b"\xef\xbb\xbf"
LONG_NAME = "e" * 247 + ".py"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

Snapshot = dict[str, tuple[str, bytes | str, int]]


def case_names() -> list[str]:
    return sorted(path.name for path in BAD.iterdir() if (path / "case.toml").is_file())


def load_case(name: str) -> dict[str, Any]:
    return tomllib.loads((BAD / name / "case.toml").read_text(encoding="utf-8"))


def _substitute(value: str, root: Path) -> str:
    # The config file is named by its resolved path, the entries as given.
    return value.replace("{long}", LONG_NAME).replace("{root}", str(root.resolve()))


def setup_copy(name: str, meta: dict[str, Any], root: Path) -> None:
    """Copy the case to ``root`` and apply its ``setup``."""
    shutil.copytree(BAD / name, root, ignore=shutil.ignore_patterns("case.toml"))
    # Stops the upward search for a pyproject.toml at the copy.
    (root / ".git").mkdir()
    setup = meta.get("setup")
    if setup == "symlink_loop":
        os.symlink("loop.py", root / "index.py")
        os.symlink("index.py", root / "loop.py")
    elif setup == "dangling_symlink":
        os.symlink("gone.py", root / "index.py")
    elif setup == "read_only_file":
        (root / "index.py").chmod(0o444)
    elif setup == "read_only_directory":
        (root / "server").chmod(0o555)
    elif setup == "long_name":
        (root / LONG_NAME).write_bytes(b'"""Entry."""\nfrom .chunks.app import handler\n')
    else:
        assert setup is None, f"unknown setup {setup!r}"


def snapshot(root: Path) -> Snapshot:
    """Every file and symlink under ``root`` (not .git): kind, bytes or target, mode."""
    found: Snapshot = {}
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(name for name in dirnames if name != ".git")
        for name in [*filenames, *dirnames]:
            path = Path(directory, name)
            relpath = path.relative_to(root).as_posix()
            mode = stat.S_IMODE(path.lstat().st_mode)
            if path.is_symlink():
                found[relpath] = ("link", os.readlink(path), mode)
            elif path.is_file():
                found[relpath] = ("file", path.read_bytes(), mode)
            else:
                found[relpath] = ("dir", b"", mode)
    return found


def run_cli(
    capsysbinary: pytest.CaptureFixture[bytes],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    stdin: bytes | None = None,
) -> tuple[int, bytes, list[str]]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    code = cli.main(args)
    out, err = capsysbinary.readouterr()
    return code, out, err.decode("utf-8").splitlines()


def split_lines(data: bytes) -> list[bytes]:
    """Lines with their own endings: CRLF, LF or a lone CR."""
    return [line for line in re.split(rb"(?<=\r\n)|(?<=\n)|(?<=\r)(?!\n)", data) if line]


def check_rewritten(before: bytes, after: bytes, expected: dict[str, Any]) -> None:
    """The rewritten entry: same encoding, parses, nothing but the moved imports changed."""
    assert after != before
    assert after.startswith(BOM) == bool(expected.get("bom", False))
    encoding = expected["encoding"]
    text = after.decode(encoding)
    if not encoding.startswith("utf-8") and any(byte > 127 for byte in before):
        # Still in its own encoding: the non-ASCII bytes were not re-encoded as UTF-8.
        with pytest.raises(UnicodeDecodeError):
            after.decode("utf-8")
    detect = [tokenize.detect_encoding(io.BytesIO(data).readline)[0] for data in (before, after)]
    assert detect[0] == detect[1]
    ast.parse(text)
    assert "# rewriter:init" in text
    moved: list[str] = expected["moved"]
    kept = iter(split_lines(after))
    for line in split_lines(before):
        if line.rstrip(b"\r\n").decode(encoding).lstrip("\ufeff") in moved:
            continue
        assert any(candidate == line for candidate in kept), f"{line!r} was lost or moved"
    after_lines = [line.rstrip("\r\n") for line in text.splitlines()]
    for statement in moved:
        indent = len(statement) - len(statement.lstrip())
        assert any(
            line.strip() == statement.strip() and len(line) - len(line.lstrip()) > indent
            for line in after_lines
        ), f"{statement!r} is not kept in a deferred import"


@pytest.mark.parametrize("name", case_names())
def test_bad_input(
    name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    meta = load_case(name)
    root = tmp_path / name
    setup_copy(name, meta, root)
    try:
        before = snapshot(root)
        monkeypatch.chdir(root)
        args = [_substitute(arg, root) for arg in meta["args"]]
        stdin = (root / meta["stdin"]).read_bytes() if "stdin" in meta else None
        expected = meta.get("as_root", meta) if IS_ROOT else meta
        started = time.monotonic()
        code, out, err = run_cli(capsysbinary, monkeypatch, args, stdin)
        elapsed = time.monotonic() - started

        assert (code, err) == (
            expected["exit"],
            [_substitute(line, root) for line in expected["stderr"]],
        )
        for line in err:
            # At a place in a file, or, for a usage error, about a PATH or an option as a whole.
            assert not line.startswith("error:") or (
                re.fullmatch(r"error: .+:\d+:\d+: \S.*", line)
                or (expected["exit"] == 2 and re.fullmatch(r"error: [^:]+: \S.*", line))
            ), line
        assert out == b""
        assert elapsed <= meta.get("seconds", float("inf")), f"took {elapsed:.1f}s"
        after = snapshot(root)
        rewritten = meta.get("rewritten")
        if rewritten is None and expected is meta:
            assert after == before, "a failed rewrite changed a file"
            return
        entry = Path(args[-1]).as_posix()
        assert {key: value for key, value in after.items() if key != entry} == {
            key: value for key, value in before.items() if key != entry
        }
        if rewritten is None:  # [as_root]: the outcome differs only because of root
            ast.parse(after[entry][1])
            return
        check_rewritten(before[entry][1], after[entry][1], rewritten)  # type: ignore[arg-type]
        assert after[entry][2] == rewritten.get("mode", before[entry][2])
        again = run_cli(capsysbinary, monkeypatch, args)
        assert again[0] == 0
        assert snapshot(root) == after, "a second run changed the entry"
    finally:
        if (root / "server").is_dir():
            (root / "server").chmod(0o755)


def test_the_corpus_is_large_enough() -> None:
    names = case_names()
    failing = [name for name in names if load_case(name)["exit"] != 0]
    assert len(names) >= 30
    assert len(failing) >= 25
    for name in failing:
        meta = load_case(name)
        errors = [line for line in meta["stderr"] if line.startswith("error:")]
        assert len(errors) == 1, name
        # Usage and settings that do not fit the entry are 2, a file that cannot be
        # rewritten 123; the case names say which (init_*, no_init: settings).
        usage = name.startswith(("toml_", "missing_", "path_", "option_", "init_", "no_init"))
        assert meta["exit"] == (2 if usage else 123), name
    hostile = [name for name in names if name.startswith("hostile_")]
    assert len(hostile) >= 12
    assert all(0 < load_case(name)["seconds"] <= 5 for name in hostile)


@pytest.mark.parametrize("name", ["syntax_bad_def", "symlink_loop", "latin1_cookie"])
def test_the_real_command_agrees(name: str, tmp_path: Path) -> None:
    """``python -m rewriter`` in a subprocess prints what the in-process run prints."""
    meta = load_case(name)
    root = tmp_path / name
    setup_copy(name, meta, root)
    before = snapshot(root)
    result = subprocess.run(
        [sys.executable, "-m", "rewriter", *meta["args"]],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stderr.splitlines(), result.stdout) == (
        meta["exit"],
        meta["stderr"],
        "",
    )
    assert (snapshot(root) == before) == (meta["exit"] != 0)


@pytest.mark.skipif(IS_ROOT, reason="root ignores file permissions")
def test_unreadable_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    (tmp_path / ".git").mkdir()
    entry = tmp_path / "index.py"
    entry.write_text("import os\n")
    (tmp_path / "instrument.server.py").write_text("")
    entry.chmod(0)
    monkeypatch.chdir(tmp_path)
    try:
        code, _, err = run_cli(capsysbinary, monkeypatch, ["index.py"])
    finally:
        entry.chmod(0o644)
    assert (code, err[0]) == (123, "error: index.py:1:1: cannot read file: Permission denied")
    assert entry.read_text() == "import os\n"


def test_rewrite_file_refuses_a_directory(tmp_path: Path) -> None:
    """The library, unlike the command line, takes a PATH as a file: a directory is an error."""
    (tmp_path / "index.py").mkdir()
    report = rewrite_file(tmp_path / "index.py", Settings(init="instrument"))
    assert report.status == "failed"
    assert report.error is not None
    assert (
        report.error.format("index.py") == "error: index.py:1:1: is a directory, not a Python file"
    )


@pytest.mark.parametrize(
    ("patterns", "unmatched"),
    (
        pytest.param(("chunks/**",), [], id="matches"),
        pytest.param(("chunk/**",), ["chunk/**"], id="typo"),
        pytest.param(("chunks/app.py", "routes/*.py"), ["routes/*.py"], id="one of two"),
        pytest.param(("!chunks/x.py", "# comment", ""), [], id="negation comment blank skipped"),
        pytest.param(("chunks/",), [], id="directory pattern"),
    ),
)
def test_unmatched_runtime_patterns(patterns: tuple[str, ...], unmatched: list[str]) -> None:
    tree = MemoryTree({"index.py": "", "chunks/__init__.py": "", "chunks/app.py": ""})
    locator = ModuleLocator(tree, EntryLocation())
    statements: Iterator[ImportStatement] = iter(
        [
            ImportStatement.from_ast(node)  # type: ignore[arg-type]
            for node in ast.parse("import os\nfrom .chunks.app import handler\n").body
        ]
    )
    warnings = unmatched_runtime_patterns(patterns, statements, locator)
    assert [warning.message for warning in warnings] == [
        f"runtime pattern {pattern!r} matches no module the entry imports" for pattern in unmatched
    ]
    assert all((warning.line, warning.column) == (1, 1) for warning in warnings)
