"""Imports that autopep8 would move above the init block.

pycodestyle reports a module-level import that follows other module-level
code as E402, and autopep8 "fixes" E402 by moving the import to the top of
the file: right after the docstring and ``from __future__`` imports, which is
above the init block (and, in a file without ``from __future__``, into the
init block's ``try:``, which breaks the file). An import nested in a block is
never E402, so each such import after the init block is deferred like a
runtime import: it keeps its place, binds the same names, and no formatter
has anything to hoist.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import libcst as cst

from rewriter.bindings import ImportStatement
from rewriter.transforms.header import header_end
from rewriter.transforms.sites import ImportSite, is_init_block

# pycodestyle's module_imports_on_top_of_file, read on a statement's first
# line: these statements may stand between imports without making the
# imports after them E402.
_ALLOWED_KEYWORDS = ("try", "except", "else", "finally", "with", "if", "elif")
_DUNDER = re.compile(r"^__([^\s]+)__(?::\s*[a-zA-Z.]+)? = ")
_STRING = re.compile(r"^[uUbB]?[rR]?['\"]")


def init_block_index(
    module: cst.Module,
    prelude_modules: Sequence[str],
    is_runtime: Callable[[ImportStatement], bool],
) -> int:
    """The index in ``module.body`` of its init block, or where it will go."""
    for index, statement in enumerate(module.body):
        if is_init_block(statement):
            return index
    return header_end(module.body, prelude_modules, is_runtime)


def hoistable_sites(
    module: cst.Module, sites: Sequence[ImportSite], *, start: int
) -> list[ImportSite]:
    """The ``sites`` that pycodestyle reports as E402, from ``module.body[start]`` on.

    Sites that are already deferred are never reported: they are indented.
    """
    late_lines: set[int] = set()
    seen_code = seen_docstring = False
    for index, statement in enumerate(module.body):
        kind = _kind(module, statement)
        if kind in ("import", "import and code") and seen_code and index >= start:
            late_lines.add(id(statement))
        if seen_code or kind in ("import", "allowed"):
            continue
        if kind == "string" and not seen_docstring:
            seen_docstring = True
        else:
            seen_code = True
    return [site for site in sites if id(site.line) in late_lines and not site.deferred]


def _kind(module: cst.Module, statement: cst.BaseStatement) -> str:
    # What pycodestyle sees at the start of the statement's logical line. A
    # line such as `import os; x = 1` counts as code too (pycodestyle reads it
    # as an import): once its imports are deferred, the rest stands alone, and
    # the next run must see the same code before the same imports.
    if isinstance(statement, (cst.If, cst.Try, cst.TryStar)):
        return "allowed"
    if isinstance(statement, cst.With) and statement.asynchronous is None:
        return "allowed"
    if not isinstance(statement, cst.SimpleStatementLine):
        return "code"
    text = module.code_for_node(statement.with_changes(leading_lines=())).lstrip()
    if text.startswith(("import ", "from ")):
        imports_only = all(
            isinstance(small, (cst.Import, cst.ImportFrom)) for small in statement.body
        )
        return "import" if imports_only else "import and code"
    if _DUNDER.match(text) or text.startswith(_ALLOWED_KEYWORDS):
        return "allowed"
    return "string" if _STRING.match(text) else "code"
