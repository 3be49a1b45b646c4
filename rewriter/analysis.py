"""Static analysis of the entry's surroundings.

Resolves imports to files in the entry's tree, decides which imports load the
runtime, and reads what a runtime module exports, all without running any of
it. Modules are read with ``ast`` (reading is not rewriting, and ``ast`` is
much faster than LibCST); every code change goes through LibCST elsewhere.
"""

from __future__ import annotations

import ast
import posixpath
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property

from rewriter.bindings import ImportStatement
from rewriter.tree import SourceTree


@dataclass(frozen=True)
class EntryLocation:
    """Where the entry sits: its file name and the package it belongs to.

    ``package`` holds the names of the enclosing package directories, outermost
    first (``("build", "server")`` for ``build/server/index.py`` when both have
    an ``__init__.py``); it is empty for a script entry.
    """

    filename: str = "index.py"
    package: tuple[str, ...] = ()

    @classmethod
    def detect(cls, path: str | None, tree: SourceTree | None) -> EntryLocation:
        """Find the enclosing packages of ``path`` by looking for ``__init__.py``."""
        if path is None or path == "-":
            return cls()
        parts = posixpath.normpath(path.replace("\\", "/")).split("/")
        filename, directories = parts[-1], [p for p in parts[:-1] if p not in ("", ".")]
        package: list[str] = []
        if tree is not None:
            for depth, name in enumerate(reversed(directories)):
                if not tree.is_file("../" * depth + "__init__.py") or not name.isidentifier():
                    break
                package.insert(0, name)
        return cls(filename, tuple(package))


class ModuleLocator:
    """Resolves module names, as written in an import, to files in the tree.

    Paths are relative to the entry's directory. Without a tree, a relative
    import is assumed to name a module file below the entry's directory and an
    absolute import resolves to nothing.

    An absolute name is looked for where the import system would find it: for
    a package entry, from the directory above its top-level package (the
    entry's own directory is not on ``sys.path``); for a script entry, in
    its own directory (``sys.path[0]``); and, for a tree without
    ``__init__.py`` files (PEP 420 namespace packages), from the ancestor
    directory whose name the import starts with (``build.server.chunks`` from
    ``build/server/index.py``).
    """

    def __init__(self, tree: SourceTree | None, entry: EntryLocation) -> None:
        self._tree = tree
        self._entry = entry

    def resolve(
        self, module: str, importer: str | None = None, *, strict: bool = False
    ) -> str | None:
        """The file (or namespace directory, ending in ``/``) that ``module`` loads.

        ``importer`` is the relative path of the importing file (the entry by
        default); relative imports are resolved from its package. With
        ``strict``, an absolute name of a package entry is looked for only
        where the import system would find it when the entry is imported as a
        module of its package (never beside the entry).
        """
        importer = importer or self._entry.filename
        if self._tree is None and not module.startswith("."):
            return None
        for base in self._candidate_bases(module, importer, strict=strict):
            found = self._find(base)
            if found is not None:
                return found
        return None

    def _candidate_bases(self, module: str, importer: str, *, strict: bool) -> Iterator[str]:
        dotted = module.lstrip(".")
        level = len(module) - len(dotted)
        parts = dotted.split(".") if dotted else []
        if level:
            directory = posixpath.dirname(importer)
            for _ in range(level - 1):
                directory = posixpath.join(directory, "..")
            yield posixpath.normpath(posixpath.join(directory, *parts))
            return
        package = self._entry.package
        if package:
            shared = 0
            while shared < min(len(parts), len(package)) and parts[shared] == package[shared]:
                shared += 1
            ups = [".."] * (len(package) - shared)
            yield posixpath.normpath(posixpath.join(".", *ups, *parts[shared:]))
            if strict:
                return
        # A script entry: its directory is on sys.path.
        yield posixpath.normpath(posixpath.join(*parts))
        yield from self._namespace_bases(parts)

    def _namespace_bases(self, parts: list[str]) -> Iterator[str]:
        # `build.server.chunks.app` from build/server/index.py in a tree with
        # no __init__.py: the entry's own directories start the name.
        if self._tree is None or self._entry.package:
            return
        for depth in range(1, len(parts)):
            above = "../" * depth + "/".join(parts[:depth])
            if self._tree.is_file(f"{above}/{self._entry.filename}"):
                yield posixpath.normpath(posixpath.join(*parts[depth:]))

    def _find(self, base: str) -> str | None:
        if self._tree is None:
            if base.startswith(".."):
                return None
            return "__init__.py" if base == "." else f"{base}.py"
        init = posixpath.normpath(posixpath.join(base, "__init__.py"))
        if self._tree.is_file(init):
            return init
        if base != "." and self._tree.is_file(f"{base}.py"):
            return f"{base}.py"
        if base != "." and self._tree.is_dir(base):
            return f"{base}/"
        return None


