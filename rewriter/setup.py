"""Recognising environment setup: the statements that must run before init.

The init must see the environment the entry sets up (Django's
``DJANGO_SETTINGS_MODULE``, a DSN from ``.env``), and gevent must patch the
standard library before anything imports ``ssl``. A top-level statement is
*setup* when, at import time, it:

- changes environment variables: assigns, deletes or updates ``os.environ``
  (``os.environ[k] = v``, ``setdefault``, ``update``, ``pop``, ``|=``...),
  or calls ``os.putenv``/``os.unsetenv``;
- loads a dotenv file: calls anything from the ``dotenv`` package
  (``load_dotenv``, ``dotenv_values``, ``find_dotenv``), wherever the call
  sits in the statement (``if load_dotenv(path):``, ``os.environ.update(
  dotenv_values())``);
- edits ``sys.path`` (``insert``, ``append``, assignment, ``+=``...) or calls
  ``site.addsitedir``;
- monkey-patches: calls a patching function of ``gevent.monkey``
  (``patch_all``, any ``patch_*``, ``remove_item``) or
  ``eventlet.monkey_patch``/``eventlet.patcher.monkey_patch``; the queries
  (``gevent.monkey.get_original``, ``is_module_patched``, ``saved``,
  ``eventlet.patcher.original``) patch nothing and are not setup;
- imports or calls a configured *prelude* module.

Names are followed through every import spelling (``import os as o``,
``from os import environ``, ``import gevent.monkey``, ``from gevent import
monkey``, ``__import__("gevent.monkey")``), and compound statements
(``if``/``try``/``with``/``for``) count as a whole when they hold setup, as in
``try: from gevent import monkey; monkey.patch_all()`` / ``except
ImportError: pass``. Code inside function bodies does not run at import time
and is not setup.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from rewriter.bindings import ImportStatement, absolute_name

SetupKind = Literal["environment", "path", "patch", "prelude"]

_ENVIRON_MUTATORS = frozenset(
    {"setdefault", "update", "pop", "popitem", "clear", "__setitem__", "__delitem__", "__ior__"}
)
_LIST_MUTATORS = frozenset(
    {
        "insert",
        "append",
        "extend",
        "remove",
        "pop",
        "clear",
        "reverse",
        "sort",
        "__setitem__",
        "__delitem__",
        "__iadd__",
    }
)


@dataclass(frozen=True)
class Setup:
    """What makes a statement setup: its kinds, and the node that shows it."""

    kinds: frozenset[SetupKind]
    node: ast.AST

    @property
    def moves_past_imports(self) -> bool:
        """True when the statement may run before imports that preceded it.

        Environment, dotenv, patching and prelude setup are meant to run
        before the libraries they configure are imported. A ``sys.path``
        edit changes what an import finds, so it never jumps one.
        """
        return "path" not in self.kinds


class SetupRecognizer:
    """Reads a module's top-level statements in order and tells which are setup.

    ``prelude`` holds the configured prelude module names (dotted, possibly
    relative); ``package`` is the entry's package (``build.server``), used to
    resolve relative prelude names and imports.
    """

    def __init__(self, prelude: Sequence[str] = (), package: str = "") -> None:
        self._package = package
        self._prelude = tuple(
            name for module in prelude if (name := absolute_name(module, package)) is not None
        )
        # What each module-level name refers to, as a dotted name (`environ`
        # -> `os.environ`), updated statement by statement.
        self._aliases: dict[str, str] = {}

    def recognise(self, statement: ast.stmt) -> Setup | None:
        """The setup in ``statement`` (None if it is not setup); call in source order."""
        nodes = list(_executed(statement))
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                self._bind(ImportStatement.from_ast(node))
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                self._alias_assignment(node.targets[0], node.value)
        kinds: set[SetupKind] = set()
        first: ast.AST | None = None
        for node in nodes:
            kind = self._kind(node)
            if kind is not None:
                kinds.add(kind)
                first = first or node
        if first is None:
            return None
        return Setup(frozenset(kinds), first)

    def _bind(self, imported: ImportStatement) -> None:
        if imported.kind == "import":
            for alias in imported.names:
                target = alias.name if alias.asname else alias.name.split(".", 1)[0]
                self._aliases[alias.bound] = target
        elif imported.kind == "from":
            module = absolute_name(imported.module, self._package) or imported.module
            for alias in imported.names:
                self._aliases[alias.bound] = f"{module}.{alias.name}"

    def _alias_assignment(self, target: ast.expr, value: ast.expr) -> None:
        # `environ = os.environ` makes `environ[...] = ...` an environment change.
        if isinstance(target, ast.Name):
            referred = self.qualified(value)
            if referred is None:
                self._aliases.pop(target.id, None)
            else:
                self._aliases[target.id] = referred

    def _kind(self, node: ast.AST) -> SetupKind | None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imported = ImportStatement.from_ast(node)
            modules = (
                absolute_name(module, self._package) or module
                for module in imported.candidate_modules()
            )
            return "prelude" if any(map(self._is_prelude, modules)) else None
        if isinstance(node, ast.Call):
            return self._call_kind(node)
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                kind = self._target_kind(target)
                if kind is not None:
                    return kind
        return None

    def _call_kind(self, call: ast.Call) -> SetupKind | None:
        name = self.qualified(call.func)
        if name is None:
            return None
        owner, _, method = name.rpartition(".")
        if owner == "os.environ" and method in _ENVIRON_MUTATORS:
            return "environment"
        if name in ("os.putenv", "os.unsetenv"):
            return "environment"
        if _within(name, "dotenv"):
            return "environment"
        if (owner == "sys.path" and method in _LIST_MUTATORS) or name == "site.addsitedir":
            return "path"
        if _patches(owner, method):
            return "patch"
        if any(_within(name, module) for module in self._prelude):
            return "prelude"
        return None

    def _target_kind(self, target: ast.expr) -> SetupKind | None:
        if isinstance(target, ast.Subscript):
            target = target.value
        name = self.qualified(target)
        if name == "os.environ":
            return "environment"
        if name == "sys.path":
            return "path"
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                kind = self._target_kind(element)
                if kind is not None:
                    return kind
        return None

    def qualified(self, node: ast.expr) -> str | None:
        """The dotted name ``node`` refers to (``monkey.patch_all`` -> ``gevent.monkey.patch_all``).

        ``__import__("a.b")`` is ``a``: with an empty fromlist it returns the
        top-level package, as ``import a.b`` binds it.
        """
        attributes: list[str] = []
        # Down the chain without recursion: `f().a.a...` may be thousands deep.
        while isinstance(node, ast.Attribute):
            attributes.append(node.attr)
            node = node.value
        if attributes:
            owner = self.qualified(node)
            return None if owner is None else ".".join([owner, *reversed(attributes)])
        if isinstance(node, ast.Name):
            return self._aliases.get(node.id)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "__import__"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            return node.args[0].value.split(".", 1)[0]
        return None

    def _is_prelude(self, module: str) -> bool:
        return any(_within(module, prelude) for prelude in self._prelude)


def _patches(module: str, function: str) -> bool:
    """True for the monkey-patching functions of gevent and eventlet (their APIs)."""
    if module == "gevent.monkey":
        return function.startswith("patch_") or function == "remove_item"
    return function == "monkey_patch" and module in ("eventlet", "eventlet.patcher")


def _within(name: str, module: str) -> bool:
    return name == module or name.startswith(module + ".")


def _executed(statement: ast.stmt) -> Iterator[ast.AST]:
    """The nodes of ``statement`` that run when it runs at module level.

    Function and lambda bodies run later and are skipped; decorators,
    default values and class bodies run now.
    """
    stack: list[ast.AST] = [statement]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            children: Iterable[ast.AST] = [
                *node.decorator_list,
                *node.args.defaults,
                *(default for default in node.args.kw_defaults if default is not None),
            ]
        elif isinstance(node, ast.Lambda):
            children = [*node.args.defaults]
        else:
            children = ast.iter_child_nodes(node)
        stack.extend(reversed(list(children)))
