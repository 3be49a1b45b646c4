"""The parse front-end: no text reaches LibCST unless it is known to be safe to parse.

LibCST's native parser crashes the whole process (a stack overflow, exit
139) on deeply nested input, and its time and memory grow with the square of
the bracket nesting, so one hostile or generated entry could end a run or
stall it for minutes. ``parse_module`` therefore parses in four steps, each
bounded:

1. ``scan_text`` reads the text once, skipping strings and comments: how
   much bracket work LibCST's parser would do, and whether a dotted name is
   longer than LibCST can nest (CPython's own parse of such a name in an
   import takes time that grows with the square of its length).
2. CPython's parser (``compile(..., ast.PyCF_ONLY_AST)``) judges the text.
   Invalid text fails here, in milliseconds, with CPython's message and
   position; text too deep for CPython itself (it raises MemoryError or
   RecursionError, without a position) is placed by ``deep_expression_start``.
3. ``check_libcst_depth`` converts the depth of CPython's tree to LibCST's.
   Text over ``MAX_LIBCST_DEPTH``, or with more bracket work than
   ``MAX_BRACKET_WORK`` allows, is refused with the position where it goes
   over.
4. LibCST parses on a thread with a fixed, large stack
   (``PARSER_STACK_BYTES``), so the depth that is safe does not depend on the
   caller's thread (a framework may call the hook from a thread with a
   256 KiB stack). The module is then printed back and must equal the text.

CPython's parse also runs on that thread. ``python_tree`` is steps 1 and 2
alone, for a caller that needs CPython's tree first (it can then hand the
tree to ``parse_module``). The limits were measured with LibCST 1.9;
``tests/test_parsing.py`` keeps the shapes, and the README the numbers.
"""

from __future__ import annotations

import ast
import contextlib
import io
import itertools
import os
import re
import threading
import tokenize
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from rewriter.errors import RewriteError
from rewriter.printing import PrintedModule

if TYPE_CHECKING:
    import libcst as cst

MAX_LIBCST_DEPTH = 400
"""How deep LibCST's nodes may nest. LibCST prints a module back, and visits
it, by recursion: about 490 levels of one expression chain fit in Python's
default recursion limit of 1,000, and about 320 ``elif`` branches, so deeper
code could never be rewritten anyway. LibCST's native parser itself crashes
far deeper (thousands of levels on an 8 MiB stack)."""

MAX_BRACKET_WORK = 1_000_000
BRACKETS_PER_CHARACTER = 8
"""Bracket work is the sum, over every character, of how many brackets enclose
it. LibCST's parse takes about 1.5 KiB of memory and 4 to 8 microseconds per
unit of it for nested calls, the worst shape measured, on top of what the
text takes flat: nesting makes its time and memory grow with the square of
the depth. A text is refused when its work is over both ``MAX_BRACKET_WORK``
(about 1.5 GB) and ``BRACKETS_PER_CHARACTER`` times its length, so what a
parse costs stays within a fixed allowance plus a multiple of the text's
length. Real code is far below: the most in the fuzz corpus (6,300 files of
the standard library and site-packages) is 5.5 per character."""

PARSER_STACK_BYTES = 256 * 1024 * 1024
"""The stack of the thread that runs the parsers: address space only, the
pages are used as the recursion needs them."""

_LOST_TEXT = {  # what LibCST drops, by the first character lost
    "\f": "a form feed before a statement on the same line is not supported;"
    " put the form feed on a line of its own",
    ":": "the space before this colon is not kept; remove it",
}


