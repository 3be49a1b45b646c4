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
_SYS_PATH_EDIT = m.SimpleStatementLine(
    body=[
        m.Expr(value=m.Call(func=m.Attribute(value=_SYS_PATH)))
        | m.Assign(targets=[m.AssignTarget(target=_SYS_PATH | m.Subscript(value=_SYS_PATH))])
        | m.AugAssign(target=_SYS_PATH)
    ]
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
        imported = _import_of(statement)
        if imported is not None:
            if is_runtime(imported):
                break
            if imported.is_future or _is_prelude_import(imported, modules):
                prelude_names.update(imported.bound_names)
                end = index + 1
            continue
        if m.matches(statement, _SYS_PATH_EDIT) or _calls_prelude(statement, prelude_names):
            end = index + 1
            continue
        break
    return end


def _import_of(statement: cst.BaseStatement) -> ImportStatement | None:
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        small = statement.body[0]
        if isinstance(small, (cst.Import, cst.ImportFrom)):
            return ImportStatement.from_node(small)
    return None


def _is_prelude_import(statement: ImportStatement, modules: Sequence[str]) -> bool:
    return any(
        name == module or name.startswith(module + ".")
        for name in statement.imported_modules()
        for module in modules
    )


def _calls_prelude(statement: cst.BaseStatement, prelude_names: set[str]) -> bool:
    if not m.matches(statement, m.SimpleStatementLine(body=[m.Expr(value=m.Call())])):
        return False
    assert isinstance(statement, cst.SimpleStatementLine)
    call = statement.body[0]
    assert isinstance(call, cst.Expr) and isinstance(call.value, cst.Call)
    name = get_full_name_for_node(call.value.func) or ""
    return name.split(".", 1)[0] in prelude_names
