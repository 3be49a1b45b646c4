"""The entry's surroundings: its init module, its imports' files, its runtime."""

from __future__ import annotations

import ast
from collections.abc import Container, Iterable
from dataclasses import dataclass

from rewriter.analysis import (
    EntryLocation,
    ExportReader,
    ModuleLocator,
    RuntimeClassifier,
    module_level,
    module_tree,
    summarise_module,
)
from rewriter.bindings import ImportStatement
from rewriter.config import InitSpec, Settings
from rewriter.errors import ConfigError, Diagnostic
from rewriter.names import is_identifier
from rewriter.tree import SourceTree


@dataclass(frozen=True)
class Context:
    """What the rewrite (or the check) of one entry knows about its surroundings.

    ``init`` is None only in preload mode without an init spec: the
    application initialises itself later.
    """

    init: InitSpec | None
    entry: EntryLocation
    tree: SourceTree | None
    locator: ModuleLocator
    classifier: RuntimeClassifier
    exports: ExportReader

    @classmethod
    def create(
        cls,
        settings: Settings,
        path: str | None,
        tree: SourceTree | None,
        *,
        check_init: bool = True,
        parsed: tuple[str, ast.Module] | None = None,
    ) -> Context:
        """Locate the entry, its init module and its runtime.

        ``parsed`` is a text and its tree that the caller has already: when
        it is the entry file's text, the file is not parsed again. Raises
        ``ConfigError`` when no init is configured or found, or (with
        ``check_init``) when a module init spec cannot be imported from the
        entry. ``--trace`` leaves that check to the run it observes.
        """
        entry = EntryLocation.detect(path, tree)
        locator = ModuleLocator(tree, entry)
        optional = settings.mode == "preload" and settings.init is None
        init = None if optional else find_init(settings, tree)
        if check_init and init is not None and init.kind != "file":
            check_init_module(init, locator, entry, tree)
            check_init_callable(init, locator, tree)
        excluded, installed = _never_runtime(init, settings.prelude, locator, entry, tree, parsed)
        classifier = RuntimeClassifier(
            locator, settings.runtime, entry=entry, excluded=excluded, installed=installed
        )
        return cls(init, entry, tree, locator, classifier, ExportReader(tree, locator))


def _never_runtime(
    init: InitSpec | None,
    prelude: Iterable[str],
    locator: ModuleLocator,
    entry: EntryLocation,
    tree: SourceTree | None,
    parsed: tuple[str, ast.Module] | None,
) -> tuple[frozenset[str], Container[str]]:
    """What loads before the runtime on purpose, or is not the application's own code.

    The init module and the prelude modules with the files only they import
    (the entry's own imports of a file keep it in the runtime), and the
    files of distributions installed in the tree.
    """
    if tree is None:
        init_path = init_location(init, locator)
        return frozenset({init_path} if init_path else ()), frozenset()
    from rewriter.analysis import import_closure
    from rewriter.installed import InstalledCode

    modules = [*prelude]
    if init is not None and init.kind != "file":
        modules.append(init.target)
    # Their enclosing packages run first too (``import a.b`` runs a/__init__.py).
    starts = [
        init_location(init, locator),
        *(locator.resolve(module) for module in prelude),
        *(locator.resolve(package) for name in modules for package in _enclosing(name)),
    ]
    early: set[str] = set()
    for start in starts:
        if start is not None:
            early |= import_closure(start, locator, tree)
    for start in starts:
        early.discard(start or "")
    entry_imports = _direct_imports(entry, locator, tree, parsed)
    helpers = early - entry_imports
    roots = ["."] + (["/".join([".."] * len(entry.package))] if entry.package else [])
    early = {*helpers, *(start for start in starts if start is not None)}
    return frozenset(early), InstalledCode(tree, roots)


def _enclosing(module: str) -> list[str]:
    """The packages that enclose ``module`` (``.a.b.c`` -> ``.a``, ``.a.b``)."""
    dots = len(module) - len(module.lstrip("."))
    parts = module[dots:].split(".")
    return ["." * dots + ".".join(parts[:depth]) for depth in range(1, len(parts))]


def _direct_imports(
    entry: EntryLocation,
    locator: ModuleLocator,
    tree: SourceTree,
    parsed: tuple[str, ast.Module] | None,
) -> set[str]:
    text = tree.read_text(entry.filename)
    if text is None:
        return set()
    module = parsed[1] if parsed is not None and parsed[0] == text else module_tree(text)
    return set() if module is None else imported_files(module.body, locator)


def imported_files(statements: Iterable[ast.stmt], locator: ModuleLocator) -> set[str]:
    """The files in the tree that the import statements run by ``statements`` load.

    ``statements`` are a module's top-level statements; the imports are those
    that run on import (``analysis.module_level``). Paths are relative to the
    entry's directory.
    """
    found = set()
    for node in module_level(statements):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for name in ImportStatement.from_ast(node).candidate_modules():
                path = locator.resolve(name)
                if path is not None:
                    found.add(path)
    return found


