"""Top-level logical lines: the unit that rewriter moves, wraps and checks.

A *logical line* is one statement, or several joined by ``;``. It is what
LibCST's ``Module.body`` holds (one ``SimpleStatementLine`` per ``;``-joined
line, one node per compound statement), read here with ``ast`` so that the
analysis, the fast path and the checker never need LibCST. The LibCST side
finds the same line by its index.
"""

from __future__ import annotations

import ast
import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

_NEWLINE = re.compile(r"\r\n|\r|\n")
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


class SourceText:
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

    def line_text(self, line: int) -> str:
        """The text of 1-based ``line``, without its line break."""
        start = self.starts[line - 1]
        end = self.starts[line] if line < len(self.starts) else len(self.source)
        return self.source[start:end].rstrip("\r\n")

    def line_of(self, offset: int) -> int:
        """The 1-based line of the character at ``offset``."""
        return bisect.bisect_right(self.starts, offset)

    def start(self, node: ast.stmt) -> int:
        """The string index where ``node`` starts."""
        return self.offset(node.lineno, node.col_offset)

    def end(self, node: ast.stmt) -> int:
        """The string index right after ``node``."""
        assert node.end_lineno is not None and node.end_col_offset is not None
        return self.offset(node.end_lineno, node.end_col_offset)

    def column(self, node: ast.AST) -> int:
        """The 1-based character column of ``node`` (``ast`` counts UTF-8 bytes)."""
        line = getattr(node, "lineno", 1)
        offset = self.offset(line, getattr(node, "col_offset", 0))
        return offset - self.starts[line - 1] + 1


@dataclass(frozen=True)
class Line:
    """One logical line: its statements (one, or several joined by ``;``)."""

    statements: tuple[ast.stmt, ...]

    @property
    def first(self) -> ast.stmt:
        """The first statement of the line."""
        return self.statements[0]

    @property
    def lineno(self) -> int:
        """The 1-based line where it starts."""
        return self.first.lineno

    @property
    def end_lineno(self) -> int:
        """The 1-based line where it ends."""
        return self.statements[-1].end_lineno or self.lineno

    @property
    def is_import(self) -> bool:
        """True when every statement of the line is an import."""
        return all(isinstance(s, (ast.Import, ast.ImportFrom)) for s in self.statements)


def logical_lines(body: Sequence[ast.stmt], text: SourceText) -> list[Line]:
    """``body`` grouped as LibCST groups it: ``;``-joined simple statements are one line."""
    lines: list[list[ast.stmt]] = []
    previous: ast.stmt | None = None
    for statement in body:
        if _joined(previous, statement, text):
            lines[-1].append(statement)
        else:
            lines.append([statement])
        previous = statement
    return [Line(tuple(line)) for line in lines]


def _joined(previous: ast.stmt | None, statement: ast.stmt, text: SourceText) -> bool:
    if not (isinstance(previous, _SIMPLE) and isinstance(statement, _SIMPLE)):
        return False
    # `a; b` on one line (or continued with a backslash) is one line; `a;`
    # ending its line is followed by a line of its own.
    between = text.source[text.end(previous) : text.start(statement)]
    for continuation in ("\\\r\n", "\\\n", "\\\r"):
        between = between.replace(continuation, "")
    return between.lstrip(" \t\f").startswith(";") and not any(
        newline in between for newline in "\r\n"
    )
