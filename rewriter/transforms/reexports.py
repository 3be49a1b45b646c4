"""Which handler names need an explicit binding, and where.

A handler name that the entry binds itself needs nothing. One that it gets
only through a runtime star import is bound explicitly right after that
import. A configured (not default) name that a runtime module imported by the
entry defines is bound from that module's attribute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rewriter.analysis import ExportReader, ModuleLocator, ModuleSummary
from rewriter.bindings import submodule_name
from rewriter.errors import Diagnostic
from rewriter.transforms.deferred import Reexport
from rewriter.transforms.sites import ImportSite


@dataclass
class ReexportPlan:
    """Explicit bindings per site index, the names found, and warnings."""

    by_site: dict[int, list[Reexport]] = field(default_factory=dict)
    found: list[str] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)


def plan_reexports(
    handlers: Sequence[str],
    *,
    explicit: bool,
    entry: ModuleSummary,
    sites: Sequence[ImportSite],
    locator: ModuleLocator,
    exports: ExportReader,
) -> ReexportPlan:
    """Plan the handler re-exports for the runtime import ``sites`` (in order).

    ``explicit`` says the handler names were configured; then each missing
    name is a warning. For the built-in defaults, only finding none is.
    """
    plan = ReexportPlan()
    for name in handlers:
        if name in entry.defined:
            plan.found.append(name)
            continue
        located = _from_star(name, sites, locator, exports)
        if located is None and explicit:
            # Binding a name the entry does not have is only done on request:
            # a runtime module may well define a `handler` that is no handler.
            located = _from_module(name, sites, locator, exports)
        if located is None:
            if explicit:
                plan.warnings.append(
                    Diagnostic(f"handler {name!r} is not exported by the entry or its runtime")
                )
            continue
        index, module = located
        plan.by_site.setdefault(index, []).append(Reexport(name, module))
        plan.found.append(name)
    if not explicit and not plan.found:
        plan.warnings.append(
            Diagnostic(
                f"none of the handler names {', '.join(handlers)} is exported"
                " by the entry or its runtime"
            )
        )
    return plan


def _from_star(
    name: str, sites: Sequence[ImportSite], locator: ModuleLocator, exports: ExportReader
) -> tuple[int, str] | None:
    # The last star import that provides the name wins, as at run time.
    for index in reversed(range(len(sites))):
        statement = sites[index].statement
        if statement.kind != "star":
            continue
        path = locator.resolve(statement.module)
        if path is not None and name in (exports.star_exports(path) or ()):
            return index, statement.module
    return None


def _from_module(
    name: str, sites: Sequence[ImportSite], locator: ModuleLocator, exports: ExportReader
) -> tuple[int, str] | None:
    for index, site in enumerate(sites):
        statement = site.statement
        if statement.kind == "import":
            modules = [alias.name for alias in statement.names if alias.asname]
        elif statement.kind == "from":
            modules = [submodule_name(statement.module, alias.name) for alias in statement.names]
        else:
            continue
        for module in modules:
            path = locator.resolve(module)
            summary = exports.summary(path) if path is not None else None
            if summary is not None and name in summary.defined:
                return index, module
    return None
