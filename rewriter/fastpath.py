"""The fast path: recognising, without LibCST, an entry that needs no change.

A second run over a build mostly meets entries that the first run rewrote.
Parsing each of them with LibCST only to find nothing to do is most of the
cost of such a run, so ``unchanged_result`` reads the entry with ``ast``
instead. It answers only when it is sure that the full rewrite would return
the text unchanged:

- the entry has exactly one block marker, above its init (or preload) block,
  and that block means the same as the freshly rendered template;
- every runtime import is already deferred (when the mode defers imports);
- no import after the block follows module-level code (the full rewrite
  defers such an import, see ``transforms/hoisting.py``).

It then builds the ``Result`` with the same analysis functions as the full
rewrite (re-exports, warnings, runtime modules). Anything unusual returns
None and the caller runs the full rewrite. ``tests/test_fastpath.py``
compares both paths on every golden output.
"""

from __future__ import annotations

import ast
import bisect
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rewriter.analysis import summarise_module
from rewriter.bindings import ImportStatement
from rewriter.config import Settings
from rewriter.context import Context, unmatched_runtime_patterns
from rewriter.errors import RewriteError
from rewriter.result import Result
from rewriter.transforms.sites import BLOCK_FUNCTIONS, BLOCK_MARKERS
from rewriter.tree import SourceTree

_NEWLINE = re.compile(r"\r\n|\r|\n")
# Text that LibCST does not print back as it read it (a form feed, a lone
# "\r", a space before the colon of an `except` clause), so the full rewrite
# refuses the file (see core._parse); the fast path leaves such files to it.
_LOSSY = re.compile(r"\f|\r(?!\n)|^[ \t]*except\b[^\n]*[ \t]:", re.MULTILINE)
_SIMPLE = (
    ast.Expr,
    ast.Assign,
    ast.AugAssign,
    ast.AnnAssign,
    ast.Return,
    ast.Delete,
    ast.Pass,
    ast.Break,
    ast.Continue,
    ast.Raise,
    ast.Global,
    ast.Nonlocal,
    ast.Import,
    ast.ImportFrom,
    ast.Assert,
)


def unchanged_result(
    source: str,
    settings: Settings,
    *,
    path: str | None = None,
    tree: SourceTree | None = None,
) -> Result | None:
    """The ``Result`` of ``rewrite_source`` when it would not change ``source``, else None.

    None means "not sure": the caller must run the full rewrite, which also
    reports any error in the source or the settings.
    """
    if sum(source.count(marker) for marker in BLOCK_MARKERS) != 1 or _LOSSY.search(source):
        return None
    try:
        return _unchanged(source, settings, path, tree)
    except (RewriteError, SyntaxError, ValueError, RecursionError):
        return None


def parse_entry(source: str) -> ast.Module:
    """``ast.parse(source)``, shared by the fast path and the verification of one text.

    The last tree is kept for the very same string object, so that
    verifying the entry the fast path has just read does not parse it again.
    """
    global _last_parse
    cached = _last_parse
    if cached is not None and cached[0] is source:
        return cached[1]
    module = ast.parse(source)
    _last_parse = (source, module)
    return module


_last_parse: tuple[str, ast.Module] | None = None


def _unchanged(
    source: str, settings: Settings, path: str | None, tree: SourceTree | None
) -> Result | None:
    from rewriter.core import block_template, defers_imports
    from rewriter.transforms.reexports import plan_reexports

    module = parse_entry(source)
    text = _Text(source)
    lines = _logical_lines(module.body, text)
    start = _init_block_index(lines, text, source)
    if start is None:
        return None
    sites = _collect_sites(module.body, deferred=False)
    if sites is None:
        return None
    context = Context.create(settings, path, tree)
    runtime = [site for site in sites if context.classifier.runtime_modules(site.statement)]
    deferring = defers_imports(settings)
    if deferring and any(not site.deferred for site in runtime):
        return None
    if _has_late_import(lines, start):
        return None

    reexported: tuple[str, ...] = ()
    warnings = []
    if deferring:
        entry = summarise_module(module)
        if settings.lazy and "__getattr__" in entry.defined:
            return None
        reexports = plan_reexports(
            settings.handlers,
            explicit=settings.handler is not None,
            entry=entry,
            sites=(),
            locator=context.locator,
            exports=context.exports,
        )
        reexported = tuple(reexports.found)
        warnings = list(reexports.warnings)
    warnings.extend(
        unmatched_runtime_patterns(
            settings.runtime, (site.statement for site in sites), context.locator
        )
    )
    header = [statement for line in lines[:start] for statement in line]
    above = ast.Module(body=header, type_ignores=[])
    name, variables = block_template(
        settings,
        context,
        [site.statement for site in runtime],
        type_checking_bound="TYPE_CHECKING" in summarise_module(above).defined,
    )
    block = lines[start][0]
    assert isinstance(block, ast.Try)
    if not _same_block(block, text, name, variables):
        return None
    return Result(
        source=source,
        output=source,
        runtime_modules=tuple(
            site.statement.module or site.statement.names[0].name for site in runtime
        ),
        reexports=reexported,
        warnings=tuple(warnings),
    )


