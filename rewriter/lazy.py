"""Lazy mode: which runtime imports wait for first use, and their stand-ins.

A deferred import runs on the first use of any name it binds, from the
entry's module ``__getattr__`` (PEP 562) or from a handler stand-in. Lazy
mode keeps what other code sees of the entry, or keeps an import eager and
says why:

- the deferred imports run together, in their original order, so modules
  that depend on each other's import order see what they saw before. Only
  the runtime imports after the last one that must stay eager are deferred,
  and after the last class body that imports the runtime (a class body runs
  when the class is defined);
- an import stays eager when the entry's own code uses or rebinds a name it
  binds (global lookups inside the module never reach ``__getattr__``), when
  it is nested in ``if``/``try``/``with`` (an optional import must fail, or
  not, at import time), when it is a star import (its names are only known
  once it runs), when a star import of the entry binds one of its names too
  (``__getattr__`` would never load it), or when it shares its line with
  other statements;
- every runtime import stays eager when the entry could see a deferred
  name missing or out of order: it has a star import whose names cannot be
  read statically, it reaches its own namespace by name
  (``rewriter.dataflow.namespace_access``: ``globals``, ``exec``,
  ``dir()``, ``sys.modules[__name__]`` and the like), or code that runs at
  import time refers to one of its functions whose body imports the runtime
  (that function may load the runtime before the deferred imports above
  it);
- a handler gets a stand-in of its call kind only when the kind is certain:
  a plain, undecorated ``def`` or ``async def`` at the top of its runtime
  module, bound once. Any other handler is served by ``__getattr__`` on
  first access.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rewriter.analysis import module_level
from rewriter.bindings import ImportStatement
from rewriter.dataflow import import_time_nodes, namespace_access
from rewriter.errors import Diagnostic
from rewriter.lines import Line, SourceText

if TYPE_CHECKING:
    from rewriter.layout import ImportSite, LayoutInput


@dataclass(frozen=True)
class StandIn:
    """A handler stand-in: the handler's name and whether it is ``async def``."""

    name: str
    is_async: bool


@dataclass(frozen=True)
class LazyPlan:
    """The original lines deferred to first use, the names they bind, and why others are not."""

    lines: tuple[int, ...]
    names: tuple[str, ...]
    stand_ins: tuple[StandIn, ...]
    warnings: tuple[Diagnostic, ...]


def plan_lazy(
    lines: Sequence[Line],
    rest: Sequence[int],
    sites: Sequence[ImportSite],
    text: SourceText,
    given: LayoutInput,
) -> LazyPlan:
    """Decide which runtime import lines of ``rest`` lazy mode defers."""
    usage = _Usage.read(lines)
    rest_set = set(rest)
    runtime = [site for site in sites if site.runtime and site.line in rest_set]
    starred, unreadable = _star_bound(lines, given) if runtime else ({}, None)
    everywhere = _entry_reason(lines, given, unreadable) if runtime else None
    reasons = {
        id(site): everywhere or _eager_reason(site, lines, usage, starred) for site in runtime
    }
    in_class = _class_body_import(lines, rest, given) if runtime else None
    if in_class is not None:
        # A class body runs when its `class` statement does (CPython), so a
        # runtime import in it loads the runtime there, eagerly.
        for site in runtime:
            if site.line < in_class[0] and reasons[id(site)] is None:
                reasons[id(site)] = (
                    f"the class body on line {in_class[1]} imports the runtime at import"
                    " time, and the runtime must load in its order"
                )
    # The deferred imports are the runtime imports after the last eager one.
    last_eager = max(
        (position for position, site in enumerate(runtime) if reasons[id(site)] is not None),
        default=-1,
    )
    warnings = []
    for position, site in enumerate(runtime):
        reason = reasons[id(site)]
        if reason is None and position < last_eager:
            blocker = runtime[last_eager].node
            reason = (
                "a later runtime import (line"
                f" {blocker.lineno}) stays eager, and the runtime must load in its order"
            )
        if reason is not None:
            warnings.append(
                Diagnostic(
                    f"lazy: this import stays eager: {reason}",
                    site.node.lineno,
                    text.column(site.node),
                )
            )
    deferred = runtime[last_eager + 1 :]
    names = tuple(name for site in deferred for name in site.statement.bound_names)
    stand_ins = tuple(_stand_ins(deferred, given))
    return LazyPlan(
        tuple(sorted({site.line for site in deferred})), names, stand_ins, tuple(warnings)
    )


def _class_body_import(
    lines: Sequence[Line], rest: Sequence[int], given: LayoutInput
) -> tuple[int, int] | None:
    """The last line of ``rest`` with a class whose body imports the runtime, and the
    line number of that import; None if there is none.

    A class body runs when the class is defined (``import_time_nodes``);
    ``module_level``, which gives the import sites, leaves it out.
    """
    for index in sorted(rest, reverse=True):
        classes = [
            statement
            for statement in module_level(lines[index].statements)
            if isinstance(statement, ast.ClassDef)
        ]
        imports = [
            node.lineno
            for statement in classes
            for node in import_time_nodes(statement.body)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            and given.is_runtime(ImportStatement.from_ast(node))
        ]
        if imports:
            return index, max(imports)
    return None