@dataclass
class ModuleSummary:
    """What a module defines at its top level, read statically."""

    defined: set[str] = field(default_factory=set)
    functions: dict[str, bool] = field(default_factory=dict)
    """Plain top-level functions, by name: True for ``async def``. Only those
    whose call kind is certain: undecorated, and bound by nothing else."""
    all_names: tuple[str, ...] | None = None
    star_modules: list[str] = field(default_factory=list)
    dynamic_all: bool = False
    dynamic_namespace: bool = False
    """The module may bind names that no statement shows
    (``rewriter.dataflow.namespace_access``)."""


class ExportReader:
    """Reads what runtime modules define and export (``__all__``, star imports)."""

    def __init__(self, tree: SourceTree | None, locator: ModuleLocator) -> None:
        self._tree = tree
        self._locator = locator
        self._summaries: dict[str, ModuleSummary | None] = {}

    def summary(self, relpath: str) -> ModuleSummary | None:
        """The static summary of the module file at ``relpath`` (None if unreadable)."""
        if relpath not in self._summaries:
            self._summaries[relpath] = self._read(relpath)
        return self._summaries[relpath]

    def star_exports(self, relpath: str, _seen: frozenset[str] = frozenset()) -> set[str] | None:
        """The names ``from <module> import *`` binds, or None if unknown."""
        summary = self.summary(relpath)
        if summary is None or summary.dynamic_all:
            return None
        if summary.all_names is not None:
            return set(summary.all_names)
        if summary.dynamic_namespace:
            return None
        names = {name for name in summary.defined if not name.startswith("_")}
        for module in summary.star_modules:
            target = self._locator.resolve(module, relpath)
            if target in _seen:
                continue  # an import cycle: what it adds is already counted
            more = None if target is None else self.star_exports(target, _seen | {relpath})
            if more is None:
                return None  # a module outside the tree, or one read as unknown
            names |= more
        return names

    def star_import_names(self, module: str) -> set[str] | None:
        """The names ``from <module> import *`` binds in the entry, or None if unknown."""
        path = self._locator.resolve(module)
        return self.star_exports(path) if path is not None else None

    def _read(self, relpath: str) -> ModuleSummary | None:
        if self._tree is None or relpath.endswith("/"):
            return None
        text = self._tree.read_text(relpath)
        return None if text is None else summarise_source(text)


def summarise_source(text: str) -> ModuleSummary | None:
    """What the module in ``text`` defines at its top level (None if it does not parse)."""
    module = module_tree(text)
    return None if module is None else summarise_module(module)


def module_tree(text: str) -> ast.Module | None:
    """CPython's tree of a module the analysis reads besides the entry; None if it cannot parse.

    A runtime module, the init module, an entry's package: CPython parses
    it on the parser thread (``rewriter.parsing.cpython_tree``), whose stack
    holds CPython's deepest parse whatever thread the caller runs on. Text
    it rejects, and text nested too deep for it (where ``ast.parse`` raises
    RecursionError or MemoryError), are read alike: as a module that does
    not parse, never as the end of the run. LibCST's limits do not apply:
    LibCST never parses these modules.
    """
    from rewriter.errors import RewriteError
    from rewriter.parsing import compiler_warnings_ignored, cpython_tree

    try:
        with compiler_warnings_ignored():
            return cpython_tree(text)
    except RewriteError:
        return None


def summarise_module(module: ast.Module) -> ModuleSummary:
    """What the parsed ``module`` defines at its top level."""
    summary = _definitions(module.body)
    from rewriter.dataflow import namespace_access

    if namespace_access(module.body) is not None:
        summary.dynamic_namespace = True
        summary.functions.clear()
    return summary


def defined_names(statements: Iterable[ast.stmt]) -> set[str]:
    """The names that module-level ``statements`` bind (``ModuleSummary.defined``).

    The same names as ``summarise_module``, without its walk of every
    function for code that reaches the namespace by name, and without the
    functions' call kinds (which walk every statement after a ``def``).
    """
    return _definitions(statements, call_kinds=False).defined


