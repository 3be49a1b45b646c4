"""Warnings for an instrumentation init that the rewritten entry would never run.

Two mistakes leave a server uninstrumented while every run of rewriter
succeeds:

- preload mode without an init spec runs no init at all (the README,
  "Modes": the application initialises itself, late), so a default init
  file beside the entry (``instrument.server.py``, ...) that nothing the
  entry imports imports in turn never runs;
- an init module or file imported for its side effects (no ``:callable``)
  that defines its init function and never calls it: importing it runs
  only the module's top-level statements (the Python Language Reference,
  "The import system").

Both are warnings, not errors: the code is valid, and an application may
reach its init another way that the build cannot see.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Sequence

from rewriter.analysis import ModuleLocator, import_closure, module_level, module_tree
from rewriter.config import InitSpec, Settings
from rewriter.context import Context, imported_files, init_location
from rewriter.errors import Diagnostic
from rewriter.tree import SourceTree

INIT_FUNCTION_NAMES = frozenset(
    {"init", "initialize", "initialise", "setup", "configure", "instrument"}
)
"""Names that say a function is the module's init: one of them left uncalled is worth a warning.

Not ``main``: beside ``if __name__ == "__main__": main()`` it is a script's
entry point, and calling it on import would run the script (its argument
parser, say) inside the server.
"""


def unrun_init_warnings(
    settings: Settings, context: Context, statements: Sequence[ast.stmt]
) -> list[Diagnostic]:
    """The warnings of this module for one entry, whose original statements are ``statements``."""
    if context.init is None:
        found = default_init_file_left_unrun(settings, context, statements)
    else:
        found = init_function_left_uncalled(context.init, context.locator, context.tree)
    return [] if found is None else [found]


def default_init_file_left_unrun(
    settings: Settings, context: Context, statements: Sequence[ast.stmt]
) -> Diagnostic | None:
    """A warning when preload mode without an init spec leaves a default init file unrun.

    None when the entry imports that file, itself or through the modules of
    the tree it imports (``analysis.import_closure``): the application then
    initialises late on purpose, as preload mode intends. ``statements`` are
    the entry's original top-level statements (``rewriter.generated``), as
    the text given has them: an earlier lazy run moved the deferred imports
    under ``if TYPE_CHECKING:``, which runs nothing.
    """
    tree = context.tree
    if settings.mode != "preload" or settings.init is not None or tree is None:
        return None
    found = next((name for name in settings.init_files if tree.is_file(name)), None)
    if found is None:
        return None
    reached: set[str] = set()
    for path in imported_files(statements, context.locator):
        if path not in reached:
            reached |= import_closure(path, context.locator, tree)
    if found in reached:
        return None
    return Diagnostic(
        "preload mode runs an init only when --init (init in [tool.rewriter]) names one, and"
        " no import of this init file was found from the entry, so it may never run; pass"
        f" --init ./{found} to run it right after the integrations are prepared, unless a"
        " module the build cannot follow imports it (a settings module named in a string)",
        path=found,
    )


def init_function_left_uncalled(
    init: InitSpec, locator: ModuleLocator, tree: SourceTree | None
) -> Diagnostic | None:
    """A warning when the init, imported for its side effects, never calls its init function.

    That is: the spec names no callable, the init's file (in the tree)
    defines a function whose name is in ``INIT_FUNCTION_NAMES``, not async
    (the fix for one would differ: it must be awaited) and with no
    decorator, and the code that runs on import (the top-level statements
    and class bodies, not function bodies nor an ``if __name__ ==
    "__main__":`` without ``else``) names none of the functions and classes
    the file defines, so none of them runs (a call through another of its
    functions names that one). The file may still start its
    instrumentation another way (``sentry_sdk.init()`` at its top level), so
    the message says what happens if that function is the init.
    """
    if init.attribute is not None or tree is None:
        return None
    path = init_location(init, locator)
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
    function = next(
        (
            statement
            for name, statement in defined.items()
            if name in INIT_FUNCTION_NAMES
            and isinstance(statement, ast.FunctionDef)
            and not statement.decorator_list
            and _takes_no_arguments(statement.args)
        ),
        None,
    )
    if function is None or _names_own_code_on_import(module, set(defined)):
        return None
    name = function.name
    if init.kind == "file":
        what, fix = "this init file", f"call {name}() at the end of the file"
    else:
        what = f"init module {init.target!r}"
        fix = f"use --init {init.target}:{name}, or call {name}() at the end of the module"
    return Diagnostic(
        f"{what} defines {name}() but nothing calls it when the file is imported; if"
        f" {name}() starts the instrumentation, it never runs: {fix}",
        function.lineno,
        function.col_offset + 1,
        path=path,
    )


def _takes_no_arguments(arguments: ast.arguments) -> bool:
    """Whether a call with no arguments binds every parameter (the advice makes that call)."""
    positional = [*arguments.posonlyargs, *arguments.args]
    return len(arguments.defaults) == len(positional) and None not in arguments.kw_defaults


def _names_own_code_on_import(module: ast.Module, defined: set[str]) -> bool:
    """Whether the statements run on import name any of ``defined`` (or decorate with them)."""
    run_on_import = [statement for statement in module.body if not _is_main_guard(statement)]
    for statement in _run_on_import(run_on_import):
        for node in _parts_run_now(statement):
            if any(isinstance(inner, ast.Name) and inner.id in defined for inner in ast.walk(node)):
                return True
    return False


def _run_on_import(statements: Iterable[ast.stmt]) -> Iterator[ast.stmt]:
    """``analysis.module_level``, with the bodies of classes: a ``class`` statement runs its body.

    Indentation bounds how deep classes nest (CPython's tokenizer allows 100
    levels), so the recursion does too.
    """
    for statement in module_level(statements):
        yield statement
        if isinstance(statement, ast.ClassDef):
            yield from _run_on_import(statement.body)


def _parts_run_now(statement: ast.stmt) -> Iterator[ast.AST]:
    """The parts of ``statement`` that run when it does, without the blocks ``module_level`` walks.

    A ``def`` or ``class`` runs its decorators, defaults, annotations and
    bases; any other statement runs its expressions.
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
    """``if __name__ == "__main__":``, either way round, with no ``else``: an import runs none."""
    if not isinstance(statement, ast.If) or statement.orelse:
        return False
    test = statement.test
    if not isinstance(test, ast.Compare) or [type(op) for op in test.ops] != [ast.Eq]:
        return False
    sides = {_guard_side(test.left), _guard_side(test.comparators[0])}
    return sides == {"__name__", "'__main__'"}


def _guard_side(node: ast.expr) -> str | None:
    """``__name__`` for that name, ``'__main__'`` for that string, else None."""
    if isinstance(node, ast.Name) and node.id == "__name__":
        return "__name__"
    if isinstance(node, ast.Constant) and node.value == "__main__":
        return "'__main__'"
    return None


__all__ = [
    "INIT_FUNCTION_NAMES",
    "default_init_file_left_unrun",
    "init_function_left_uncalled",
    "unrun_init_warnings",
]
