"""The analysis of one entry, with ``ast`` alone: what the rewrite would do.

``analyse`` takes an entry apart (``rewriter.generated``), plans its layout
(``rewriter.layout``), renders what the generated blocks must contain, and
tells whether the entry already is exactly that (``EntryPlan.unchanged``).
The rewrite (``rewriter.core``), the fast path of a second run, ``--check``
(``rewriter.verify``) and ``--undo`` all start from it, so they cannot
disagree. LibCST is needed only to change text.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from rewriter.blocks import (
    BLOCK_TEMPLATE,
    LAZY_TEMPLATE,
    block_context,
    block_kind,
    context_key,
    lazy_context,
)
from rewriter.config import Settings
from rewriter.context import Context, unmatched_runtime_patterns
from rewriter.errors import ConfigError, Diagnostic, RewriteError
from rewriter.generated import (
    PIN_ERROR,
    STAMP_PLACEHOLDER,
    Part,
    Recovery,
    code_digest,
    is_sealed,
    marker_lines,
    recover,
    seal,
)
from rewriter.layout import Layout, LayoutInput, plan_layout
from rewriter.legacy import has_legacy_code, upgrade
from rewriter.lines import Line, SourceText
from rewriter.templates import engine_fingerprint
from rewriter.tree import SourceTree
from rewriter.unrun_init import unrun_init_warnings


@dataclass
class EntryPlan:
    """One entry, taken apart and planned. Build it with ``analyse``."""

    source: str
    """The entry's text."""
    analysed: str
    """What was analysed: ``source``, or for an entry rewritten by rewriter
    0.1, ``source`` taken back to its original statements (``rewriter.legacy``)."""
    settings: Settings
    text: SourceText
    module: ast.Module
    recovery: Recovery
    lines: list[Line]
    context: Context
    layout: Layout
    block_template: str
    block_variables: dict[str, Any]
    lazy_variables: dict[str, Any] | None
    pin_error: str
    warnings: list[Diagnostic] = field(default_factory=list)

    @cached_property
    def block_text(self) -> str:
        """The rendered block (the ``try`` statement, without its marker)."""
        return _rendered(self.block_template, self.block_variables)

    @cached_property
    def lazy_text(self) -> str | None:
        """The rendered lazy block, if the entry defers imports to first use."""
        if self.lazy_variables is None:
            return None
        return _rendered(LAZY_TEMPLATE, self.lazy_variables)

    def marker_text(
        self,
        kind: str,
        template: str,
        variables: dict[str, Any],
        code: str,
        moved: tuple[int, ...] = (),
        moved_above: int = 0,
    ) -> str:
        """The marker comments of the block ``code`` of ``kind``, rendered from ``template``.

        The marker carries the digest of the block and, when the templates
        can be read (``engine_fingerprint``), the stamp that seals it to
        what rendered it (``rewriter.generated.seal``).
        """
        from rewriter.templates import render_text

        key = _stamp_key(kind, template, variables, moved, moved_above)
        text = render_text(
            "marker.py.j2",
            "\n",
            kind=kind,
            digest=code_digest(code),
            stamp=None if key is None else STAMP_PLACEHOLDER,
            moved=moved,
            moved_above=moved_above,
        )
        lines = text.rsplit("pass", 1)[0].splitlines()
        if key is not None:
            lines = seal(lines, key)
        return "".join(f"{line}\n" for line in lines)

    @property
    def kind(self) -> str:
        """``init`` or ``preload``: which block the entry gets."""
        return block_kind(self.settings)

    @cached_property
    def unchanged(self) -> bool:
        """True when the entry already is what the rewrite would make of it."""
        return self.analysed is self.source and _matches(self)

    @property
    def runtime_modules(self) -> tuple[str, ...]:
        """The runtime modules the entry imports, as written, one per statement."""
        return tuple(
            site.statement.module or site.statement.names[0].name
            for site in self.layout.runtime_sites
        )


def parse_entry(source: str) -> ast.Module:
    """CPython's tree of ``source``, within the bounds ``rewriter.parsing`` sets.

    Raises ``RewriteError`` at CPython's position for invalid text, and for
    text too deep or too long to parse in bounded time.
    """
    from rewriter.parsing import python_tree

    return python_tree(source)


