"""``rewriter --trace`` on real entries, in real subprocesses.

The broken cases are the real failures of issue 12, as today's rewrite left
them (``fixtures/trace/*/todays_rewrite.py``): ``--check`` passes on each of
them, and the trace must name what breaks at run time. The correct cases are
a hand-written entry that emits the new block's audit events and entries
that the current CLI rewrites correctly. See ``fixtures/trace/README.md``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rewriter import cli

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "trace"

# Variables that would change what the traced entries do.
_INFLUENCES = ("REWRITER_DISABLE_INIT", "REWRITER_DEBUG", "SENTRY_DSN", "DJANGO_SETTINGS_MODULE")


@dataclass(frozen=True)
class Case:
    """A directory of fixtures/trace (see its README)."""

    name: str
    entry: str
    options: tuple[str, ...]
    trace_options: tuple[str, ...]
    findings: tuple[str, ...]
    startproject: str | None
    clean_once_fixed: str | None

    @property
    def todays_rewrite(self) -> Path | None:
        path = FIXTURES / self.name / "todays_rewrite.py"
        return path if path.is_file() else None

    def build(self, root: Path, *, todays: bool) -> Path:
        """The tree under ``root``: the input, and today's rewrite of the entry when ``todays``."""
        root.mkdir()
        if self.startproject:
            command = [sys.executable, "-m", "django", "startproject", self.startproject]
            subprocess.run(command, cwd=root, check=True, timeout=120)
        shutil.copytree(FIXTURES / self.name / "input", root, dirs_exist_ok=True)
        if todays and self.todays_rewrite is not None:
            shutil.copyfile(self.todays_rewrite, root / self.entry)
        return root


def _case(directory: Path) -> Case:
    table = tomllib.loads((directory / "case.toml").read_text(encoding="utf-8"))
    return Case(
        directory.name,
        table["entry"],
        tuple(table["options"]),
        tuple(table.get("trace_options", ())),
        tuple(table["findings"]),
        table.get("startproject"),
        table.get("clean_once_fixed"),
    )


CASES = [_case(directory) for directory in sorted(FIXTURES.iterdir()) if directory.is_dir()]
BROKEN = [case for case in CASES if case.findings]
CORRECT = [case for case in CASES if not case.findings]


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _INFLUENCES:
        monkeypatch.delenv(name, raising=False)


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    @property
    def errors(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("error: ")]

    @property
    def json(self) -> Any:
        return json.loads(self.out)


Cli = Callable[..., Run]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """``run(root, *argv)``: the command line, in ``root``."""

    def run_in(root: Path, *argv: str) -> Run:
        monkeypatch.chdir(root)
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return Run(code, out, err)

    return run_in


def trace(case: Case, root: Path, run: Cli, *extra: str) -> Run:
    return run(root, "--trace", *case.options, *case.trace_options, *extra, case.entry)


def rewrite(case: Case, root: Path, run: Cli) -> None:
    """Rewrite the case's entry with the current CLI (exit 1: written, with static findings)."""
    result = run(root, *case.options, case.entry)
    assert result.code in (0, 1), result.err
    assert "# rewriter:init" in (root / case.entry).read_text(encoding="utf-8")


@pytest.mark.parametrize("case", BROKEN, ids=lambda case: case.name)
def test_a_real_failure_is_caught(
    case: Case,
    tmp_path: Path,
    run: Cli,
) -> None:
    root = case.build(tmp_path / "tree", todays=True)
    if case.todays_rewrite is None:
        rewrite(case, root, run)

    result = trace(case, root, run)

    assert result.code == 1, result.err
    for finding in case.findings:
        assert any(finding in line for line in result.errors), (finding, result.errors)
    assert f"{case.entry} (imported as " in result.out
    assert result.out.rstrip().endswith(
        f"broken: {len(result.errors)} finding" + "s" * (len(result.errors) > 1)
    )
    assert result.err.endswith("1 entry traced: 1 broken.\n")


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, id=case.name)
        for case in BROKEN
        if case.clean_once_fixed
    ],
)
def test_the_current_rewrite_of_a_real_failure_traces_clean(
    case: Case,
    tmp_path: Path,
    run: Cli,
) -> None:
    root = case.build(tmp_path / "tree", todays=False)
    rewrite(case, root, run)
    result = trace(case, root, run)
    assert (result.code, result.errors) == (0, [])


