from __future__ import annotations

import os
from pathlib import Path

import pytest

from rewriter.config import Settings
from rewriter.errors import RewriteError
from rewriter.files import DiskTree, decode_source, encode_source, expand_paths, read_source


def make_tree(root: Path, files: dict[str, str]) -> None:
    for relpath, text in files.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("raw", "text", "encoding"),
    (
        pytest.param(b"x = 1\n", "x = 1\n", "utf-8", id="plain ascii"),
        pytest.param(b"", "", "utf-8", id="empty file"),
        pytest.param("s = 'é'\n".encode(), "s = 'é'\n", "utf-8", id="utf-8 without cookie"),
        pytest.param(b"\xef\xbb\xbfx = 1\n", "x = 1\n", "utf-8-sig", id="utf-8 BOM"),
        pytest.param(
            b"# -*- coding: latin-1 -*-\ns = '\xe9'\n",
            "# -*- coding: latin-1 -*-\ns = 'é'\n",
            "iso-8859-1",
            id="latin-1 cookie",
        ),
        pytest.param(
            b"#!/usr/bin/env python\n# coding: cp1252\ns = '\x80'\n",
            "#!/usr/bin/env python\n# coding: cp1252\ns = '€'\n",
            "cp1252",
            id="cookie on the second line",
        ),
        pytest.param(b"x = 1\r\ny = 2\r\n", "x = 1\r\ny = 2\r\n", "utf-8", id="CRLF kept"),
        pytest.param(b"x = 1\ry = 2\n", "x = 1\ry = 2\n", "utf-8", id="lone CR kept"),
    ),
)
def test_decode_source(raw: bytes, text: str, encoding: str) -> None:
    assert decode_source(raw) == (text, encoding)


@pytest.mark.parametrize(
    ("raw", "message", "line", "column"),
    (
        pytest.param(
            b"x = 1\ny = 2\ns = 'ab\xff'\n",
            "cannot decode byte 0xff as utf-8",
            3,
            8,
            id="bad byte on line 3",
        ),
        pytest.param(
            b"s = '\xff'\n", "cannot decode byte 0xff as utf-8", 1, 6, id="bad byte first line"
        ),
        pytest.param(
            b"\xef\xbb\xbfx = 1\ns = '\xc3'\n",
            "cannot decode byte 0xc3 as utf-8-sig",
            2,
            6,
            id="bad byte after a BOM",
        ),
        pytest.param(
            "# coding: ascii\ns = 'é'\n".encode(),
            "cannot decode byte 0xc3 as ascii",
            2,
            6,
            id="bytes outside the declared encoding",
        ),
        pytest.param(
            b"# coding: klingon\nx = 1\n",
            "unknown encoding 'klingon' in the coding cookie",
            1,
            1,
            id="unknown cookie encoding",
        ),
        pytest.param(
            b"#!/usr/bin/python\n# coding: klingon\n",
            "unknown encoding 'klingon' in the coding cookie",
            2,
            1,
            id="unknown cookie encoding on line 2",
        ),
        pytest.param(b"x = 1\ny = '\0'\n", "source contains a NUL character", 2, 6, id="NUL byte"),
    ),
)
def test_decode_source_errors(raw: bytes, message: str, line: int, column: int) -> None:
    with pytest.raises(RewriteError) as excinfo:
        decode_source(raw)
    assert excinfo.value.diagnostic.message == message
    assert (excinfo.value.diagnostic.line, excinfo.value.diagnostic.column) == (line, column)


def test_read_source_keeps_the_raw_bytes(tmp_path: Path) -> None:
    path = tmp_path / "index.py"
    path.write_bytes(b"\xef\xbb\xbfx = 1\r\n")
    source = read_source(path)
    assert (source.path, source.text, source.encoding, source.raw) == (
        path,
        "x = 1\r\n",
        "utf-8-sig",
        b"\xef\xbb\xbfx = 1\r\n",
    )


def test_read_source_directory(tmp_path: Path) -> None:
    with pytest.raises(RewriteError, match="is a directory"):
        read_source(tmp_path)


def test_read_source_missing(tmp_path: Path) -> None:
    with pytest.raises(RewriteError, match="cannot read file"):
        read_source(tmp_path / "missing.py")


def test_read_source_too_large(tmp_path: Path) -> None:
    path = tmp_path / "index.py"
    path.write_bytes(b"x = 1\n" * 10)
    assert read_source(path, max_size=60).text == "x = 1\n" * 10
    with pytest.raises(RewriteError, match=r"larger than max_size \(59 bytes\)"):
        read_source(path, max_size=59)


