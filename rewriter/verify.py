"""Checking the guarantee: init runs first, after the setup, before the runtime.

Found statically, on the entry's text and the files beside it:

- the entry has no init block;
- a runtime import runs before the block, or (``dynamic-import`` mode) is
  a plain top-level import that a formatter could move above it;
- an environment setup statement (``rewriter.setup``) runs after the block,
  so the init does not see the environment it sets up;
- something that runs before the runtime is meant to load imports it:
  the lines above the block, the init module, the configured prelude
  modules, and the packages that enclose the entry, the init module and the
  prelude (their ``__init__.py`` runs first), followed through every
  first-party import. The finding names the whole chain, e.g.
  ``index.py:5 -> instrument.py:3 -> chunks/util.py:1 -> chunks/nitro/nitro.py``.
"""

from __future__ import annotations

import ast
import posixpath
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from rewriter.analysis import module_level, module_tree
from rewriter.bindings import ImportStatement, absolute_name
from rewriter.config import Settings
from rewriter.context import Context, init_location
from rewriter.errors import Diagnostic
from rewriter.plan import EntryPlan, analyse
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
    write, the original text under ``--check``. Raises ``RewriteError`` for
    an entry that cannot be analysed.
    """
    return verify_plan(analyse(source, settings, path=path, tree=tree))


def verify_plan(plan: EntryPlan) -> tuple[Diagnostic, ...]:
    """The findings for an entry already analysed as ``plan``."""
    recovery = plan.recovery
    block = recovery.block
    findings: list[Diagnostic] = []
    if block is None:
        findings.append(Diagnostic("not rewritten: the entry has no rewriter init block"))
    part_of = [original.part for original in recovery.lines]
    for site in plan.layout.runtime_sites:
        part = part_of[site.line]
        kind = recovery.parts[part].kind
        position = (site.node.lineno, plan.text.column(site.node))
        if block is None or part < block:
            findings.append(
                Diagnostic(f"runtime module {site.runtime[0]} is imported before init", *position)
            )
        elif (
            block is not None
            and site.top_level
            and kind == "user"
            and plan.settings.mode == "dynamic-import"
        ):
            findings.append(
                Diagnostic(
                    f"runtime module {site.runtime[0]} is imported by a plain top-level"
                    " import, which formatters may move above init",
                    *position,
                )
            )
    if block is not None:
        for index in plan.layout.setup_lines:
            if part_of[index] > block:
                statement = plan.lines[index].first
                findings.append(
                    Diagnostic(
                        "environment setup runs after the init block, so the init does not see it",
                        statement.lineno,
                        plan.text.column(statement),
                    )
                )
    findings.extend(_chains(_roots(plan), plan.context))
    return tuple(findings)


def _roots(plan: EntryPlan) -> list[_Edge]:
    """What runs before the runtime: the lines above the block, init, prelude, packages."""
    context = plan.context
    entry = context.entry.filename
    block = plan.recovery.block
    roots: list[_Edge] = []
    if block is not None:
        for site in plan.layout.sites:
            if plan.recovery.lines[site.line].part >= block:
                continue
            for module_name in _with_parents(site.statement):
                target = context.locator.resolve(module_name)
                if target is not None:
                    roots.append(
                        _Edge(entry, site.node.lineno, plan.text.column(site.node), target)
                    )
    init_line = plan.recovery.parts[block].line.lineno if block is not None else 1
    init_path = init_location(context.init, context.locator)
    if init_path is not None:
        roots.append(_Edge(entry, init_line, 1, init_path))
    if context.init is not None and context.init.kind != "file":
        roots.extend(_packages_of(context.init.target, context, entry, init_line))
    for prelude in plan.settings.prelude:
        target = context.locator.resolve(prelude)
        if target is not None:
            roots.append(_Edge(entry, init_line, 1, target))
        roots.extend(_packages_of(prelude, context, entry, init_line))
    # The packages that enclose the entry run their __init__.py before it.
    # (An entry that is a package's __init__.py is that package itself.)
    depth = len(context.entry.package)
    first = 1 if context.entry.filename == "__init__.py" else 0
    for level in range(first, depth):
        init = "../" * level + "__init__.py"
        roots.append(_Edge(entry, 1, 1, posixpath.normpath(init)))
    return roots


def _packages_of(module: str, context: Context, entry: str, line: int) -> Iterator[_Edge]:
    package = ".".join(context.entry.package)
    name = absolute_name(module, package) if module.startswith(".") else module
    if name is None:
        return
    parts = name.split(".")
    for depth in range(1, len(parts)):
        target = context.locator.resolve(".".join(parts[:depth]))
        if target is not None:
            yield _Edge(entry, line, 1, target)


def _chains(roots: list[_Edge], context: Context) -> list[Diagnostic]:
    # Breadth first, so each runtime module is reported with its shortest chain.
    # One finding per import statement and per runtime module is enough.
    # The entry is in sys.modules while it runs: importing it again (an init
    # module inside the package whose __init__.py is the entry) runs nothing.
    findings: list[Diagnostic] = []
    reported: set[object] = set()
    seen: set[str] = {context.entry.filename}
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
    module = module_tree(text)
    if module is None:
        return
    for node in module_level(module.body):
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        for module_name in _with_parents(ImportStatement.from_ast(node)):
            target = context.locator.resolve(module_name, importer)
            if target is not None and target != importer:
                yield _Edge(importer, node.lineno, node.col_offset + 1, target)


def _with_parents(statement: ImportStatement) -> Iterator[str]:
    # `import a.b.c` runs a/__init__.py and a/b/__init__.py too; the most
    # specific module comes first, so that a finding names it.
    yield from reversed(statement.executed_modules())


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