@pytest.mark.parametrize("case", CORRECT, ids=lambda case: case.name)
def test_a_correct_entry_traces_clean(
    case: Case,
    tmp_path: Path,
    run: Cli,
) -> None:
    root = case.build(tmp_path / "tree", todays=True)
    if "# rewriter:init" not in (root / case.entry).read_text(encoding="utf-8"):
        rewrite(case, root, run)

    result = trace(case, root, run, "--format", "json")

    assert (result.code, result.errors) == (0, []), result.err
    [entry] = result.json["entries"]
    assert entry["status"] == "ok"
    assert entry["findings"] == [] and entry["errors"] == []
    init = entry["init"]
    assert init["ms"] > 0 and init["errors"] == []
    assert entry["startup_ms"] >= init["start_ms"] + init["ms"]
    assert entry["deferred"], "the runtime is imported after init, by the entry"
    for deferred in entry["deferred"]:
        assert deferred["ms"] >= 0
        assert deferred["line"] > 0
    runtime = [load for load in entry["imports"] if load["kind"] == "runtime"]
    assert runtime and all(load["phase"] == "after init" for load in runtime)
    instrumented = [load for load in entry["imports"] if load["kind"] == "instrumented"]
    assert all(load["phase"] != "before init" for load in instrumented)


def _case_named(name: str) -> Case:
    return next(case for case in CASES if case.name == name)


def test_audit_events_time_the_init(tmp_path: Path, run: Cli) -> None:
    case = _case_named("audit_events")
    root = case.build(tmp_path / "tree", todays=True)

    result = trace(case, root, run, "--format", "json")

    [entry] = result.json["entries"]
    assert entry["import"] == {"how": "module", "target": "app.index", "root": str(root)}
    assert entry["init"]["observed"] == "audit"
    assert entry["init"]["spec"] == "app.instrument:init"
    during = {load["module"] for load in entry["imports"] if load["phase"] == "init"}
    assert {"app.instrument", "flask", "opentelemetry.instrumentation.flask"} <= during
    assert [(item["module"], item["line"]) for item in entry["deferred"]] == [
        ("app.chunks", 30),
        ("app.chunks.web", 30),
    ]


def test_an_init_that_raises_through_the_audit_events(tmp_path: Path, run: Cli) -> None:
    case = _case_named("audit_events")
    root = case.build(tmp_path / "tree", todays=True)
    init = root / "app" / "instrument.py"
    init.write_text(init.read_text() + "\nraise RuntimeError('no exporter configured')\n")

    result = trace(case, root, run)

    assert result.code == 123
    assert result.errors == [
        "error: app/instrument.py:10:1: importing the entry raised RuntimeError: "
        "no exporter configured",
        "error: app/instrument.py:10:1: init raised RuntimeError: no exporter configured",
    ]


def test_the_json_report_names_the_chain(tmp_path: Path, run: Cli) -> None:
    case = _case_named("parent_package")
    root = case.build(tmp_path / "tree", todays=False)
    rewrite(case, root, run)

    result = trace(case, root, run, "--format", "json")

    report = result.json
    assert (report["trace"], report["exit_code"], result.code) == (True, 1, 1)
    assert report["summary"] == {"entries": 1, "ok": 0, "broken": 1, "failed": 0, "findings": 1}
    [entry] = report["entries"]
    assert entry["findings"] == [
        {
            "path": "build/server/__init__.py",
            "line": 1,
            "column": 1,
            "message": "runtime module build.server.chunks.app is imported before init "
            "(build/server/__init__.py:1 -> build/server/chunks/app.py)",
        }
    ]
    early = {item["module"]: item for item in entry["before_init"]}
    assert early["build.server.chunks.app"]["kind"] == "runtime"
    assert early["build.server.chunks.app"]["chain"] == [
        {"module": "build.server", "file": str(root / "build/server/__init__.py"), "line": 1},
        {
            "module": "build.server.chunks.app",
            "file": str(root / "build/server/chunks/app.py"),
            "line": None,
        },
    ]
    loads = {load["module"]: load for load in entry["imports"]}
    assert loads["build.server"]["importer"] is None  # the server's import of the entry
    assert loads["build.server.chunks.app"]["importer"] == "build.server"
    assert loads["opentelemetry.sdk.trace"]["phase"] == "init"
    assert result.err.splitlines()[-1] == "1 entry traced: 1 broken."