class _Text:
    """Offsets into the source for ``ast`` positions (lines as CPython counts them)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.starts = [0, *(match.end() for match in _NEWLINE.finditer(source))]

    def offset(self, line: int, column: int) -> int:
        """The string index of ``ast``'s (line, UTF-8 byte column)."""
        start = self.starts[line - 1]
        if column == 0:
            return start
        end = self.starts[line] if line < len(self.starts) else len(self.source)
        head = self.source[start:end].encode("utf-8")[:column]
        return start + len(head.decode("utf-8", errors="replace"))

    def line_of(self, offset: int) -> int:
        """The 1-based line of the character at ``offset``."""
        return bisect.bisect_right(self.starts, offset)

    def start(self, node: ast.stmt) -> int:
        return self.offset(node.lineno, node.col_offset)

    def end(self, node: ast.stmt) -> int:
        assert node.end_lineno is not None and node.end_col_offset is not None
        return self.offset(node.end_lineno, node.end_col_offset)


def _logical_lines(body: Sequence[ast.stmt], text: _Text) -> list[list[ast.stmt]]:
    """Top-level statements grouped as LibCST's module body holds them.

    Statements joined by ``;`` form one ``SimpleStatementLine``; every
    compound statement stands alone.
    """
    lines: list[list[ast.stmt]] = []
    previous: ast.stmt | None = None
    for statement in body:
        if _joined(previous, statement, text):
            lines[-1].append(statement)
        else:
            lines.append([statement])
        previous = statement
    return lines


def _joined(previous: ast.stmt | None, statement: ast.stmt, text: _Text) -> bool:
    if not (isinstance(previous, _SIMPLE) and isinstance(statement, _SIMPLE)):
        return False
    between = text.source[text.end(previous) : text.start(statement)]
    return between.strip(" \t\f\\\r\n").startswith(";")


def _has_block_function(node: ast.Try) -> bool:
    return any(
        isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef)) and inner.name in BLOCK_FUNCTIONS
        for inner in node.body
    )


def _init_block_index(lines: list[list[ast.stmt]], text: _Text, source: str) -> int | None:
    # The block is the first top-level `try` holding the block function, and
    # the one marker comment sits right above it. Any earlier `try` might be
    # a block to LibCST through a marker alone, so that case is left to it.
    for index, line in enumerate(lines):
        statement = line[0]
        if not isinstance(statement, ast.Try):
            continue
        if not _has_block_function(statement):
            return None
        marker = min(
            (found for marker in BLOCK_MARKERS if (found := source.find(marker)) >= 0),
            default=-1,
        )
        above = (lines[index - 1][-1].end_lineno or 0) if index else 0
        if marker < 0 or not above < text.line_of(marker) < statement.lineno:
            return None
        return index
    return None


@dataclass(frozen=True)
class _Site:
    statement: ImportStatement
    deferred: bool


def _collect_sites(body: Sequence[ast.stmt], *, deferred: bool) -> list[_Site] | None:
    """The import sites ``ImportSiteCollector`` finds, in its order; None for odd shapes."""
    sites: list[_Site] = []
    for statement in body:
        found = _sites_of(statement, deferred)
        if found is None:
            return None
        sites.extend(found)
    return sites


