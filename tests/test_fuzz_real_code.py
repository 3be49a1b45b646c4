"""Fuzzing on real code: the standard library and the venv's site-packages.

Every file is rewritten as if it were an entry, with the files beside it as
its tree, so that its relative imports and its absolute imports of sibling
modules (``import os`` in ``Lib/abc.py``) count as runtime imports. For each
file:

- the output parses, and a second run changes nothing;
- the output means the same as the input once the init block is taken out
  and each deferred import is put back (the original statement is the first
  statement of its ``TYPE_CHECKING`` branch): the ASTs are equal;
- every source line that is not part of an import statement is still there,
  byte for byte and in order.

A file that CPython itself cannot compile must be refused with a
``RewriteError`` (never a crash, never an output). A valid file may be
refused too, but only for the reasons in ``SAFE_REFUSALS`` (LibCST
limitations), never with an output that breaks an invariant.

The whole corpus runs with the suite (some 6,300 files of the test extra's
venv, about 6 minutes on two cores). Failures found on real files are kept,
reduced, in ``fixtures/regressions/`` (see ``test_regression``).
"""

from __future__ import annotations

import ast
import sysconfig
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from rewriter.config import Settings
from rewriter.core import rewrite_source
from rewriter.errors import RewriteError
from rewriter.files import DiskTree, decode_source

ROOT = Path(__file__).resolve().parent.parent
REGRESSIONS = ROOT / "fixtures" / "regressions"
STDLIB = Path(sysconfig.get_paths()["stdlib"])
SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])
SETTINGS = Settings(init="fuzz_init_module")
# LibCST's grammar lags behind CPython's in corners, LibCST drops a few
# whitespace characters when it prints a module back, and its recursion runs
# out on very deep code; rewriter refuses these files.
SAFE_REFUSALS = (
    "cannot rewrite: LibCST cannot parse this valid Python",
    "cannot rewrite without losing text",
    "cannot rewrite: the code nests too deeply for LibCST",
)


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


def is_mirror(node: ast.stmt) -> bool:
    """``if _rewriter_typing.TYPE_CHECKING:``, the form every deferred import takes."""
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Attribute)
        and isinstance(node.test.value, ast.Name)
        and node.test.value.id == "_rewriter_typing"
        and node.test.attr == "TYPE_CHECKING"
    )


def is_init_block(node: ast.stmt) -> bool:
    return isinstance(node, ast.Try) and any(
        isinstance(inner, ast.FunctionDef) and inner.name == "_rewriter_init" for inner in node.body
    )


class _Restore(ast.NodeTransformer):
    """Takes the init block out and puts each deferred import back."""

    def __init__(self) -> None:
        self.mirrors = 0

    def generic_visit(self, node: ast.AST) -> ast.AST:
        for field in ("body", "orelse", "finalbody"):
            statements = getattr(node, field, None)
            if isinstance(statements, list):
                setattr(node, field, self._restore(statements))
        return super().generic_visit(node)

    def _restore(self, statements: list[ast.stmt]) -> list[ast.stmt]:
        restored = []
        for statement in statements:
            if is_init_block(statement):
                continue
            if is_mirror(statement):
                self.mirrors += 1
                original = statement.body[0]
                assert isinstance(original, (ast.Import, ast.ImportFrom)), ast.dump(statement)
                statement = original
            restored.append(statement)
        return restored


def restored_dump(output: str) -> tuple[str, int]:
    """The AST dump of ``output`` with the rewrite undone, and how many imports it deferred."""
    restore = _Restore()
    tree = restore.visit(ast.parse(output))
    return ast.dump(tree), restore.mirrors


def import_lines(source: str) -> set[int]:
    """Line numbers of every import statement (these lines may move or be re-indented)."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def lines_kept(source: str, output: str) -> str | None:
    """The first line of ``source`` outside import statements missing from ``output``."""
    skipped = import_lines(source)
    remaining = iter(output.splitlines(keepends=True))
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        if number in skipped:
            continue
        if not any(candidate == line for candidate in remaining):
            return f"line {number} {line!r} is missing or out of order"
    return None


def check_rewrite(text: str, path: Path) -> int:
    """Rewrite ``text`` (the file at ``path``) and check the invariants.

    Returns how many imports were deferred: 0 for a file CPython rejects too,
    -1 for a valid file that rewriter refuses safely (see ``SAFE_REFUSALS``).
    """
    try:
        compile(text, str(path), "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except (SyntaxError, ValueError):
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
    assert "# rewriter:init" in output
    again = rewrite_source(output, SETTINGS, path=str(path), tree=DiskTree(path.parent))
    assert again.output == output, "a second run changed the output"
    restored, mirrors = restored_dump(output)
    assert restored == ast.dump(ast.parse(text)), "the rewrite changed the meaning of the file"
    # Late imports that formatters would hoist are deferred too, so there may be more.
    assert mirrors >= len(result.runtime_modules)
    missing = lines_kept(text, output)
    assert missing is None, missing
    return mirrors


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


def test_corpus_is_large_and_exercises_deferral() -> None:
    paths: list[Path] = [param.values[0] for param in full_corpus()]  # type: ignore[attr-defined]
    assert len(paths) >= 2000
    deferring = 0
    for path in paths[:: len(paths) // 40]:
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            result = rewrite_source(text, SETTINGS, path=str(path), tree=DiskTree(path.parent))
        except RewriteError:
            continue
        deferring += bool(result.runtime_modules)
    # The corpus must exercise the deferral, not only the init block.
    assert deferring >= 10


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
    defers (-1: refused safely) and, for a refusal, how the error starts and
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