def init_location(init: InitSpec | None, locator: ModuleLocator) -> str | None:
    """The init module's file relative to the entry, when it is in the tree."""
    if init is None:
        return None
    return init.target if init.kind == "file" else locator.resolve(init.target, strict=True)


def find_init(settings: Settings, tree: SourceTree | None) -> InitSpec:
    """The configured init spec, or the first default init file beside the entry."""
    spec = settings.init_spec
    if spec is not None:
        if spec.kind == "file" and tree is not None and not tree.is_file(spec.target):
            raise ConfigError(f"init file {spec.target} does not exist beside the entry")
        return spec
    for candidate in settings.init_files:
        if tree is not None and tree.is_file(candidate):
            return InitSpec("file", candidate)
    raise ConfigError(
        "no init found: pass --init MODULE, MODULE:CALLABLE or a file path, or create one of "
        + ", ".join(settings.init_files)
        + " beside the entry"
        + _likely_inits(tree)
    )


_INIT_WORDS = ("instrument", "sentry", "otel", "telemetry", "tracing", "observability")


def _likely_inits(tree: SourceTree | None) -> str:
    """A hint naming the files beside the entry that look like an init, if any."""
    names = sorted(
        name
        for name in (tree.list_dir(".") or () if tree is not None else ())
        if name.endswith(".py") and any(word in name.lower() for word in _INIT_WORDS)
    )
    if not names:
        return ""
    shown = ", ".join(f"--init ./{name}" for name in names[:3])
    return f"; beside it: {shown} (or a preset whose init files include it: --list-presets -v)"


def check_init_module(
    init: InitSpec, locator: ModuleLocator, entry: EntryLocation, tree: SourceTree | None
) -> None:
    """Raise ``ConfigError`` when the module of ``init`` cannot be imported from the entry.

    It can when it is in the tree where the import system will look for it
    (``ModuleLocator.resolve`` with ``strict``), or when this interpreter can
    find its top-level package (it is installed). The message suggests what
    would work: the file beside the entry, the name within the entry's
    package, or the closest module name.
    """
    if tree is None or locator.resolve(init.target, strict=True) is not None:
        return
    top = init.target.split(".", 1)[0]
    if _installed(top):
        return
    package = ".".join(entry.package)
    suggestions: list[str] = []
    beside = init.target.replace(".", "/")
    for candidate in (f"{beside}.py", f"{beside}/__init__.py"):
        if tree.is_file(candidate):
            suggestions.append(f"'./{candidate}'")
            if package:
                suggestions.append(repr(f"{package}.{init.target}" + _callable(init)))
    if not suggestions:
        import difflib

        listed = tree.list_dir(".") or ()
        names = [
            name.removesuffix(".py")
            for name in listed
            if name.endswith(".py") or tree.is_file(f"{name}/__init__.py")
        ]
        close = difflib.get_close_matches(top, names, n=1)
        if close and is_identifier(close[0]):
            suggested = (f"{package}." if package else "") + close[0]
            suggestions.append(repr(suggested + _callable(init)))
        elif close and not init.attribute:
            suggestions.append(f"'./{close[0]}.py'")  # a file whose name is no module name
    hint = f"; did you mean {' or '.join(suggestions)}?" if suggestions else ""
    if package:
        where = (
            f"the entry is a module of package {package}, so Python looks for it above that"
            " package, not beside the entry"
        )
    else:
        where = "it is not beside the entry (a script, whose directory Python searches)"
    raise ConfigError(
        f"init module {init.target!r} cannot be imported by the entry: {where}, and it is"
        f" neither installed here nor in the current directory{hint}"
    )


def check_init_callable(init: InitSpec, locator: ModuleLocator, tree: SourceTree | None) -> None:
    """Raise ``ConfigError`` when the init spec names what its module file cannot hold.

    Read statically, for a module in the tree or in the current directory:
    ``module:callable`` whose module binds no such name at its top level
    (unless it may bind names no statement shows: a star import, ``exec``,
    ``globals()``, a module ``__getattr__``), and ``module.name`` where
    ``module`` is a plain module, not a package (Python then fails with
    "'module' is not a package"). Modules found elsewhere (installed) are
    left to the run.
    """
    source = _init_source(init, locator, tree)
    if source is None:
        return
    shown, text = source
    if text is None:
        owner = shown.removesuffix(".py").replace("/", ".")
        raise ConfigError(
            f"init module {init.target!r} cannot be imported: {owner!r} ({shown}) is a module,"
            f" not a package; did you mean {owner + ':' + init.target[len(owner) + 1 :]!r}?"
        )
    if init.attribute is None:
        return
    module = module_tree(text)
    if module is None:
        return  # the run reports it
    summary = summarise_module(module)
    name = init.attribute.split(".", 1)[0]
    unknown = summary.star_modules or summary.dynamic_namespace or "__getattr__" in summary.defined
    # Any binding anywhere counts too (a walrus, a `global` in a function).
    stored = {
        node.id
        for node in ast.walk(module)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    }
    # `module:obj.method` may name anything; a plain name bound only by `def`s is read.
    if name == init.attribute and name in summary.defined and name not in stored:
        _check_not_async(module, name, shown)
    if unknown or name in summary.defined or name in stored:
        return
    import difflib

    close = difflib.get_close_matches(name, sorted(summary.defined), n=1)
    if close:
        hint = f"; did you mean {init.target}:{close[0]}?"
    else:
        hint = f"; to run the module itself, use --init {init.target}"
    raise ConfigError(f"init callable {name!r} is not defined in {shown}{hint}")


