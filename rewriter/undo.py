"""``--undo``: the original entry back, byte for byte, from a rewritten one.

The rewrite keeps every original line as it was: it only adds generated
pieces (the block, the lazy block, re-export lines), wraps lines (pins,
deferred mirrors) and moves setup lines above the block, recording where
they came from. ``undo_source`` takes exactly those changes back, with the
same recognition (``rewriter.generated``) that a rewrite uses, so what one
writes the other reads. A block edited by hand is refused at its position
rather than guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass

from rewriter.errors import RewriteError
from rewriter.generated import recover
from rewriter.lines import SourceText


@dataclass(frozen=True)
class UndoResult:
    """The outcome of ``undo_source``: the original text, and whether it differs."""

    source: str
    output: str

    @property
    def changed(self) -> bool:
        """True when the entry was rewritten and ``output`` is the original."""
        return self.output != self.source


def undo_source(source: str) -> UndoResult:
    """The original text of the rewritten entry ``source``.

    A text that holds no generated code comes back unchanged. Raises
    ``RewriteError`` (positioned) for text CPython rejects and for generated
    code that was edited by hand.
    """
    from rewriter.legacy import has_legacy_code, upgrade
    from rewriter.plan import parse_entry

    module = parse_entry(source)
    if has_legacy_code(module, source):
        # rewriter 0.1 kept each original statement, but not its line's layout.
        return UndoResult(source, upgrade(source))
    recovery = recover(module, SourceText(source))
    if recovery.problems:
        message, line, column = recovery.problems[0]
        raise RewriteError(f"cannot undo: {message}", line, column)
    if not recovery.rewritten:
        return UndoResult(source, source)
    from rewriter.parsing import parse_printed
    from rewriter.printing import print_module
    from rewriter.transforms.assemble import take_apart

    parsed = parse_printed(source)
    header_module, lines = take_apart(parsed.module, recovery)
    original = header_module.with_changes(body=lines)
    return UndoResult(source, print_module(original, parsed))