def _rendered(template: str, variables: dict[str, Any]) -> str:
    # A template that renders code that does not parse is an error, never a
    # broken output file.
    from rewriter.parsing import parsed_code
    from rewriter.templates import render_text

    text = render_text(template, "\n", **variables)
    try:
        module = parsed_code(text)
    except SyntaxError as error:
        raise RewriteError(
            f"template {template} rendered code that does not parse: {error.msg}"
            f" (line {error.lineno})"
        ) from None
    if len(module.body) != 1 or not isinstance(module.body[0], ast.Try):
        raise RewriteError(f"template {template} must render one try statement")
    return text


def analyse(
    source: str,
    settings: Settings,
    *,
    path: str | None = None,
    tree: SourceTree | None = None,
) -> EntryPlan:
    """Take ``source`` apart and plan its rewrite.

    Raises ``RewriteError`` for text CPython rejects, generated code that
    was edited by hand, and setup that cannot run before init;
    ``ConfigError`` for settings that do not fit the entry.
    """
    module = parse_entry(source)
    original, parsed = source, module
    if has_legacy_code(module, source):
        source = upgrade(source)
        module = parse_entry(source)
    text = SourceText(source)
    recovery = recover(module, text)
    if recovery.problems:
        message, line, column = recovery.problems[0]
        raise RewriteError(
            f"{message}; restore it (rewriter regenerates it on every run) or delete it",
            line,
            column,
        )
    lines = [original.line for original in recovery.lines]
    context = Context.create(settings, path, tree, parsed=(original, parsed))
    if settings.lazy and _defines_getattr(lines):
        raise ConfigError("lazy mode needs the module __getattr__, and the entry defines one")
    deferring = settings.mode == "dynamic-import" or settings.lazy
    given = LayoutInput(
        is_runtime=context.classifier.runtime_modules,
        locator=context.locator,
        exports=context.exports,
        pin_runtime=deferring,
        prelude=settings.prelude,
        package=".".join(context.entry.package),
        instrumented=settings.instrumented,
        handlers=settings.handlers,
        explicit_handlers=settings.handler is not None,
        reexport=deferring,
        lazy=settings.lazy,
        pinned=_earlier_pins(recovery),
        deferred_before=recovery.lazy is not None,
    )
    layout = plan_layout(lines, text, given)
    statements = [s for line in lines for s in line.statements]
    bound = _top_level_names(statements)
    mirrors = [group for group in layout.groups if group.kind == "mirror"]
    type_checking_before = "TYPE_CHECKING" in _top_level_names(
        [s for index in layout.prefix for s in lines[index].statements]
    )
    lazy_variables = None
    if mirrors:
        lazy_variables = lazy_context(
            layout,
            layout.stand_ins,
            star_fallback="__all__" not in bound,
            delete_type_checking="TYPE_CHECKING" not in bound,
        )
    variables = block_context(
        settings, context, layout, bind_type_checking=bool(mirrors) and not type_checking_before
    )
    warnings = list(layout.warnings)
    warnings.extend(unrun_init_warnings(settings, context, statements))
    warnings.extend(
        unmatched_runtime_patterns(
            settings.runtime, (site.statement for site in layout.sites), context.locator
        )
    )
    return EntryPlan(
        source=original,
        analysed=source,
        settings=settings,
        text=text,
        module=module,
        recovery=recovery,
        lines=lines,
        context=context,
        layout=layout,
        block_template=BLOCK_TEMPLATE,
        block_variables=variables,
        lazy_variables=lazy_variables,
        pin_error=_fresh_name(PIN_ERROR, module, text),
        warnings=warnings,
    )


def _earlier_pins(recovery: Recovery) -> tuple[frozenset[int], ...]:
    """The original lines of each pin in the entry, as indices into ``recovery.lines``."""
    pins: dict[int, set[int]] = {}
    for index, original in enumerate(recovery.lines):
        if recovery.parts[original.part].kind == "pin":
            pins.setdefault(original.part, set()).add(index)
    return tuple(frozenset(lines) for lines in pins.values())


def _defines_getattr(lines: list[Line]) -> bool:
    return "__getattr__" in _top_level_names([s for line in lines for s in line.statements])


def _top_level_names(statements: list[ast.stmt]) -> set[str]:
    from rewriter.analysis import defined_names

    return defined_names(statements)


def _fresh_name(base: str, module: ast.Module, text: SourceText) -> str:
    # The name the pins' `except` clause binds (and unbinds): one the
    # entry's own code never uses. The pins of an earlier run do not count.
    from rewriter.generated import is_pin

    # A statement whose text does not hold ``base`` uses no name that starts
    # with it (unless NFKC folds non-ASCII letters into one): no walk.
    ascii_only = text.source.isascii()
    used: set[str] = set()
    for statement in module.body:
        if isinstance(statement, ast.Try) and is_pin(statement):
            continue
        if ascii_only and base not in _statement_text(statement, text):
            continue
        for node in ast.walk(statement):
            if isinstance(node, ast.Name):
                used.add(node.id)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                used.add(node.name)
    candidate, number = base, 0
    while candidate in used:
        number += 1
        candidate = f"{base}_{number}"
    return candidate


