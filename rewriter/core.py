"""``rewrite_source``: the pure rewrite of one entry's text.

Text in, ``Result`` out, no I/O: the files beside the entry are read through
the ``SourceTree`` the caller passes. Bad source or settings raise
``RewriteError``; the per-file runner turns that into a report.
"""

from __future__ import annotations

import ast
import re

import libcst as cst

from rewriter.analysis import (
    ModuleSummary,
    summarise_source,
)
from rewriter.bindings import ImportStatement
from rewriter.config import Settings
from rewriter.context import Context
from rewriter.errors import ConfigError, RewriteError
from rewriter.result import Result
from rewriter.templates import render_statements
from rewriter.transforms.deferred import defer_imports
from rewriter.transforms.init_block import place_init_block
from rewriter.transforms.reexports import plan_reexports
from rewriter.transforms.sites import ImportSite, ImportSiteCollector
from rewriter.tree import SourceTree


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
    are not. Running it on its own output changes nothing.
    """
    if settings.mode == "preload":
        raise ConfigError("mode 'preload' is not available yet")
    module = _parse(source)
    context = Context.create(settings, path, tree)
    sites = ImportSiteCollector.collect(module)
    runtime_sites = [site for site in sites if context.classifier.runtime_modules(site.statement)]
    pending = [site for site in runtime_sites if not site.deferred]

    reexported: tuple[str, ...] = ()
    warnings = []
    deferring = settings.mode == "dynamic-import"
    if deferring:
        entry = summarise_source(source) or ModuleSummary()
        plan = plan_reexports(
            settings.handlers,
            explicit=settings.handler is not None,
            entry=entry,
            sites=pending,
            locator=context.locator,
            exports=context.exports,
        )
        module = defer_imports(module, pending, plan.by_site)
        reexported, warnings = tuple(plan.found), plan.warnings

    guard_modules = tuple(
        dict.fromkeys(
            module_name
            for site in runtime_sites
            for module_name in context.classifier.runtime_modules(site.statement)
        )
    )
    block = render_statements(
        "init.py.j2",
        module.default_newline,
        deferred=deferring,
        guard=settings.guard,
        guard_modules=(*guard_modules, *settings.instrumented),
        init=context.init,
        init_key=str(context.init),
        init_module_name="_rewriter_init_" + re.sub(r"\W", "_", context.init.target),
        on_init_error=settings.on_init_error,
    )
    module = place_init_block(
        module,
        block[0],
        prelude_modules=settings.prelude,
        is_runtime=lambda statement: bool(context.classifier.runtime_files(statement)),
    )
    return Result(
        source=source,
        output=module.code,
        runtime_modules=tuple(
            site.statement.module or site.statement.names[0].name for site in runtime_sites
        ),
        reexports=reexported,
        warnings=tuple(warnings),
    )


def _parse(source: str) -> cst.Module:
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        # CPython's own parser points at the offending token more precisely.
        try:
            compile(source, "<entry>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
        except SyntaxError as syntax:
            message = f"cannot parse: {syntax.msg}"
            raise RewriteError(message, syntax.lineno or 1, syntax.offset or 1) from None
        raise RewriteError(
            f"cannot parse: {error.message}", error.raw_line, error.raw_column + 1
        ) from None


__all__ = ["ImportSite", "ImportStatement", "rewrite_source"]