def _sites_of(statement: ast.stmt, deferred: bool) -> list[_Site] | None:
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return []
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return [_Site(ImportStatement.from_ast(statement), deferred)]
    if isinstance(statement, ast.Try) and _has_block_function(statement):
        return []
    if isinstance(statement, ast.If):
        return _sites_of_if(statement, deferred)
    blocks: list[Sequence[ast.stmt]] = [getattr(statement, "body", [])]
    blocks.extend(handler.body for handler in getattr(statement, "handlers", ()))
    blocks.append(getattr(statement, "orelse", []))
    blocks.append(getattr(statement, "finalbody", []))
    blocks.extend(case.body for case in getattr(statement, "cases", ()))
    return _concat(_collect_sites(block, deferred=deferred) for block in blocks)


def _sites_of_if(statement: ast.If, deferred: bool) -> list[_Site] | None:
    test = statement.test
    orelse_is_if = len(statement.orelse) == 1 and isinstance(statement.orelse[0], ast.If)
    if _is_mirror(test):
        # LibCST marks only an indented body as deferred, and skips `else:`
        # but not `elif`; neither odd shape comes from the template.
        if statement.body[0].lineno == statement.lineno or orelse_is_if:
            return None
        return _collect_sites(statement.body, deferred=True)
    if _is_type_checking(test):
        return _collect_sites(statement.orelse, deferred=deferred)
    if (
        isinstance(test, ast.UnaryOp)
        and isinstance(test.op, ast.Not)
        and _is_type_checking(test.operand)
    ):
        if orelse_is_if:
            return None
        return _collect_sites(statement.body, deferred=deferred)
    return _concat(
        _collect_sites(block, deferred=deferred) for block in (statement.body, statement.orelse)
    )


def _concat(parts: Iterator[list[_Site] | None]) -> list[_Site] | None:
    sites: list[_Site] = []
    for part in parts:
        if part is None:
            return None
        sites.extend(part)
    return sites


def _is_mirror(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Attribute)
        and test.attr == "TYPE_CHECKING"
        and isinstance(test.value, ast.Name)
        and test.value.id == "_rewriter_typing"
    )


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _has_late_import(lines: list[list[ast.stmt]], start: int) -> bool:
    """True if an import from line ``start`` on might follow code (pycodestyle's E402).

    Deliberately coarser than ``transforms/hoisting.py``: only a docstring,
    lines of imports and the compound statements pycodestyle allows before
    imports count as "no code" here. So every import the full rewrite would
    defer there makes the fast path decline, and a few more do.
    """
    seen_code = False
    for index, line in enumerate(lines):
        first = line[0]
        if isinstance(first, (ast.Import, ast.ImportFrom)):
            if seen_code and index >= start:
                return True
            seen_code = seen_code or not all(
                isinstance(statement, (ast.Import, ast.ImportFrom)) for statement in line
            )
        elif isinstance(first, (ast.If, ast.Try, ast.TryStar, ast.With)):
            continue
        elif not (index == 0 and len(line) == 1 and _is_docstring(first)):
            seen_code = True
    return False


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def _same_block(block: ast.Try, text: _Text, name: str, variables: dict[str, Any]) -> bool:
    # Identical text is the common case and the cheapest check; otherwise
    # (a formatter reflowed the block) the same AST is what the full rewrite
    # accepts as the same block.
    try:
        key = (name, tuple(sorted(variables.items())))
        hash(key)
    except TypeError:
        rendered = _render(name, tuple(sorted(variables.items())))
    else:
        rendered = _render_cached(*key)
    if rendered is None:
        return False
    rendered_text, rendered_dump = rendered
    if text.source[text.start(block) : text.end(block)] == rendered_text:
        return True
    return ast.dump(block) == rendered_dump


def _render(name: str, items: tuple[tuple[str, Any], ...]) -> tuple[str, str] | None:
    """The rendered block's ``try`` statement: its text and its AST dump."""
    from rewriter.templates import render_text

    source = render_text(name, "\n", **dict(items))
    try:
        module = ast.parse(source)
    except SyntaxError:
        return None
    if not module.body or not isinstance(module.body[0], ast.Try):
        return None
    block = module.body[0]
    if not _has_block_function(block):
        return None
    text = _Text(source)
    return source[text.start(block) : text.end(block)], ast.dump(block)


_render_cached = lru_cache(maxsize=64)(_render)