def test_encode_source_error_is_positioned() -> None:
    text = "# coding: latin-1\ns = '\xe9'\nsnow = '\u2603'\n"
    with pytest.raises(RewriteError) as excinfo:
        encode_source(text, "iso-8859-1")
    assert excinfo.value.diagnostic.message == "cannot encode '\u2603' as iso-8859-1"
    assert (excinfo.value.diagnostic.line, excinfo.value.diagnostic.column) == (3, 9)


@pytest.mark.parametrize(
    ("files", "settings", "expected"),
    (
        pytest.param(
            {"server/index.py": "", "server/chunks/app.py": "", "index.py": ""},
            Settings(),
            ["index.py", "server/index.py"],
            id="default entry pattern",
        ),
        pytest.param(
            {"server/main.py": "", "server/index.py": "", "other/main.py": ""},
            Settings(entry=("server/main.py",)),
            ["server/main.py"],
            id="anchored entry pattern",
        ),
        pytest.param(
            {"a/index.py": "", "b/index.py": "", "b/c/index.py": ""},
            Settings(exclude=("b/",)),
            ["a/index.py"],
            id="excluded directory",
        ),
        pytest.param(
            {"a/index.py": "", "b/index.py": "", "tests/index.py": ""},
            Settings(entry=("index.py",), exclude=("tests/index.py", "b/*")),
            ["a/index.py"],
            id="excluded files",
        ),
        pytest.param(
            {
                ".gitignore": "ignored/\n*.bak/\n",
                "ignored/index.py": "",
                "kept/index.py": "",
                "x.bak/index.py": "",
            },
            Settings(),
            ["kept/index.py"],
            id="gitignore at the top",
        ),
        pytest.param(
            {
                "server/.gitignore": "old/index.py\n",
                "server/old/index.py": "",
                "server/new/index.py": "",
                "old/index.py": "",
            },
            Settings(),
            ["old/index.py", "server/new/index.py"],
            id="nested gitignore applies below its directory only",
        ),
        pytest.param(
            {
                ".gitignore": "**/index.py\n",
                "keep/.gitignore": "!index.py\n",
                "keep/index.py": "",
                "drop/index.py": "",
            },
            Settings(),
            ["keep/index.py"],
            id="deeper gitignore can re-include",
        ),
        pytest.param(
            {".git/index.py": "", "index.py": ""},
            Settings(),
            ["index.py"],
            id="git directory skipped",
        ),
    ),
)
def test_expand_directory(
    tmp_path: Path, files: dict[str, str], settings: Settings, expected: list[str]
) -> None:
    make_tree(tmp_path, files)
    assert expand_paths([tmp_path], settings) == [tmp_path / relpath for relpath in expected]


def test_expand_a_file_is_an_entry_as_it_is(tmp_path: Path) -> None:
    make_tree(tmp_path, {"main.py": "", ".gitignore": "main.py\n"})
    settings = Settings(exclude=("main.py",))
    assert expand_paths([tmp_path / "main.py"], settings) == [tmp_path / "main.py"]


def test_expand_is_sorted_and_deduplicated(tmp_path: Path) -> None:
    make_tree(tmp_path, {"b/index.py": "", "a/index.py": ""})
    paths = [tmp_path / "b" / "index.py", tmp_path, tmp_path / "a" / "index.py"]
    assert expand_paths(paths, Settings()) == [
        tmp_path / "a" / "index.py",
        tmp_path / "b" / "index.py",
    ]


def test_expand_missing_path(tmp_path: Path) -> None:
    with pytest.raises(RewriteError, match="no such file or directory"):
        expand_paths([tmp_path / "missing"], Settings())


def test_expand_symlink_loop_does_not_hang(tmp_path: Path) -> None:
    make_tree(tmp_path, {"server/index.py": ""})
    (tmp_path / "server" / "loop").symlink_to(tmp_path, target_is_directory=True)
    assert expand_paths([tmp_path], Settings()) == [tmp_path / "server" / "index.py"]


def test_disk_tree(tmp_path: Path) -> None:
    make_tree(tmp_path, {"build/chunks/app.py": "x = 1\n", "shared.py": "y = 2\n"})
    (tmp_path / "build" / "bad.py").write_bytes(b"s = '\xff'\n")
    tree = DiskTree(tmp_path / "build")
    assert tree.is_file("chunks/app.py")
    assert not tree.is_file("chunks")
    assert tree.is_dir("chunks")
    assert tree.is_dir(".")
    assert not tree.is_dir("chunks/app.py")
    assert tree.read_text("chunks/app.py") == "x = 1\n"
    assert tree.read_text("../shared.py") == "y = 2\n"
    assert tree.read_text("bad.py") is None
    assert tree.read_text("missing.py") is None
    assert tree.read_text("chunks") is None
    assert not tree.is_file(os.fspath(tmp_path / "shared.py"))