@contextlib.contextmanager
def compiler_warnings_ignored() -> Iterator[None]:
    """Run the body with CPython's warnings about the code it parses ignored.

    Parsing the entry and its modules may warn about them: a
    ``SyntaxWarning`` (``"\\d"`` on 3.12, ``x is 1``, a call of a literal), and
    on 3.11 a ``DeprecationWarning`` for an invalid escape sequence. They are
    about code the rewrite keeps as it is. Printed, they would depend on
    whether a verdict came from the cache (``rewriter.cache``), and under
    ``-W error`` they would make the parse fail. The warning filters are
    process-wide, so the parser thread is covered too.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.filterwarnings("ignore", "invalid .*escape sequence", DeprecationWarning)
        yield


def parse_module(source: str, tree: ast.Module | None = None) -> cst.Module:
    """Parse ``source`` with LibCST, within the bounds this module sets.

    Returns the module, which prints back exactly as ``source``. Raises
    what ``parse_printed`` raises.
    """
    return parse_printed(source, tree).module


def parse_printed(source: str, tree: ast.Module | None = None) -> PrintedModule:
    """Parse ``source`` with LibCST, within the bounds this module sets.

    Returns the module with the text of each of its top-level nodes (see
    ``rewriter.printing``); the module prints back exactly as ``source``. Raises
    RewriteError, at the line and column of the cause, for text CPython
    rejects (``cannot parse: ...``), for valid text too deep or too costly
    for LibCST (``cannot rewrite: the code nests too deeply for LibCST: ...``),
    for valid text LibCST's grammar does not cover, and for text LibCST would
    not print back unchanged. ``tree``, when the caller has it already, is
    ``python_tree(source)``: CPython's parse is then not done again.
    """
    import libcst as cst  # only here: the analysis and the checks never need it

    scan = scan_text(source)
    if tree is None:
        tree = python_tree(source, scan)
    check_libcst_depth(source, tree)
    # Only its measurements were needed: a tree parsed here is freed before
    # LibCST's is made (a caller's stays with the caller).
    del tree
    _check_bracket_work(source, scan)
    try:
        module = _in_parser_thread(cst.parse_module, source)
    except cst.ParserSyntaxError as error:
        # Valid Python that LibCST's grammar does not cover: not the user's fault.
        # The native parser's message has the position; its raw_line can be a line late.
        at = re.search(r"error at (\d+):(\d+)", error.message)
        line, column = error.raw_line, error.raw_column + 1
        if at:
            line, column = int(at[1]), int(at[2]) + 1
        raise RewriteError(
            f"cannot rewrite: LibCST cannot parse this valid Python ({error.message})",
            line,
            column,
        ) from None
    except RecursionError:
        raise RewriteError(_too_deep("LibCST's parser ran out of recursion")) from None
    return _check_round_trip(source, module)


def python_tree(source: str, scan: TextScan | None = None) -> ast.Module:
    """CPython's AST of ``source``, or RewriteError where and why the text cannot be parsed.

    Steps 1 and 2 of this module: a dotted name longer than LibCST can nest
    is refused before CPython sees it (its parse of such a name is
    quadratic), then CPython judges, on the parser thread. ``scan`` is
    ``scan_text(source)`` if the caller has it.
    """
    if scan is None and source.count(".") < MAX_LIBCST_DEPTH:
        # Such a name has as many dots at least: no need to scan for one.
        return cpython_tree(source)
    scan = scan_text(source) if scan is None else scan
    if scan.long_name is not None:
        raise RewriteError(
            _too_deep(
                f"this dotted name has {scan.long_name_parts:,} parts, and LibCST nests"
                f" one level for each (at most {MAX_LIBCST_DEPTH} can be printed back)"
            ),
            *scan.long_name,
        )
    return cpython_tree(source)


def cpython_tree(source: str) -> ast.Module:
    """CPython's AST of ``source`` on the parser thread, or RewriteError where and why not.

    Step 2 alone, for modules LibCST never parses (a runtime module, the
    init module): a dotted name of more parts than LibCST can nest is
    valid Python that CPython parses in milliseconds up to thousands of
    parts.
    """
    return _in_parser_thread(_compile, source)


# CPython 3.11 keeps the AST constructor's recursion depth per interpreter,
# not per thread: two threads that build ASTs at once can fail with
# "SystemError: AST constructor recursion depth mismatch" (python/cpython#106905,
# seen here with two golden-test threads). Library callers may run rewrites
# on several threads; their CPython parses take turns.
_cpython_parse = threading.Lock()


def parsed_code(code: str | bytes) -> ast.Module:
    """``ast.parse(code)``, taking turns with rewriter's other CPython parses.

    For text that rewriter made or has parsed within bounds already (a
    rendered block, the output, a statement LibCST printed). Bytes are
    decoded as ``ast.parse`` decodes them (PEP 263). Raises what
    ``ast.parse`` raises.
    """
    with _cpython_parse:
        return ast.parse(code)


def parsed_expression(code: str) -> ast.Expression:
    """``ast.parse(code, mode="eval")``, as ``parsed_code`` takes turns."""
    with _cpython_parse:
        return ast.parse(code, mode="eval")


def _compile(source: str) -> ast.Module:
    try:
        with _cpython_parse:
            tree = compile(source, "<entry>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as error:
        if error.lineno is None:  # a NUL character, which CPython does not place
            raise RewriteError(f"cannot parse: {error.msg}", *_nul_position(source)) from None
        message = f"cannot parse: {error.msg}"
        raise RewriteError(message, error.lineno, error.offset or 1) from None
    except ValueError as error:  # a NUL character, in older Python versions
        raise RewriteError(f"cannot parse: {error}", *_nul_position(source)) from None
    except (MemoryError, RecursionError) as error:
        # CPython's parser gives up on very deep nesting with no position.
        line, column = deep_expression_start(source)
        raise RewriteError(
            "cannot parse: this expression nests too deeply for Python's parser"
            f" (it raised {type(error).__name__})",
            line,
            column,
        ) from None
    assert isinstance(tree, ast.Module)
    return tree


def _nul_position(source: str) -> tuple[int, int]:
    at = source.find("\0")
    return text_position(source, at) if at >= 0 else (1, 1)


def _too_deep(reason: str) -> str:
    return f"cannot rewrite: the code nests too deeply for LibCST: {reason}"


# -- Reading the text alone ---------------------------------------------------------

# Comments and strings, which hide brackets and dots; then brackets; then
# dotted names (``a.b.c``) of more parts than LibCST can nest, matched from
# their first name only (possessively, so the scan stays linear).
_TEXT_SCAN = re.compile(
    "|".join(
        (
            r"#[^\r\n]*",
            r"'''(?:[^'\\]|\\.|'(?!''))*'''",
            r'"""(?:[^"\\]|\\.|"(?!""))*"""',
            r"'(?:[^'\\\r\n]|\\(?:\r\n|.))*'",
            r'"(?:[^"\\\r\n]|\\(?:\r\n|.))*"',
            r"(?P<open>[(\[{])",
            r"(?P<close>[)\]}])",
            r"(?<![\w.])(?P<name>[^\W\d]\w*+(?:(?:[ \t]|\\\r?\n)*+\.(?:[ \t]|\\\r?\n)*+"
            + rf"[^\W\d]\w*+){{{MAX_LIBCST_DEPTH},}}+)",
        )
    ),
    re.DOTALL,
)


@dataclass(frozen=True)
class TextScan:
    """What ``scan_text`` reads from the text alone, before any parser sees it."""

    bracket_work: int = 0
    """The sum, over every character, of how many brackets enclose it (a
    bracket counts as inside the brackets around it, not inside itself)."""
    deepest_bracket: tuple[int, int] = (1, 1)
    """Line and column of the first bracket at the deepest nesting."""
    deepest_nesting: int = 0
    long_name: tuple[int, int] | None = None
    """Where a dotted name of more than ``MAX_LIBCST_DEPTH`` parts starts."""
    long_name_parts: int = 0


def scan_text(source: str) -> TextScan:
    """The bracket work and any over-long dotted name of ``source``, strings and comments skipped.

    One linear pass of a regular expression. Grouping parentheses count as
    brackets, which LibCST parses fast, so the work may be over-counted,
    never under-counted (except that from Python 3.12 an f-string may hold
    its own quotes, which the scan takes for the end of the string).
    """
    work = depth = last = deepest = deepest_at = 0
    for match in _TEXT_SCAN.finditer(source):
        kind = match.lastgroup
        if kind is None:
            continue
        if kind == "name":
            parts = match.group().count(".") + 1
            return TextScan(long_name=text_position(source, match.start()), long_name_parts=parts)
        position = match.start()
        if kind == "open":
            work += depth * (position + 1 - last)  # up to the bracket, itself included
            last = position + 1
            depth += 1
            if depth > deepest:
                deepest, deepest_at = depth, position
        else:
            work += depth * (position - last)
            last = position
            depth -= 1
    return TextScan(work, text_position(source, deepest_at), deepest)


def text_position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of the character at ``index``, with Python's line breaks."""
    lines = re.split(r"\r\n|\r|\n", text[:index])
    return len(lines), len(lines[-1]) + 1


def _check_bracket_work(source: str, scan: TextScan) -> None:
    allowed = max(MAX_BRACKET_WORK, BRACKETS_PER_CHARACTER * len(source))
    if scan.bracket_work > allowed:
        raise RewriteError(
            _too_deep(
                f"brackets nest {scan.deepest_nesting} levels deep here, and LibCST's parse"
                f" of the file's nested brackets would take about"
                f" {_megabytes(scan.bracket_work):,} MB (the limit for this file is"
                f" {_megabytes(allowed):,} MB)"
            ),
            *scan.deepest_bracket,
        )


def _megabytes(work: int) -> int:
    # The memory per unit of work measured for nested calls, the worst shape.
    return work * 1536 // 1_000_000


# -- Where CPython's parser gave up --------------------------------------------------

# Tokens that separate expressions rather than nest them.
_SEPARATORS = frozenset({",", ";", ":", "=", "->", ":="}) | {
    op + "=" for op in ("+", "-", "*", "/", "//", "%", "@", "&", "|", "^", ">>", "<<", "**")
}
_OPENERS = frozenset("([{")
_CLOSERS = frozenset(")]}")
_NESTING_KEYWORDS = frozenset(
    {"not", "and", "or", "await", "lambda", "if", "else", "in", "is", "yield", "for"}
)
# After these, an opening bracket is a call or a subscript: a link of the chain.
_OPERANDS = frozenset({tokenize.NAME, tokenize.NUMBER, tokenize.STRING})


@dataclass
class _Run:
    """The expression being read at one bracket level: where it starts, how long its chain is."""

    start: tuple[int, int] | None = None
    links: int = 0


def deep_expression_start(source: str) -> tuple[int, int]:
    """Line and column (1-based) where the most deeply nested expression of ``source`` starts.

    For text that CPython's parser refuses as too deep without saying where.
    The nesting is read from tokens: every operator, ``.``, call, subscript
    and nesting keyword adds a link to the chain of the expression it is in,
    every bracket a level. The answer is the start of the outermost
    expression on the way to the deepest point: for ``x = ----1`` the first
    ``-``, for ``1 + 1 + ...`` the first ``1``, for ``[1, not not ...]`` the
    first ``not``, and for ``f(1, not not ...)`` the ``f`` of the call.
    Falls back to 1:1 when the text does not tokenize.
    """
    runs = [_Run()]
    links = 0  # of every run in ``runs``
    deepest, where = -1, (1, 1)
    previous: tokenize.TokenInfo | None = None
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            kind, text = token.type, token.string
            if kind in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
                runs, links, previous = [_Run()], 0, None
                continue
            if kind in (tokenize.NL, tokenize.COMMENT, tokenize.ENDMARKER):
                continue
            operator = kind == tokenize.OP
            if operator and (text in _SEPARATORS or text in _CLOSERS):
                links -= runs[-1].links
                if text in _SEPARATORS or len(runs) == 1:
                    runs[-1] = _Run()
                else:
                    runs.pop()
                previous = token
                continue
            run = runs[-1]
            if run.start is None:
                run.start = token.start
            trailer = previous is not None and (
                previous.type in _OPERANDS or previous.string in _CLOSERS
            )
            if (operator and (text not in _OPENERS or trailer)) or (
                kind == tokenize.NAME and text in _NESTING_KEYWORDS
            ):
                run.links += 1
                links += 1
            if operator and text in _OPENERS:
                runs.append(_Run())
            if links + len(runs) > deepest:
                deepest = links + len(runs)
                outermost = next((item for item in runs if item.links), run)
                where = outermost.start or token.start
            previous = token
    except (tokenize.TokenError, SyntaxError):
        pass
    line, offset = where
    return line, offset + 1


# -- How deep LibCST's tree would be -------------------------------------------------


def check_libcst_depth(source: str, tree: ast.Module) -> None:
    """Raise RewriteError if LibCST's nodes for ``source`` would nest over ``MAX_LIBCST_DEPTH``.

    ``tree`` is CPython's AST of the same text. Its depth is converted to
    LibCST's, which nests more: ``a or b or c`` and ``'a' 'b' 'c'`` are flat
    for CPython and a chain of nodes for LibCST, as are the dots of
    ``from a.b.c import x``, the clauses of a comprehension and the wrappers
    around arguments, elements and slices. The error is placed at the first
    node, in the order of the text, that goes over. The walk skips what is
    too short to go over, so it costs little next to the parse it protects.
    """
    text = _Text(source)
    for node, depth in _deep_nodes(tree, text):
        if depth > MAX_LIBCST_DEPTH:
            raise RewriteError(
                _too_deep(
                    f"LibCST's nodes would nest {depth:,} levels deep here"
                    f" (at most {MAX_LIBCST_DEPTH} can be printed back)"
                ),
                *text.position(node),
            )


class _Text:
    """Positions in the source: CPython's (line, UTF-8 byte column) to characters."""

    def __init__(self, source: str) -> None:
        self.source = source
        # CPython's line breaks: \r\n, \n and a lone \r.
        if "\r" in source:
            self.lines = re.split(r"(?<=\r\n)|(?<=\n)|(?<=\r)(?!\n)", source)
        else:
            self.lines = [f"{line}\n" for line in source.split("\n")]
            self.lines[-1] = self.lines[-1][:-1]
        self._starts = [0, *itertools.accumulate(len(line) for line in self.lines)]

    def reach(self, node: ast.AST) -> int | None:
        """An upper bound, cheap to get, of the characters ``node`` covers (None: no position)."""
        end_line: int | None = getattr(node, "end_lineno", None)
        if end_line is None:
            return None
        line: int = node.lineno  # type: ignore[attr-defined]
        end: int = node.end_col_offset  # type: ignore[attr-defined]
        if end_line == line:
            start: int = node.col_offset  # type: ignore[attr-defined]
            return end - start
        # UTF-8 columns count at least as many as characters; the start column is left out.
        return self._starts[min(end_line, len(self.lines)) - 1] + end - self._starts[line - 1]

    def segment(self, node: ast.AST) -> str:
        """The source text of ``node`` (a node with a position)."""
        start = self._offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end = self._offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        return self.source[start:end]

    def position(self, node: ast.AST) -> tuple[int, int]:
        """1-based line and column (in characters) where ``node`` starts."""
        line: int = getattr(node, "lineno", 1)
        return line, self._column(line, getattr(node, "col_offset", 0)) + 1

    def _offset(self, line: int, byte_column: int) -> int:
        if not 1 <= line <= len(self.lines):
            return len(self.source) if line > len(self.lines) else 0
        return self._starts[line - 1] + self._column(line, byte_column)

    def _column(self, line: int, byte_column: int) -> int:
        text = self.lines[line - 1] if 1 <= line <= len(self.lines) else ""
        if text.isascii():
            return byte_column
        return len(text.encode("utf-8")[:byte_column].decode("utf-8", errors="replace"))


# Nodes that carry no position and nest nothing.
_LEAVES = (ast.expr_context, ast.boolop, ast.operator, ast.unaryop, ast.cmpop)
# LibCST needs at least one character for every level it nests (the densest
# are ``a[`` + ``]`` for Subscript, SubscriptElement and Index); this allows
# twice that, plus the levels of a leaf.
_CHARACTERS_PER_LEVEL = 2
_LEAF_LEVELS = 4
# ``_levels`` is at most this, except below the nodes that make chains.
_MOST_LEVELS = 3
_CHAINS = (
    ast.BoolOp,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
    ast.Import,
    ast.ImportFrom,
)


def _deep_nodes(tree: ast.Module, text: _Text) -> Iterator[tuple[ast.AST, int]]:
    """Nodes, in the order of the text, that may be too deep, with LibCST's depth of each.

    A child whose text is too short to reach ``MAX_LIBCST_DEPTH`` below its
    depth is not descended into, so ordinary code costs a few nodes. A node
    without a position of its own (``arguments``, ``comprehension``...) is
    reported at its nearest ancestor's.
    """
    limit = MAX_LIBCST_DEPTH
    stack: list[tuple[ast.AST, int, ast.AST]] = [(tree, 0, tree)]
    while stack:
        node, depth, anchor = stack.pop()
        if hasattr(node, "lineno"):
            anchor = node
        depth += _own_levels(node, depth, text)
        yield anchor, depth
        children = []
        chains = isinstance(node, _CHAINS)
        for field, child, index in _children(node):
            size = text.reach(child)
            reach = None if size is None else _CHARACTERS_PER_LEVEL * size + _LEAF_LEVELS
            if reach is not None and not chains and depth + _MOST_LEVELS + reach <= limit:
                continue
            levels = depth + _levels(node, field, index, child)
            if reach is None or levels + reach > limit:
                children.append((child, levels, anchor))
        stack.extend(reversed(children))


def _children(node: ast.AST) -> Iterator[tuple[str, ast.AST, int]]:
    """``(field, child, index in the field)`` for each child node that can nest."""
    for field in node._fields:
        value = getattr(node, field, None)
        if isinstance(value, list):
            for index, child in enumerate(value):
                if isinstance(child, ast.AST) and not isinstance(child, _LEAVES):
                    yield field, child, index
        elif isinstance(value, ast.AST) and not isinstance(value, _LEAVES):
            yield field, value, 0


# How many LibCST nodes stand between a node and its child in these fields
# (Arg, Element, DictElement, SubscriptElement and Index, Param, Decorator...).
_WRAPPED = {
    (ast.Call, "args"): 2,
    (ast.Call, "keywords"): 2,
    (ast.Subscript, "slice"): 3,
    (ast.List, "elts"): 2,
    (ast.Tuple, "elts"): 2,
    (ast.Set, "elts"): 2,
    (ast.Dict, "keys"): 2,
    (ast.Dict, "values"): 2,
    (ast.Compare, "comparators"): 2,
    (ast.Assign, "targets"): 2,
    (ast.AnnAssign, "annotation"): 2,
    (ast.arguments, "defaults"): 2,
    (ast.arguments, "kw_defaults"): 2,
    (ast.arg, "annotation"): 2,
    (ast.FunctionDef, "args"): 2,
    (ast.AsyncFunctionDef, "args"): 2,
    (ast.Lambda, "args"): 2,
    (ast.FunctionDef, "decorator_list"): 2,
    (ast.AsyncFunctionDef, "decorator_list"): 2,
    (ast.ClassDef, "decorator_list"): 2,
    (ast.ClassDef, "bases"): 2,
    (ast.ClassDef, "keywords"): 2,
    (ast.With, "items"): 2,
    (ast.AsyncWith, "items"): 2,
}
_BLOCK_FIELDS = frozenset({"body", "orelse", "finalbody", "handlers", "cases"})
_COMPOUND = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.With,
    ast.AsyncWith,
    ast.Try,
    ast.Match,
    ast.ExceptHandler,
    ast.match_case,
)


