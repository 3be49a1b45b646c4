"""Fuzzing on real code: the standard library and the venv's site-packages.

Every file is rewritten as if it were an entry, with the files beside it as
its tree, so that its relative imports and its absolute imports of sibling
modules (``import os`` in ``Lib/abc.py``) count as runtime imports, and its
environment setup (``os.environ``, ``sys.path`` edits...) is placed before
the init block. For each file:

- the output parses, and a second run changes nothing;
- ``--undo`` gives the file back byte for byte, so the rewrite changed
  nothing but what it added, wrapped and moved, and every line is still
  there;
- the init block is there once.

A file that CPython itself cannot compile must be refused with a
``RewriteError`` (never a crash, never an output). A valid file may be
refused too, but only for the reasons in ``SAFE_REFUSALS`` (LibCST
limitations, parsing bounds, and setup that cannot run before init because
it needs the runtime), never with an output that breaks an invariant.

The whole corpus runs with the suite (some 6,300 files of the test extra's
venv, about 6 minutes on two cores). Failures found on real files are kept,
reduced, in ``fixtures/regressions/`` (see ``test_regression``). The init
module is ``fuzz_init_module``, which a directory put on ``sys.path`` here
makes importable ("installed"), as a real init module would be.
"""

from __future__ import annotations

import ast
import sys
import sysconfig
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from rewriter.config import Settings
from rewriter.core import rewrite_source
from rewriter.errors import RewriteError
from rewriter.files import DiskTree, decode_source
from rewriter.generated import recover
from rewriter.lines import SourceText
from rewriter.undo import undo_source

ROOT = Path(__file__).resolve().parent.parent
REGRESSIONS = ROOT / "fixtures" / "regressions"
STDLIB = Path(sysconfig.get_paths()["stdlib"])
SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])
SETTINGS = Settings(init="fuzz_init_module")
# LibCST's grammar lags behind CPython's in corners, LibCST drops a few
# whitespace characters when it prints a module back, its recursion runs out
# on very deep code, and some setup cannot run before init; rewriter refuses
# these files.
SAFE_REFUSALS = (
    "cannot rewrite: LibCST cannot parse this valid Python",
    "cannot rewrite without losing text",
    "cannot rewrite: the code nests too deeply for LibCST",
    "setup statement imports the runtime module",
    "the setup statement at ",
)


def _install_the_init_module() -> None:
    directory = Path(tempfile.mkdtemp(prefix="rewriter-fuzz-init-"))
    (directory / "fuzz_init_module.py").write_text("def init():\n    pass\n\n\ninit()\n")
    sys.path.append(str(directory))


_install_the_init_module()


def corpus(root: Path) -> Iterator[Path]:
    """Every ``.py`` file under ``root``, sorted; the stdlib without its site-packages."""
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).parts
        if "__pycache__" in relative or (root == STDLIB and relative[0] == "site-packages"):
            continue
        if path.is_file():
            yield path


def _param(root: Path, label: str, path: Path) -> object:
    return pytest.param(path, id=f"{label}/{path.relative_to(root).as_posix()}")


def full_corpus() -> list[object]:
    return [
        _param(root, label, path)
        for root, label in ((STDLIB, "stdlib"), (SITE_PACKAGES, "site-packages"))
        for path in corpus(root)
    ]


def check_rewrite(text: str, path: Path) -> int:
    """Rewrite ``text`` (the file at ``path``) and check the invariants.

    Returns how many lines the rewrite pinned: 0 for a file CPython rejects
    too, -1 for a valid file that rewriter refuses safely (see
    ``SAFE_REFUSALS``).
    """
    try:
        compile(text, str(path), "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        with pytest.raises(RewriteError):
            rewrite_source(text, SETTINGS, path=str(path), tree=DiskTree(path.parent))
        return 0
    try:
        result = rewrite_source(text, SETTINGS, path=str(path), tree=DiskTree(path.parent))
    except RewriteError as error:
        # Refusing is safe; only these refusals of valid Python are expected.
        assert error.diagnostic.message.startswith(SAFE_REFUSALS), error.diagnostic
        return -1
    output = result.output
    ast.parse(output)
    again = rewrite_source(output, SETTINGS, path=str(path), tree=DiskTree(path.parent))
    assert again.output == output, "a second run changed the output"
    assert undo_source(output).output == text, "undo does not give the file back"
    parts = recover(ast.parse(output), SourceText(output)).parts
    assert [part.kind for part in parts].count("block") == 1
    return sum(len(part.inner) for part in parts if part.kind == "pin")


def check_file(path: Path) -> None:
    raw = path.read_bytes()
    try:
        text, _ = decode_source(raw)
    except RewriteError:
        # Only bytes that CPython rejects too may be refused.
        with pytest.raises((SyntaxError, ValueError)):
            compile(raw, str(path), "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
        return
    check_rewrite(text, path)


@pytest.mark.parametrize("path", full_corpus())
def test_corpus(path: Path) -> None:
    check_file(path)


def test_corpus_is_large_and_exercises_pins() -> None:
    paths: list[Path] = [param.values[0] for param in full_corpus()]  # type: ignore[attr-defined]
    assert len(paths) >= 2000
    pinning = 0
    for path in paths[:: len(paths) // 60]:
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            result = rewrite_source(text, SETTINGS, path=str(path), tree=DiskTree(path.parent))
        except RewriteError:
            continue
        pinning += "except Exception as _rewriter_error" in result.output
    # The corpus must exercise the pins, not only the init block.
    assert pinning >= 10


def regression_cases() -> list[object]:
    return [
        pytest.param(case, id=case.name)
        for case in sorted(REGRESSIONS.iterdir())
        if (case / "case.toml").is_file()
    ]


@pytest.mark.parametrize("case", regression_cases())
def test_regression(case: Path) -> None:
    """A reduced real-world file that once broke an invariant, with its neighbours.

    ``case.toml`` says where it came from, how many imports the rewrite
    pins (``deferred``; -1: refused safely) and, for a refusal, how the error starts and
    on which line it is.
    """
    meta = tomllib.loads((case / "case.toml").read_text(encoding="utf-8"))
    entry = case / meta.get("entry", "index.py")
    text, _ = decode_source(entry.read_bytes())
    if "error" in meta:
        with pytest.raises(RewriteError) as excinfo:
            rewrite_source(text, SETTINGS, path=str(entry), tree=DiskTree(entry.parent))
        diagnostic = excinfo.value.diagnostic
        assert diagnostic.message.startswith(meta["error"]), diagnostic
        assert diagnostic.line == meta["line"]
    assert check_rewrite(text, entry) == meta["deferred"]
