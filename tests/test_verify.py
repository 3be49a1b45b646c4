"""Build-time verification: fixtures/verify/<case>/ hold a build, its options
and the errors the check must report (expected.txt, written by hand)."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from rewriter.config import Settings
from rewriter.core import rewrite_source
from rewriter.files import DiskTree
from rewriter.verify import verify_source

CASES = Path(__file__).resolve().parent.parent / "fixtures" / "verify"


def _case_ids() -> list[str]:
    return sorted(path.name for path in CASES.iterdir() if path.is_dir())


@pytest.mark.parametrize("case", _case_ids())
def test_verification_reports_exactly_the_expected_errors(case: str, tmp_path: Path) -> None:
    build = tmp_path / case
    shutil.copytree(CASES / case, build)
    options = tomllib.loads((build / "options.toml").read_text(encoding="utf-8"))
    rewrite = options.pop("rewrite", True)
    settings = Settings.from_mapping(options)
    entry = build / "index.py"
    tree = DiskTree(build)
    source = entry.read_text(encoding="utf-8")
    if rewrite:
        source = rewrite_source(source, settings, path="index.py", tree=tree).output

    findings = verify_source(source, settings, path="index.py", tree=tree)

    expected = (build / "expected.txt").read_text(encoding="utf-8").split("\n")
    reported = [finding.format("index.py") for finding in findings]
    assert reported == [line for line in expected if line]


def test_a_clean_build_has_findings_before_the_rewrite_and_none_after(tmp_path: Path) -> None:
    build = tmp_path / "clean"
    shutil.copytree(CASES / "clean", build)
    settings = Settings(init="instrument", runtime=("chunks/**",))
    tree = DiskTree(build)
    source = (build / "index.py").read_text(encoding="utf-8")
    assert verify_source(source, settings, path="index.py", tree=tree)
    rewritten = rewrite_source(source, settings, path="index.py", tree=tree).output
    assert verify_source(rewritten, settings, path="index.py", tree=tree) == ()


def test_top_level_import_mode_accepts_static_imports_after_the_init_block(tmp_path: Path) -> None:
    build = tmp_path / "clean"
    shutil.copytree(CASES / "clean", build)
    settings = Settings(init="instrument", runtime=("chunks/**",), mode="top-level-import")
    tree = DiskTree(build)
    source = (build / "index.py").read_text(encoding="utf-8")
    rewritten = rewrite_source(source, settings, path="index.py", tree=tree).output
    assert "from chunks.nitro.nitro import handler" in rewritten
    assert verify_source(rewritten, settings, path="index.py", tree=tree) == ()
    dynamic = Settings(init="instrument", runtime=("chunks/**",))
    [finding] = verify_source(rewritten, dynamic, path="index.py", tree=tree)
    assert finding.message.startswith(
        "runtime module chunks.nitro.nitro is imported by a plain top-level import"
    )
