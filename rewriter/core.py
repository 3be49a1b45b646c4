"""``rewrite_source``: the pure rewrite of one entry's text.

Text in, ``Result`` out, no I/O: the files beside the entry are read through
the ``SourceTree`` the caller passes. Bad source or settings raise
``RewriteError``; the per-file runner turns that into a report.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import libcst as cst

from rewriter.analysis import ModuleSummary, summarise_source
from rewriter.bindings import ImportStatement
from rewriter.config import Settings
from rewriter.context import Context, unmatched_runtime_patterns
from rewriter.errors import ConfigError, Diagnostic
from rewriter.gcpause import cyclic_gc_paused
from rewriter.parsing import parse_module
from rewriter.result import Result
from rewriter.templates import Statement, render_statements
from rewriter.transforms.deferred import defer_imports
from rewriter.transforms.hoisting import hoistable_sites, init_block_index
from rewriter.transforms.init_block import place_init_block
from rewriter.transforms.lazy import EntryUsage, plan_sites
from rewriter.transforms.reexports import plan_reexports
from rewriter.transforms.sites import ImportSiteCollector, is_init_block
from rewriter.tree import SourceTree


def rewrite_source(
    source: str,
    settings: Settings,
    *,
    path: str | None = None,
    tree: SourceTree | None = None,
    _fast_path: bool = True,
) -> Result:
    """Rewrite the entry ``source`` so that init runs before its runtime.

    ``path`` is the entry's path (used to find its enclosing packages) and
    ``tree`` the files beside it, rooted at the entry's directory. Without a
    tree, relative imports are taken to be runtime modules and absolute ones
    are not. Running it on its own output changes nothing. The cyclic
    garbage collector is paused while it runs (see ``cyclic_gc_paused``).
    """
    with cyclic_gc_paused():
        return _rewrite(source, settings, path=path, tree=tree, fast_path=_fast_path)


def _rewrite(
    source: str,
    settings: Settings,
    *,
    path: str | None,
    tree: SourceTree | None,
    fast_path: bool,
) -> Result:
    if fast_path:  # tests turn it off to compare both paths
        from rewriter.fastpath import unchanged_result

        known = unchanged_result(source, settings, path=path, tree=tree)
        if known is not None:
            return known
    module = _parse(source)
    context = Context.create(settings, path, tree)
    sites = ImportSiteCollector.collect(module)
    runtime_sites = [site for site in sites if context.classifier.runtime_modules(site.statement)]
    pending = [site for site in runtime_sites if not site.deferred]
    deferring = defers_imports(settings)

    def is_runtime(statement: ImportStatement) -> bool:
        return bool(context.classifier.runtime_files(statement))

    # Imports that autopep8 would hoist above init are deferred too, eagerly.
    start = init_block_index(module, settings.prelude, is_runtime)
    original = module
    deferred_ids = {id(site.node) for site in pending} if deferring else set()
    hoistable = [
        site
        for site in hoistable_sites(module, sites, start=start)
        if id(site.node) not in deferred_ids
    ]

    reexported: tuple[str, ...] = ()
    warnings: list[Diagnostic] = []
    if deferring:
        entry = summarise_source(source) or ModuleSummary()
        if settings.lazy and _defines_getattr(module):
            raise ConfigError("lazy mode needs the module __getattr__, and the entry defines one")
        reexports = plan_reexports(
            settings.handlers,
            explicit=settings.handler is not None,
            entry=entry,
            sites=pending,
            locator=context.locator,
            exports=context.exports,
        )
        plans, lazy_warnings = plan_sites(
            pending,
            reexports.by_site,
            lazy=settings.lazy,
            handlers=settings.handlers,
            usage=EntryUsage.read(source) if settings.lazy else None,
            locator=context.locator,
            exports=context.exports,
        )
        module = defer_imports(module, [*pending, *hoistable], plans)
        reexported = tuple(reexports.found)
        warnings = [*reexports.warnings, *lazy_warnings]
    else:
        module = defer_imports(module, hoistable, {})
    warnings.extend(
        unmatched_runtime_patterns(
            settings.runtime, (site.statement for site in sites), context.locator
        )
    )

    name, variables = block_template(
        settings,
        context,
        [site.statement for site in runtime_sites],
        type_checking_bound=_binds(original.body[:start], "TYPE_CHECKING"),
    )
    # The deferred-import helpers stay while any deferred import needs them.
    variables["deferred"] = (
        variables["deferred"] or bool(hoistable) or any(site.deferred for site in sites)
    )
    block = render_statements(name, module.default_newline, **variables)
    module = place_init_block(
        module, block[0], prelude_modules=settings.prelude, is_runtime=is_runtime
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


def defers_imports(settings: Settings) -> bool:
    """True when runtime imports are rewritten (dynamic-import mode, or lazy)."""
    return settings.mode == "dynamic-import" or settings.lazy


def block_template(
    settings: Settings,
    context: Context,
    runtime_imports: Sequence[ImportStatement],
    *,
    type_checking_bound: bool,
) -> tuple[str, dict[str, Any]]:
    """The template of the init (or preload) block and its variables.

    ``type_checking_bound``: the statements above the block bind the name
    ``TYPE_CHECKING``, so the block uses theirs instead of binding it (and
    deleting it again) while it runs.
    """
    guard_modules = tuple(
        dict.fromkeys(
            name
            for statement in runtime_imports
            for name in context.classifier.runtime_modules(statement)
        )
    )
    variables: dict[str, Any] = {
        "deferred": defers_imports(settings),
        "lazy": settings.lazy,
        "guard": settings.guard,
        "guard_modules": (*guard_modules, *settings.instrumented),
        "on_init_error": settings.on_init_error,
        "type_checking_bound": type_checking_bound,
    }
    if settings.mode == "preload":
        from rewriter.preload import resolve_integrations

        integrations = resolve_integrations(settings.preload, settings.preload_group)
        return "preload.py.j2", {**variables, "integrations": integrations}
    init = context.init
    assert init is not None  # every mode but preload requires one
    stem = init.target.removesuffix(".py") if init.kind == "file" else ""
    return "init.py.j2", {
        **variables,
        "init": init,
        "init_key": str(init),
        # An init file whose name is a module name is imported as one, so the
        # application importing it too does not run it a second time.
        "init_module": stem if stem.isidentifier() else None,
        "init_module_name": "_rewriter_init_" + re.sub(r"\W", "_", init.target),
    }


def _defines_getattr(module: cst.Module) -> bool:
    # The init block of lazy mode defines the entry's __getattr__ itself.
    return _binds([s for s in module.body if not is_init_block(s)], "__getattr__")


def _binds(statements: Sequence[Statement], name: str) -> bool:
    """True when running ``statements`` at module level binds ``name``."""
    summary = summarise_source(cst.Module(body=statements).code)
    return summary is not None and name in summary.defined


def _parse(source: str) -> cst.Module:
    return parse_module(source)


__all__ = ["block_template", "defers_imports", "rewrite_source"]