def _levels(node: ast.AST, field: str, index: int, child: ast.AST) -> int:
    """How many LibCST levels lie between ``node`` and its ``child``."""
    if field in _BLOCK_FIELDS:
        # An indented block, then a statement line around a simple statement.
        # (An ``elif`` is the If node itself, but LibCST's visitors take as
        # many frames for it as for a block.)
        return 2 if isinstance(child, _COMPOUND) else 3
    if isinstance(node, ast.Module):
        return 1 if isinstance(child, _COMPOUND) else 2
    if isinstance(node, ast.BoolOp):
        # ``a or b or c`` is a left-leaning chain of BooleanOperation nodes.
        return len(node.values)
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        # Each ``for`` clause is nested in the one before it.
        return index + 2 if field == "generators" else 1
    if isinstance(child, ast.alias):
        return 2 + child.name.count(".")
    return _WRAPPED.get((type(node), field), 1)


def _own_levels(node: ast.AST, depth: int, text: _Text) -> int:
    """LibCST levels within what CPython holds as one node.

    An implicitly concatenated string nests one level per part after the
    first, and the module name of ``from a.b.c import x`` one per dot.
    """
    if isinstance(node, ast.ImportFrom):
        return (node.module or "").count(".")
    if not isinstance(node, ast.JoinedStr) and not (
        isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes))
    ):
        return 0
    size = text.reach(node) or 0
    if depth + size // 2 <= MAX_LIBCST_DEPTH:
        return 0  # every part takes two characters at least
    starts = {tokenize.STRING, getattr(tokenize, "FSTRING_START", tokenize.STRING)}
    segment = io.StringIO(f"({text.segment(node)}\n)")
    try:
        parts = sum(token.type in starts for token in tokenize.generate_tokens(segment.readline))
    except (tokenize.TokenError, SyntaxError):
        parts = size // 2
    return max(0, parts - 1)


