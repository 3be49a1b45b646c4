"""Which runtime imports lazy mode can defer to first use, and their wrappers.

A lazily imported name exists only through the entry's module ``__getattr__``
(PEP 562), which the entry's own code never goes through: its global lookups
would fail. So an import stays eager (deferred, but at import time) when the
entry itself uses or rebinds a name it binds. Handler functions get a wrapper
of the same kind (``async def`` for async handlers), which is a real global.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rewriter.analysis import ExportReader, ModuleLocator, module_level
from rewriter.bindings import ImportStatement, submodule_name
from rewriter.errors import Diagnostic
from rewriter.transforms.deferred import Reexport, SitePlan, Wrapper
from rewriter.transforms.sites import ImportSite


@dataclass(frozen=True)
class EntryUsage:
    """The names the entry's own code reads or binds, outside import statements."""

    used: frozenset[str]
    import_bindings: Counter[str]

    @classmethod
    def read(cls, source: str) -> EntryUsage:
        """Collect the usage from the entry's text."""
        module = ast.parse(source)
        used = set()
        for node in ast.walk(module):
            if isinstance(node, ast.Name):
                used.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                used.add(node.name)
            elif isinstance(node, ast.Global | ast.Nonlocal):
                used.update(node.names)
        bindings: Counter[str] = Counter()
        for node in module_level(module.body):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                bindings.update(ImportStatement.from_ast(node).bound_names)
        return cls(frozenset(used), bindings)

    def is_free(self, name: str) -> bool:
        """True if only its one import binds ``name`` and nothing else touches it."""
        return name not in self.used and self.import_bindings[name] <= 1


def plan_sites(
    sites: Sequence[ImportSite],
    reexports: Mapping[int, Sequence[Reexport]],
    *,
    lazy: bool,
    handlers: Sequence[str],
    usage: EntryUsage | None,
    locator: ModuleLocator,
    exports: ExportReader,
) -> tuple[dict[int, SitePlan], list[Diagnostic]]:
    """How each of ``sites`` is deferred, and why some could not be lazy.

    ``usage`` is the entry's own use of names; lazy mode needs it.
    """
    plans: dict[int, SitePlan] = {}
    warnings: list[Diagnostic] = []
    for index, site in enumerate(sites):
        site_reexports = tuple(reexports.get(index, ()))
        if not lazy or usage is None:
            plans[index] = SitePlan(site_reexports)
            continue
        wrappers = _wrappers(site.statement, site_reexports, handlers, locator, exports)
        wrapped = {wrapper.name for wrapper in wrappers}
        blocker = _eager_reason(site.statement, wrapped, usage, locator, exports)
        if blocker is not None:
            warnings.append(Diagnostic(f"lazy: {blocker}, so this import stays eager"))
            plans[index] = SitePlan(site_reexports)
        else:
            plans[index] = SitePlan(site_reexports, lazy=True, wrappers=wrappers)
    return plans, warnings


def _eager_reason(
    statement: ImportStatement,
    wrapped: set[str],
    usage: EntryUsage,
    locator: ModuleLocator,
    exports: ExportReader,
) -> str | None:
    names: set[str] | None = set(statement.bound_names)
    if statement.kind == "star":
        path = locator.resolve(statement.module)
        names = exports.star_exports(path) if path is not None else None
        if names is None:
            return f"the names of 'from {statement.module} import *' are not known statically"
    assert names is not None
    for name in sorted(names - wrapped):
        if not usage.is_free(name):
            return f"the entry itself uses or rebinds {name!r}"
    return None


def _wrappers(
    statement: ImportStatement,
    reexports: Sequence[Reexport],
    handlers: Sequence[str],
    locator: ModuleLocator,
    exports: ExportReader,
) -> tuple[Wrapper, ...]:
    # Where each handler function is defined: (module as written, attribute).
    origins: dict[str, tuple[str, str]] = {}
    if statement.kind == "from":
        origins = {alias.bound: (statement.module, alias.name) for alias in statement.names}
    origins.update({reexport.name: (reexport.module, reexport.name) for reexport in reexports})
    wrappers = []
    for name in handlers:
        if name not in origins:
            continue
        module, attribute = origins[name]
        path = locator.resolve(module)
        summary = exports.summary(path) if path is not None else None
        if summary is not None and attribute in summary.functions:
            wrappers.append(Wrapper(name, summary.functions[attribute]))
        elif statement.kind == "from" and locator.resolve(submodule_name(module, attribute)):
            continue  # a submodule, not a function
    return tuple(wrappers)
