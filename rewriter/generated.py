"""The code rewriter adds to an entry, and how it is recognised again.

A rewritten entry holds four kinds of generated code, each recognisable from
its syntax (and its marker comment), so that a second run changes nothing,
``--check`` can tell a sound entry from a broken one, and ``--undo`` can give
back the original text:

- the *block* (``# rewriter:init`` or ``# rewriter:preload``): a top-level
  ``try:``/``finally:`` that defines one function (``_rewriter_init`` or
  ``_rewriter_preload``), calls it and deletes it. Its marker line carries a
  digest of the block's syntax tree, so an edited block is recognised, and
  a stamp (``seal``) that ties the marker lines to what rendered the block,
  so that a second run recognises an unchanged block without rendering it;
  a ``# rewriter:moved N ...`` line lists the top-level statements (1-based,
  in the original) that were moved above it;
- *pins*: a ``try:`` around original top-level import lines whose only
  handler adds a note to the exception and re-raises it. pycodestyle does
  not count a ``try`` as code, so no formatter hoists the imports above the
  block, and CPython itself binds their names. Lines ending in
  ``# rewriter:re-export`` inside a pin bind a handler name explicitly;
- *deferred mirrors* of lazy mode: ``if TYPE_CHECKING:  # rewriter:deferred``
  around original import lines that run on first use instead;
- the *lazy block* (``# rewriter:lazy``) at the end of the file, with the
  function ``_rewriter_lazy``.

Entries rewritten by rewriter 0.1 are taken back first (``rewriter.legacy``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from rewriter import digests
from rewriter.lines import Line, SourceText, logical_lines

BLOCK_MARKERS = ("# rewriter:init", "# rewriter:preload")
LAZY_MARKER = "# rewriter:lazy"
MOVED_MARKER = "# rewriter:moved"
DEFERRED_MARKER = "# rewriter:deferred"
REEXPORT_MARKER = "rewriter:re-export"
BLOCK_FUNCTIONS = ("_rewriter_init", "_rewriter_preload")
LAZY_FUNCTION = "_rewriter_lazy"
PIN_ERROR = "_rewriter_error"
PIN_NOTE = "rewriter: imported after the instrumentation init"

_DIGEST = re.compile(r"# rewriter:(?:init|preload|lazy) ([0-9a-f]{12}) ")
# The marker line with a stamp; markers written before stamps have none.
_STAMPED = re.compile(r"(# rewriter:(?:init|preload|lazy) [0-9a-f]{12} )([0-9a-f]{12})( -- )")
STAMP_PLACEHOLDER = "0" * 12
"""What the marker template is given as the stamp, before ``seal`` puts the real one in."""
_MOVED = re.compile(r"# rewriter:moved ([0-9]+(?: [0-9]+)*)(?: with ([0-9]+) lines? above)?")
_PIN_ERROR = re.compile(rf"{PIN_ERROR}(?:_[0-9]+)?\Z")

PartKind = Literal["user", "block", "lazy", "pin", "mirror"]


def digest(node: ast.stmt) -> str:
    """The digest of a generated statement's syntax tree (12 hex digits).

    Formatting and comments do not change it; any edit to the code does.
    """
    dump = ast.dump(node, annotate_fields=True, include_attributes=False)
    return digests.sha256(dump.encode("utf-8")).hexdigest()[:12]


def code_digest(code: str) -> str:
    """The ``digest`` of the first statement of ``code``, worked out once per text."""
    from rewriter.parsing import parsed_code

    return _digest_of_text(code, lambda: parsed_code(code).body[0])


def _digest_at(statement: ast.stmt, text: SourceText) -> str:
    # A top-level statement's tree follows from its text alone, and every
    # entry that a run meets with the same settings has the same block.
    segment = text.source[text.start(statement) : text.end(statement)]
    return _digest_of_text(segment, lambda: statement)


_digests: dict[str, str] = {}
_DIGESTS_KEPT = 16


def _digest_of_text(code: str, tree: Callable[[], ast.stmt]) -> str:
    found = _digests.get(code)
    if found is None:
        if len(_digests) >= _DIGESTS_KEPT:
            _digests.clear()
        found = _digests[code] = digest(tree())
    return found


def seal(marker: Sequence[str], key: str) -> list[str]:
    """The ``marker`` lines, rendered with ``STAMP_PLACEHOLDER``, with their stamp for ``key``.

    ``key`` names everything that rendered the block below the marker
    (``rewriter.templates.engine_fingerprint``, the template and its
    variables); the marker lines name the block's digest, its kind and what
    moved above it. The stamp is a hash of both, so that ``is_sealed``
    proves, with no rendering, that rendering the block again from the same
    ``key`` gives the same marker and code (the digest stands for the code).
    Raises ``ValueError`` when the first line has no stamp to fill in.
    """
    first = _STAMPED.match(marker[0]) if marker else None
    if first is None or first[2] != STAMP_PLACEHOLDER:
        raise ValueError("the marker has no stamp placeholder")
    return [first[1] + _stamp(key, marker) + marker[0][first.end(2) :], *marker[1:]]


def is_sealed(marker: Sequence[str], key: str) -> bool:
    """True when the ``marker`` lines carry the stamp that ``seal`` gives them for ``key``."""
    first = _STAMPED.match(marker[0]) if marker else None
    if first is None:
        return False
    unsealed = [first[1] + STAMP_PLACEHOLDER + marker[0][first.end(2) :], *marker[1:]]
    return _stamp(key, unsealed) == first[2]


def _stamp(key: str, unsealed: Sequence[str]) -> str:
    text = "\0".join([key, *unsealed])
    return digests.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def marker_lines(statement: ast.stmt, kind: str, text: SourceText) -> list[str] | None:
    """The marker lines of the generated ``statement``: from its ``# rewriter:KIND`` line down.

    None when the comment lines right above it hold no such line.
    """
    head = f"# rewriter:{kind} "
    number = statement.lineno - 1
    while number >= 1:
        line = text.line_text(number)
        if not line.lstrip().startswith("#"):
            return None
        if line.startswith(head):
            return [text.line_text(n) for n in range(number, statement.lineno)]
        number -= 1
    return None


@dataclass(frozen=True)
class Part:
    """One top-level logical line of a (possibly rewritten) entry.

    ``inner`` holds the original lines inside a pin or mirror, and
    ``reexports`` the indices (in ``inner``) of generated re-export lines.
    For a block, ``edited`` tells whether its digest no longer matches
    (None: a block without a digest, from rewriter 0.1), ``moved`` the
    recorded 1-based positions of the statements moved above it, and
    ``moved_above`` how many comment lines at the end of the module's header
    are the leading lines of the first of them.
    """

    kind: PartKind
    line: Line
    inner: tuple[Line, ...] = ()
    reexports: frozenset[int] = frozenset()
    edited: bool | None = None
    moved: tuple[int, ...] = ()
    moved_above: int = 0


@dataclass(frozen=True)
class OriginalLine:
    """Where an original top-level line is in the current file.

    ``part`` is the index of the top-level part that holds it; ``inner`` its
    index inside a pin or mirror (None: it is that part itself).
    """

    part: int
    inner: int | None
    line: Line


@dataclass
class Recovery:
    """A rewritten entry taken apart: its generated parts and its original lines.

    ``lines`` are the original top-level lines in their original order. An
    entry that was never rewritten recovers as itself.
    """

    parts: list[Part]
    lines: list[OriginalLine] = field(default_factory=list)
    block: int | None = None
    lazy: int | None = None
    problems: list[tuple[str, int, int]] = field(default_factory=list)
    """(message, line, column) of generated code that cannot be taken back."""

    @property
    def rewritten(self) -> bool:
        """True when any generated code is present."""
        return any(part.kind != "user" for part in self.parts)


def recover(module: ast.Module, text: SourceText) -> Recovery:
    """Take ``module`` (the entry's syntax tree) apart into generated parts and original lines."""
    parts = [_part(line, text) for line in logical_lines(module.body, text)]
    recovery = Recovery(parts)
    in_place: list[OriginalLine] = []
    for index, part in enumerate(parts):
        if part.kind == "block":
            if recovery.block is not None:
                recovery.problems.append(("a second rewriter init block", part.line.lineno, 1))
            recovery.block = index
        elif part.kind == "lazy":
            recovery.lazy = index
        elif part.kind == "user":
            in_place.append(OriginalLine(index, None, part.line))
        else:
            for position, line in enumerate(part.inner):
                if position not in part.reexports:
                    in_place.append(OriginalLine(index, position, line))
        if part.kind == "block" and part.edited:
            recovery.problems.append(
                ("the rewriter init block was edited by hand", part.line.lineno, 1)
            )
    moved = parts[recovery.block].moved if recovery.block is not None else ()
    recovery.lines = _unmove(in_place, recovery.block, moved, recovery.problems)
    return recovery


def _unmove(
    lines: list[OriginalLine],
    block: int | None,
    moved: tuple[int, ...],
    problems: list[tuple[str, int, int]],
) -> list[OriginalLine]:
    # The lines above the block keep their original order, so the moved ones
    # are its last lines: put them back at their recorded positions, and the
    # other lines fill the remaining places in their current order.
    if block is None or not moved:
        return lines
    prefix = [line for line in lines if line.part < block]
    positions = [number - 1 for number in moved]
    if (
        len(positions) > len(prefix)
        or sorted(set(positions)) != positions
        or positions[0] < 0
        or positions[-1] >= len(lines)
    ):
        problems.append(("the rewriter:moved record does not match the entry", 1, 1))
        return lines
    slots: list[OriginalLine | None] = [None] * len(lines)
    for position, line in zip(positions, prefix[len(prefix) - len(positions) :], strict=True):
        slots[position] = line
    others = iter([line for line in lines if line not in prefix[len(prefix) - len(positions) :]])
    return [slot if slot is not None else next(others) for slot in slots]


def _part(line: Line, text: SourceText) -> Part:
    statement = line.first
    if len(line.statements) != 1:
        return Part("user", line)
    if isinstance(statement, ast.Try):
        function = _defined_function(statement)
        if function in BLOCK_FUNCTIONS:
            return _block(line, statement, text, "block")
        if function == LAZY_FUNCTION:
            return _block(line, statement, text, "lazy")
        if is_pin(statement):
            return _wrapper(line, statement.body, text, "pin")
    if (
        isinstance(statement, ast.If)
        and not statement.orelse
        and _is_type_checking(statement.test)
        and DEFERRED_MARKER in text.line_text(statement.lineno)
    ):
        return _wrapper(line, statement.body, text, "mirror")
    return Part("user", line)


def _defined_function(statement: ast.Try) -> str | None:
    # Today's blocks define one function, rewriter 0.1's many helpers
    # (rewriter.legacy upgrades those first).
    names = [inner.name for inner in statement.body if isinstance(inner, ast.FunctionDef)]
    return names[0] if len(names) == 1 else None


def _block(line: Line, statement: ast.Try, text: SourceText, kind: PartKind) -> Part:
    comments = _comments_above(statement, text)
    found = next((m for c in comments if (m := _DIGEST.match(c))), None)
    edited = None if found is None else found[1] != _digest_at(statement, text)
    moved: tuple[int, ...] = ()
    above = 0
    for comment in comments:
        record = _MOVED.match(comment)
        if record:
            moved = tuple(int(number) for number in record[1].split())
            above = int(record[2] or 0)
    return Part(kind, line, edited=edited, moved=moved, moved_above=above)


def _comments_above(statement: ast.stmt, text: SourceText) -> list[str]:
    comments = []
    number = statement.lineno - 1
    while number >= 1:
        stripped = text.line_text(number).strip()
        if not stripped.startswith("#"):
            break
        comments.append(stripped)
        number -= 1
    return comments[::-1]


def is_pin(statement: ast.Try) -> bool:
    """True for a pin: a ``try`` around import lines whose handler adds rewriter's note."""
    if statement.orelse or statement.finalbody or len(statement.handlers) != 1:
        return False
    handler = statement.handlers[0]
    if not (
        isinstance(handler.type, ast.Name)
        and handler.type.id == "Exception"
        and handler.name is not None
        and _PIN_ERROR.match(handler.name)
        and len(handler.body) == 2
        and isinstance(handler.body[1], ast.Raise)
        and handler.body[1].exc is None
    ):
        return False
    note = handler.body[0]
    return (
        isinstance(note, ast.Expr)
        and isinstance(note.value, ast.Call)
        and isinstance(note.value.func, ast.Attribute)
        and note.value.func.attr == "add_note"
        and isinstance(note.value.func.value, ast.Name)
        and note.value.func.value.id == handler.name
        and len(note.value.args) == 1
        and isinstance(note.value.args[0], ast.Constant)
        and note.value.args[0].value == PIN_NOTE
    )


def _wrapper(line: Line, body: Sequence[ast.stmt], text: SourceText, kind: PartKind) -> Part:
    inner = tuple(logical_lines(body, text))
    reexports = frozenset(
        index
        for index, inner_line in enumerate(inner)
        if REEXPORT_MARKER in text.line_text(inner_line.end_lineno)
    )
    return Part(kind, line, inner, reexports)


def _is_type_checking(test: ast.expr) -> bool:
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def is_generated(part: Part) -> bool:
    """True for the parts rewriter writes on its own (block, lazy block)."""
    return part.kind in ("block", "lazy")


__all__ = [
    "BLOCK_FUNCTIONS",
    "BLOCK_MARKERS",
    "DEFERRED_MARKER",
    "LAZY_FUNCTION",
    "LAZY_MARKER",
    "MOVED_MARKER",
    "PIN_ERROR",
    "PIN_NOTE",
    "REEXPORT_MARKER",
    "STAMP_PLACEHOLDER",
    "OriginalLine",
    "Part",
    "Recovery",
    "code_digest",
    "digest",
    "is_sealed",
    "marker_lines",
    "recover",
    "seal",
]
