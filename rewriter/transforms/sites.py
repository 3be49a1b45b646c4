"""Finding the import statements that run when the entry is imported.

Module-level imports count, including those nested in ``if``/``try``/
``with``/``for``/``while``/``match`` blocks. Imports inside functions and
classes, inside ``if TYPE_CHECKING:`` bodies, and inside rewriter's own init
block do not: they never run before init.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m

from rewriter.bindings import ImportStatement

MIRROR_TEST = m.Attribute(value=m.Name("_rewriter_typing"), attr=m.Name("TYPE_CHECKING"))
_TYPE_CHECKING_TEST = m.Name("TYPE_CHECKING") | m.Attribute(attr=m.Name("TYPE_CHECKING"))
_NOT_TYPE_CHECKING_TEST = m.UnaryOperation(operator=m.Not(), expression=_TYPE_CHECKING_TEST)
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
    return isinstance(node, cst.If) and m.matches(node.test, MIRROR_TEST)


@dataclass(frozen=True)
class ImportSite:
    """A module-level import statement and the line that holds it.

    ``deferred`` is True for an import that rewriter already deferred (the
    original statement kept in the TYPE_CHECKING branch of its mirror).
    """

    node: cst.Import | cst.ImportFrom
    line: cst.SimpleStatementLine | cst.SimpleStatementSuite
    statement: ImportStatement
    deferred: bool = False


class ImportSiteCollector(cst.CSTVisitor):
    """Collects the import sites of a module, in source order."""

    def __init__(self) -> None:
        super().__init__()
        self.sites: list[ImportSite] = []
        self._skipped: set[int] = set()
        self._deferred_bodies: set[int] = set()
        self._line: list[cst.SimpleStatementLine | cst.SimpleStatementSuite] = []
        self._deferred_depth = 0

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
        return not is_init_block(node)

    def visit_If(self, node: cst.If) -> bool:
        if is_mirror(node):
            self._deferred_bodies.add(id(node.body))
            if node.orelse is not None:
                self._skipped.add(id(node.orelse))
        elif m.matches(node.test, _TYPE_CHECKING_TEST):
            self._skipped.add(id(node.body))
        elif m.matches(node.test, _NOT_TYPE_CHECKING_TEST) and node.orelse is not None:
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

    def visit_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> bool:
        if id(node) in self._skipped:
            return False
        self._line.append(node)
        return True

    def leave_SimpleStatementSuite(self, original_node: cst.SimpleStatementSuite) -> None:
        self._line.pop()

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
        self._line.append(node)
        return True

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine) -> None:
        self._line.pop()

    def visit_Import(self, node: cst.Import) -> bool:
        self._add(node)
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        self._add(node)
        return False

    def _add(self, node: cst.Import | cst.ImportFrom) -> None:
        statement = ImportStatement.from_node(node)
        self.sites.append(ImportSite(node, self._line[-1], statement, self._deferred_depth > 0))
