"""The stamp in a block's marker: a second run recognises an unchanged block without rendering it.

``rewriter.generated.seal`` ties the marker lines (with the block's digest)
to what rendered the block: the templates, their variables and the moved
record. ``rewriter.plan`` takes a block whose tree has the marker's digest
and whose marker carries the stamp of today's key for done, without
importing jinja2; anything else is rendered and compared as before. These
tests hold that an edited block, a block from other templates and a block
for other settings are still flagged, and that the stamp is what tells the
last two apart (with the check skipped, they would pass).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import rewriter.plan
import rewriter.templates
from rewriter.config import Settings
from rewriter.core import rewrite_source
from rewriter.errors import RewriteError
from rewriter.generated import STAMP_PLACEHOLDER, is_sealed, seal
from rewriter.plan import analyse
from rewriter.tree import MemoryTree

FILES = {
    "chunks/__init__.py": "",
    "chunks/app.py": "def handler():\n    return 1\n",
    "instrument.py": "def setup():\n    pass\n",
}
ENTRY = "import os\nfrom .chunks.app import handler\n"
PATH = "build/index.py"
SETTINGS = Settings(init="instrument")


def _plan(source: str, settings: Settings = SETTINGS) -> rewriter.plan.EntryPlan:
    return analyse(source, settings, path=PATH, tree=MemoryTree(FILES))


def _rewritten(settings: Settings = SETTINGS) -> str:
    return rewrite_source(ENTRY, settings, path=PATH, tree=MemoryTree(FILES)).output


@pytest.fixture
def no_stamp_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every stamp passes: what the fast path would do without its check."""
    monkeypatch.setattr(rewriter.plan, "is_sealed", lambda marker, key: True)


@pytest.fixture
def other_templates(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Templates as an older rewriter shipped them: the block reads another variable."""
    load = rewriter.templates._load

    def older(name: str) -> str:
        text = load(name)
        return text.replace("REWRITER_DISABLE_INIT", "REWRITER_NO_INIT")

    _clear_caches()
    monkeypatch.setattr(rewriter.templates, "_load", older)
    monkeypatch.setattr(rewriter.templates, "_read_bytes", _older_bytes)
    yield
    _clear_caches()


def _older_bytes(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read().replace(b"REWRITER_DISABLE_INIT", b"REWRITER_NO_INIT")


def _clear_caches() -> None:
    rewriter.templates.environment.cache_clear()
    rewriter.templates.engine_fingerprint.cache_clear()


def test_a_rewritten_entry_is_recognised_without_rendering(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    output = _rewritten()

    def no_rendering(template: str, variables: object) -> str:
        raise AssertionError(f"rendered {template}")

    monkeypatch.setattr(rewriter.plan, "_rendered", no_rendering)
    assert _plan(output).unchanged


def test_a_marker_carries_a_stamp() -> None:
    marker = next(line for line in _rewritten().splitlines() if line.startswith("# rewriter:"))
    _, kind, digest, stamp, dashes = marker.split()[:5]
    assert (kind, len(digest), len(stamp), dashes) == ("rewriter:init", 12, 12, "--")


def test_an_edited_block_is_flagged() -> None:
    output = _rewritten()
    edited = output.replace('flag("REWRITER_DEBUG")', 'flag("REWRITER_VERBOSE")')
    assert edited != output
    with pytest.raises(RewriteError, match="edited"):
        _plan(edited)


def test_a_stamp_that_does_not_match_is_rendered_and_flagged() -> None:
    output = _rewritten()
    lines = output.splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.startswith("# rewriter:init "))
    hash_sign, head, digest, stamp, rest = lines[index].split(" ", 4)
    assert stamp != "0123456789ab"
    lines[index] = " ".join([hash_sign, head, digest, "0123456789ab", rest])
    assert not _plan("".join(lines)).unchanged


def test_a_marker_without_a_stamp_is_flagged() -> None:
    output = _rewritten()
    lines = output.splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.startswith("# rewriter:init "))
    hash_sign, head, digest, _, rest = lines[index].split(" ", 4)
    lines[index] = " ".join([hash_sign, head, digest, rest])
    assert not _plan("".join(lines)).unchanged


OTHER_SETTINGS = [
    pytest.param(Settings(init="instrument", on_init_error="raise"), id="on_init_error"),
    pytest.param(Settings(init="instrument", guard=False), id="guard"),
    pytest.param(Settings(init="instrument:setup"), id="init callable"),
]


@pytest.mark.parametrize("settings", OTHER_SETTINGS)
def test_a_block_for_other_settings_is_flagged(settings: Settings) -> None:
    assert not _plan(_rewritten(), settings).unchanged


@pytest.mark.usefixtures("no_stamp_check")
def test_without_the_stamp_check_a_block_for_other_settings_would_pass() -> None:
    # The proof that the test above depends on the stamp: the block's tree
    # still has its marker's digest, so only the stamp can tell.
    settings = Settings(init="instrument", on_init_error="raise")
    assert _plan(_rewritten(), settings).unchanged


def test_a_block_from_other_templates_is_flagged(other_templates: None) -> None:
    older = _rewritten()
    assert "REWRITER_NO_INIT" in older
    _clear_caches()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rewriter.templates, "_load", _today)
        patch.setattr(rewriter.templates, "_read_bytes", _today_bytes)
        assert not _plan(older).unchanged


@pytest.mark.usefixtures("no_stamp_check")
def test_without_the_stamp_check_a_block_from_other_templates_would_pass(
    other_templates: None,
) -> None:
    older = _rewritten()
    _clear_caches()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rewriter.templates, "_load", _today)
        patch.setattr(rewriter.templates, "_read_bytes", _today_bytes)
        assert _plan(older).unchanged


_TODAY_LOAD = rewriter.templates._load
_TODAY_READ = rewriter.templates._read_bytes


def _today(name: str) -> str:
    return _TODAY_LOAD(name)


def _today_bytes(path: str) -> bytes:
    return _TODAY_READ(path)


def test_seal_and_is_sealed_agree() -> None:
    marker = [f"# rewriter:init 0123456789ab {STAMP_PLACEHOLDER} -- generated", "# more"]
    sealed = seal(marker, "key")
    assert is_sealed(sealed, "key")
    assert not is_sealed(sealed, "another key")
    assert not is_sealed([sealed[0], "# other"], "key")
    assert not is_sealed(marker, "key")
    with pytest.raises(ValueError, match="no stamp"):
        seal(sealed, "key")


def test_a_second_run_imports_neither_libcst_nor_jinja2(tmp_path: Path) -> None:
    build = tmp_path / "build"
    (build / "chunks").mkdir(parents=True)
    (build / "chunks" / "app.py").write_text("def handler():\n    return 1\n")
    (build / "index.py").write_text("from chunks.app import handler\n")
    (build / "instrument.py").write_text("")
    entry = str(build / "index.py")
    first = [sys.executable, "-m", "rewriter", "-q", "--init", "instrument", entry]
    subprocess.run(first, check=True, timeout=120)
    program = textwrap.dedent(
        f"""
        import sys
        from rewriter.cli import main
        code = main(["-q", "--check", "--init", "instrument", {entry!r}])
        heavy = sorted({{n.split(".")[0] for n in sys.modules}} & {{"libcst", "jinja2"}})
        print(code, heavy)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.stdout.strip() == "0 []", result.stderr
