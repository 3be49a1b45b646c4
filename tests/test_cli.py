from __future__ import annotations

import ast
import gc
import io
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import rewriter.core
from rewriter import cli
from rewriter.config import Settings
from rewriter.errors import RewriteError
from rewriter.plan import EntryPlan
from rewriter.report import BuildReport, FileReport, Status
from rewriter.runner import rewrite_build, rewrite_file
from rewriter.tree import MemoryTree

ENTRY = '''\
"""Server entry (generated)."""
from .chunks.app import handler
'''
APP = "def handler(event, context):\n    return 'ok'\n"
BROKEN = "import os\ndef handler(:\n    pass\n"


# The init modules the tests name; each build has them beside its (script)
# entry, where `import NAME` finds them when the entry runs.
INIT_MODULES = (
    "instrument",
    "file_instrument",
    "cli_instrument",
    "first_instrument",
    "second_instrument",
    "nearest_instrument",
    "chosen_instrument",
)


def make_build(root: Path, entry: str = ENTRY, *, init: str | None = "instrument") -> Path:
    """A build directory ``root/build/server`` with one entry; returns the entry."""
    server = root / "build" / "server"
    (server / "chunks").mkdir(parents=True)
    (server / "chunks" / "__init__.py").write_text("")
    (server / "chunks" / "app.py").write_text(APP)
    (server / "index.py").write_text(entry)
    for name in INIT_MODULES:
        (server / f"{name}.py").write_text("def init():\n    pass\n\n\ninit()\n")
    table = "" if init is None else f'[tool.rewriter]\ninit = "{init}"\n'
    (root / "pyproject.toml").write_text(table)
    return server / "index.py"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def feed_stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_rewrite_writes_and_is_stable(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    entry = make_build(project)
    code, out, err = run(capsys, "-v", "build/server/index.py")
    assert code == 0
    assert out == ""
    assert "rewrote build/server/index.py" in err
    assert err.endswith("1 file rewritten.\n")
    rewritten = entry.read_text()
    assert rewritten != ENTRY
    assert "instrument" in rewritten
    ast.parse(rewritten)

    code, out, err = run(capsys, "build/server/index.py")
    assert (code, out, err) == (0, "", "1 file left unchanged.\n")
    assert entry.read_text() == rewritten


def test_rewrite_a_build_directory(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    entry = make_build(project)
    code, _, err = run(capsys, "build")
    assert code == 0
    assert err == "1 file rewritten.\n"
    assert entry.read_text() != ENTRY


@pytest.mark.parametrize(
    "option",
    (
        pytest.param("--check", id="check"),
        pytest.param("--diff", id="diff"),
    ),
)
def test_check_and_diff_write_nothing(
    project: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    entry = make_build(project)
    before = entry.read_bytes()
    code, _, err = run(capsys, option, "build")
    assert code == 1
    assert entry.read_bytes() == before
    assert "would rewrite build/server/index.py\n" in err
    assert err.endswith("1 file would be rewritten.\n")


def test_diff_prints_a_unified_diff(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_build(project)
    code, out, _ = run(capsys, "--diff", "-q", "build/server/index.py")
    assert code == 1
    assert out.startswith("--- a/build/server/index.py\n+++ b/build/server/index.py\n@@ ")
    assert "\n+# rewriter:init" in out


def test_check_passes_once_rewritten(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_build(project)
    assert run(capsys, "build")[0] == 0
    assert run(capsys, "--check", "build") == (0, "", "1 file would be left unchanged.\n")
    assert run(capsys, "--diff", "build")[:2] == (0, "")


def test_quiet_prints_nothing_on_success(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_build(project)
    assert run(capsys, "-q", "build") == (0, "", "")


def test_stdin_to_stdout(
    project: Path, capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = make_build(project)
    monkeypatch.chdir(entry.parent)
    feed_stdin(monkeypatch, b"from chunks.app import handler\r\n")
    code = cli.main(["-"])
    out, err = capsysbinary.readouterr()
    assert code == 0
    assert b"import_module" in out or b"instrument" in out
    assert b"\r\n" in out and b"\n" not in out.replace(b"\r\n", b"")
    assert err == b"1 file rewritten to standard output.\n"
    assert entry.read_text() == ENTRY


def test_stdin_check_writes_nothing(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_build(project)
    (project / "instrument.py").write_text("")  # stdin's entry directory is the current one
    feed_stdin(monkeypatch, b"import flask\n")
    code, out, err = run(capsys, "--check", "-")
    assert (code, out) == (1, "")
    assert "would rewrite -" in err


def test_stdin_error(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_build(project)
    feed_stdin(monkeypatch, b"x = 1\ny = '\xff'\n")
    code, out, err = run(capsys, "-")
    assert (code, out) == (123, "")
    assert "error: -:2:6: cannot decode byte 0xff as utf-8\n" in err


def test_stdin_syntax_error_writes_nothing(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_build(project)
    feed_stdin(monkeypatch, b"x = (\n")
    code, out, err = run(capsys, "-")
    assert (code, out) == (123, "")
    assert err.startswith("error: -:")


def test_stdin_only_once(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "-", "-")
    assert code == 2
    assert "can be given only once" in err


def test_syntax_error_fails_and_leaves_the_file(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = make_build(project, BROKEN)
    before = entry.read_bytes()
    code, out, err = run(capsys, "build/server/index.py")
    assert (code, out) == (123, "")
    assert err.startswith("error: build/server/index.py:")
    assert err.endswith("\n1 file failed to rewrite.\n")
    assert entry.read_bytes() == before


@pytest.mark.parametrize(
    ("source", "position"),
    (
        pytest.param(BROKEN, "2:13", id="bad parameter list"),
        pytest.param("x = 1\ny = (1,\n", "2:5", id="unclosed parenthesis"),
        pytest.param("if x:\npass\n", "2:1", id="missing indent"),
    ),
)
def test_syntax_error_position_is_where_python_puts_it(
    project: Path, capsys: pytest.CaptureFixture[str], source: str, position: str
) -> None:
    make_build(project, source)
    code, _, err = run(capsys, "-q", "build/server/index.py")
    assert code == 123
    assert err.startswith(f"error: build/server/index.py:{position}: ")


def test_one_failure_does_not_stop_the_others(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = make_build(project)
    bad = project / "build" / "other" / "index.py"
    bad.parent.mkdir()
    bad.write_text(BROKEN)
    code, _, err = run(capsys, "build")
    assert code == 123
    assert good.read_text() != ENTRY
    assert bad.read_text() == BROKEN
    assert err.endswith("1 file rewritten, 1 file failed to rewrite.\n")


@pytest.mark.parametrize(
    ("argv", "message"),
    (
        pytest.param(["--mode", "fast", "build"], "invalid choice: 'fast'", id="bad mode"),
        pytest.param(["--jobs", "0", "build"], "must be a positive integer", id="bad jobs"),
        pytest.param(["--bogus", "build"], "unrecognized arguments: --bogus", id="unknown option"),
        pytest.param([], "the following arguments are required: PATH", id="no path"),
        pytest.param(["-q", "-v", "build"], "not allowed with argument", id="quiet and verbose"),
        pytest.param(
            ["--handler", "not valid", "build"],
            "error: handler must be a Python identifier, got 'not valid'",
            id="unsafe handler",
        ),
        pytest.param(
            ["--init", "os; evil", "build"],
            "error: init module must be a dotted Python name",
            id="unsafe init",
        ),
        pytest.param(
            ["missing.py"], "error: missing.py: no such file or directory", id="missing path"
        ),
    ),
)
def test_usage_errors(
    project: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    entry = make_build(project)
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert message in err
    assert entry.read_text() == ENTRY


@pytest.mark.parametrize(
    ("pyproject", "expected"),
    (
        pytest.param(
            '[tool.rewriter]\ninit = "instrument"\nruntme = ["chunks/**"]\n',
            "error: pyproject.toml:3:1: unknown key 'runtme' in [tool.rewriter]; "
            "did you mean 'runtime'?\n",
            id="unknown key",
        ),
        pytest.param(
            "[tool.rewriter]\ninit = \n",
            "error: pyproject.toml:2:8: invalid TOML: Invalid value\n",
            id="toml syntax error",
        ),
        pytest.param(
            "[tool.rewriter]\nlazy = 1\n",
            "error: pyproject.toml:2:1: lazy must be true or false, got 1\n",
            id="wrong value type",
        ),
    ),
)
def test_config_errors(
    project: Path, capsys: pytest.CaptureFixture[str], pyproject: str, expected: str
) -> None:
    entry = make_build(project)
    (project / "pyproject.toml").write_text(pyproject)
    code, out, err = run(capsys, "build")
    assert (code, out) == (2, "")
    assert err.replace(str(project) + "/", "") == expected
    assert entry.read_text() == ENTRY


def test_missing_config_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_build(project)
    code, _, err = run(capsys, "--config", "nope.toml", "build")
    assert code == 2
    assert err == "error: --config nope.toml: cannot read it: No such file or directory\n"


@pytest.mark.parametrize(
    ("pyproject", "argv", "expected"),
    (
        pytest.param("", [], Settings(), id="defaults"),
        pytest.param(
            '[tool.rewriter]\ninit = "file_init"\nmode = "preload"\nexclude = ["x"]\n',
            [],
            Settings(init="file_init", mode="preload", exclude=("x",)),
            id="pyproject over defaults",
        ),
        pytest.param(
            '[tool.rewriter]\ninit = "file_init"\nmode = "preload"\nexclude = ["x"]\nlazy = true\n',
            ["--init", "cli_init", "--exclude", "y", "--exclude", "z", "--no-lazy"],
            Settings(init="cli_init", mode="preload", exclude=("y", "z"), lazy=False),
            id="cli over pyproject",
        ),
        pytest.param(
            "",
            [
                "--entry", "**/main.py", "--runtime", "chunks/**", "--handler", "app",
                "--mode", "preload", "--preload", "flask", "--lazy",
                "--preset", "nitro", "-j", "3",
            ],
            Settings(
                entry=("**/main.py",), runtime=("chunks/**",), handler=("app",),
                mode="preload", preload=("flask",), lazy=True, preset="nitro", jobs=3,
            ),
            id="every option reaches the settings",
        ),
    ),
)
def test_settings_precedence(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    pyproject: str,
    argv: list[str],
    expected: Settings,
) -> None:
    entry = make_build(project)
    (project / "pyproject.toml").write_text(pyproject)
    seen: list[Settings] = []

    def record(path: Path, settings: Settings, *, write: bool = True, **_: object) -> FileReport:
        seen.append(settings)
        return FileReport("x", "unchanged")

    monkeypatch.setattr("rewriter.runner.rewrite_file", record)
    assert run(capsys, *argv, str(entry))[0] == 0
    assert seen == [expected]


def test_init_from_cli_wins_end_to_end(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    entry = make_build(project, init="file_instrument")
    assert run(capsys, "build")[0] == 0
    assert "file_instrument" in entry.read_text()

    entry.write_text(ENTRY)
    assert run(capsys, "--init", "cli_instrument", "build")[0] == 0
    assert "cli_instrument" in entry.read_text()
    assert "file_instrument" not in entry.read_text()


def test_each_path_uses_its_nearest_pyproject(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = make_build(project / "one", init="first_instrument")
    second = make_build(project / "two", init="second_instrument")
    assert run(capsys, "one/build", "two/build")[0] == 0
    assert "first_instrument" in first.read_text()
    assert "second_instrument" in second.read_text()


def test_config_option_replaces_the_nearest_pyproject(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = make_build(project / "app", init="nearest_instrument")
    (project / "other.toml").write_text('[tool.rewriter]\ninit = "chosen_instrument"\n')
    assert run(capsys, "--config", "other.toml", "app/build")[0] == 0
    assert "chosen_instrument" in entry.read_text()


@pytest.mark.parametrize(
    ("raw", "encoding"),
    (
        pytest.param(
            b"# -*- coding: latin-1 -*-\r\n# caf\xe9\r\nfrom .chunks.app import handler\r\n",
            "iso-8859-1",
            id="latin-1 cookie with CRLF",
        ),
        pytest.param(
            b"\xef\xbb\xbf# caf\xc3\xa9\nfrom .chunks.app import handler\n",
            "utf-8-sig",
            id="utf-8 BOM",
        ),
    ),
)
def test_encoding_and_newlines_survive(
    project: Path, capsys: pytest.CaptureFixture[str], raw: bytes, encoding: str
) -> None:
    entry = make_build(project)
    entry.write_bytes(raw)
    assert run(capsys, "build")[0] == 0
    written = entry.read_bytes()
    assert written != raw
    text = written.decode(encoding)
    assert "# café" in text
    assert written.startswith(raw.split(b"\n")[0])
    if b"\r\n" in raw:
        assert b"\n" not in written.replace(b"\r\n", b"")


def test_rewrite_keeps_the_file_mode(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    entry = make_build(project)
    entry.chmod(0o750)
    assert run(capsys, "build")[0] == 0
    assert entry.read_text() != ENTRY
    assert stat.S_IMODE(entry.stat().st_mode) == 0o750


def test_file_changed_during_the_rewrite_is_not_overwritten(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = make_build(project)
    real = rewriter.core.rewritten_text

    def edit_meanwhile(plan: EntryPlan) -> str:
        entry.write_text("# edited by someone else\n")
        return real(plan)

    monkeypatch.setattr(rewriter.core, "rewritten_text", edit_meanwhile)
    code, _, err = run(capsys, "build")
    assert code == 123
    assert (
        "error: build/server/index.py:1:1: changed on disk since it was read; not overwritten\n"
        in err
    )
    assert entry.read_text() == "# edited by someone else\n"


def test_internal_error_is_a_failed_file(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = make_build(project)

    def crash(plan: EntryPlan) -> str:
        raise ValueError("boom")

    monkeypatch.setattr(rewriter.core, "rewritten_text", crash)
    code, _, err = run(capsys, "build")
    assert code == 123
    assert "error: build/server/index.py:1:1: internal error: ValueError: boom\n" in err
    assert entry.read_text() == ENTRY


def test_warnings_are_printed_unless_quiet(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_build(project)
    code, _, err = run(capsys, "--check", "--handler", "nowhere", "build")
    assert code == 1
    assert "warning: build/server/index.py:" in err
    assert "nowhere" in err

    code, _, err = run(capsys, "--check", "-q", "--handler", "nowhere", "build")
    assert code == 1
    assert "warning:" not in err
    # Errors still print under -q: here, why the unrewritten entry fails the check.
    assert err.splitlines() == [
        "error: build/server/index.py:1:1: not rewritten: the entry has no rewriter init block",
        "error: build/server/index.py:2:1: runtime module .chunks.app is imported before init",
    ]


def test_version_subprocess() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "rewriter", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0
    assert completed.stdout.startswith("rewriter ")
    assert completed.stdout.strip().split(" ")[1][0].isdigit()


@pytest.mark.parametrize(
    ("statuses", "check", "diff", "expected"),
    (
        pytest.param((), False, False, 0, id="nothing to do"),
        pytest.param(("changed", "unchanged"), False, False, 0, id="rewritten"),
        pytest.param(("changed", "unchanged"), True, False, 1, id="check found work"),
        pytest.param(("changed",), False, True, 1, id="diff found work"),
        pytest.param(("unchanged",), True, True, 0, id="check found nothing"),
        pytest.param(("changed", "failed"), True, False, 123, id="failure wins"),
        pytest.param(("failed",), False, False, 123, id="failed"),
    ),
)
def test_exit_code(statuses: tuple[Status, ...], check: bool, diff: bool, expected: int) -> None:
    build = BuildReport(tuple(FileReport(f"{n}.py", status) for n, status in enumerate(statuses)))
    assert build.exit_code(check=check, diff=diff) == expected


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    (
        pytest.param("a\nb\n", "a\nc\n", "-b\n+c\n", id="changed line"),
        pytest.param(
            "a\nb", "a\nc", "-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n",
            id="no newline at end of file",
        ),
        pytest.param("a\r\nb\r\n", "a\r\nc\r\n", "-b\r\n+c\r\n", id="CRLF lines"),
        pytest.param("a\x0cb\n", "a\x0cc\n", "-a\x0cb\n+a\x0cc\n", id="form feed is not a newline"),
    ),
)
def test_unified_diff(before: str, after: str, expected: str) -> None:
    diff = cli.unified_diff(before, after, "build/index.py")
    header, body = diff.split("@@\n", 1)
    assert header.startswith("--- a/build/index.py\n+++ b/build/index.py\n@@ ")
    assert body.endswith(expected)


def test_rewrite_build_library(project: Path) -> None:
    entry = make_build(project)
    settings = Settings(init="instrument")
    report = rewrite_build(project / "build", settings, write=False)
    assert [(file.path, file.status) for file in report.files] == [
        (str(project / "build" / "server" / "index.py"), "changed")
    ]
    assert entry.read_text() == ENTRY
    report = rewrite_build(project / "build", settings)
    assert report.exit_code() == 0
    assert len(report.rewritten) == 1
    assert entry.read_text() == report.files[0].result.output  # type: ignore[union-attr]


def test_rewrite_build_missing_directory(project: Path) -> None:
    with pytest.raises(RewriteError, match="no such file or directory"):
        rewrite_build(project / "missing", Settings())


def test_rewrite_file_reports_a_missing_file(project: Path) -> None:
    report = rewrite_file(project / "missing.py", Settings())
    assert report.status == "failed"
    assert report.error is not None
    assert report.error.message.startswith("cannot read file")


class _GcWatchingTree(MemoryTree):
    """A source tree that notes whether the cyclic collector is on when the core reads it."""

    def __init__(self, files: dict[str, str]) -> None:
        super().__init__(files)
        self.collector_on: list[bool] = []

    def is_file(self, relpath: str) -> bool:
        self.collector_on.append(gc.isenabled())
        return super().is_file(relpath)


def test_rewrite_source_pauses_the_cyclic_garbage_collector() -> None:
    tree = _GcWatchingTree({"chunks/app.py": APP, "instrument.py": ""})
    assert gc.isenabled()
    result = rewriter.core.rewrite_source(
        ENTRY, Settings(init="instrument"), path="index.py", tree=tree
    )
    assert result.runtime_modules  # the tree was read to find the runtime
    assert tree.collector_on and not any(tree.collector_on)
    # Back on afterwards: a build plugin calling the API keeps its collector.
    assert gc.isenabled()


def test_rewrite_source_turns_the_collector_back_on_after_refusing() -> None:
    with pytest.raises(RewriteError):
        rewriter.core.rewrite_source(BROKEN, Settings(init="instrument"))
    assert gc.isenabled()


def test_rewrite_source_leaves_a_paused_collector_paused() -> None:
    gc.disable()
    try:
        rewriter.core.rewrite_source(ENTRY, Settings(init="instrument"))
        assert not gc.isenabled()
    finally:
        gc.enable()
