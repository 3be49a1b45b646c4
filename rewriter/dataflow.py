"""Which module-level names a statement reads and binds.

The placement of the init block may run a setup statement before statements
that came before it. That is safe only when neither reads or binds what the
other binds, and these sets are how it is decided. They are deliberately
generous: a read inside a nested function or lambda counts (it may run while
the module is still executing), and anything that might bind dynamically
(``global`` in a nested function, ``globals()``, a star import) is reported
as such, so that a doubtful statement is never moved.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from rewriter.bindings import ImportStatement

_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
# Names that reach the module's namespace wherever they appear, and calls
# that read the current scope's when given no argument.
_NAMESPACE_NAMES = frozenset({"globals", "exec", "eval"})
_SCOPE_READERS = frozenset({"locals", "vars", "dir"})
# Calls that read or write the whole namespace: nothing can be moved past them.
_NAMESPACE_CALLS = _NAMESPACE_NAMES | _SCOPE_READERS


@dataclass(frozen=True)
class NameFlow:
    """The module-level names a statement reads and binds.

    ``dynamic`` is True when the statement may read or bind names that do not
    appear in it (a star import, ``globals()``, ``exec``, a ``global``
    declaration in a nested function).
    """

    reads: frozenset[str]
    binds: frozenset[str]
    dynamic: bool = False

    def conflicts_with(self, other: NameFlow) -> bool:
        """True when running the two statements in the other order may differ."""
        if self.dynamic or other.dynamic:
            return True
        return bool(self.binds & (other.reads | other.binds) or other.binds & self.reads)


def name_flow(statement: ast.stmt) -> NameFlow:
    """The names ``statement``, run at module level, reads and binds.

    The walk keeps its own stack: an expression nested deeper than the
    interpreter's recursion limit (a generated ``"a" + "b" + ...`` of a
    thousand terms in a runtime module) is read like any other.
    """
    reads: set[str] = set()
    binds: set[str] = set()
    dynamic = False
    # Each node with `module_scope` (a plain Store binds a module global
    # there) and `walrus_binds` (a `:=` does: module scope, or a comprehension
    # inside it).
    pending: list[tuple[ast.AST, bool, bool]] = [(statement, True, True)]
    while pending:
        node, module_scope, walrus_binds = pending.pop()
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                reads.add(node.id)
            elif module_scope:
                binds.add(node.id)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imported = ImportStatement.from_ast(node)
            if imported.kind == "star":
                dynamic = module_scope or dynamic
            elif module_scope:
                binds.update(imported.bound_names)
            continue
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            # A nested function that declares a global binds it when called.
            binds.update(node.names)
            dynamic = True
            continue
        called = node.func if isinstance(node, ast.Call) else None
        if isinstance(called, ast.Name) and called.id in _NAMESPACE_CALLS:
            dynamic = True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if module_scope:
                binds.add(node.name)
            pending.extend(
                (decorator, module_scope, walrus_binds) for decorator in node.decorator_list
            )
            inner: list[ast.AST] = [*node.body]
            if not isinstance(node, ast.ClassDef):
                inner.append(node.args)
            else:
                inner.extend([*node.bases, *node.keywords])
            pending.extend((part, False, False) for part in inner)
            continue
        if isinstance(node, ast.NamedExpr) and isinstance(node.target, ast.Name):
            # PEP 572: `:=` binds in the enclosing function or module scope,
            # even inside a comprehension.
            if walrus_binds:
                binds.add(node.target.id)
            pending.append((node.value, module_scope, walrus_binds))
            continue
        if isinstance(node, ast.ExceptHandler) and node.name and module_scope:
            binds.add(node.name)  # and unbinds it when the handler ends
        if isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name and module_scope:
            binds.add(node.name)
        if isinstance(node, ast.MatchMapping) and node.rest and module_scope:
            binds.add(node.rest)
        if isinstance(node, ast.Lambda):
            module_scope = walrus_binds = False
        elif isinstance(node, _COMPREHENSIONS):
            module_scope = False
        pending.extend((child, module_scope, walrus_binds) for child in ast.iter_child_nodes(node))
    return NameFlow(frozenset(reads), frozenset(binds), dynamic)


def namespace_access(statements: Iterable[ast.stmt]) -> ast.expr | None:
    """The first expression in ``statements`` that reaches the module's namespace by name.

    Such code reads or binds names that no statement shows:

    - ``exec``, ``eval`` or ``globals``, anywhere (called or passed on; a
      function may run at import time);
    - ``locals()``, ``vars()`` or ``dir()`` with no argument in code that runs
      at import time (in a function body they read the function's scope);
    - the module looked up by its own name: ``sys.modules[__name__]``,
      ``sys.modules.get(__name__)``, ``import_module(__name__)``,
      ``__import__(__name__)``. An import of the module by its written name
      is not recognised.

    None if there is none.
    """
    statements = list(statements)
    for statement in statements:
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and node.id in _NAMESPACE_NAMES:
                return node
            if isinstance(node, (ast.Subscript, ast.Call)) and _looks_itself_up(node):
                return node
    for node in import_time_nodes(statements):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _SCOPE_READERS
            and not node.args
            and not node.keywords
        ):
            return node
    return None


def _looks_itself_up(node: ast.Subscript | ast.Call) -> bool:
    if isinstance(node, ast.Subscript):
        return _is_modules(node.value) and _is_own_name(node.slice)
    if not any(map(_is_own_name, node.args)):
        return False
    function = node.func
    if isinstance(function, ast.Name):
        return function.id in ("import_module", "__import__")
    if isinstance(function, ast.Attribute):
        return function.attr == "import_module" or (
            function.attr == "get" and _is_modules(function.value)
        )
    return False


def _is_modules(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "modules"


def _is_own_name(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "__name__"


def import_time_nodes(statements: Iterable[ast.stmt]) -> Iterator[ast.AST]:
    """The nodes of code that runs at import time: no function or lambda bodies.

    Decorators, default values and annotations of a ``def`` run when it is
    defined; so does a class body.
    """
    pending: list[ast.AST] = list(statements)
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            pending.extend(node.decorator_list)
            pending.append(node.args)
            if node.returns is not None:
                pending.append(node.returns)
        elif isinstance(node, ast.Lambda):
            pending.append(node.args)
        else:
            pending.extend(ast.iter_child_nodes(node))
