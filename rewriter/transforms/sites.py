"""Finding the import statements that run when the entry is imported.

Module-level imports count, including those nested in ``if``/``try``/
``with``/``for``/``while``/``match`` blocks. Imports inside functions and
classes, inside ``if TYPE_CHECKING:`` bodies, and inside rewriter's own init
block do not: they never run before init.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from rewriter.bindings import ImportStatement

BLOCK_MARKERS = ("# rewriter:init", "# rewriter:preload")
BLOCK_FUNCTIONS = ("_rewriter_init", "_rewriter_preload")


def is_init_block(node: cst.CSTNode) -> bool:
    """True for rewriter's init or preload block (by its marker comment or its function)."""
    if not isinstance(node, cst.Try):
        return False
    if any(
        line.comment and line.comment.value.startswith(BLOCK_MARKERS) for line in node.leading_lines
    ):
        return True
    return any(
        isinstance(statement, cst.FunctionDef) and statement.name.value in BLOCK_FUNCTIONS
        for statement in node.body.body
    )


def is_mirror(node: cst.CSTNode) -> bool:
    """True for a deferred import written by rewriter (``if _rewriter_typing.TYPE_CHECKING``)."""
    if not isinstance(node, cst.If):
        return False
    test = node.test
    return (
        _is_type_checking(test)
        and isinstance(test, cst.Attribute)
        and isinstance(test.value, cst.Name)
        and test.value.value == "_rewriter_typing"
    )


# Plain isinstance checks rather than libcst.matchers: importing the matchers
# alone costs as much as importing the rest of LibCST, on every run.
def _is_type_checking(test: cst.BaseExpression) -> bool:
    """``TYPE_CHECKING`` or ``anything.TYPE_CHECKING``."""
    return (isinstance(test, cst.Name) and test.value == "TYPE_CHECKING") or (
        isinstance(test, cst.Attribute) and test.attr.value == "TYPE_CHECKING"
    )


def _is_not_type_checking(test: cst.BaseExpression) -> bool:
    return (
        isinstance(test, cst.UnaryOperation)
        and isinstance(test.operator, cst.Not)
        and _is_type_checking(test.expression)
    )


@dataclass(frozen=True)
class ImportSite:
    """A module-level import statement and the line that holds it.

    ``deferred`` is True for an import that rewriter already deferred (the
    original statement kept in the TYPE_CHECKING branch of its mirror).
    ``guarded`` is True inside a ``try`` or ``with`` block, where a failing
    import can be caught and the names bound before the failure stay bound.
    """

    node: cst.Import | cst.ImportFrom
    line: cst.SimpleStatementLine | cst.SimpleStatementSuite
    statement: ImportStatement
    deferred: bool = False
    guarded: bool = False


class ImportSiteCollector(cst.CSTVisitor):
    """Collects the import sites of a module, in source order."""

    def __init__(self) -> None:
        super().__init__()
        self.sites: list[ImportSite] = []
        self._skipped: set[int] = set()
        self._deferred_bodies: set[int] = set()
        self._deferred_depth = 0
        self._guarded_depth = 0

    @classmethod
    def collect(cls, module: cst.Module) -> list[ImportSite]:
        """The import sites of ``module`` that run at import time."""
        collector = cls()
        module.visit(collector)
        return collector.sites

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Try(self, node: cst.Try) -> bool:
        if is_init_block(node):
            return False
        self._guarded_depth += 1
        return True

    def leave_Try(self, original_node: cst.Try) -> None:
        self._guarded_depth -= 1

    def visit_TryStar(self, node: cst.TryStar) -> bool:
        self._guarded_depth += 1
        return True

    def leave_TryStar(self, original_node: cst.TryStar) -> None:
        self._guarded_depth -= 1

    def visit_With(self, node: cst.With) -> bool:
        self._guarded_depth += 1
        return True

    def leave_With(self, original_node: cst.With) -> None:
        self._guarded_depth -= 1

    def visit_If(self, node: cst.If) -> bool:
        if is_mirror(node):
            self._deferred_bodies.add(id(node.body))
            if node.orelse is not None:
                self._skipped.add(id(node.orelse))
        elif _is_type_checking(node.test):
            self._skipped.add(id(node.body))
        elif _is_not_type_checking(node.test) and node.orelse is not None:
            self._skipped.add(id(node.orelse))
        return True

    def visit_Else(self, node: cst.Else) -> bool:
        return id(node) not in self._skipped

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> bool:
        if id(node) in self._deferred_bodies:
            self._deferred_depth += 1
        return id(node) not in self._skipped

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock) -> None:
        if id(original_node) in self._deferred_bodies:
            self._deferred_depth -= 1

    # Imports are direct children of their line, and the expressions below a
    # line hold none: not visiting them saves most of the walk.
    def visit_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> bool:
        if id(node) not in self._skipped:
            self._add(node)
        return False

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
        self._add(node)
        return False

    def _add(self, line: cst.SimpleStatementLine | cst.SimpleStatementSuite) -> None:
        for small in line.body:
            if isinstance(small, (cst.Import, cst.ImportFrom)):
                statement = ImportStatement.from_node(small)
                self.sites.append(
                    ImportSite(
                        small,
                        line,
                        statement,
                        deferred=self._deferred_depth > 0,
                        guarded=self._guarded_depth > 0,
                    )
                )
