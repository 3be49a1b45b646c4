"""Entries rewritten by rewriter 0.1, taken back to their original statements.

rewriter 0.1 replaced each runtime import, at any depth, by::

    if _rewriter_typing.TYPE_CHECKING:
        <the original statement>
        <handler re-exports it added>
    else:
        <assignments through its helper functions>

and put a block of ``_rewriter_*`` helpers at the top. The helpers are gone
from today's block, so such an entry must be taken back before it is
rewritten again (a run upgrades it) or undone. The original statement is the
first line of each mirror's ``TYPE_CHECKING`` branch. 0.1 also split a line
such as ``import os; from .chunks import x`` into one statement per line,
and that split is kept.
"""

from __future__ import annotations

import ast

from rewriter.generated import BLOCK_FUNCTIONS

_HELPER_PREFIX = "_rewriter_"
_LEGACY_MODULE = "_rewriter_typing"


def has_legacy_code(module: ast.Module, source: str) -> bool:
    """True when ``module``, the tree of ``source``, holds code that rewriter 0.1 generated."""
    for statement in module.body:
        if isinstance(statement, ast.Try) and _is_legacy_block(statement):
            return True
    # 0.1 spelled its mirrors' test in ASCII: without that text, no walk.
    if source.isascii() and _LEGACY_MODULE not in source:
        return False
    return any(
        isinstance(node, ast.If) and _is_legacy_mirror(node.test) for node in ast.walk(module)
    )


def upgrade(source: str) -> str:
    """``source`` without rewriter 0.1's block, and with its mirrors' original statements.

    Raises ``RewriteError`` when LibCST cannot read ``source``.
    """
    import libcst as cst

    from rewriter.core import parse_module
    from rewriter.parsing import parsed_code, parsed_expression

    module = parse_module(source)

    class _Upgrade(cst.CSTTransformer):
        def leave_Try(
            self, original_node: cst.Try, updated_node: cst.Try
        ) -> cst.BaseStatement | cst.RemovalSentinel:
            code = cst.Module(body=[original_node]).code
            statement = parsed_code(code).body[0]
            assert isinstance(statement, ast.Try)
            if _is_legacy_block(statement):
                return cst.RemoveFromParent()
            return updated_node

        def leave_If(
            self, original_node: cst.If, updated_node: cst.If
        ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
            test = parsed_expression(cst.Module(body=[]).code_for_node(original_node.test))
            if not _is_legacy_mirror(test.body) or not isinstance(
                updated_node.body, cst.IndentedBlock
            ):
                return updated_node
            first = updated_node.body.body[0]
            assert isinstance(first, (cst.SimpleStatementLine, cst.BaseCompoundStatement))
            return first.with_changes(
                leading_lines=[*updated_node.leading_lines, *first.leading_lines]
            )

    return module.visit(_Upgrade()).code


def _is_legacy_block(statement: ast.Try) -> bool:
    # Today's block defines one function and nothing else at its top; 0.1's
    # defined its helpers there too (`_rewriter_flag`, `_rewriter_state`...).
    functions = [node.name for node in statement.body if isinstance(node, ast.FunctionDef)]
    if not any(name in BLOCK_FUNCTIONS for name in functions):
        return False
    helpers = {
        name
        for node in statement.body
        for name in _bound(node)
        if name.startswith(_HELPER_PREFIX) and name not in BLOCK_FUNCTIONS
    }
    return bool(helpers)


def _bound(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [target.id for target in node.targets if isinstance(target, ast.Name)]
    if isinstance(node, ast.Import):
        return [alias.asname or alias.name for alias in node.names]
    return []


def _is_legacy_mirror(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Attribute)
        and test.attr == "TYPE_CHECKING"
        and isinstance(test.value, ast.Name)
        and test.value.id == _LEGACY_MODULE
    )