# -- Running the parsers ---------------------------------------------------------------

_Result = TypeVar("_Result")
_stack_size_lock = threading.Lock()


def _new_lock_after_fork() -> None:
    # A fork while another thread held a lock would leave it held forever.
    global _stack_size_lock, _cpython_parse
    _stack_size_lock = threading.Lock()
    _cpython_parse = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_after_fork)


def _in_parser_thread(function: Callable[[str], _Result], source: str) -> _Result:
    """``function(source)`` on a thread with a ``PARSER_STACK_BYTES`` stack; its error re-raised."""
    outcome: list[_Result] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(function(source))
        except BaseException as error:  # handed to the caller, which raises it
            failure.append(error)

    with _stack_size_lock:
        try:
            previous = threading.stack_size(PARSER_STACK_BYTES)
        except (ValueError, RuntimeError):  # the platform sets no thread stack sizes
            return function(source)
        try:
            thread = threading.Thread(target=run, name="rewriter-parser", daemon=True)
            thread.start()
        finally:
            threading.stack_size(previous)
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]


# -- Printing back ---------------------------------------------------------------------


_LONE_CR_LOST = (
    "the lines end in a lone carriage return (old Mac line endings), and LibCST"
    " drops the one that ends the file; convert the line endings to \\n or \\r\\n"
)