def _check_not_async(module: ast.Module, name: str, shown: str) -> None:
    """Raise ``ConfigError`` when ``name`` is bound only by undecorated ``async def``s.

    The init block calls the callable and does not await what it returns:
    an ``async def``'s body would never run (Python only makes a coroutine).
    Any other binding of ``name`` that runs on import (a ``def``, a class,
    an import, a decorator such as asgiref's ``async_to_sync``) may make it
    a plain callable, and is left to the run. Assignments are the caller's.
    """
    bindings = [
        statement
        for statement in module_level(module.body)
        if (
            isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and statement.name == name
        )
        or (
            isinstance(statement, (ast.Import, ast.ImportFrom))
            and any((alias.asname or alias.name).split(".")[0] == name for alias in statement.names)
        )
    ]
    if bindings and all(
        isinstance(statement, ast.AsyncFunctionDef) and not statement.decorator_list
        for statement in bindings
    ):
        raise ConfigError(
            f"init callable {name!r} in {shown} is an async def: the init block calls it"
            " without awaiting it, so its body would never run; make it a plain def"
        )


def _init_source(
    init: InitSpec, locator: ModuleLocator, tree: SourceTree | None
) -> tuple[str, str | None] | None:
    """The init module's file and text; text None when a plain module stands for a package."""
    relpath = locator.resolve(init.target, strict=True)
    if relpath is not None and tree is not None and not relpath.endswith("/"):
        text = tree.read_text(relpath)
        return None if text is None else (relpath, text)
    if relpath is not None or tree is None:
        return None
    # Not in the tree: the current directory, which servers put on sys.path.
    from pathlib import Path

    from rewriter.config import DEFAULT_MAX_SIZE
    from rewriter.files import DiskTree

    here = DiskTree(Path("."), getattr(tree, "max_size", DEFAULT_MAX_SIZE))
    parts = init.target.split(".")
    for depth in range(1, len(parts) + 1):
        base = "/".join(parts[:depth])
        if here.is_file(f"{base}/__init__.py"):
            continue
        if not here.is_file(f"{base}.py"):
            return None
        if depth < len(parts):
            return f"{base}.py", None
        text = here.read_text(f"{base}.py")
        return None if text is None else (f"{base}.py", text)
    return None


def _callable(init: InitSpec) -> str:
    return f":{init.attribute}" if init.attribute else ""


def _installed(top: str) -> bool:
    from rewriter import probes

    found = importable_here(top)
    probes.note("importable", top, found)
    return found


def importable_here(top: str) -> bool:
    """True if the top-level module ``top`` can be imported where the build runs.

    That is: a built-in module, a module this interpreter finds on
    ``sys.path``, or one in the current directory, which servers started
    there put on ``sys.path`` too (``python -m``, gunicorn, uvicorn).
    """
    import os
    import sys
    from importlib.machinery import PathFinder

    if top in sys.builtin_module_names:
        return True
    path = [os.getcwd(), *(entry for entry in sys.path if entry)]
    return PathFinder.find_spec(top, path) is not None


def unmatched_runtime_patterns(
    patterns: Iterable[str], statements: Iterable[ImportStatement], locator: ModuleLocator
) -> list[Diagnostic]:
    """A warning (at 1:1) for each ``runtime`` pattern that no import of the entry matches.

    Such a pattern is usually a typo (``chunk/**`` for ``chunks/**``); it
    selects nothing, so the runtime it was meant to name stays static.
    """
    if not patterns:
        return []  # and pathspec, slow to import, is not needed
    import pathspec

    files = {
        path
        for statement in statements
        for module in statement.candidate_modules()
        if (path := locator.resolve(module)) is not None
    }
    warnings = []
    for pattern in patterns:
        if not pattern.strip() or pattern.lstrip().startswith(("#", "!")):
            continue
        spec = pathspec.GitIgnoreSpec.from_lines([pattern])
        if not any(spec.match_file(path) for path in files):
            message = f"runtime pattern {pattern!r} matches no module the entry imports"
            warnings.append(Diagnostic(message))
    return warnings