def _tree(root: Path, files: dict[str, str]) -> Path:
    for relpath, text in files.items():
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_text(text, encoding="utf-8")
    return root


def test_an_entry_never_rewritten_runs_no_init(tmp_path: Path, run: Cli) -> None:
    root = _tree(tmp_path, {"index.py": "import views\n", "views.py": "", "instrument.py": ""})

    result = run(root, "--trace", "--init", "instrument", "index.py")

    assert result.code == 1
    assert result.errors == [
        "error: index.py:1:1: init did not run: neither the block's rewriter.init audit event "
        "nor an import of the init module instrument was seen"
    ]
    assert "  init  did not run\n" in result.out


def test_disabled_init_is_named(tmp_path: Path, run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _tree(tmp_path, {"index.py": "import views\n", "views.py": "", "instrument.py": ""})
    assert run(root, "--init", "instrument", "index.py").code == 0
    monkeypatch.setenv("REWRITER_DISABLE_INIT", "1")

    result = run(root, "--trace", "--init", "instrument", "index.py")

    assert result.code == 1
    assert result.errors[0].endswith("(REWRITER_DISABLE_INIT=1)")


_CHECKS_ITS_DSN = """\
import os
import warnings

if not os.environ.get("SENTRY_DSN"):
    warnings.warn("SENTRY_DSN is not set", RuntimeWarning)
"""


def test_env_file_reaches_the_init(tmp_path: Path, run: Cli) -> None:
    root = _tree(
        tmp_path,
        {
            "index.py": "import views\n",
            "views.py": "",
            "instrument.py": _CHECKS_ITS_DSN,
            "prod.env": "# deployed settings\nexport SENTRY_DSN='https://key@127.0.0.1:9/1'\n",
        },
    )
    assert run(root, "--init", "instrument", "index.py").code == 0

    without = run(root, "--trace", "--init", "instrument", "index.py")
    with_file = run(
        root,
        "--trace",
        "--init",
        "instrument",
        "--env-file",
        "prod.env",
        "index.py",
    )

    assert without.code == 1
    assert without.errors == [
        "error: instrument.py:5:1: init warned RuntimeWarning: SENTRY_DSN is not set"
    ]
    assert (with_file.code, with_file.errors) == (0, [])


def test_a_bad_env_file_is_a_usage_error(tmp_path: Path, run: Cli) -> None:
    root = _tree(tmp_path, {"index.py": "", "instrument.py": "", "bad.env": "A=1\nnot a line\n"})

    result = run(
        root,
        "--trace",
        "--init",
        "instrument",
        "--env-file",
        "bad.env",
        "index.py",
    )

    assert (result.code, result.out) == (2, "")
    assert result.err == "error: bad.env:2:1: expected KEY=VALUE in the env file\n"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        pytest.param(
            "import time\ntime.sleep(60)\n",
            "error: index.py:2:1: timed out after 1 s while running index.py:2",
            id="timeout",
        ),
        pytest.param(
            "import os\nos._exit(3)\n",
            "error: index.py:1:1: the interpreter exited with code 3 before reporting",
            id="crash",
        ),
        pytest.param(
            "import views\nraise SystemExit('no database')\n",
            "error: index.py:2:1: importing the entry raised SystemExit: no database",
            id="raises",
        ),
    ],
)
def test_an_entry_that_cannot_be_traced_fails(
    code: str,
    message: str,
    tmp_path: Path,
    run: Cli,
) -> None:
    root = _tree(tmp_path, {"index.py": code, "views.py": "", "instrument.py": ""})

    result = run(root, "--trace", "--init", "instrument", "--timeout", "1", "index.py")

    assert result.code == 123
    assert result.errors == [message]
    assert "  failed: " in result.out
    assert "Traceback" not in result.err


