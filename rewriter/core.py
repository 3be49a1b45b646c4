"""``rewrite_source``: the pure rewrite of one entry's text.

Text in, ``Result`` out, no I/O: the files beside the entry are read through
the ``SourceTree`` the caller passes. The plan comes from ``rewriter.plan``
(``ast`` only); LibCST runs only when the text must change. Bad source or
settings raise ``RewriteError``; the per-file runner turns that into a report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rewriter.blocks import LAZY_TEMPLATE
from rewriter.config import Settings
from rewriter.errors import RewriteError
from rewriter.gcpause import cyclic_gc_paused
from rewriter.plan import EntryPlan, analyse
from rewriter.result import Result
from rewriter.tree import SourceTree

if TYPE_CHECKING:
    import libcst as cst

    from rewriter.templates import Statement


def rewrite_source(
    source: str,
    settings: Settings,
    *,
    path: str | None = None,
    tree: SourceTree | None = None,
) -> Result:
    """Rewrite the entry ``source`` so that init runs before its runtime.

    ``path`` is the entry's path (used to find its enclosing packages) and
    ``tree`` the files beside it, rooted at the entry's directory. Without a
    tree, relative imports are taken to be runtime modules and absolute ones
    are not. Running it on its own output changes nothing. The cyclic
    garbage collector is paused while it runs (see ``cyclic_gc_paused``).
    Raises ``RewriteError`` (``ConfigError`` for settings) with a position.
    """
    with cyclic_gc_paused():
        plan = analyse(source, settings, path=path, tree=tree)
        return result_of(plan, rewritten_text(plan))


def result_of(plan: EntryPlan, output: str) -> Result:
    """The ``Result`` of a rewrite planned as ``plan`` that produced ``output``."""
    return Result(
        source=plan.source,
        output=output,
        runtime_modules=plan.runtime_modules,
        reexports=plan.layout.handlers_found,
        warnings=tuple(plan.warnings),
    )


def rewritten_text(plan: EntryPlan) -> str:
    """The text of the entry planned as ``plan`` after the rewrite (its source if unchanged).

    ``plan.unchanged`` decides with ``ast`` alone, so a second run over a
    rewritten entry never imports LibCST; ``render`` is what it stands for.
    """
    return plan.source if plan.unchanged else render(plan)


def render(plan: EntryPlan) -> str:
    """The rewritten text of ``plan``, put together with LibCST.

    For an entry that already is its own rewrite (``plan.unchanged``), this
    is its source: ``tests/test_fastpath.py`` holds the two to that.
    """
    from rewriter.parsing import parsed_code

    # The LibCST trees are gone when the output is parsed: the two never
    # add up in the run's peak memory.
    output = _assembled(plan)
    try:
        parsed_code(output)
    except SyntaxError as error:  # pragma: no cover - a bug, never a broken file
        raise RewriteError(f"internal error: the rewrite does not parse: {error.msg}") from None
    return output


def _assembled(plan: EntryPlan) -> str:
    from rewriter.parsing import check_default_indent, check_final_newline, parse_printed
    from rewriter.printing import print_module
    from rewriter.transforms.assemble import Pieces, assemble, take_apart

    # CPython's tree of the text, which the analysis made: not parsed again.
    parsed = parse_printed(plan.analysed, plan.module)
    check_default_indent(parsed.module, plan.analysed)
    module, lines = take_apart(parsed.module, plan.recovery)
    newline = module.default_newline
    prefix = plan.layout.prefix
    # A moved statement that comes first brings its comment lines, which
    # LibCST will read as the module's header: the marker counts them.
    above = len(lines[prefix[0]].leading_lines) if prefix else 0
    block = _generated(
        plan,
        plan.kind,
        (plan.block_template, plan.block_variables, plan.block_text),
        newline,
        (plan.layout.moved, above),
    )
    lazy = None
    if plan.lazy_text is not None and plan.lazy_variables is not None:
        generated = (LAZY_TEMPLATE, plan.lazy_variables, plan.lazy_text)
        lazy = _generated(plan, "lazy", generated, newline, ((), 0))
        lazy = lazy.with_changes(leading_lines=[_empty_line(), _empty_line(), *lazy.leading_lines])
    pieces = Pieces(block, lazy, plan.pin_error)
    rewritten = assemble(
        module, lines, plan.recovery, plan.layout, pieces, _reexport_renderer(newline)
    )
    _check_footer_rereads(rewritten, plan.analysed)
    # The statements the rewrite kept print as the round-trip check printed them.
    output = print_module(rewritten, parsed)
    check_final_newline(output, plan.analysed)
    return output


def _check_footer_rereads(module: cst.Module, source: str) -> None:
    """Refuse when LibCST would not read back the comments that end the file.

    After a compound statement (a pin, the lazy block), LibCST reads the
    trailing comment and blank lines as the end of that statement's block,
    and some lines of mixed tabs and spaces do not survive that reading:
    the next run, and ``--undo``, would have to refuse the output. Checked
    on a small stand-in block, so the output is never parsed whole.
    """
    import libcst as cst

    if not module.footer or not isinstance(module.body[-1], cst.BaseCompoundStatement):
        return
    newline = module.default_newline
    footer = "".join(module.code_for_node(line) for line in module.footer)
    probe = f"if x:{newline}    pass{newline}{footer}"
    try:
        if cst.parse_module(probe).code == probe:
            return
    except cst.ParserSyntaxError:
        pass
    line = len(source.splitlines()) - len(module.footer) + 1
    raise RewriteError(
        "cannot rewrite without losing text: once a generated block stands above them,"
        " LibCST would not read back the comment and whitespace-only lines that end the"
        " file; remove the whitespace from those lines",
        line,
        1,
    )


def _generated(
    plan: EntryPlan,
    kind: str,
    generated: tuple[str, dict[str, Any], str],
    newline: str,
    moved: tuple[tuple[int, ...], int],
) -> Statement:
    """The generated statement with its marker comments. ``generated`` is
    its template, the template's variables and the rendered code; ``moved``
    the moved statements' record: their 1-based positions and how many
    comment lines above the first of them came along."""
    template, variables, code = generated
    marker = plan.marker_text(kind, template, variables, code, *moved)
    (statement,) = render_statements_of(marker + code, newline)
    return statement


def render_statements_of(code: str, newline: str) -> list[Statement]:
    """Parse already rendered template ``code`` into LibCST statements.

    Comments above the first statement are kept as its leading lines.
    """
    import libcst as cst

    config = cst.PartialParserConfig(default_indent="    ", default_newline=newline)
    if newline != "\n":
        code = code.replace("\n", newline)
    module = cst.parse_module(code, config=config)
    statements = [
        statement
        for statement in module.body
        if isinstance(statement, (cst.SimpleStatementLine, cst.BaseCompoundStatement))
    ]
    if statements and module.header:
        leading = [*module.header, *statements[0].leading_lines]
        statements[0] = statements[0].with_changes(leading_lines=leading)
    return statements


def _empty_line() -> cst.EmptyLine:
    import libcst as cst

    return cst.EmptyLine()


def _reexport_renderer(newline: str) -> Callable[[str, str], Statement]:
    from rewriter.templates import render_statements

    def render(module: str, name: str) -> Statement:
        return render_statements("reexport.py.j2", newline, module=module, name=name)[0]

    return render


def parse_module(source: str) -> cst.Module:
    """Parse ``source`` with LibCST within the bounds ``rewriter.parsing`` sets.

    Raises ``RewriteError`` with the position of the problem.
    """
    from rewriter.parsing import parse_module as bounded_parse

    return bounded_parse(source)


__all__ = ["parse_module", "render", "result_of", "rewrite_source", "rewritten_text"]
