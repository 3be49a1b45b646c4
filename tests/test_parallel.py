"""Parallel runs (``-j N``, ``rewrite_build(jobs=N)``) give the same results as serial ones.

A build with several entries (one much bigger than the others, so that it
finishes last; one that does not parse; one with a warning; one already
rewritten) is run with one job and with two: the exit code, stdout, stderr
and the files written must be the same bytes, and reports come in the sorted
order of the entries whatever order the workers finish in.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from rewriter import cli, runner
from rewriter.config import Settings
from rewriter.core import rewrite_source
from rewriter.errors import Diagnostic
from rewriter.files import expand_paths
from rewriter.report import FileReport
from rewriter.runner import rewrite_build, run_entries
from rewriter.tree import MemoryTree

RUNTIME = "def handler(event):\n    return 1\n"
INIT = "./instrument_server.py"
ENTRY = '"""Server entry."""\nimport os\nfrom .chunks.nitro import handler\n'
NO_HANDLER = '"""Server entry."""\nfrom .chunks import nitro\n'
BROKEN = "from .chunks.nitro import handler\ndef broken(:\n    pass\n"


def big_entry() -> str:
    functions = "".join(f"\n\ndef route_{n}(request):\n    return {n}\n" for n in range(300))
    return ENTRY + functions


def rewritten(source: str) -> str:
    tree = MemoryTree({"chunks/__init__.py": "", "chunks/nitro.py": RUNTIME, INIT: ""})
    return rewrite_source(source, Settings(init=INIT), path="index.py", tree=tree).output


def make_tree(root: Path) -> Path:
    """``root/build`` with ten entries and a pyproject.toml naming the init file."""
    sources = [ENTRY] * 10
    sources[0] = big_entry()
    sources[3] = BROKEN
    sources[5] = NO_HANDLER
    sources[7] = rewritten(ENTRY)
    for index, source in enumerate(sources):
        app = root / "build" / f"app{index:02d}"
        (app / "chunks").mkdir(parents=True)
        (app / "chunks" / "__init__.py").write_text("")
        (app / "chunks" / "nitro.py").write_text(RUNTIME)
        (app / "instrument_server.py").write_text("INIT = True\n")
        (app / "index.py").write_text(source)
    (root / "pyproject.toml").write_text(f'[tool.rewriter]\ninit = "{INIT}"\n')
    return root / "build"


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize(
    "options",
    [
        pytest.param([], id="write"),
        pytest.param(["--check"], id="check"),
        pytest.param(["--diff"], id="diff"),
    ],
)
def test_cli_output_is_the_same_with_one_and_two_jobs(
    options: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    outcomes = []
    for jobs in ("1", "2"):
        root = tmp_path / f"j{jobs}"
        make_tree(root)
        monkeypatch.chdir(root)
        code = cli.main(["-v", "-j", jobs, *options, "build"])
        out, err = capsys.readouterr()
        outcomes.append((code, out, err, snapshot(root)))
    assert outcomes[0] == outcomes[1]
    code, out, err, _ = outcomes[0]
    assert code == 123
    assert "build/app03/index.py:2:" in err
    progress = ("rewrote", "would", "unchanged")
    named = [line.split()[-1] for line in err.splitlines() if line.startswith(progress)]
    assert named == sorted(named)
    if options == ["--diff"]:
        assert out.count("+++ b/build/") == 8


def test_reports_come_in_sorted_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    report = rewrite_build("build", Settings(init=INIT), jobs=2)
    paths = [file.path for file in report.files]
    assert paths == [f"build/app{index:02d}/index.py" for index in range(10)]
    assert [file.status for file in report.files].count("failed") == 1
    assert report.files[7].status == "unchanged"


def test_rewrite_build_gives_equal_reports_with_one_and_two_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = []
    for jobs in (1, 2):
        root = tmp_path / f"j{jobs}"
        make_tree(root)
        monkeypatch.chdir(root)
        reports.append(rewrite_build("build", Settings(init=INIT), jobs=jobs))
    assert reports[0] == reports[1]
    assert snapshot(tmp_path / "j1") == snapshot(tmp_path / "j2")


@pytest.mark.parametrize(
    ("jobs", "settings_jobs", "workers"),
    [
        pytest.param(2, None, 2, id="jobs=2"),
        pytest.param(None, 2, 2, id="settings.jobs=2"),
        pytest.param(1, 2, 0, id="jobs=1 wins over settings"),
    ],
)
def test_workers_are_processes(
    jobs: int | None, settings_jobs: int | None, workers: int, tmp_path: Path
) -> None:
    build = make_tree(tmp_path)
    settings = Settings(init=INIT, jobs=settings_jobs)
    entries = expand_paths([build], settings)
    reports = run_entries(entries, settings, write=False, jobs=jobs)
    first = next(reports)
    assert len(multiprocessing.active_children()) == workers
    rest = list(reports)
    assert [first.path, *(report.path for report in rest)] == [str(entry) for entry in entries]


def test_one_entry_runs_in_this_process(tmp_path: Path) -> None:
    build = make_tree(tmp_path)
    shutil.rmtree(build / "app00")
    entries = expand_paths([build / "app01"], Settings(init=INIT))
    reports = run_entries(entries, Settings(init=INIT), jobs=4)
    assert next(reports).status == "changed"
    assert multiprocessing.active_children() == []


def serial_reports(build: Path, settings: Settings) -> list[FileReport]:
    return list(run_entries(expand_paths([build], settings), settings, write=False, jobs=1))


def test_without_a_pool_everything_runs_in_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = make_tree(tmp_path)
    settings = Settings(init=INIT)

    def no_pool(*args: object, **kwargs: object) -> None:
        raise OSError("no shared memory for the pool's locks")

    monkeypatch.setattr("concurrent.futures.ProcessPoolExecutor", no_pool)
    reports = list(run_entries(expand_paths([build], settings), settings, write=False, jobs=2))
    assert reports == serial_reports(build, settings)
    assert multiprocessing.active_children() == []


@pytest.mark.skipif(
    multiprocessing.get_start_method() != "fork", reason="the dying worker is patched in by fork"
)
def test_when_a_worker_dies_the_rest_runs_alone_and_only_its_entry_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each entry without a report runs once more, in a process of its own, in order."""
    build = make_tree(tmp_path)
    settings = Settings(init=INIT)
    expected = serial_reports(build, settings)
    parent = os.getpid()
    real = runner.rewrite_file

    def dies_in_a_worker(path: Path, settings: Settings, **options: Any) -> FileReport:
        if os.getpid() != parent and path.parent.name == "app06":
            os._exit(1)
        return real(path, settings, **options)

    monkeypatch.setattr(runner, "rewrite_file", dies_in_a_worker)
    reports = list(run_entries(expand_paths([build], settings), settings, write=False, jobs=2))
    died = FileReport.from_error(
        str(build / "app06" / "index.py"),
        Diagnostic(
            "the process rewriting this file died (exit code 1) before it finished;"
            " writes are atomic, so the file is whole"
        ),
    )
    assert reports == [died if "app06" in report.path else report for report in expected]


@pytest.mark.parametrize(
    ("entries", "workers", "chunksize"),
    [
        pytest.param(10, 2, 1, id="few entries: one at a time"),
        pytest.param(40, 2, 4, id="enough for chunks"),
        pytest.param(500, 2, 4, id="many entries: still small chunks"),
    ],
)
def test_chunks_stay_small_so_no_worker_is_left_with_a_long_tail(
    entries: int, workers: int, chunksize: int
) -> None:
    assert runner.chunk_size(entries, workers) == chunksize


@pytest.mark.skipif(
    multiprocessing.get_start_method() != "fork", reason="only forked workers inherit modules"
)
def test_workers_leave_inherited_objects_out_of_garbage_collection() -> None:
    settings = Settings(init=INIT)
    with ProcessPoolExecutor(
        1,
        initializer=runner._start_worker,
        initargs=(os.getpid(), settings, {"write": False}),
    ) as pool:
        frozen = pool.submit(gc.get_freeze_count).result()
    assert frozen > 1000
    assert gc.get_freeze_count() == 0
