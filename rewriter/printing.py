"""Printing a LibCST module node by node, so that a rewrite prints again only what it made.

LibCST prints a module as its header lines, its statements and its footer
lines, one after another, each as ``Module.code_for_node`` prints it alone
(``libcst.Module._codegen_impl``); a module without a trailing newline then
drops its last newline token. The round-trip check prints every top-level
node of the parsed entry anyway: ``PrintedModule`` keeps those texts, and
``print_module`` prints the rewritten module with them, so that only the
nodes the rewrite made (the blocks, a moved statement with new comment
lines) are printed again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import libcst as cst


class PrintedModule:
    """A parsed module and the text of each of its top-level nodes.

    ``texts`` maps ``id(node)`` to the node's text; the module holds every
    such node, so no other object can take one of those ids while this
    object lives. ``texts`` is None when the module is to be printed whole
    by LibCST.
    """

    def __init__(self, module: cst.Module, texts: dict[int, str] | None) -> None:
        self.module = module
        self.texts = texts

    @classmethod
    def printing(cls, module: cst.Module) -> PrintedModule:
        """``module`` with the text of each of its top-level nodes, printed now.

        Raises RecursionError for a node nested too deeply for LibCST's printer.
        """
        return cls(
            module, {id(node): module.code_for_node(node) for node in top_level_nodes(module)}
        )

    @property
    def code(self) -> str:
        """The module's text: what ``module.code`` returns."""
        return print_module(self.module, self)


def top_level_nodes(module: cst.Module) -> Iterable[cst.CSTNode]:
    """The header lines, statements and footer lines of ``module``, in printing order."""
    yield from module.header
    yield from module.body
    yield from module.footer


def print_module(module: cst.Module, printed: PrintedModule | None = None) -> str:
    """``module.code``, taking the text of each top-level node that ``printed`` holds.

    A module without a trailing newline is printed whole by LibCST, which
    drops its last newline token: this module does not copy that rule. So is
    a module whose default newline or indentation is not ``printed``'s (a
    node's text depends on both). Raises RecursionError for a node nested
    too deeply for LibCST's printer.
    """
    if (
        not module.has_trailing_newline
        or (printed is not None and printed.texts is None)
        or (printed is not None and not _prints_alike(module, printed.module))
    ):
        return module.code
    texts = printed.texts if printed is not None and printed.texts is not None else {}
    pieces = []
    for node in top_level_nodes(module):
        text = texts.get(id(node))
        pieces.append(module.code_for_node(node) if text is None else text)
    # A module with no nodes at all still ends in its newline.
    return "".join(pieces) or module.default_newline


def _prints_alike(module: cst.Module, original: cst.Module) -> bool:
    # A node prints with its module's default newline and indentation: the
    # texts of ``original`` are only ``module``'s if both have the same.
    return (module.default_newline, module.default_indent) == (
        original.default_newline,
        original.default_indent,
    )


__all__ = ["PrintedModule", "print_module", "top_level_nodes"]