def _statement_text(statement: ast.stmt, text: SourceText) -> str:
    # Its decorators included, which come before its own position.
    decorators = getattr(statement, "decorator_list", [])
    first = min([statement.lineno, *(decorator.lineno for decorator in decorators)])
    return text.source[text.offset(first, 0) : text.end(statement)]


def _matches(plan: EntryPlan) -> bool:
    parts = plan.recovery.parts
    recovery = plan.recovery
    layout = plan.layout
    if recovery.block is None or recovery.block != len(layout.prefix):
        return False
    for position, index in enumerate(layout.prefix):
        original = recovery.lines[index]
        if original.part != position or original.inner is not None:
            return False
    block = parts[recovery.block]
    # How many comment lines came along with the first moved statement is
    # known from LibCST's reading of the text alone: the record is what a
    # rewrite would read back and write again.
    moved = (layout.moved, block.moved_above)
    variables = plan.block_variables
    if not _same_generated(plan, block, plan.kind, plan.block_template, variables, moved):
        return False
    position = recovery.block + 1
    for group in layout.groups:
        if group.kind == "plain":
            for index in group.lines:
                original = recovery.lines[index]
                if original.part != position or original.inner is not None:
                    return False
                position += 1
            continue
        if position >= len(parts) or not _same_wrapper(plan, parts[position], position, group):
            return False
        position += 1
    if plan.lazy_variables is not None:
        if position >= len(parts) or parts[position].kind != "lazy":
            return False
        lazy = parts[position]
        if not _same_generated(plan, lazy, "lazy", LAZY_TEMPLATE, plan.lazy_variables, ((), 0)):
            return False
        position += 1
    return position == len(parts)


def _same_generated(
    plan: EntryPlan,
    part: Part,
    kind: str,
    template: str,
    variables: dict[str, Any],
    moved: tuple[tuple[int, ...], int],
) -> bool:
    statement = part.line.first
    key = _stamp_key(kind, template, variables, *moved)
    present = marker_lines(statement, kind, plan.text)
    if part.edited is False and key is not None and present and is_sealed(present, key):
        # The stamp proves that these marker lines are what rendering the
        # block from ``variables`` gives, digest included, and the block's
        # tree has that digest: no need to render it (or import jinja2).
        return _stands_apart(plan, statement.lineno - len(present))
    from rewriter.parsing import parsed_code

    code = _rendered(template, variables)
    if ast.dump(statement) != ast.dump(parsed_code(code).body[0]):
        return False
    marker = plan.marker_text(kind, template, variables, code, *moved).splitlines()
    start = statement.lineno - len(marker)
    if start < 1:
        return False
    present = [plan.text.line_text(number) for number in range(start, statement.lineno)]
    return present == marker and _stands_apart(plan, start)


def _stands_apart(plan: EntryPlan, start: int) -> bool:
    # The marker starts the file, follows a blank line or, for a block that
    # comes first, the module's comments directly.
    if start == 1 or not plan.text.line_text(start - 1).strip():
        return True
    return plan.recovery.block == 0 and plan.text.line_text(start - 1).lstrip().startswith("#")


def _stamp_key(
    kind: str,
    template: str,
    variables: dict[str, Any],
    moved: tuple[int, ...],
    moved_above: int,
) -> str | None:
    # Everything that decides a block's marker and code but its digest
    # (which the marker itself holds); None when part of it has no text.
    fingerprint = engine_fingerprint()
    values = context_key(variables)
    if fingerprint is None or values is None:
        return None
    return "\0".join([fingerprint, kind, template, values, repr(moved), str(moved_above)])


def _same_wrapper(plan: EntryPlan, part: Part, position: int, group: Any) -> bool:
    if part.kind != group.kind:
        return False
    held = [i for i, line in enumerate(plan.recovery.lines) if line.part == position]
    if held != list(group.lines):
        return False
    expected = [
        f"from {item.reexport.module} import {item.reexport.name}"
        for item in group.items
        if item.reexport is not None
    ]
    present = []
    for index in sorted(part.reexports):
        line = part.inner[index]
        text = plan.text.line_text(line.lineno).strip()
        present.append(text.split("#", 1)[0].strip())
    return present == expected
