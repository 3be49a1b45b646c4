"""Which files a PATH yields (``rewriter.search``), and why a PATH that yields none is an error.

A CI gate must never pass on nothing: a PATH with no entry is a usage
error (exit 2) in every mode, and an error of the hook's report, and the
message says which patterns and rules left nothing.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from _builds import ENTRY, make_app

from rewriter import cli
from rewriter.config import Settings
from rewriter.files import expand_paths
from rewriter.runner import rewrite_build


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, list[str]]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err.splitlines()


def test_the_issues_negations_keep_the_entry(project: Path) -> None:
    """``*``, ``!*/``, ``!index.py``: git keeps index.py, so the search finds it."""
    entry = make_app(project / "build" / "server")
    (project / "build" / ".gitignore").write_text("*\n!*/\n!index.py\n")
    assert expand_paths([project / "build"], Settings()) == [entry]


def test_lines_git_tolerates_do_not_stop_the_search(project: Path) -> None:
    entry = make_app(project / "build" / "server")
    (project / "build" / "server" / ".gitignore").write_text("[z-a]\nx[\ntrailing\\\n")
    assert expand_paths([project / "build"], Settings()) == [entry]


def test_a_symlinked_server_directory_is_found(project: Path) -> None:
    entry = make_app(project / "out" / "server")
    (project / "build").mkdir()
    (project / "build" / "server").symlink_to(project / "out" / "server")
    assert expand_paths([project / "build"], Settings()) == [project / "build/server/index.py"]
    assert (project / "build/server/index.py").resolve() == entry.resolve()


def test_a_symlink_loop_is_searched_once(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_app(project / "build" / "server")
    (project / "build" / "server" / "again").symlink_to("..")
    (project / "build" / "twice").symlink_to("server")
    assert expand_paths([project / "build"], Settings()) == [project / "build/server/index.py"]
    code, _, err = run(capsys, "-v", "--check", "build")
    assert code == 1
    assert err[:2] == [
        "skipped build/twice/: searched already: a symlink to a directory met before",
        "skipped build/server/again/: searched already: a symlink to a directory met before",
    ]


NO_ENTRY = (
    "error: build: no entry found: 1 file the entry patterns '**/index.py' select is left out:"
    " build/server/index.py (in build/server/, ignored by build/.gitignore:1 '*');"
    " run with -v to see what was skipped and why"
)


@pytest.mark.parametrize(
    "options",
    [
        pytest.param([], id="write"),
        pytest.param(["--check"], id="check"),
        pytest.param(["--diff"], id="diff"),
        pytest.param(["--format", "json"], id="json"),
        pytest.param(["--check", "--format", "json"], id="check json"),
        pytest.param(["-j", "2"], id="two jobs"),
    ],
)
def test_a_path_with_no_entry_is_an_error_in_every_mode(
    project: Path, capsys: pytest.CaptureFixture[str], options: list[str]
) -> None:
    """A generator's ``build/.gitignore`` of ``*`` hides everything, from git and the search."""
    entry = make_app(project / "build" / "server")
    (project / "build" / ".gitignore").write_text("*\n")
    assert run(capsys, *options, "build") == (2, "", [NO_ENTRY])
    assert entry.read_text() == ENTRY


def test_verbose_shows_what_was_skipped_and_why(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_app(project / "build" / "server")
    make_app(project / "build" / "old")
    (project / "build" / ".gitignore").write_text("*\n")
    code, _, err = run(capsys, "-v", "--exclude", "old/", "build")
    assert code == 2
    assert err == [
        "skipped build/old/: excluded by the exclude pattern 'old/'",
        "skipped build/server/: ignored by build/.gitignore:1 '*'",
        "skipped build/old/index.py: in build/old/, excluded by the exclude pattern 'old/'",
        "skipped build/server/index.py: in build/server/, ignored by build/.gitignore:1 '*'",
        "error: build: no entry found: 2 files the entry patterns '**/index.py' select are left"
        " out: build/old/index.py (in build/old/, excluded by the exclude pattern 'old/');"
        " build/server/index.py (in build/server/, ignored by build/.gitignore:1 '*');"
        " run with -v to see what was skipped and why",
    ]


def test_no_file_matches_the_entry_patterns(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_app(project / "build" / "server")
    assert run(capsys, "--entry", "**/main.py", "build") == (
        2,
        "",
        [
            "error: build: no entry found: no file matches the entry patterns '**/main.py'"
            " (4 files searched); run with -v to see what was skipped and why"
        ],
    )


def test_one_empty_path_stops_the_run_before_anything_is_written(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = make_app(project / "good")
    (project / "empty").mkdir()
    code, _, err = run(capsys, "good", "empty")
    assert (code, len(err)) == (2, 1)
    assert err[0].startswith("error: empty: no entry found: no file matches")
    assert entry.read_text() == ENTRY


def test_the_hooks_report_says_so(project: Path) -> None:
    make_app(project / "build" / "server")
    (project / "build" / ".gitignore").write_text("*\n")
    build = project / "build"
    report = rewrite_build(build, Settings())
    assert report.files == ()
    assert report.errors == (
        f"{build}: no entry found: 1 file the entry patterns '**/index.py' select is left out:"
        f" {build}/server/index.py (in {build}/server/, ignored by {build}/.gitignore:1 '*');"
        " run with -v to see what was skipped and why",
    )
    assert (report.exit_code(), report.exit_code(check=True)) == (2, 2)
    assert report.summary(write=True) == "1 error."


def test_json_paths_that_are_not_utf8_are_strict_and_lossless(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A strict parser rejects lone surrogates; ``path_bytes`` keeps the exact bytes."""
    odd = os.fsdecode(b"app-\xff")
    make_app(project / "build" / odd)
    code, out, _ = run(capsys, "--check", "--format", "json", "build")
    assert code == 1
    out.encode("ascii")  # ASCII, so valid UTF-8
    report = json.loads(out)

    def strings(value: object) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, dict):
            return [text for item in value.values() for text in strings(item)]
        if isinstance(value, list):
            return [text for item in value for text in strings(item)]
        return []

    for text in strings(report):
        text.encode("utf-8")  # no lone surrogate anywhere
    (entry,) = report["files"]
    assert entry["path"] == "build/app-\ufffd/index.py"
    assert os.fsdecode(base64.b64decode(entry["path_bytes"])) == (f"build/{odd}/index.py")
    for finding in entry["findings"]:
        assert "path_bytes" in finding
