"""Putting the rewritten entry together as LibCST nodes.

The analysis (``rewriter.generated`` and ``rewriter.layout``) works on
``ast``; this module applies its result to the LibCST tree by position: the
``i``-th top-level part of the recovery is ``module.body[i]``, and the
``j``-th line inside a pin or mirror is ``module.body[i].body.body[j]``.

Every original line keeps its own text, comments and blank lines. The
generated pieces (block, pins, mirrors, re-exports, the lazy block) bring
their own leading lines, and a pin or mirror takes over the leading lines of
its first line, so that taking them away again (``recover_lines``) gives back
the original text byte for byte.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import libcst as cst

from rewriter.errors import RewriteError
from rewriter.generated import BLOCK_MARKERS, LAZY_MARKER, Recovery
from rewriter.layout import Group, Layout
from rewriter.parsing import parsed_code
from rewriter.templates import render_statements

Statement = cst.SimpleStatementLine | cst.BaseCompoundStatement


@dataclass(frozen=True)
class Pieces:
    """The generated statements for one entry, already rendered.

    ``block`` and ``lazy`` carry their marker comments as leading lines.
    ``pin_error`` is the name the pins' ``except`` clause binds.
    """

    block: Statement
    lazy: Statement | None
    pin_error: str


def recover_lines(module: cst.Module, recovery: Recovery) -> list[Statement]:
    """The original top-level lines of ``module``, in their original order."""
    _check_alignment(module, recovery)
    lines: list[Statement] = []
    for original in recovery.lines:
        node = module.body[original.part]
        if original.inner is None:
            lines.append(node)
            continue
        inner = _top_level_blanks(_inner_body(node)[original.inner], _block_indent(module, node))
        if original.inner == _first_original(recovery, original.part):
            # The wrapper took over the first line's leading lines.
            inner = inner.with_changes(leading_lines=[*node.leading_lines, *inner.leading_lines])
        lines.append(inner)
    return lines


def take_apart(module: cst.Module, recovery: Recovery) -> tuple[cst.Module, list[Statement]]:
    """``module`` without generated comments in its header, and its original lines.

    The lines are the original top-level lines in their original order,
    each with its own leading lines (``recover_lines``). Raises
    ``RewriteError`` when the block's ``rewriter:moved`` record claims more
    header lines than the module has.
    """
    module = _trailing_lines_back(module, recovery)
    lines = recover_lines(module, recovery)
    module = without_block_marker(module, recovery)
    above = recovery.parts[recovery.block].moved_above if recovery.block is not None else 0
    first = next(
        (i for i, line in enumerate(recovery.lines) if line.part == 0 and line.inner is None),
        None,
    )
    if not above or first is None:
        return module, lines
    if above > len(module.header):
        raise RewriteError("the rewriter:moved record does not match the entry")
    # The first statement is a moved one: LibCST read the comment lines that
    # came along with it as the end of the module's header.
    header = list(module.header)
    lines[first] = lines[first].with_changes(
        leading_lines=[*header[-above:], *lines[first].leading_lines]
    )
    return module.with_changes(header=header[:-above]), lines


def _trailing_lines_back(module: cst.Module, recovery: Recovery) -> cst.Module:
    """``module`` with the lines after each generated statement given back.

    LibCST reads the comment and blank lines after a compound statement, up
    to the last one indented like its last clause's block, as that block's
    footer. After a generated ``try`` or ``if`` they are the leading lines
    of the next statement (or the end of the file), which the rewrite
    printed there: they go back to it, and to the module's footer after the
    last statement. Lines before the block or the lazy block, whose leading
    lines are generated, go on to the next statement that keeps its own;
    so do comments added by hand above their markers.
    """
    body = list(module.body)
    carried: list[cst.EmptyLine] = []
    for index, part in enumerate(recovery.parts):
        node = body[index]
        if carried and part.kind not in ("block", "lazy"):
            node = node.with_changes(leading_lines=[*carried, *node.leading_lines])
            carried = []
        if part.kind in ("block", "lazy"):
            node, added = _without_lines_above_marker(node)
            carried.extend(added)
        if part.kind != "user":
            node, trailing = _without_trailing_lines(node, module.default_indent)
            carried.extend(trailing)
        body[index] = node
    if not carried:
        return module.with_changes(body=body)
    return module.with_changes(body=body, footer=[*carried, *module.footer])


def _without_lines_above_marker(node: Statement) -> tuple[Statement, list[cst.EmptyLine]]:
    # The rewrite puts blank lines and then the marker comments above a
    # generated block; any other line there was added by hand.
    leading = list(node.leading_lines)
    marker = next(
        (
            index
            for index, line in enumerate(leading)
            if line.comment is not None
            and line.comment.value.startswith((*BLOCK_MARKERS, LAZY_MARKER))
        ),
        0,
    )
    added = leading[:marker]
    while added and added[0].comment is None and not added[0].whitespace.value:
        del added[0]
    if not added:
        return node, []
    return node.with_changes(leading_lines=leading[marker:]), added


def _without_trailing_lines(
    node: Statement, default_indent: str
) -> tuple[Statement, list[cst.EmptyLine]]:
    # Generated statements are a `try` (block, lazy block, pin) or an `if`
    # without `else` (mirror); their last clause's block holds the footer.
    clause: cst.Try | cst.ExceptHandler | cst.Finally | cst.Else | cst.If
    if isinstance(node, cst.Try) and node.finalbody is not None:
        clause = node.finalbody
    elif isinstance(node, cst.Try) and node.orelse is not None:
        clause = node.orelse
    elif isinstance(node, cst.Try) and node.handlers:
        clause = node.handlers[-1]
    elif isinstance(node, cst.If) and node.orelse is None:
        clause = node
    else:
        return node, []
    block = clause.body
    if not isinstance(block, cst.IndentedBlock) or not block.footer:
        return node, []
    indent = block.indent if block.indent is not None else default_indent
    trailing = [
        line.with_changes(whitespace=cst.SimpleWhitespace(indent + line.whitespace.value))
        if line.indent
        else line
        for line in block.footer
    ]
    emptied = clause.with_changes(body=block.with_changes(footer=()))
    return _with_clause(node, clause, emptied), trailing


def _with_clause(node: Statement, clause: cst.CSTNode, emptied: cst.CSTNode) -> Statement:
    if clause is node:
        return emptied  # type: ignore[return-value]
    assert isinstance(node, cst.Try)
    if clause is node.finalbody:
        return node.with_changes(finalbody=emptied)
    if clause is node.orelse:
        return node.with_changes(orelse=emptied)
    return node.with_changes(handlers=[*node.handlers[:-1], emptied])


def assemble(
    module: cst.Module,
    lines: Sequence[Statement],
    recovery: Recovery,
    layout: Layout,
    pieces: Pieces,
    render_reexport: Callable[[str, str], Statement],
) -> cst.Module:
    """``module`` rewritten as ``layout`` says, with the generated ``pieces``.

    ``module`` and ``lines`` are what ``take_apart`` made of the entry, and
    ``render_reexport(module, name)`` renders one re-export line.
    """
    body: list[Statement] = [lines[index] for index in layout.prefix]
    spans: list[tuple[int, ...]] = [(index,) for index in layout.prefix]
    body.append(_block(module, recovery, pieces.block, above=bool(body)))
    spans.append(())
    newline = module.default_newline
    for group in layout.groups:
        if group.kind == "plain":
            body.extend(lines[index] for index in group.lines)
            spans.extend((index,) for index in group.lines)
            continue
        spans.append(group.lines)
        existing = _existing_wrapper(module, recovery, group)
        if existing is not None:
            body.append(existing)
            continue
        statements: list[Statement] = []
        for item in group.items:
            if item.line is not None:
                statements.append(lines[item.line])
            else:
                assert item.reexport is not None
                statements.append(render_reexport(item.reexport.module, item.reexport.name))
        template = "pin.py.j2" if group.kind == "pin" else "mirror.py.j2"
        wrapper = render_statements(template, newline, error=pieces.pin_error, note=_pin_note())[0]
        body.append(_wrap(wrapper, statements))
    _check_new_neighbours(module, body, spans, recovery)
    if pieces.lazy is not None:
        body.append(pieces.lazy)
    return module.with_changes(body=body)


def _check_new_neighbours(
    module: cst.Module,
    body: Sequence[Statement],
    spans: Sequence[tuple[int, ...]],
    recovery: Recovery,
) -> None:
    """Refuse a new order in which a block above would take in the lines of the next statement.

    LibCST reads the comment and whitespace-only lines after a compound
    statement, up to the last one indented like its last block, as that
    block's footer. Where the rewrite puts an original statement after a
    compound statement of the entry that it did not follow (a setup line
    moved above the init block, or the line after it), its indented leading
    lines would become the end of that block, and ``--undo`` could not put
    them back. ``spans`` are the original line indices of each top-level
    statement (empty for generated ones, whose footers ``take_apart``
    gives back). Raises ``RewriteError`` at the statement.
    """
    for index in range(1, len(body)):
        before, after = body[index - 1], body[index]
        if not spans[index - 1] or not spans[index]:
            continue
        if spans[index - 1][-1] + 1 == spans[index][0]:
            continue  # neighbours in the original too: LibCST read them so there
        if not isinstance(before, cst.BaseCompoundStatement):
            continue
        leading = after.leading_lines
        if not any(line.whitespace.value for line in leading):
            continue
        probe = module.with_changes(
            header=(),
            body=[before, cst.SimpleStatementLine([cst.Pass()], leading_lines=leading)],
            footer=(),
        )
        if len(cst.parse_module(probe.code).body[-1].leading_lines) == len(leading):
            continue
        raise RewriteError(
            "cannot rewrite without losing text: in the new order, LibCST would read the"
            " indented comment or whitespace-only lines above this statement as the end of"
            " the block above them; remove their indentation",
            recovery.lines[spans[index][0]].line.lineno,
            1,
        )


def _pin_note() -> str:
    from rewriter.generated import PIN_NOTE

    return PIN_NOTE


def _check_alignment(module: cst.Module, recovery: Recovery) -> None:
    if len(module.body) != len(recovery.parts):
        raise AssertionError(
            f"LibCST sees {len(module.body)} top-level lines where ast sees {len(recovery.parts)}"
        )


def _inner_body(node: cst.CSTNode) -> Sequence[Statement]:
    assert isinstance(node, (cst.Try, cst.If)) and isinstance(node.body, cst.IndentedBlock)
    return node.body.body  # type: ignore[return-value]


def _first_original(recovery: Recovery, part: int) -> int:
    return min(
        (line.inner for line in recovery.lines if line.part == part and line.inner is not None),
        default=0,
    )


def without_block_marker(module: cst.Module, recovery: Recovery) -> cst.Module:
    """``module`` without the block's marker comments, when they sit in its header.

    LibCST keeps the comments above a file's first statement in the module
    header, so those of a block placed first end up there.
    """
    if recovery.block != 0 or not module.header:
        return module
    header = list(module.header)
    for index, line in enumerate(header):
        comment = line.comment.value if line.comment is not None else ""
        if comment.startswith(BLOCK_MARKERS):
            return module.with_changes(header=header[:index])
    return module


def _block(module: cst.Module, recovery: Recovery, block: Statement, *, above: bool) -> Statement:
    # A formatter may have reflowed the existing block: keep its text when
    # it means the same as the new one.
    if recovery.block is not None:
        existing = module.body[recovery.block]
        if _same_code(existing, block):
            block = existing.with_changes(leading_lines=block.leading_lines)
    # One blank line between the block and the code above it. A block that
    # comes first follows the module's header comments as they are.
    if above:
        block = block.with_changes(leading_lines=[cst.EmptyLine(), *block.leading_lines])
    return block


def _same_code(left: cst.CSTNode, right: cst.CSTNode) -> bool:
    def dump(node: cst.CSTNode) -> str:
        code = cst.Module(body=[node.with_changes(leading_lines=())]).code  # type: ignore[list-item]
        return ast.dump(parsed_code(code))

    return dump(left) == dump(right)


def _existing_wrapper(module: cst.Module, recovery: Recovery, group: Group) -> Statement | None:
    # A pin or mirror that already holds exactly these lines stays as it is.
    parts = {recovery.lines[index].part for index in group.lines}
    if len(parts) != 1:
        return None
    (part_index,) = parts
    part = recovery.parts[part_index]
    if part.kind != group.kind:
        return None
    held = [index for index, line in enumerate(recovery.lines) if line.part == part_index]
    if held != list(group.lines):
        return None
    node = module.body[part_index]
    inner = _inner_body(node)
    present = [
        cst.Module(body=[inner[index].with_changes(leading_lines=())]).code
        for index in sorted(part.reexports)
    ]
    expected = [
        f"from {item.reexport.module} import {item.reexport.name}"
        for item in group.items
        if item.reexport is not None
    ]
    if [text.split("#", 1)[0].strip() for text in present] != expected:
        return None
    return node


def _wrap(wrapper: Statement, statements: list[Statement]) -> Statement:
    assert isinstance(wrapper, (cst.Try, cst.If)) and isinstance(wrapper.body, cst.IndentedBlock)
    first, *others = statements
    leading = first.leading_lines
    first = first.with_changes(leading_lines=())
    body = wrapper.body.with_changes(body=[first, *map(_unindented_blanks, others)])
    return wrapper.with_changes(leading_lines=leading, body=body)


def _block_indent(module: cst.Module, node: cst.CSTNode) -> str:
    assert isinstance(node, (cst.Try, cst.If)) and isinstance(node.body, cst.IndentedBlock)
    return node.body.indent if node.body.indent is not None else module.default_indent


def _top_level_blanks(statement: Statement, indent: str) -> Statement:
    # The inverse of _unindented_blanks: LibCST reads a blank line inside the
    # wrapper that starts with the block's indentation as that indentation
    # plus the rest; at the top level the whole whitespace is the line's own.
    lines = [
        line.with_changes(
            indent=False, whitespace=cst.SimpleWhitespace(indent + line.whitespace.value)
        )
        if line.comment is None and line.indent
        else line
        for line in statement.leading_lines
    ]
    return statement.with_changes(leading_lines=lines)


def _unindented_blanks(statement: Statement) -> Statement:
    # A blank line inside the wrapper is printed with the block's indentation
    # unless told otherwise, which would leave trailing whitespace (W293).
    # At the top level, where undo puts the line back, both print the same.
    lines = [
        line.with_changes(indent=False) if line.comment is None else line
        for line in statement.leading_lines
    ]
    return statement.with_changes(leading_lines=lines)
