"""Checking the guarantee: nothing imports the runtime before init.

Two ways the guarantee breaks, both found statically:

- a runtime import is still a plain import at module level in the entry (in
  ``dynamic-import`` mode anywhere; in ``top-level-import`` mode before the
  init block), or the entry has no init block at all;
- something that runs before the runtime is loaded imports it: the prelude,
  the init module, or any first-party module they import, transitively. The
  finding names the whole chain, e.g. ``index.py:5 -> instrument.py:3 ->
  chunks/util.py:1 -> chunks/nitro/nitro.py``.
"""

from __future__ import annotations

import ast
import posixpath
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from rewriter.analysis import module_level
from rewriter.bindings import ImportStatement
from rewriter.config import Settings
from rewriter.context import Context, init_location
from rewriter.errors import Diagnostic, RewriteError
from rewriter.fastpath import parse_entry
from rewriter.transforms.sites import BLOCK_FUNCTIONS
from rewriter.tree import SourceTree


@dataclass(frozen=True)
class _Edge:
    """An import at ``line:column`` of ``importer`` that loads ``target``."""

    importer: str
    line: int
    column: int
    target: str


def verify_source(
    source: str,
    settings: Settings,
    *,
    path: str | None = None,
    tree: SourceTree | None = None,
) -> tuple[Diagnostic, ...]:
    """The ways the entry ``source`` breaks the guarantee (empty: it holds).

    Call it on what is on disk after a run: the rewritten text after a
    write, the original text under ``--check``.
    """
    try:
        module = parse_entry(source)
    except SyntaxError as error:
        raise RewriteError(
            f"cannot parse: {error.msg}", error.lineno or 1, error.offset or 1
        ) from None
    context = Context.create(settings, path, tree)
    entry_name = context.entry.filename
    init_line = _init_block_line(module)
    findings: list[Diagnostic] = []
    if init_line is None:
        findings.append(Diagnostic("not rewritten: the entry has no rewriter init block"))
    for node, statement in _imports(module.body):
        runtime = context.classifier.runtime_modules(statement)
        before_init = init_line is None or node.lineno < init_line
        if runtime and (settings.mode == "dynamic-import" or before_init):
            when = "before init" if before_init else "as a static import"
            findings.append(
                Diagnostic(
                    f"runtime module {runtime[0]} is imported {when}",
                    node.lineno,
                    node.col_offset + 1,
                )
            )
    roots = _roots(module, init_line, context)
    findings.extend(_chains(roots, context, entry_name))
    return tuple(findings)


def _init_block_line(module: ast.Module) -> int | None:
    for statement in module.body:
        if isinstance(statement, ast.Try) and any(
            isinstance(inner, ast.FunctionDef) and inner.name in BLOCK_FUNCTIONS
            for inner in statement.body
        ):
            return statement.lineno
    return None


def _imports(body: list[ast.stmt]) -> Iterator[tuple[ast.Import | ast.ImportFrom, ImportStatement]]:
    for node in module_level(body):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, ImportStatement.from_ast(node)


def _roots(module: ast.Module, init_line: int | None, context: Context) -> list[_Edge]:
    """The imports that run before the runtime: the prelude's and the init module."""
    entry = context.entry.filename
    roots = []
    # Without an init block every import is "before init"; the entry's own
    # static runtime imports are reported on their own then.
    for node, statement in _imports(module.body if init_line is not None else []):
        if init_line is not None and node.lineno >= init_line:
            break
        for module_name in statement.candidate_modules():
            target = context.locator.resolve(module_name)
            if target is not None:
                roots.append(_Edge(entry, node.lineno, node.col_offset + 1, target))
    init_path = init_location(context.init, context.locator)
    if init_path is not None:
        roots.append(_Edge(entry, init_line or 1, 1, init_path))
    return roots


def _chains(roots: list[_Edge], context: Context, entry: str) -> list[Diagnostic]:
    # Breadth first, so each runtime module is reported with its shortest chain.
    # One finding per import statement and per runtime module is enough.
    findings: list[Diagnostic] = []
    reported: set[object] = set()
    seen: set[str] = set()
    queue: deque[tuple[_Edge, tuple[_Edge, ...]]] = deque((root, ()) for root in roots)
    while queue:
        edge, chain = queue.popleft()
        if context.classifier.is_runtime_path(edge.target):
            site = (edge.importer, edge.line, edge.column)
            if edge.target not in reported and site not in reported:
                reported.update((edge.target, site))
                findings.append(_finding(edge, (*chain, edge)))
            continue
        if edge.target in seen or edge.target.endswith("/"):
            continue
        seen.add(edge.target)
        for following in _edges_from(edge.target, context):
            queue.append((following, (*chain, edge)))
    return findings


def _edges_from(importer: str, context: Context) -> Iterator[_Edge]:
    text = context.tree.read_text(importer) if context.tree is not None else None
    if text is None:
        return
    try:
        module = ast.parse(text)
    except (SyntaxError, ValueError):
        return
    for node, statement in _imports(module.body):
        for module_name in _with_parents(statement):
            target = context.locator.resolve(module_name, importer)
            if target is not None and target != importer:
                yield _Edge(importer, node.lineno, node.col_offset + 1, target)


def _with_parents(statement: ImportStatement) -> Iterator[str]:
    # `import a.b.c` runs a/__init__.py and a/b/__init__.py too; the most
    # specific module comes first, so that a finding names it.
    for module_name in reversed(statement.candidate_modules()):
        dots = len(module_name) - len(module_name.lstrip("."))
        parts = module_name[dots:].split(".") if module_name[dots:] else []
        for depth in range(len(parts), 0, -1):
            yield "." * dots + ".".join(parts[:depth])


def _finding(edge: _Edge, chain: tuple[_Edge, ...]) -> Diagnostic:
    steps = [f"{step.importer}:{step.line}" for step in chain]
    module_name = _dotted(edge.target)
    return Diagnostic(
        f"imports {module_name} before init ({' -> '.join([*steps, edge.target])})",
        edge.line,
        edge.column,
        path=None if edge.importer == chain[0].importer else edge.importer,
    )


def _dotted(relpath: str) -> str:
    stem = relpath.removesuffix(".py").removesuffix("/__init__")
    return posixpath.normpath(stem).replace("/", ".")
