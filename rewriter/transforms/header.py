"""Where the entry's header ends: the init block goes right after it.

The header is what must stay first: the module docstring, ``from __future__``
imports and the prelude (statements that must run before init, such as
``gevent.monkey.patch_all()``, ``sys.path`` edits and ``dotenv`` loading),
together with the plain imports they need. Shebang, coding cookie and leading
comments live in ``Module.header`` and stay first on their own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import libcst as cst
from libcst.helpers import get_full_name_for_node

from rewriter.bindings import ImportStatement

# Modules whose import and calls belong to the prelude by default.
DEFAULT_PRELUDE_MODULES: tuple[str, ...] = ("gevent", "eventlet", "dotenv")


# Plain isinstance checks rather than libcst.matchers: importing the matchers
# alone costs as much as importing the rest of LibCST, on every run.
def _is_sys_path(node: cst.BaseExpression) -> bool:
    """``sys.path``."""
    return (
        isinstance(node, cst.Attribute)
        and node.attr.value == "path"
        and isinstance(node.value, cst.Name)
        and node.value.value == "sys"
    )


def _is_sys_path_edit(small: cst.BaseSmallStatement) -> bool:
    """``sys.path.insert(...)``, ``sys.path = ...``, ``sys.path[:0] = ...``, ``sys.path += ...``."""
    if isinstance(small, cst.Expr):
        call = small.value
        return (
            isinstance(call, cst.Call)
            and isinstance(call.func, cst.Attribute)
            and _is_sys_path(call.func.value)
        )
    if isinstance(small, cst.Assign):
        if len(small.targets) != 1:
            return False
        target = small.targets[0].target
        return _is_sys_path(target) or (
            isinstance(target, cst.Subscript) and _is_sys_path(target.value)
        )
    return isinstance(small, cst.AugAssign) and _is_sys_path(small.target)


def _is_docstring(statement: cst.BaseStatement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def header_end(
    body: Sequence[cst.BaseStatement],
    prelude_modules: Sequence[str],
    is_runtime: Callable[[ImportStatement], bool],
) -> int:
    """The index in ``body`` where the init block goes.

    Scans the leading run of docstring, ``__future__`` imports, plain
    non-runtime imports and prelude statements, and returns the index after
    the last docstring, future import or prelude statement in it.
    """
    modules = (*DEFAULT_PRELUDE_MODULES, *prelude_modules)
    prelude_names: set[str] = set()
    end = 0
    for index, statement in enumerate(body):
        if index == 0 and _is_docstring(statement):
            end = 1
            continue
        kind = _header_line(statement, modules, prelude_names, is_runtime)
        if kind is None:
            break
        if kind:
            end = index + 1
    return end


def _header_line(
    statement: cst.BaseStatement,
    modules: Sequence[str],
    prelude_names: set[str],
    is_runtime: Callable[[ImportStatement], bool],
) -> bool | None:
    # True for a prelude line, False for plain imports, None for anything
    # else. Lines are read statement by statement, because preludes are often
    # written on one line: `from gevent import monkey; monkey.patch_all()`.
    if not isinstance(statement, cst.SimpleStatementLine):
        return None
    prelude = False
    for small in statement.body:
        if isinstance(small, (cst.Import, cst.ImportFrom)):
            imported = ImportStatement.from_node(small)
            if is_runtime(imported):
                return None
            if imported.is_future or _is_prelude_import(imported, modules):
                prelude_names.update(imported.bound_names)
                prelude = True
        elif _is_sys_path_edit(small) or _calls_prelude(small, prelude_names):
            prelude = True
        else:
            return None
    return prelude


def _is_prelude_import(statement: ImportStatement, modules: Sequence[str]) -> bool:
    return any(
        name == module or name.startswith(module + ".")
        for name in statement.imported_modules()
        for module in modules
    )


def _calls_prelude(statement: cst.BaseSmallStatement, prelude_names: set[str]) -> bool:
    if not (isinstance(statement, cst.Expr) and isinstance(statement.value, cst.Call)):
        return False
    name = get_full_name_for_node(statement.value.func) or ""
    return name.split(".", 1)[0] in prelude_names
