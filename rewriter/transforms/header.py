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
import libcst.matchers as m
from libcst.helpers import get_full_name_for_node

from rewriter.bindings import ImportStatement

# Modules whose import and calls belong to the prelude by default.
DEFAULT_PRELUDE_MODULES: tuple[str, ...] = ("gevent", "eventlet", "dotenv")
_SYS_PATH = m.Attribute(value=m.Name("sys"), attr=m.Name("path"))
_SYS_PATH_EDIT = (
    m.Expr(value=m.Call(func=m.Attribute(value=_SYS_PATH)))
    | m.Assign(targets=[m.AssignTarget(target=_SYS_PATH | m.Subscript(value=_SYS_PATH))])
    | m.AugAssign(target=_SYS_PATH)
)
_DOCSTRING = m.SimpleStatementLine(body=[m.Expr(value=m.SimpleString() | m.ConcatenatedString())])


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
        if index == 0 and m.matches(statement, _DOCSTRING):
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
        elif m.matches(small, _SYS_PATH_EDIT) or _calls_prelude(small, prelude_names):
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
