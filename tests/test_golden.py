"""Golden cases: each directory of ``fixtures/cases`` is one test.

The entry in ``input/`` is copied to a temporary directory and rewritten on
disk; the bytes must equal ``expected/<entry>``. Every case also checks that
the output compiles, that a second run changes nothing, that the files beside
the entry are untouched, and, by importing both versions in a subprocess,
that the rewritten entry binds the same names to the same objects and runs
init before it loads anything from the build.

``REWRITER_UPDATE_GOLDEN=1 pytest tests/test_golden.py`` rewrites the
expected files instead of comparing them (and the input of the
``already_rewritten*`` cases, which is rewriter's own output). Read every file
it writes before keeping it: an expected file is only worth something once a
person has checked that it is right.
"""

from __future__ import annotations

import ast
import dataclasses
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from _golden import Case, all_cases, copy_input, probe, snapshot, updating

from rewriter.config import Settings
from rewriter.runner import rewrite_file

CASES = [pytest.param(case, id=case.name) for case in all_cases()]


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 22


@pytest.mark.parametrize("case", CASES)
def test_golden(case: Case, tmp_path: Path) -> None:
    if updating() and case.already_rewritten:
        scratch = copy_input(case, tmp_path / "scratch")
        rewrite_file(scratch / case.entry, case.settings)
        shutil.copyfile(scratch / case.entry, case.input_dir / case.entry)
    build = copy_input(case, tmp_path)
    entry = build / case.entry
    before = snapshot(build)

    report = rewrite_file(entry, case.settings)
    assert report.status != "failed", report.error
    output = entry.read_bytes()
    if updating():
        case.expected_path.parent.mkdir(parents=True, exist_ok=True)
        case.expected_path.write_bytes(output)
    assert output == case.expected_path.read_bytes()
    assert report.status == ("unchanged" if output == before[case.entry] else "changed")
    if case.already_rewritten:
        assert report.status == "unchanged"

    ast.parse(output)
    compile(output, str(entry), "exec", dont_inherit=True)

    second = rewrite_file(entry, case.settings)
    assert second.status == "unchanged", second.error
    assert entry.read_bytes() == output

    after = snapshot(build)
    del before[case.entry], after[case.entry]
    assert after == before


@pytest.mark.parametrize("case", CASES)
def test_rewritten_entry_binds_the_same_names_after_init(case: Case, tmp_path: Path) -> None:
    original_build = copy_input(case, tmp_path / "original")
    rewritten_build = copy_input(case, tmp_path / "rewritten")
    shutil.copyfile(case.expected_path, rewritten_build / case.entry)

    # Two interpreters at once: each mostly waits on imports.
    with ThreadPoolExecutor(2) as pool:
        original_run = pool.submit(probe, original_build, case.entry)
        rewritten_run = pool.submit(probe, rewritten_build, case.entry)
        original, rewritten = original_run.result(), rewritten_run.result()

    # Exactly the original's names (an entry rewritten by rewriter 0.1 also had
    # its helpers), plus the handlers a configuration asked to bind.
    assert not [name for name in rewritten.names if name.startswith("_rewriter_")]
    expected = {
        name: value for name, value in original.names.items() if not name.startswith("_rewriter_")
    }
    extra = rewritten.names.keys() - expected.keys()
    assert extra <= set(case.settings.handlers)
    assert {name: value for name, value in rewritten.names.items() if name in expected} == expected

    init = case.settings.init_spec
    # A module init starts with its packages: `import a.b` loads `a` first.
    init_modules: set[str] = set()
    init_files = set(case.settings.init_files) if init is None else set()
    if init is not None and init.kind == "file":
        init_files = {init.target.removeprefix("./")}
    elif init is not None:
        parts = init.target.split(".")
        init_modules = {".".join(parts[:depth]) for depth in range(1, len(parts) + 1)}
    first_init = next(
        (
            index
            for index, (name, path) in enumerate(rewritten.loaded)
            if name in init_modules or path in init_files
        ),
        None,
    )
    assert first_init is not None, f"init did not run: {rewritten.loaded}"
    entry_name = Path(case.entry).name
    early = [
        name
        for name, path in rewritten.loaded[:first_init]
        if path not in (entry_name, "__init__.py")
    ]
    assert early == []
    assert "init failed" not in rewritten.stderr
    assert "imported before instrumentation init" not in rewritten.stderr


# Modes whose runs defer the runtime imports (pinned or lazy), and modes that
# leave them static: a run in one of the latter meets the former's pins and
# lazy block when the user changes modes.
DEFERRING = {
    "dynamic-import": {"mode": "dynamic-import"},
    "lazy": {"lazy": True},
    "preload, lazy": {"mode": "preload", "lazy": True},
}
STATIC = {"top-level-import": {"mode": "top-level-import"}, "preload": {"mode": "preload"}}


@pytest.mark.parametrize(
    ("earlier", "now"), [pytest.param(a, b, id=f"{a} to {b}") for a in DEFERRING for b in STATIC]
)
@pytest.mark.parametrize("case", CASES)
def test_a_run_in_another_mode_gives_what_it_gives_on_the_original(
    case: Case, earlier: str, now: str, tmp_path: Path
) -> None:
    # The output depends on the original lines and this run's settings, not
    # on the mode of the run before: a pin that run made around the runtime
    # imports, or next to its lazy block, is not kept where this mode leaves
    # the imports static.
    def settings(overrides: dict[str, object]) -> Settings:
        # The case's options that the mode reads (the others are usage errors).
        preload = case.settings.preload if overrides.get("mode") == "preload" else ()
        handler = case.settings.handler if overrides in DEFERRING.values() else None
        return dataclasses.replace(case.settings, preload=preload, handler=handler, **overrides)

    direct = copy_input(case, tmp_path / "direct") / case.entry
    expected = rewrite_file(direct, settings(STATIC[now]))
    switched = copy_input(case, tmp_path / "switched") / case.entry
    assert rewrite_file(switched, settings(DEFERRING[earlier])).status != "failed"
    report = rewrite_file(switched, settings(STATIC[now]))
    failed = report.status == "failed"
    assert (failed, report.error) == (expected.status == "failed", expected.error)
    assert switched.read_bytes() == direct.read_bytes()


def test_top_level_import_mode_leaves_no_helper_names(tmp_path: Path) -> None:
    (case,) = [case for case in all_cases() if case.name == "top_level_import_mode"]
    build = copy_input(case, tmp_path)
    shutil.copyfile(case.expected_path, build / case.entry)
    assert [name for name in probe(build, case.entry).names if name.startswith("_rewriter_")] == []