def test_an_interpreter_that_does_not_exist_fails(tmp_path: Path, run: Cli) -> None:
    root = _tree(tmp_path, {"index.py": "", "instrument.py": ""})
    missing = str(tmp_path / "no-python")

    result = run(
        root,
        "--trace",
        "--init",
        "instrument",
        "--python",
        missing,
        "index.py",
    )

    assert result.code == 123
    assert result.errors == [
        f"error: index.py:1:1: cannot run {missing}: No such file or directory"
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--trace", "--check"], "error: --trace cannot be combined with --check or --diff"),
        (["--trace", "--diff"], "error: --trace cannot be combined with --check or --diff"),
        (["--by-path"], "error: --by-path works only with --trace"),
        (["--env-file", "x.env"], "error: --env-file works only with --trace"),
        (["--timeout", "3"], "error: --timeout works only with --trace"),
    ],
)
def test_usage_errors(
    argv: list[str],
    message: str,
    tmp_path: Path,
    run: Cli,
) -> None:
    root = _tree(tmp_path, {"index.py": "", "instrument.py": ""})
    result = run(root, *argv, "--init", "instrument", "index.py")
    assert (result.code, result.out, result.err) == (2, "", message + "\n")


def test_stdin_cannot_be_traced(tmp_path: Path, run: Cli) -> None:
    result = run(tmp_path, "--trace", "-")
    assert result.code == 2
    assert result.err == "error: --trace imports entry files; it cannot trace '-' (stdin)\n"


def test_an_entry_named_like_a_loaded_module_is_not_taken_for_it(tmp_path: Path, run: Cli) -> None:
    root = _tree(tmp_path, {"site.py": "import views\n", "views.py": "", "instrument.py": ""})

    by_name = run(root, "--trace", "--init", "instrument", "site.py")
    by_path = run(root, "--trace", "--by-path", "--init", "instrument", "site.py")

    assert by_name.code == 123
    assert by_name.errors == [
        "error: site.py:1:1: the name site was already taken when the server imported it "
        "(a module the interpreter loads at start-up?), so the entry did not run; use --by-path"
    ]
    assert by_path.code == 1  # it did run: never rewritten, so no init
    assert "init did not run" in by_path.errors[0]


_PRELOAD_BLOCK = """\
# rewriter:preload -- written by hand: one integration fails, the block logs it.
try:

    def _rewriter_preload():
        import logging
        import sys

        sys.audit("rewriter.preload", "flask")
        error = RuntimeError("flask is not installed")
        sys.audit("rewriter.preload.done", "flask", error)
        logging.getLogger("rewriter").error(
            "preload of %s failed", "flask", exc_info=(type(error), error, None)
        )

    _rewriter_preload()
finally:
    del _rewriter_preload

if True:  # rewriter:runtime
    import views
"""


def test_preload_events(tmp_path: Path, run: Cli) -> None:
    root = _tree(tmp_path, {"index.py": _PRELOAD_BLOCK, "views.py": ""})

    result = run(root, "--trace", "--mode", "preload", "--format", "json", "index.py")

    assert result.code == 1
    assert result.errors == [
        "error: index.py:1:1: preload of flask raised RuntimeError: flask is not installed; "
        "the init block logged it and the application started without it"
    ]
    [entry] = result.json["entries"]
    assert (entry["init"], entry["init_expected"]) == (None, False)
    [preload] = entry["preloads"]
    assert preload["name"] == "flask" and preload["error"]["logged"] is True


def test_the_child_stays_valid_for_older_interpreters() -> None:
    # `--python` may name the server's own interpreter, older than rewriter's.
    import ast

    import rewriter._trace_child as child

    source = Path(child.__file__).read_text(encoding="utf-8")
    ast.parse(source, feature_version=(3, 8))


def test_a_runtime_module_that_the_init_imports_is_a_finding(tmp_path: Path, run: Cli) -> None:
    # The init imports the app before it instruments, so the app binds what it
    # imports before anything is patched (no spans: found by the CI recipe).
    # --check reports it; the run-time proof must not pass it.
    files = {"index.py": "import views\n", "views.py": "", "instrument.py": "import views\n"}
    root = _tree(tmp_path, files)
    rewritten = run(root, "--init", "instrument", "index.py")
    assert rewritten.code == 1
    assert "error: instrument.py:1:1: imports views before init" in rewritten.err

    result = run(root, "--trace", "--init", "instrument", "index.py")

    assert result.code == 1
    assert [error for error in result.errors if "views" in error], result.out + result.err
