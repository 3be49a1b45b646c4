"""``--format json``: one JSON object on stdout per run, for CI tooling."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import rewriter
from rewriter import cli

ENTRY = "from .chunks.app import handler\n"
APP = "def handler(event, context):\n    return 'ok'\n"
BROKEN = "import os\ndef handler(:\n    pass\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    files = {
        "pyproject.toml": '[tool.rewriter]\ninit = "instrument"\n',
        "build/server/index.py": ENTRY,
        "build/server/chunks/__init__.py": "",
        "build/server/chunks/app.py": APP,
        "build/server/instrument.py": "",
    }
    for relpath, text in files.items():
        (tmp_path / relpath).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relpath).write_text(text)
    return tmp_path


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any], str]:
    """Run the CLI with --format json; stdout must be exactly one line of JSON."""
    code = cli.main(["--format", "json", *argv])
    out, err = capsys.readouterr()
    assert out.endswith("\n")
    assert out.count("\n") == 1
    report: dict[str, Any] = json.loads(out)
    return code, report, err


def test_a_rewritten_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report, _ = run_json(capsys, "build")
    assert code == 0
    assert report == {
        "version": 1,
        "tool": {"name": "rewriter", "version": rewriter.__version__},
        "write": True,
        "exit_code": 0,
        "summary": {
            "files": 1,
            "changed": 1,
            "unchanged": 0,
            "failed": 0,
            "warnings": 0,
            "findings": 0,
        },
        "files": [
            {
                "path": "build/server/index.py",
                "status": "changed",
                "written": True,
                "reexports": ["handler"],
                "runtime_modules": [".chunks.app"],
                "warnings": [],
                "errors": [],
                "findings": [],
            }
        ],
    }
    assert (project / "build/server/index.py").read_text() != ENTRY

    code, report, _ = run_json(capsys, "build")
    assert code == 0
    assert [(item["status"], item["written"]) for item in report["files"]] == [("unchanged", False)]


def test_check_writes_nothing(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report, err = run_json(capsys, "--check", "build")
    assert code == 1
    assert (report["write"], report["exit_code"]) == (False, 1)
    assert [(item["status"], item["written"]) for item in report["files"]] == [("changed", False)]
    # Under --check the guarantee is checked on the file as it is: not rewritten.
    assert report["files"][0]["findings"] == [
        {
            "path": "build/server/index.py",
            "line": 1,
            "column": 1,
            "message": "not rewritten: the entry has no rewriter init block",
        },
        {
            "path": "build/server/index.py",
            "line": 1,
            "column": 1,
            "message": "runtime module .chunks.app is imported before init",
        },
    ]
    assert "would rewrite build/server/index.py" in err
    assert (project / "build/server/index.py").read_text() == ENTRY


def test_a_file_that_cannot_be_rewritten(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "build/other").mkdir()
    (project / "build/other/index.py").write_text(BROKEN)
    code, report, err = run_json(capsys, "build")
    assert code == 123
    assert report["exit_code"] == 123
    assert report["summary"]["failed"] == 1
    assert report["summary"]["changed"] == 1
    failed = report["files"][0]
    assert failed == {
        "path": "build/other/index.py",
        "status": "failed",
        "written": False,
        "reexports": [],
        "runtime_modules": [],
        "warnings": [],
        "errors": [failed["errors"][0]],
        "findings": [],
    }
    error = failed["errors"][0]
    assert (error["path"], error["line"], error["column"]) == ("build/other/index.py", 2, 13)
    assert error["message"].startswith("cannot parse")
    # Human messages still go to stderr.
    assert "error: build/other/index.py:2:13: cannot parse" in err
    assert (project / "build/other/index.py").read_text() == BROKEN


def test_a_warning(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report, _ = run_json(capsys, "--handler", "handler", "--handler", "server", "build")
    assert code == 0
    assert report["summary"]["warnings"] == 1
    assert report["files"][0]["warnings"] == [
        {
            "path": "build/server/index.py",
            "line": 1,
            "column": 1,
            "message": "handler 'server' is not exported by the entry or its runtime",
        }
    ]


def test_a_finding_in_another_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The init module imports the runtime: the guarantee is broken after the rewrite.
    (project / "build/server/instrument.py").write_text(
        "import logging\n\nfrom .chunks.app import handler\n"
    )
    code, report, _ = run_json(capsys, "build")
    assert code == 1
    assert report["summary"]["findings"] == 1
    [finding] = report["files"][0]["findings"]
    assert (finding["path"], finding["line"], finding["column"]) == (
        "build/server/instrument.py",
        3,
        1,
    )
    assert re.fullmatch(
        r"imports chunks\.app before init \(index\.py:\d+ -> instrument\.py:3 -> chunks/app\.py\)",
        finding["message"],
    )


def test_verbose_lines_stay_on_stderr(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report, err = run_json(capsys, "-v", "build")
    assert code == 0
    assert report["summary"]["changed"] == 1
    lines = err.splitlines()
    assert lines[0] == "rewrote build/server/index.py"
    assert lines[1].startswith("cache: 0 of 1 verdicts reused (")
    assert lines[2:] == ["1 file rewritten."]


@pytest.mark.parametrize(
    ("argv", "message"),
    (
        pytest.param(
            ["--diff", "build"],
            "error: --diff cannot be combined with --format json\n",
            id="diff",
        ),
        pytest.param(
            ["-"],
            "error: '-' writes the rewritten code to stdout; with --format json use --check\n",
            id="stdin without check",
        ),
    ),
)
def test_usage_errors_print_no_json(
    project: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert cli.main(["--format", "json", *argv]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", message)
    assert (project / "build/server/index.py").read_text() == ENTRY


def test_config_error_prints_no_json(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--format", "json", "--preset", "nuxt", "build"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: unknown preset 'nuxt'")


def test_stdin_with_check(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "instrument.py").write_text("")  # stdin's entry directory is the current one
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"import os\n")))
    code, report, _ = run_json(capsys, "--check", "-")
    assert code == 1
    assert [(item["path"], item["status"]) for item in report["files"]] == [("-", "changed")]


def test_format_text_is_the_default(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--format", "text", "build"]) == 0
    out, err = capsys.readouterr()
    assert (out, err) == ("", "1 file rewritten.\n")


def test_json_from_a_subprocess(project: Path) -> None:
    # The real console: nothing but the JSON object reaches stdout.
    result = subprocess.run(
        [sys.executable, "-m", "rewriter", "--format", "json", "--check", "build"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert json.loads(result.stdout)["files"][0]["status"] == "changed"
    assert result.stdout.count("\n") == 1
