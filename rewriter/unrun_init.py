"""Warnings for an instrumentation init that the rewritten entry would never run.

Two mistakes leave a server uninstrumented while every run of rewriter
succeeds:

- preload mode without an init spec runs no init at all (DESIGN.md,
  "Modes": the application initialises itself, late), so a default init
  file beside the entry (``instrument.server.py``, ...) that the entry does
  not import itself never runs;
- an init module or file imported for its side effects (no ``:callable``)
  that only defines its init function: importing it calls nothing.

Both are warnings, not errors: the code is valid, and an application may
reach its init another way that the build cannot see.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from rewriter.analysis import ModuleLocator, module_level, module_tree
from rewriter.config import InitSpec, Settings
from rewriter.context import Context, entry_imports
from rewriter.errors import Diagnostic
from rewriter.tree import SourceTree

INIT_FUNCTION_NAMES = frozenset(
    {"init", "initialize", "initialise", "setup", "configure", "instrument", "main"}
)
"""Names that say a function is the module's init: one of them left uncalled is worth a warning."""


def unrun_init_warnings(
    settings: Settings, context: Context, parsed: tuple[str, ast.Module]
) -> list[Diagnostic]:
    """The warnings of this module for one entry (``parsed``: its text and tree)."""
    if context.init is None:
        found = default_init_file_left_unrun(settings, context, parsed)
    else:
        found = init_function_left_uncalled(context.init, context.locator, context.tree)
    return [] if found is None else [found]


def default_init_file_left_unrun(
    settings: Settings, context: Context, parsed: tuple[str, ast.Module]
) -> Diagnostic | None:
    """A warning when preload mode without an init spec leaves a default init file unrun.

    None when the entry imports that file itself (``parsed``: the entry's
    text and tree): it then initialises late on purpose, as preload mode
    intends.
    """
    tree = context.tree
    if settings.mode != "preload" or settings.init is not None or tree is None:
        return None
    found = next((name for name in settings.init_files if tree.is_file(name)), None)
    if found is None or found in entry_imports(context.entry, context.locator, tree, parsed):
        return None
    return Diagnostic(
        "preload mode runs an init only when --init (init in [tool.rewriter]) names one,"
        f" so this init file never runs; pass --init ./{found} to run it right after the"
        " integrations are prepared, or import it from the application",
        path=found,
    )


def init_function_left_uncalled(
    init: InitSpec, locator: ModuleLocator, tree: SourceTree | None
) -> Diagnostic | None:
    """A warning when the init, imported for its side effects, only defines its init function.

    That is: the spec names no callable, the init's file (in the tree)
    defines a function whose name is in ``INIT_FUNCTION_NAMES`` with no
    decorator, and the code that runs on import (outside function and class
    bodies and ``if __name__ == "__main__":``) calls nothing, applies no
    decorator and names no function or class the file defines. Python runs
    a module's top-level statements on import and nothing else (the Python
    Language Reference, "The import system"). A file that calls anything on
    import may start its instrumentation that way (``sentry_sdk.init()``), so
    it gets no warning.
    """
    if init.attribute is not None or tree is None:
        return None
    path = init.target if init.kind == "file" else locator.resolve(init.target, strict=True)
    if path is None or path.endswith("/"):
        return None
    text = tree.read_text(path)
    module = None if text is None else module_tree(text)
    if module is None:
        return None
    defined = {
        statement.name: statement
        for statement in module.body
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }
    candidates = [
        statement
        for name, statement in defined.items()
        if name in INIT_FUNCTION_NAMES
        and not isinstance(statement, ast.ClassDef)
        and not statement.decorator_list
    ]
    if not candidates or _runs_code_on_import(module, set(defined)):
        return None
    name = candidates[0].name
    if init.kind == "file":
        what, fix = "this init file", f"call {name}() at the end of the file"
    else:
        what = f"init module {init.target!r}"
        fix = f"use --init {init.target}:{name}, or call {name}() at the end of the module"
    function = candidates[0]
    return Diagnostic(
        f"{what} defines {name}() but calls none of its functions when it is imported,"
        f" so the instrumentation never starts; {fix}",
        function.lineno,
        function.col_offset + 1,
        path=path,
    )


def _runs_code_on_import(module: ast.Module, defined: set[str]) -> bool:
    """Whether the statements run on import call or decorate anything, or name ``defined``."""
    run_on_import = [statement for statement in module.body if not _is_main_guard(statement)]
    for statement in module_level(run_on_import):
        if getattr(statement, "decorator_list", None):
            return True
        for node in _parts_run_now(statement):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Call) or (
                    isinstance(inner, ast.Name) and inner.id in defined
                ):
                    return True
    return False


def _parts_run_now(statement: ast.stmt) -> Iterator[ast.AST]:
    """The parts of ``statement`` that run when it does, without the blocks ``module_level`` walks.

    A ``def`` or ``class`` runs its decorators, defaults, bases and
    annotations; any other statement runs its expressions.
    """
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
        yield from statement.decorator_list
        yield statement.args
        if statement.returns is not None:
            yield statement.returns
        return
    if isinstance(statement, ast.ClassDef):
        yield from statement.decorator_list
        yield from statement.bases
        yield from statement.keywords
        return
    for name, value in ast.iter_fields(statement):
        if name in {"body", "orelse", "finalbody", "handlers", "cases"}:
            continue
        values = value if isinstance(value, list) else [value]
        yield from (item for item in values if isinstance(item, ast.AST))


def _is_main_guard(statement: ast.stmt) -> bool:
    """``if __name__ == "__main__":``, whose body a plain import does not run."""
    return (
        isinstance(statement, ast.If)
        and isinstance(statement.test, ast.Compare)
        and isinstance(statement.test.left, ast.Name)
        and statement.test.left.id == "__name__"
        and len(statement.test.comparators) == 1
        and isinstance(statement.test.comparators[0], ast.Constant)
        and statement.test.comparators[0].value == "__main__"
    )


__all__ = [
    "INIT_FUNCTION_NAMES",
    "default_init_file_left_unrun",
    "init_function_left_uncalled",
    "unrun_init_warnings",
]