def check_default_indent(module: cst.Module, source: str) -> None:
    """Refuse an entry whose indentation unit, as LibCST reads it, holds a form feed.

    LibCST takes the indentation of the file's first indented line for the
    unit of every block that does not say its own, the generated ones
    included. CPython counts columns from a form feed again, so that unit
    nested twice is no deeper than once, and the generated block would not
    compile. Raises ``RewriteError`` at that form feed.
    """
    unit = module.default_indent
    if "\f" not in unit:
        return
    # LibCST read the unit from the source, so the source holds it.
    line_number, column = text_position(source, source.index(unit) + unit.index("\f"))
    raise RewriteError(
        "cannot rewrite: a form feed in the indentation of the first indented line is"
        " not supported (generated blocks would take it for their indentation); put the"
        " form feed on a line of its own",
        line_number,
        column,
    )


def check_final_newline(output: str, source: str) -> None:
    """Refuse an ``output`` that ends in a lone ``"\r"``: LibCST drops it on reading.

    A rewrite prints its generated code with the entry's first line break,
    so an entry whose first line ends in a lone carriage return and whose
    last line is then generated would end in one: the next run and
    ``--undo`` would have to refuse the file. Raises ``RewriteError`` at the
    first lone carriage return of ``source``.
    """
    if not output.endswith("\r"):
        return
    index = next(
        (i for i, c in enumerate(source) if c == "\r" and source[i + 1 : i + 2] != "\n"), 0
    )
    line, column = text_position(source, index)
    raise RewriteError(f"cannot rewrite without losing text: {_LONE_CR_LOST}", line, column)