def _eager_reason(
    site: ImportSite, lines: Sequence[Line], usage: _Usage, starred: dict[str, int]
) -> str | None:
    if not site.top_level:
        return "it is inside a block, so whether it fails must be known at import time"
    if site.statement.kind == "star":
        return "the names of a star import are known only when it runs"
    if len(lines[site.line].statements) != 1:
        return "it shares its line with other statements"
    for name in site.statement.bound_names:
        if name in usage.exported:
            return (
                f"{name!r} is listed in __all__, which linters (ruff's TC004) and"
                " `from entry import *` read at import time"
            )
        if not usage.is_free(name):
            return f"the entry itself uses or rebinds {name!r}"
        if name in starred:
            return (
                f"the star import on line {starred[name]} binds {name!r} too, so a"
                " deferred import of it would never run"
            )
    return None


def _entry_reason(
    lines: Sequence[Line], given: LayoutInput, unreadable_star: int | None
) -> str | None:
    """Why no runtime import of this entry can wait for first use; None if they can."""
    statements = [statement for line in lines for statement in line.statements]
    importing = _functions_importing_the_runtime(statements, given)
    if unreadable_star is not None:
        return (
            f"the names of the star import on line {unreadable_star} cannot be read,"
            " and it may bind a deferred name, which would then never be imported"
        )
    access = namespace_access(statements)
    if access is not None:
        return (
            f"the entry reaches its own namespace by name (line {access.lineno}),"
            " where deferred names are missing until first use"
        )
    for node in import_time_nodes(statements):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in importing:
            return (
                f"line {node.lineno} refers to {node.id}(), which imports the runtime"
                " and may run at import time, before the deferred imports above it"
            )
    return None


def _star_bound(lines: Sequence[Line], given: LayoutInput) -> tuple[dict[str, int], int | None]:
    """The names the entry's star imports bind, each with the line of the first to bind it,
    and the line of the first star import whose names cannot be read (None if all can)."""
    bound: dict[str, int] = {}
    statements = [statement for line in lines for statement in line.statements]
    for statement in module_level(statements):
        if not (isinstance(statement, ast.ImportFrom) and statement.names[0].name == "*"):
            continue
        module = ImportStatement.from_ast(statement).module
        names = given.exports.star_import_names(module)
        if names is None:
            return bound, statement.lineno
        for name in names:
            bound.setdefault(name, statement.lineno)
    return bound, None


def _functions_importing_the_runtime(
    statements: Sequence[ast.stmt], given: LayoutInput
) -> frozenset[str]:
    names = set()
    for statement in module_level(statements):
        if not isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(statement):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and given.is_runtime(
                ImportStatement.from_ast(node)
            ):
                names.add(statement.name)
                break
    return frozenset(names)


def _stand_ins(deferred: Sequence[ImportSite], given: LayoutInput) -> list[StandIn]:
    stand_ins = []
    for site in deferred:
        statement = site.statement
        if statement.kind != "from":
            continue
        path = given.locator.resolve(statement.module)
        summary = given.exports.summary(path) if path is not None else None
        if summary is None:
            continue
        for alias in statement.names:
            kind = summary.functions.get(alias.name)
            if alias.bound in given.handlers and kind is not None:
                stand_ins.append(StandIn(alias.bound, kind))
    return stand_ins


@dataclass(frozen=True)
class _Usage:
    """The names the entry's own code reads or binds, outside its import statements."""

    used: frozenset[str]
    import_bindings: Counter[str]
    exported: frozenset[str]

    @classmethod
    def read(cls, lines: Sequence[Line]) -> _Usage:
        from rewriter.analysis import summarise_module

        used: set[str] = set()
        bindings: Counter[str] = Counter()
        statements = [statement for line in lines for statement in line.statements]
        summary = summarise_module(ast.Module(body=statements, type_ignores=[]))
        for line in lines:
            for statement in line.statements:
                for node in ast.walk(statement):
                    if isinstance(node, ast.Name):
                        used.add(node.id)
                    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                        used.add(node.name)
                    elif isinstance(node, ast.Global | ast.Nonlocal):
                        used.update(node.names)
                for node in module_level([statement]):
                    if isinstance(node, (ast.Import, ast.ImportFrom)):
                        bindings.update(ImportStatement.from_ast(node).bound_names)
        return cls(frozenset(used), bindings, frozenset(summary.all_names or ()))

    def is_free(self, name: str) -> bool:
        """True if only its one import binds ``name`` and nothing else touches it."""
        return name not in self.used and self.import_bindings[name] <= 1
