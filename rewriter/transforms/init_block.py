"""Inserting the init block after the header, or refreshing an existing one."""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence

import libcst as cst

from rewriter.bindings import ImportStatement
from rewriter.templates import Statement
from rewriter.transforms.header import header_end
from rewriter.transforms.sites import is_init_block


def place_init_block(
    module: cst.Module,
    block: Statement,
    *,
    prelude_modules: Sequence[str],
    is_runtime: Callable[[ImportStatement], bool],
) -> cst.Module:
    """Put ``block`` after the header of ``module``.

    An existing init block is replaced where it stands, and only when it
    differs in meaning: a block that a formatter reflowed is left alone, so
    formatting the entry and running rewriter again changes nothing.
    """
    body = list(module.body)
    for index, statement in enumerate(body):
        if is_init_block(statement):
            if _same_meaning(statement, block):
                return module
            blank = [line for line in statement.leading_lines if line.comment is None]
            body[index] = block.with_changes(leading_lines=[*blank, *block.leading_lines])
            return module.with_changes(body=body)
    index = header_end(body, prelude_modules, is_runtime)
    if index > 0 or module.header:
        block = block.with_changes(leading_lines=[cst.EmptyLine(), *block.leading_lines])
    if index < len(body) and not _starts_with_blank(body[index]):
        body[index] = body[index].with_changes(
            leading_lines=[cst.EmptyLine(), *body[index].leading_lines]
        )
    body.insert(index, block)
    return module.with_changes(body=body)


def _starts_with_blank(statement: Statement) -> bool:
    lines = statement.leading_lines
    return bool(lines) and lines[0].comment is None


def _same_meaning(left: Statement, right: Statement) -> bool:
    def dump(statement: Statement) -> str:
        return ast.dump(ast.parse(cst.Module(body=[statement]).code))

    return dump(left) == dump(right)