def _check_round_trip(source: str, module: cst.Module) -> PrintedModule:
    # LibCST does not print every module back as it read it: it drops a form
    # feed right before a statement, the last line break of a file whose
    # lines end in a lone "\r", and the space in "except E :". Refuse rather
    # than lose text.
    try:
        if module.has_trailing_newline:
            kept = PrintedModule.printing(module)
            if kept.code == source:
                return kept
        # Whole, as LibCST prints it: a module without a trailing newline is
        # printed whole anyway (rewriter.printing), and a difference is found
        # on LibCST's own text.
        printed = module.code
    except RecursionError:
        raise RewriteError(_too_deep("LibCST ran out of recursion printing it back")) from None
    if printed == source:
        return PrintedModule(module, None)
    index = next(
        (i for i, (a, b) in enumerate(zip(source, printed, strict=False)) if a != b),
        min(len(source), len(printed)),
    )
    if source[index:] == "\r" and printed == source[:index]:
        lost = _LONE_CR_LOST
    else:
        lost = _LOST_TEXT.get(source[index:].lstrip(" \t")[:1], "LibCST does not keep this text")
    line, column = text_position(source, index)
    raise RewriteError(f"cannot rewrite without losing text: {lost}", line, column)


__all__ = [
    "BRACKETS_PER_CHARACTER",
    "MAX_BRACKET_WORK",
    "MAX_LIBCST_DEPTH",
    "PARSER_STACK_BYTES",
    "TextScan",
    "check_default_indent",
    "check_final_newline",
    "check_libcst_depth",
    "cpython_tree",
    "deep_expression_start",
    "parse_module",
    "parse_printed",
    "parsed_code",
    "parsed_expression",
    "python_tree",
    "scan_text",
    "text_position",
]
