"""Runtime imports become deferred ``importlib`` imports, in place.

Each module-level runtime import statement is replaced by::

    if _rewriter_typing.TYPE_CHECKING:
        <the original statement, untouched>
    else:
        <assignments that bind the same names through importlib>

The TYPE_CHECKING branch keeps the import visible to type checkers and to
static tracers (``modulefinder``, PyInstaller) without running it; the
``else`` branch runs it after init. Handler names that the entry only gets
through a star import or a runtime module's attribute are bound explicitly
in the same place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import libcst as cst

from rewriter.bindings import ImportedName, ImportKind
from rewriter.templates import Statement, render_statements
from rewriter.transforms.sites import ImportSite


@dataclass(frozen=True)
class Reexport:
    """A handler name bound explicitly from ``module`` (as written)."""

    name: str
    module: str


@dataclass(frozen=True)
class Wrapper:
    """A handler function stand-in of lazy mode, ``async`` when the handler is."""

    name: str
    is_async: bool


@dataclass(frozen=True)
class SitePlan:
    """How one runtime import site is deferred.

    ``reexports`` are the handler names bound explicitly right after it;
    ``lazy`` defers the import to first use, with ``wrappers`` for handler
    functions.
    """

    reexports: tuple[Reexport, ...] = ()
    lazy: bool = False
    wrappers: tuple[Wrapper, ...] = ()


@dataclass(frozen=True)
class DeferredImport:
    """The template context for one deferred import site.

    ``one_by_one`` binds the names of a ``from`` import one statement each, as
    Python does: inside ``try``/``with`` a failure on a later name can be
    caught, and the earlier names must stay bound.
    """

    kind: ImportKind
    module: str
    names: tuple[ImportedName, ...]
    reexports: tuple[Reexport, ...] = ()
    lazy: bool = False
    wrappers: tuple[Wrapper, ...] = ()
    one_by_one: bool = False

    @classmethod
    def of(cls, site: ImportSite, plan: SitePlan) -> DeferredImport:
        """The template context for ``site`` deferred as ``plan`` says."""
        statement = site.statement
        return cls(
            statement.kind,
            statement.module,
            statement.names,
            plan.reexports,
            plan.lazy,
            plan.wrappers,
            one_by_one=site.guarded and len(statement.names) > 1,
        )

    @property
    def targets(self) -> str:
        """The assignment targets: ``a, b`` or ``(a,)``."""
        bound = [alias.bound for alias in self.names]
        return f"({bound[0]},)" if len(bound) == 1 else ", ".join(bound)


def defer_imports(
    module: cst.Module,
    sites: Sequence[ImportSite],
    plans: Mapping[int, SitePlan],
) -> cst.Module:
    """Replace the import ``sites`` of ``module`` by deferred imports.

    ``plans`` maps a site's index in ``sites`` to how it is deferred (the
    default: eagerly, with no re-export).
    """
    if not sites:
        return module
    contexts = [
        DeferredImport.of(site, plans.get(index, SitePlan())) for index, site in enumerate(sites)
    ]
    rendered = render_statements("deferred.py.j2", module.default_newline, sites=contexts)
    mirrors = {id(site.node): mirror for site, mirror in zip(sites, rendered, strict=True)}
    return module.visit(_ReplaceImports(mirrors))


class _ReplaceImports(cst.CSTTransformer):
    def __init__(self, mirrors: dict[int, Statement]) -> None:
        super().__init__()
        self._mirrors = mirrors
        self._created: set[int] = set()

    # Import sites are never inside functions or classes, and a line is
    # replaced from its own small statements: nothing below needs a visit.
    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
        return False

    def visit_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> bool:
        return False

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> Statement | cst.FlattenSentinel[Statement]:
        statements = self._split(original_node.body, original_node.trailing_whitespace)
        if statements is None:
            return updated_node
        first = statements[0]
        statements[0] = first.with_changes(
            leading_lines=[*original_node.leading_lines, *first.leading_lines]
        )
        if id(first) in self._created:
            self._created.add(id(statements[0]))
        return cst.FlattenSentinel(statements)

    def leave_SimpleStatementSuite(
        self, original_node: cst.SimpleStatementSuite, updated_node: cst.SimpleStatementSuite
    ) -> cst.BaseSuite:
        statements = self._split(original_node.body, original_node.trailing_whitespace)
        if statements is None:
            return updated_node
        return cst.IndentedBlock(body=statements)

    def _split(
        self,
        body: Sequence[cst.BaseSmallStatement],
        trailing: cst.TrailingWhitespace,
    ) -> list[Statement] | None:
        # A line such as `import os; from .chunks import x` becomes one
        # statement per run of untouched small statements and one mirror per
        # runtime import, in the original order.
        if not any(id(small) in self._mirrors for small in body):
            return None
        statements: list[Statement] = []
        pending: list[cst.BaseSmallStatement] = []
        for position, small in enumerate(body):
            last = position == len(body) - 1
            if id(small) not in self._mirrors:
                pending.append(small)
                if last:
                    statements.append(_line(pending, trailing))
                continue
            if pending:
                statements.append(_line(pending, cst.TrailingWhitespace()))
                pending = []
            original = _line([small], trailing if last else cst.TrailingWhitespace())
            statements.append(_with_original(self._mirrors[id(small)], original))
            self._created.add(id(statements[-1]))
        return statements

    def leave_IndentedBlock(
        self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
    ) -> cst.BaseSuite:
        return updated_node.with_changes(body=self._spaced(updated_node.body))

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        return updated_node.with_changes(body=self._spaced(updated_node.body))

    def _spaced(self, body: Sequence[cst.BaseStatement]) -> list[cst.BaseStatement]:
        # black and ruff format want a blank line between an import and a
        # statement that is not one, such as a mirror that replaced an import.
        spaced = list(body)
        for index in range(1, len(spaced)):
            statement = spaced[index]
            if not isinstance(statement, cst.If) or id(statement) not in self._created:
                continue
            lines = statement.leading_lines
            if _is_import_line(spaced[index - 1]) and (not lines or lines[0].comment is not None):
                spaced[index] = statement.with_changes(leading_lines=[cst.EmptyLine(), *lines])
        return spaced


def _is_import_line(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and isinstance(
        statement.body[0], (cst.Import, cst.ImportFrom)
    )


def _line(
    body: Sequence[cst.BaseSmallStatement], trailing: cst.TrailingWhitespace
) -> cst.SimpleStatementLine:
    *rest, last = body
    return cst.SimpleStatementLine(
        body=[*rest, last.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)],
        trailing_whitespace=trailing,
    )


def _with_original(mirror: Statement, original: cst.SimpleStatementLine) -> Statement:
    # The template puts a `pass` where the original statement goes.
    assert isinstance(mirror, cst.If) and isinstance(mirror.body, cst.IndentedBlock)
    # The template's own blank lines between sites are dropped: the mirror
    # takes the spacing of the statement it replaces.
    body = [original, *mirror.body.body[1:]]
    return mirror.with_changes(leading_lines=(), body=mirror.body.with_changes(body=body))