def _definitions(statements: Iterable[ast.stmt], *, call_kinds: bool = True) -> ModuleSummary:
    summary = ModuleSummary()
    for statement in module_level(statements):
        _summarise(statement, summary, call_kinds)
    return summary


def module_level(body: Iterable[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements that run at import time, including those in if/try/with/for blocks.

    Function and class bodies do not run at import time, nor do the bodies of
    ``if TYPE_CHECKING:`` (which is how rewriter keeps its mirrored imports).
    Statements come in the order of the text. The walk keeps its own stack:
    an ``elif`` chain nests one ``If`` in the ``orelse`` of the last, and
    CPython parses chains of 2,000.
    """
    pending: list[Iterator[ast.stmt]] = [iter(body)]
    while pending:
        statement = next(pending[-1], None)
        if statement is None:
            pending.pop()
            continue
        yield statement
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        blocks: list[list[ast.stmt]] = []
        if isinstance(statement, ast.If) and _is_type_checking(statement.test):
            blocks.append(statement.orelse)
        else:
            blocks.extend(getattr(statement, name, []) for name in ("body", "orelse", "finalbody"))
            blocks.extend(handler.body for handler in getattr(statement, "handlers", ()))
            blocks.extend(case.body for case in getattr(statement, "cases", ()))
        # The first block is walked first: it goes on top of the stack.
        pending.extend(iter(block) for block in reversed(blocks) if block)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _summarise(statement: ast.stmt, summary: ModuleSummary, call_kinds: bool) -> None:
    # A function's call kind is certain only for a plain, undecorated
    # `def`/`async def` that nothing else binds: any second binding drops it.
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        first = statement.name not in summary.defined
        summary.defined.add(statement.name)
        plain = not isinstance(statement, ast.ClassDef) and not statement.decorator_list
        if call_kinds and plain and first:
            summary.functions[statement.name] = isinstance(statement, ast.AsyncFunctionDef)
        else:
            summary.functions.pop(statement.name, None)
        return
    _summarise_binding(statement, summary)
    # A function's name is bound already (``functions`` only holds names in
    # ``defined``), so a later binding of it is found by the walk below.
    # Only a function's name can lose its call kind: with none, no walk.
    if summary.functions:
        for name in _rebound(statement) & summary.functions.keys():
            summary.functions.pop(name, None)


def _rebound(statement: ast.stmt) -> set[str]:
    """The names ``statement`` itself binds; the statements nested in it come on their own.

    ``module_level`` yields the statements inside an ``if``/``try``/``with``
    too, so walking them here as well would make an ``elif`` chain
    quadratic.
    """
    import copy

    from rewriter.dataflow import name_flow

    shallow = copy.copy(statement)
    for name in ("body", "orelse", "finalbody"):
        if hasattr(shallow, name):
            setattr(shallow, name, [])
    for name in ("handlers", "cases"):
        if hasattr(shallow, name):
            parts = [copy.copy(part) for part in getattr(shallow, name)]
            for part in parts:
                part.body = []
            setattr(shallow, name, parts)
    return set(name_flow(shallow).binds)


def _summarise_binding(statement: ast.stmt, summary: ModuleSummary) -> None:
    if isinstance(statement, ast.Import):
        summary.defined.update((a.asname or a.name.split(".")[0]) for a in statement.names)
    elif isinstance(statement, ast.ImportFrom):
        if statement.names[0].name == "*":
            summary.star_modules.append("." * statement.level + (statement.module or ""))
            summary.functions.clear()  # it may rebind any of them
        else:
            summary.defined.update(a.asname or a.name for a in statement.names)
    elif isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        for target in targets:
            summary.defined.update(_target_names(target))
        if "__all__" in {n for t in targets for n in _target_names(t)}:
            _read_all(statement, summary)
    elif isinstance(statement, (ast.For, ast.AsyncFor, ast.With, ast.AsyncWith)):
        targets = (
            [statement.target]
            if isinstance(statement, (ast.For, ast.AsyncFor))
            else [item.optional_vars for item in statement.items if item.optional_vars]
        )
        for target in targets:
            summary.defined.update(_target_names(target))
    elif isinstance(statement, ast.Expr) and _is_all_mutation(statement.value):
        _read_all_call(statement.value, summary)  # type: ignore[arg-type]


def _target_names(target: ast.expr) -> Iterator[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _target_names(element)
    elif isinstance(target, ast.Starred):
        yield from _target_names(target.value)


def _literal_strings(node: ast.expr | None) -> tuple[str, ...] | None:
    if isinstance(node, (ast.List, ast.Tuple)) and all(
        isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts
    ):
        return tuple(e.value for e in node.elts)  # type: ignore[attr-defined]
    return None


def _read_all(
    statement: ast.Assign | ast.AnnAssign | ast.AugAssign, summary: ModuleSummary
) -> None:
    names = _literal_strings(statement.value)
    if names is None:
        summary.dynamic_all = True
    elif isinstance(statement, ast.AugAssign):
        summary.all_names = (*(summary.all_names or ()), *names)
    else:
        summary.all_names = names


def _is_all_mutation(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "__all__"
    )


def _read_all_call(call: ast.Call, summary: ModuleSummary) -> None:
    assert isinstance(call.func, ast.Attribute)
    argument = call.args[0] if len(call.args) == 1 else None
    if (
        call.func.attr == "append"
        and isinstance(argument, ast.Constant)
        and isinstance(argument.value, str)
    ):
        summary.all_names = (*(summary.all_names or ()), argument.value)
    elif call.func.attr == "extend" and (names := _literal_strings(argument)) is not None:
        summary.all_names = (*(summary.all_names or ()), *names)
    else:
        summary.dynamic_all = True


class RuntimeClassifier:
    """Decides which import statements load the runtime.

    A statement is a runtime import when a module it may load resolves to a
    file that matches the ``runtime`` patterns (gitignore-style, relative to
    the entry's directory). Without patterns, every module file inside the
    entry's directory tree counts. These never count: the entry itself and
    the packages that enclose it; the init module, the prelude modules and
    the files only they import (they load before the runtime, on purpose);
    and code that belongs to an installed distribution inside the tree
    (``excluded``: paths relative to the entry's directory, a directory
    ending in ``/`` covering what is below it).
    """

    def __init__(
        self,
        locator: ModuleLocator,
        patterns: tuple[str, ...],
        *,
        entry: EntryLocation,
        excluded: frozenset[str] = frozenset(),
        installed: Container[str] = frozenset(),
    ) -> None:
        self._locator = locator
        self._patterns = patterns
        self._never = {entry.filename, "__init__.py", *excluded}
        self._installed = installed

    @cached_property
    def _spec(self) -> object | None:
        if not self._patterns:
            return None
        import pathspec

        return pathspec.GitIgnoreSpec.from_lines(self._patterns)

    def runtime_files(self, statement: ImportStatement) -> tuple[str, ...]:
        """The runtime files the statement may load (empty: not a runtime import)."""
        if statement.is_future:
            return ()
        found: list[str] = []
        for module in statement.candidate_modules():
            path = self._locator.resolve(module)
            if path is not None and path not in found and self.is_runtime_path(path):
                found.append(path)
        return tuple(found)

    def runtime_modules(self, statement: ImportStatement) -> tuple[str, ...]:
        """The runtime modules (as written) that the statement may load."""
        if statement.is_future:
            return ()
        return tuple(
            module
            for module in statement.candidate_modules()
            if (path := self._locator.resolve(module)) is not None and self.is_runtime_path(path)
        )

    def is_runtime_path(self, path: str) -> bool:
        """True if the resolved module file ``path`` belongs to the runtime."""
        if path in self._never or path.startswith("../") or path == "..":
            return False
        if path in self._installed:
            return False
        spec = self._spec
        if spec is None:
            return True
        return bool(spec.match_file(path))  # type: ignore[attr-defined]


def import_closure(
    start: str, locator: ModuleLocator, tree: SourceTree, *, limit: int = 200
) -> set[str]:
    """The files in the tree that importing the file ``start`` runs, itself included.

    Follows module-level imports (``module_level``) through the tree, parents
    included (``import a.b`` runs ``a/__init__.py``), at most ``limit``
    files. Paths are relative to the entry's directory.
    """
    seen: set[str] = set()
    pending = [start]
    while pending and len(seen) < limit:
        current = pending.pop()
        if current in seen or current.endswith("/"):
            continue
        seen.add(current)
        text = tree.read_text(current)
        if text is None:
            continue
        module = module_tree(text)
        if module is None:
            continue
        for node in module_level(module.body):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for name in ImportStatement.from_ast(node).executed_modules():
                    found = locator.resolve(name, current)
                    if found is not None and found not in seen:
                        pending.append(found)
    return seen


__all__ = [
    "EntryLocation",
    "ExportReader",
    "ModuleLocator",
    "ModuleSummary",
    "RuntimeClassifier",
    "import_closure",
    "module_level",
    "summarise_module",
    "summarise_source",
]
