"""The fast path of a second run: an entry that already is its rewrite, told with ``ast``.

``rewriter.plan`` decides that an entry needs no change (``EntryPlan.unchanged``)
from its syntax tree alone, so a second run over a build never imports
LibCST. The decision must never differ from what the LibCST rewrite would
produce: for every golden output and for generated entries in every mode,
the plan says "unchanged" and ``core.render`` (the LibCST rewrite) gives
back the text byte for byte; for every input that is not yet rewritten, the
plan says "changed".
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from _golden import CASES_DIR, Case, all_cases, copy_input
from _trees import PACKAGE, Program, programs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rewriter.config import Settings
from rewriter.core import render, rewrite_source
from rewriter.files import DiskTree, decode_source
from rewriter.plan import analyse
from rewriter.tree import MemoryTree

CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_the_fast_path_agrees_with_the_rewrite_on_golden_outputs(
    case: Case, tmp_path: Path
) -> None:
    build = copy_input(case, tmp_path)
    entry = build / case.entry
    output, _ = decode_source(case.expected_path.read_bytes())
    tree = DiskTree(entry.parent)
    plan = analyse(output, case.settings, path=str(entry), tree=tree)
    assert plan.unchanged
    assert render(plan) == output


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_an_input_that_needs_the_rewrite_is_never_taken_for_done(
    case: Case, tmp_path: Path
) -> None:
    build = copy_input(case, tmp_path)
    entry = build / case.entry
    source, _ = decode_source(entry.read_bytes())
    if case.already_rewritten:
        return
    plan = analyse(source, case.settings, path=str(entry), tree=DiskTree(entry.parent))
    assert not plan.unchanged


MODES = [
    Settings(),
    Settings(mode="top-level-import"),
    Settings(lazy=True),
    Settings(guard="strict"),
]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    program=st.sampled_from(["package", "script"]).flatmap(
        lambda kind: programs(kind, differential=False, handlers=True)
    ),
    options=st.sampled_from(MODES),
)
def test_the_fast_path_agrees_on_generated_entries(program: Program, options: Settings) -> None:
    path = f"{PACKAGE}/index.py" if program.entry.kind == "package" else "index.py"
    tree = MemoryTree(program.files)
    first = rewrite_source(program.entry.text, options, path=path, tree=tree)
    plan = analyse(first.output, options, path=path, tree=tree)
    assert plan.unchanged
    assert render(plan) == first.output


def test_a_second_run_does_not_import_libcst(tmp_path: Path) -> None:
    build = tmp_path / "build"
    (build / "chunks").mkdir(parents=True)
    (build / "chunks" / "app.py").write_text("def handler():\n    return 1\n")
    (build / "index.py").write_text("from chunks.app import handler\n")
    (build / "instrument.py").write_text("")
    program = textwrap.dedent(
        f"""
        import sys
        from rewriter.cli import main
        first = main(["-q", "--init", "instrument", {str(build / "index.py")!r}])
        assert "libcst" in sys.modules  # the first run rewrote it
        for name in [name for name in sys.modules if name.startswith("libcst")]:
            del sys.modules[name]
        code = main(["-q", "--check", "--init", "instrument", {str(build / "index.py")!r}])
        print(first, code, any(name.startswith("libcst") for name in sys.modules))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.stdout.split() == ["0", "0", "False"], result.stderr


def test_the_cases_exist() -> None:
    assert len(CASES) >= 30 and CASES_DIR.is_dir()
