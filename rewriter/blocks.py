"""The template contexts of the generated blocks, from the settings and the analysis.

Everything that reaches generated code passes through here as a validated
value: init specs and handler names checked by ``rewriter.config``, module
names parsed from source, integration names from ``rewriter.preload``. The
templates print strings only through their ``pyrepr`` filter.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rewriter.analysis import module_tree
from rewriter.bindings import ImportStatement
from rewriter.config import InitSpec, Settings
from rewriter.context import Context
from rewriter.layout import ImportSite, Layout
from rewriter.lazy import StandIn
from rewriter.names import is_identifier

BLOCK_TEMPLATE = "block.py.j2"
LAZY_TEMPLATE = "lazy.py.j2"


@dataclass(frozen=True)
class InitFile:
    """A path-loaded init file, as the block loads it.

    ``filename`` is its path relative to the entry, ``name`` the module name
    it gets (its stem when that is an identifier, so an application that
    imports it too gets the same module); ``relative`` and ``siblings`` say
    whether it imports files beside it relatively or absolutely.
    """

    filename: str
    name: str
    relative: bool
    siblings: bool


def block_context(
    settings: Settings,
    context: Context,
    layout: Layout,
    *,
    bind_type_checking: bool,
) -> dict[str, Any]:
    """The variables of ``block.py.j2`` for this entry."""
    preload = settings.mode == "preload"
    guard_absolute, guard_relative = _guard_names(context, layout.runtime_sites)
    guard = {True: "on", False: "off"}.get(settings.guard, "strict")  # type: ignore[arg-type]
    if guard == "on" and not (guard_absolute or guard_relative):
        guard = "off"  # nothing of the runtime to look for
    variables: dict[str, Any] = {
        "function": "_rewriter_preload" if preload else "_rewriter_init",
        "guard": guard,
        "guard_absolute": guard_absolute,
        "guard_relative": guard_relative,
        "guard_levels_all_one": all(level == 1 for level, _ in guard_relative),
        "instrumented": settings.instrumented,
        "on_init_error": settings.on_init_error,
        "bind_type_checking": bind_type_checking,
        "integrations": _integrations(settings) if preload else (),
        "init": context.init,
        "init_key": str(context.init) if context.init is not None else "",
        "init_file": _init_file(context) if context.init is not None else None,
        "init_parent_attribute": _parent_attribute(context),
    }
    return variables


def context_key(variables: Mapping[str, Any]) -> str | None:
    """A text that differs whenever the template ``variables`` differ; None if one has no such text.

    Values are written with their types: strings, numbers, booleans, None,
    sequences, sets, mappings and dataclasses (by class and fields), which
    is everything the block contexts hold. It stands for the variables in
    the stamp of a block's marker (``rewriter.generated.seal``).
    """
    try:
        return _canonical(dict(variables))
    except TypeError:
        return None


def _canonical(value: object) -> str:
    if value is None or isinstance(value, (bool, int, str)):
        return f"{type(value).__name__}:{value!r}"
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__}[{','.join(map(_canonical, value))}]"
    if isinstance(value, (set, frozenset)):
        return f"set[{','.join(sorted(map(_canonical, value)))}]"
    if isinstance(value, dict):
        items = sorted(f"{_canonical(key)}={_canonical(item)}" for key, item in value.items())
        return f"dict[{','.join(items)}]"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = (
            f"{field.name}={_canonical(getattr(value, field.name))}"
            for field in dataclasses.fields(value)
        )
        kind = type(value)
        return f"{kind.__module__}.{kind.__qualname__}({','.join(fields)})"
    raise TypeError(f"no canonical text for {type(value).__name__}")


def block_kind(settings: Settings) -> str:
    """The marker kind of the block: ``preload`` or ``init``."""
    return "preload" if settings.mode == "preload" else "init"


def lazy_context(
    layout: Layout,
    stand_ins: Sequence[StandIn],
    *,
    star_fallback: bool,
    delete_type_checking: bool,
) -> dict[str, Any]:
    """The variables of ``lazy.py.j2`` for this entry."""
    mirrored = {line for group in layout.groups if group.kind == "mirror" for line in group.lines}
    deferred = [site.statement for site in layout.sites if site.line in mirrored]
    imports, values = deferred_imports(deferred)
    return {
        "imports": imports,
        "values": values,
        "names": list(dict.fromkeys(layout.lazy_names)),
        "stand_ins": list(stand_ins),
        "sync_stand_ins": any(not stand_in.is_async for stand_in in stand_ins),
        "async_stand_ins": any(stand_in.is_async for stand_in in stand_ins),
        "star_fallback": star_fallback,
        "delete_type_checking": delete_type_checking,
    }


def deferred_imports(
    statements: Sequence[ImportStatement],
) -> tuple[list[str], list[tuple[str, str]]]:
    """The lazy block's import lines for ``statements``, and the names they bind.

    Each name is bound to a local ``value_N`` rather than to its own name, so
    that no local shadows the module-level name the deferred mirror binds for
    type checkers (pyflakes: F811). The forms stay CPython's own (see
    ``rewriter.bindings``): ``from m import x as value_1`` and ``import a.b as
    value_2`` bind what ``from m import x`` and ``import a.b as c`` bind; a
    plain ``import a.b`` binds the top-level package, which is what
    ``__import__("a.b", globals())`` returns (the call ``IMPORT_NAME`` makes).
    Returns ``(lines, [(bound name, local), ...])``; the lines are rebuilt
    from the parsed names, never copied from the source text.
    """
    lines: list[str] = []
    values: list[tuple[str, str]] = []
    for statement in statements:
        aliases = []
        for alias in statement.names:
            local = f"value_{len(values) + 1}"
            values.append((alias.bound, local))
            if statement.kind == "import" and alias.asname is None and "." in alias.name:
                lines.append(f"{local} = __import__({_python_string(alias.name)}, globals())")
            elif statement.kind == "import":
                lines.append(f"import {alias.name} as {local}")
            else:
                aliases.append(f"{alias.name} as {local}")
        if aliases:
            lines.append(f"from {statement.module} import {', '.join(aliases)}")
    return lines, values


def _python_string(text: str) -> str:
    import json

    return json.dumps(text)


def _guard_names(
    context: Context, sites: Sequence[ImportSite]
) -> tuple[list[str], list[tuple[int, str]]]:
    # Sorted, so that a formatter reordering the imports (isort) does not
    # change the block.
    absolute: set[str] = set()
    relative: set[tuple[int, str]] = set()
    for site in sites:
        for module in site.runtime:
            dotted = module.lstrip(".")
            level = len(module) - len(dotted)
            if not level:
                absolute.add(module)
            elif dotted:
                relative.add((level, dotted))
    return sorted(absolute), sorted(relative)


def _integrations(settings: Settings) -> tuple[Any, ...]:
    from rewriter.preload import resolve_integrations

    return resolve_integrations(settings.preload, settings.preload_group)


def _init_file(context: Context) -> InitFile | None:
    init = context.init
    if init is None or init.kind != "file":
        return None
    stem = init.target.rsplit("/", 1)[-1].removesuffix(".py")
    name = stem if is_identifier(stem) else "_rewriter_init_" + re.sub(r"\W", "_", stem)
    relative = siblings = False
    text = context.tree.read_text(init.target) if context.tree is not None else None
    module = None if text is None else module_tree(text)
    if module is not None:
        directory = init.target.rpartition("/")[0]
        for node in ast.walk(module):
            if isinstance(node, ast.ImportFrom) and node.level:
                relative = True
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for imported in ImportStatement.from_ast(node).imported_modules():
                    top = imported.split(".", 1)[0]
                    beside = f"{directory}/{top}" if directory else top
                    if context.tree is not None and (
                        context.tree.is_file(f"{beside}.py") or context.tree.is_dir(beside)
                    ):
                        siblings = True
    return InitFile(init.target, name, relative, siblings)


def _parent_attribute(context: Context) -> str | None:
    # `from pkg.instrument import init` in pkg/__init__.py sets `instrument`
    # on pkg, which is the entry: the block takes that name back out.
    init = context.init
    if init is None or init.kind == "file" or context.entry.filename != "__init__.py":
        return None
    parent, _, name = init.target.rpartition(".")
    package = ".".join(context.entry.package)
    return name if package and parent == package else None


def init_spec_text(init: InitSpec | None) -> str:
    """The init spec as the audit events name it."""
    return "" if init is None else str(init)
