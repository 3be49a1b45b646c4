"""Hypothesis strategies: a runtime tree beside an entry, and entries importing it.

A ``RuntimeTree`` is a set of modules and packages (``chunks/``, nested
subpackages, sibling modules) that define functions, classes and constants,
import each other (star imports, names, submodules, relative and absolute),
and sometimes declare ``__all__``. Every module first appends
``[__name__, <did init run?>]`` to a list kept in ``builtins`` so that a test
can see when each runtime module was first imported.

An ``Entry`` is the text of an ``index.py`` that imports the tree in every
form Python has, together with the expected classification of each of its
import statements: ``runtime_flags`` holds, in source order, whether each
import statement that runs at import time (outside functions and classes)
loads the runtime. The flags come from how the statement was built, never
from the tool. (The shapes drawn only with ``differential=True``, which the
static properties never see, carry flags too, but nothing reads them.)

Two entry kinds: a *package* entry (``app/index.py``, imported as
``app.index``; ``app/__init__.py`` exists) uses relative imports and absolute
``app.`` imports; a *script* entry (``python index.py``) uses absolute imports
of its siblings.

What the generator draws (issue 13 lists the shapes that broke the design
before the original-statement redesign):

- Runtime trees: up to three top-level modules and packages, nested two
  levels, each module defining up to four of ``fa fb Ka Kb va vb _pa``
  (with ``handlers``, also ``handler`` as a plain ``def``, an ``async def``,
  a synchronous ``functools.wraps`` wrapper that runs an ``async def`` with
  ``asyncio.run``, a ``functools.partial`` or a callable instance; ``server``
  a class; ``default`` a constant), importing later modules (star, names,
  submodules; relative or absolute), with or without ``__all__``; and:
  * *attribute-shadowed submodules*: a package whose ``__init__`` binds a
    name equal to one of its leaf submodules (``from .m3 import m3``, the
    Flask layout ``from .app import app``), so ``import pkg.m3 as x`` and
    ``from pkg import m3`` bind the object, ``import pkg.m3`` the package;
  * *modules that replace themselves* in ``sys.modules`` (leaf modules):
    with a module that has another ``__name__``, with an object that has no
    ``__name__`` (a ``SimpleNamespace``), or with the ``json`` module;
  * *order-dependent modules*: a module reads, at import time, ``va`` of
    other runtime modules through ``sys.modules`` without importing them
    (``seen = "a saw [...]"``), so a change of import order changes values.
- Entries (package and script), every import form at module level, in
  functions (called), classes and ``if``/``try``/``with``/``for`` blocks,
  lines joined with ``;``, aliases and parenthesised lists, namespace
  snapshots along the way; with ``differential``, also:
  * an *environment preamble* ``import sys`` / ``sys.path.insert(0, VENDOR)``
    before the first runtime import, after which every import is E402, and
    *dotted standard-library and third-party imports* after code
    (``import os.path``, ``import xml.etree.ElementTree as ET``,
    ``import vendorpkg.app as vapp`` where ``vendorpkg/__init__.py`` binds
    ``app``, ``import vendorpkg.compat`` and ``vendorpkg.nameless``, which
    replace themselves in ``sys.modules``, with and without a ``__name__``);
  * optional imports in ``try``/``except ImportError`` (missing names and
    missing modules, with ``pass``, a fallback value, or a record of the
    exception's type, ``name`` and message), and *relative-import
    fallbacks* ``try: from .m import x`` / ``except ImportError: from m
    import x``, which fall back in script entries;
  * an ``__all__`` of names the entry binds, and a *failing last import*
    (a missing name, a missing module, a relative import in a script) that
    the entry does not catch: both runs must raise the same exception;
  * *probes* that run after the entry, as other code would: ``hasattr`` and
    ``getattr(entry, name, None)`` of bound and unbound names, ``from entry
    import *``, and calls of the handlers;
  * *a move above the block*: which top-level runtime import line the test
    moves above the init block of the rewritten entry before rewriting it
    again (``Program.moved_text`` is the original with that line moved).

What it cannot draw:

- imports of a runtime module that fail for reasons other than a missing
  name or module (syntax errors, exceptions raised by the module), import
  cycles between runtime modules, a replaced or shadowed *package* (only
  leaf modules are replaced or shadowed);
- entries that LibCST does not print back as it read them (a blank line
  before an indented comment that ends the file), which rewriter refuses;
- ``TYPE_CHECKING`` blocks, comments and trailing comments in differential
  entries (they run nothing); environment setup other than the ``sys.path``
  preamble (``os.environ``, dotenv, gevent), which the runtime could observe
  only through the environment; ``global``, ``exec`` or a ``__getattr__`` of
  the entry's own; entries that are a package's ``__init__.py`` (the
  explicit issue-13 tests cover them);
- in lazy programs (``lazy_safe``): an uncaught failing import at the top
  level (lazy mode moves that failure to first use, by design; nested in
  ``if True:`` it stays eager and is drawn). Star imports, namespace
  snapshots and functions called at import time that import the runtime
  are drawn in lazy programs too: lazy mode keeps every import of such an
  entry eager (they were bugs once; the explicit tests at the end of
  ``tests/test_differential.py`` hold them).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Literal

import libcst as cst
from hypothesis import assume
from hypothesis import strategies as st

EntryKind = Literal["package", "script"]
ImportKind = Literal["star", "names", "module"]
Replacement = Literal["module", "object", "stdlib"]
HandlerKind = Literal["function", "async", "sync-over-async", "partial", "instance"]

PACKAGE = "app"
INIT_FILE = "instrument_server.py"
HANDLER_NAMES = ("handler", "server", "default")
TRACE_KEY = "_difftrace"
INIT_KEY = "_diffinit"
# The module the harness puts on the path: the entry reaches it only through
# `__import__`, which is not an import statement the tool looks at.
HELPER = "_diffdump"

# Each runtime module runs this first: it binds no name in the module.
TRACE_LINE = (
    f'__import__("builtins").__dict__.setdefault("{TRACE_KEY}", [])'
    f'.append([__name__, __import__("builtins").__dict__.get("{INIT_KEY}", False)])'
)
INIT_SOURCE = f'__import__("builtins").{INIT_KEY} = True\n'

# name -> kind of definition; the handler names are only used when asked for.
_DEFINITIONS = {
    "fa": "function",
    "fb": "function",
    "Ka": "class",
    "Kb": "class",
    "va": "constant",
    "vb": "constant",
    "_pa": "constant",
}
_HANDLER_DEFINITIONS = {"handler": "function", "server": "class", "default": "constant"}
# What a module reads of the modules it peeks at, and the name it binds.
_PEEKED = "va"
_SEEN = "seen"
# The names `json` has, for `from <module replaced by json> import ...`.
_JSON_NAMES = ("dumps", "loads")

_HANDLER_SOURCES: dict[str, str] = {
    "function": "def handler():\n    return __name__",
    "async": "async def handler():\n    return __name__",
    # A synchronous handler whose body is a coroutine (Lambda's `asyncio.run`
    # idiom): its call kind is not what `async def` says.
    "sync-over-async": (
        "def _sync(function):\n"
        '    @__import__("functools").wraps(function)\n'
        "    def wrapper():\n"
        '        return __import__("asyncio").run(function())\n'
        "    return wrapper\n"
        "@_sync\n"
        "async def handler():\n"
        "    return __name__"
    ),
    "partial": (
        "def _handle(prefix):\n"
        '    return prefix + ":" + __name__\n'
        'handler = __import__("functools").partial(_handle, "partial")'
    ),
    "instance": (
        "class _Handler:\n    def __call__(self):\n        return __name__\nhandler = _Handler()"
    ),
}

# Standard-library imports, as whole statements and as `import` items.
_STDLIB_STATEMENTS = (
    "import os",
    "import json as js",
    "import xml.etree.ElementTree",
    "import collections.abc as cabc",
    "from os import path as osp, sep",
    "from collections import (\n    OrderedDict,\n    deque as dq,\n)",
    "import os, json",
)
_STDLIB_ITEMS = ("os", "json as js", "xml.dom", "collections.abc")
# Dotted imports whose module's `__name__` is not the name as written
# (`os.path` is `posixpath`), or whose first component is the binding.
_DOTTED_STDLIB = (
    "import os.path",
    "import os.path as osp2",
    "import xml.etree.ElementTree as ET",
    "import email.mime.text",
    "import importlib.util, os.path",
    "from os import path",
)

# A third-party package outside the entry's tree, importable once the entry's
# preamble puts its directory on sys.path.
VENDOR_PACKAGE = "vendorpkg"
VENDOR_FILES = {
    "vendorpkg/__init__.py": "from .app import app\n",
    "vendorpkg/app.py": 'app = __import__("types").SimpleNamespace(shadows="vendorpkg.app")\n',
    "vendorpkg/compat.py": '__import__("sys").modules[__name__] = __import__("json")\n',
    "vendorpkg/nameless.py": (
        '__import__("sys").modules[__name__] = __import__("types").SimpleNamespace(value=1)\n'
    ),
    "vendorpkg/sub/__init__.py": "",
    "vendorpkg/sub/leaf.py": "LEAF = 1\n",
}
_VENDOR_STATEMENTS = (
    "import vendorpkg.app",
    "import vendorpkg.app as vapp",
    "from vendorpkg import app as vapp2",
    "import vendorpkg.compat",
    "import vendorpkg.compat as vcompat",
    "import vendorpkg.nameless",
    "import vendorpkg.nameless as vnameless",
    "from vendorpkg import nameless",
    "import vendorpkg.sub.leaf",
    "from vendorpkg.sub import leaf",
)
PREAMBLE = ("import sys", f'sys.path.insert(0, __import__("{HELPER}").VENDOR)')

# Probes: what other code does with the entry once it is imported.
Probe = tuple[str, str]
_PROBE_NAMES = ("fa", "va", "handler", "server", "extra", "nope")


@dataclass(frozen=True)
class ModuleImport:
    """An import in runtime module ``source`` of module ``target`` (indexes)."""

    target: int
    kind: ImportKind
    names: tuple[str, ...] = ()
    relative: bool = True


@dataclass
class ModuleSpec:
    """One runtime module or package, by its path below the entry directory.

    ``replaced``: the module replaces itself in ``sys.modules`` at its end;
    ``shadowed``: it defines a name equal to its own, which its package
    imports; ``peeks``: modules whose ``va`` it reads at import time;
    ``handler_kind``: what ``handler`` is, when it defines one.
    """

    parts: tuple[str, ...]
    is_package: bool
    children: list[int] = field(default_factory=list)
    definitions: tuple[str, ...] = ()
    imports: list[ModuleImport] = field(default_factory=list)
    all_names: tuple[str, ...] | None = None
    replaced: Replacement | None = None
    shadowed: bool = False
    peeks: tuple[int, ...] = ()
    handler_kind: HandlerKind = "function"

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)

    @property
    def relpath(self) -> str:
        return "/".join(self.parts) + ("/__init__.py" if self.is_package else ".py")

    @property
    def package_parts(self) -> tuple[str, ...]:
        """The package that relative imports in this module start from."""
        return self.parts if self.is_package else self.parts[:-1]

    def ancestors(self) -> set[tuple[str, ...]]:
        return {self.parts[:depth] for depth in range(1, len(self.parts))}

    @property
    def own_names(self) -> tuple[str, ...]:
        """The names the module's own code defines (not its imports)."""
        names = list(self.definitions)
        if self.peeks:
            names.append(_SEEN)
        if self.shadowed:
            names.append(self.parts[-1])
        return tuple(names)

    @property
    def exported(self) -> tuple[str, ...]:
        """The names ``from <module> import NAME`` finds once the module has run."""
        if self.replaced == "stdlib":
            return _JSON_NAMES
        if self.replaced is not None:
            # The replacement holds the public names only.
            return tuple(name for name in self.own_names if not name.startswith("_"))
        return self.own_names


def module_name(parts: tuple[str, ...], kind: EntryKind) -> str:
    """The module's ``__name__`` at run time in an entry of ``kind``."""
    dotted = ".".join(parts)
    return f"{PACKAGE}.{dotted}" if kind == "package" else dotted


@dataclass
class RuntimeTree:
    """The runtime modules beside an entry, in preorder (packages before children)."""

    modules: list[ModuleSpec]

    def available_names(self, index: int) -> list[str]:
        """Names that ``from <module> import NAME`` finds in module ``index``.

        Definitions, names bound by the module's own imports, and (for a
        package) its submodules, which the import loads on demand. A module
        replaced by ``json`` has json's names.
        """
        module = self.modules[index]
        if module.replaced == "stdlib":
            return list(_JSON_NAMES)
        names = list(module.own_names)
        for imported in module.imports:
            if imported.kind == "names":
                names.extend(imported.names)
            elif imported.kind == "module":
                names.append(self.modules[imported.target].parts[-1])
        names.extend(self.modules[child].parts[-1] for child in module.children)
        if module.replaced is not None:
            names = [name for name in names if not name.startswith("_")]
        return list(dict.fromkeys(names))

    def source(self, index: int, kind: EntryKind) -> str:
        """The text of module ``index`` for an entry of ``kind``."""
        module = self.modules[index]
        # Every module has a private name, which star imports without
        # __all__ must leave out.
        lines = [TRACE_LINE, f"_hidden = {module.dotted!r}"]
        for imported in module.imports:
            lines.append(self._import_line(module, imported, kind))
        if module.peeks:
            peeked = tuple(module_name(self.modules[i].parts, kind) for i in module.peeks)
            lines.append(
                f"{_SEEN} = {module.dotted + ' saw '!r} + repr(["
                f'getattr(__import__("sys").modules.get(name), {_PEEKED!r}, None)'
                f" for name in {peeked!r}])"
            )
        for name in module.definitions:
            definition_kind = {**_DEFINITIONS, **_HANDLER_DEFINITIONS}[name]
            if name == "handler":
                lines.append(_HANDLER_SOURCES[module.handler_kind])
            elif definition_kind == "function":
                lines.append(f"def {name}():\n    return __name__")
            elif definition_kind == "class":
                lines.append(f"class {name}:\n    pass")
            else:
                lines.append(f"{name} = {module.dotted + ':' + name!r}")
        if module.shadowed:
            # Like Flask's `app` object in `app.py`, imported by its package.
            lines.append(
                f'{module.parts[-1]} = __import__("types").SimpleNamespace'
                f"(shadows={module.dotted!r})"
            )
        if module.all_names is not None:
            lines.append(f"__all__ = {list(module.all_names)!r}")
        if module.replaced is not None:
            lines.append(_replacement(module))
        return "\n".join(lines) + "\n"

    def _import_line(self, module: ModuleSpec, imported: ModuleImport, kind: EntryKind) -> str:
        target = self.modules[imported.target]
        if imported.kind == "module":
            parent, last = target.parts[:-1], target.parts[-1]
            if not parent and kind == "script":
                return f"import {last}"
            reference = self._reference(module, parent, kind, imported.relative)
            return f"from {reference} import {last}"
        reference = self._reference(module, target.parts, kind, imported.relative)
        if imported.kind == "star":
            return f"from {reference} import *"
        return f"from {reference} import {', '.join(imported.names)}"

    @staticmethod
    def _reference(
        module: ModuleSpec, parts: tuple[str, ...], kind: EntryKind, relative: bool
    ) -> str:
        # How `module` names the module at `parts` in a from-import.
        package = module.package_parts
        shared = 0
        while shared < min(len(package), len(parts)) and package[shared] == parts[shared]:
            shared += 1
        if kind == "script" and (shared == 0 or not relative):
            return ".".join(parts)
        if not relative:
            return ".".join((PACKAGE, *parts))
        return "." * (len(package) - shared + 1) + ".".join(parts[shared:])

    def files(self, kind: EntryKind) -> dict[str, str]:
        """The runtime files and the init file, relative to the entry directory."""
        files = {
            module.relpath: self.source(index, kind) for index, module in enumerate(self.modules)
        }
        files[INIT_FILE] = INIT_SOURCE
        if kind == "package":
            files["__init__.py"] = ""
        return files


def _replacement(module: ModuleSpec) -> str:
    """The last line of a module that replaces itself in ``sys.modules``."""
    assign = '__import__("sys").modules[__name__] = '
    if module.replaced == "stdlib":
        return assign + '__import__("json")'
    public = "{k: v for k, v in globals().items() if not k.startswith('_') or k == '__all__'}"
    if module.replaced == "object":
        # No __name__: CPython never needs one, a reimplementation may.
        return assign + f'__import__("types").SimpleNamespace(**{public})'
    return (
        f'_proxy = __import__("types").ModuleType({module.dotted + "_proxy"!r})\n'
        f"_proxy.__dict__.update({public})\n" + assign + "_proxy"
    )


def _may_import(tree: list[ModuleSpec], source: int, target: int) -> bool:
    # Acyclic by construction: only later modules, and only those whose
    # enclosing packages are already running or done when `source` runs.
    if target <= source:
        return False
    importer = tree[source]
    return tree[target].ancestors() <= importer.ancestors() | {importer.parts}


@st.composite
def runtime_trees(draw: st.DrawFn, *, handlers: bool = False) -> RuntimeTree:
    """A tree of runtime modules with definitions, imports and ``__all__``."""
    modules: list[ModuleSpec] = []

    def add(parts: tuple[str, ...], is_package: bool, depth: int) -> int:
        index = len(modules)
        modules.append(ModuleSpec(parts, is_package))
        if is_package:
            for _ in range(draw(st.integers(1, 3 if depth < 2 else 1))):
                child_is_package = depth < 2 and draw(st.booleans())
                name = f"{'p' if child_is_package else 'm'}{len(modules)}"
                child = add((*parts, name), child_is_package, depth + 1)
                modules[index].children.append(child)
        return index

    add(("chunks",), True, 0)
    if draw(st.booleans()):
        add(("routes",), False, 0)
    if draw(st.booleans()):
        add(("lib",), True, 1)

    pool = {**_DEFINITIONS, **(_HANDLER_DEFINITIONS if handlers else {})}
    # First what each module is, then what it imports: an import may only
    # ask a later module for names that module defines.
    for module in modules:
        module.definitions = tuple(
            draw(st.lists(st.sampled_from(sorted(pool)), unique=True, max_size=4))
        )
        if "handler" in module.definitions:
            module.handler_kind = draw(st.sampled_from(sorted(_HANDLER_SOURCES)))  # type: ignore[arg-type]
        if not module.is_package and draw(st.integers(0, 5)) == 5:
            module.replaced = draw(st.sampled_from(["module", "object", "stdlib"]))
        others = [i for i, other in enumerate(modules) if other is not module]
        if others and draw(st.integers(0, 3)) == 3:
            module.peeks = tuple(
                draw(st.lists(st.sampled_from(others), min_size=1, max_size=2, unique=True))
            )
    for module in modules:
        leaves = [
            child
            for child in module.children
            if not modules[child].is_package and modules[child].replaced != "stdlib"
        ]
        if leaves and draw(st.integers(0, 2)) == 2:
            modules[draw(st.sampled_from(leaves))].shadowed = True
    for index, module in enumerate(modules):
        for child in module.children:
            if modules[child].shadowed:
                name = modules[child].parts[-1]
                module.imports.append(ModuleImport(child, "names", (name,), draw(st.booleans())))
        targets = [other for other in range(len(modules)) if _may_import(modules, index, other)]
        if targets:
            for target in draw(st.lists(st.sampled_from(targets), unique=True, max_size=2)):
                kind: ImportKind = draw(st.sampled_from(["star", "names", "module"]))
                names: tuple[str, ...] = ()
                if kind == "names":
                    # What the target defines: it has run by then.
                    available = modules[target].exported
                    if not available:
                        kind = "star"
                    else:
                        names = tuple(
                            draw(
                                st.lists(
                                    st.sampled_from(available), min_size=1, max_size=2, unique=True
                                )
                            )
                        )
                relative = draw(st.booleans())
                module.imports.append(ModuleImport(target, kind, names, relative))
    tree = RuntimeTree(modules)
    for index, module in enumerate(modules):
        if draw(st.booleans()) and module.replaced != "stdlib":
            public = [name for name in tree.available_names(index) if not name.startswith("_")]
            module.all_names = tuple(
                draw(st.lists(st.sampled_from(public), unique=True)) if public else ()
            )
    return tree


@dataclass
class Entry:
    """An entry's text and the expected classification of its import statements.

    ``head`` holds the lines that stay above the init block (the header and
    the ``sys.path`` preamble), ``blocks`` the top-level statements after
    them (the text is ``head`` then ``blocks``), and ``movable`` the indexes
    of the blocks that are a runtime import alone on its line.
    """

    text: str
    runtime_flags: tuple[bool, ...]
    kind: EntryKind
    head: tuple[str, ...] = ()
    blocks: tuple[str, ...] = ()
    movable: tuple[int, ...] = ()
    features: frozenset[str] = frozenset()


class _EntryBuilder:
    """Draws the statements of one entry, recording each import's classification."""

    def __init__(
        self,
        draw: st.DrawFn,
        tree: RuntimeTree,
        kind: EntryKind,
        *,
        differential: bool,
        lazy_safe: bool = False,
    ) -> None:
        self.draw = draw
        self.tree = tree
        self.kind = kind
        self.differential = differential
        self.lazy_safe = lazy_safe
        self.vendor = False
        self.counter = 0
        self.features: set[str] = set()

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    # A "line" is (text, flags): a simple statement (possibly spanning several
    # physical lines inside brackets) and the runtime flags of its imports.

    def module_reference(self, index: int) -> str:
        dotted = self.tree.modules[index].dotted
        if self.kind == "script":
            return dotted
        return self.draw(st.sampled_from([f".{dotted}", f"{PACKAGE}.{dotted}"]))

    def parent_reference(self, index: int) -> str | None:
        parts = self.tree.modules[index].parts
        if len(parts) == 1:
            if self.kind == "script":
                return None
            return self.draw(st.sampled_from([".", PACKAGE]))
        parent = next(i for i, m in enumerate(self.tree.modules) if m.parts == parts[:-1])
        return self.module_reference(parent)

    def names_list(self, items: list[str]) -> str:
        style = self.draw(st.sampled_from(["plain", "parens", "multiline", "comment"]))
        if style == "plain":
            return ", ".join(items)
        if style == "parens":
            return "(" + ", ".join(items) + ")"
        body = "".join(f"    {item},\n" for item in items)
        opening = "(  # names\n" if style == "comment" else "(\n"
        return opening + body + ")"

    def aliased(self, name: str) -> str:
        if self.draw(st.integers(0, 3)) == 0:
            alias = self.draw(st.sampled_from(["al", "am", name.rsplit(".", 1)[-1] + "x"]))
            return f"{name} as {alias}"
        return name

    def runtime_import(self, *, star: bool = True) -> tuple[str, list[bool]]:
        """An import of the runtime in any form (``star=False``: no star import)."""
        tree = self.tree
        index = self.draw(st.integers(0, len(tree.modules) - 1))
        form = self.draw(st.sampled_from(["import", "from", "submodules", "star"]))
        if not star and form == "star":
            form = "import"
        if form == "import":
            prefix = "" if self.kind == "script" else f"{PACKAGE}."
            items = [self.aliased(prefix + tree.modules[index].dotted)]
            for _ in range(self.draw(st.integers(0, 2))):
                if self.draw(st.booleans()):
                    items.append(self.draw(st.sampled_from(_STDLIB_ITEMS)))
                else:
                    other = self.draw(st.integers(0, len(tree.modules) - 1))
                    items.append(self.aliased(prefix + tree.modules[other].dotted))
            items = self.draw(st.permutations(items))
            return "import " + ", ".join(items), [True]
        if form == "submodules":
            reference = self.parent_reference(index)
            if reference is not None:
                parts = tree.modules[index].parts
                siblings = [m.parts[-1] for m in tree.modules if m.parts[:-1] == parts[:-1]]
                chosen = self.draw(
                    st.lists(st.sampled_from(siblings), min_size=1, max_size=3, unique=True)
                )
                names = [self.aliased(name) for name in dict.fromkeys([parts[-1], *chosen])]
                return f"from {reference} import {self.names_list(names)}", [True]
            form = "star" if star else "from"
        available = tree.available_names(index)
        if form == "from" and not available and not star:
            prefix = "" if self.kind == "script" else f"{PACKAGE}."
            return f"import {prefix}{tree.modules[index].dotted}", [True]
        if form == "from" and available:
            chosen = self.draw(st.lists(st.sampled_from(available), min_size=1, unique=True))
            names = [self.aliased(name) for name in chosen]
            return (
                f"from {self.module_reference(index)} import {self.names_list(names)}",
                [True],
            )
        return f"from {self.module_reference(index)} import *", [True]

    def missing_import(self) -> tuple[str, list[bool]]:
        """An import that fails with ImportError (only inside a guard)."""
        index = self.draw(st.integers(0, len(self.tree.modules) - 1))
        if self.draw(st.booleans()):
            return f"from {self.module_reference(index)} import nope", [True]
        # A module that does not exist: ModuleNotFoundError, `name` its name.
        return f"from {self.module_reference(index)}.nothere import extra", [True]

    def dotted_import(self) -> tuple[str, list[bool]]:
        """A dotted standard-library or (after the preamble) third-party import."""
        pool = _DOTTED_STDLIB + (_VENDOR_STATEMENTS if self.vendor else ())
        statement = self.draw(st.sampled_from(pool))
        self.features.add("dotted-third-party" if VENDOR_PACKAGE in statement else "dotted-stdlib")
        return statement, [False] * statement.count("import ")

    def record(self) -> str:
        """A handler body that records the exception (type, ``name``, message)."""
        return f'    {self.fresh("_err")} = __import__("{HELPER}").failure(error)'

    def simple(self, *, guarded: bool) -> tuple[str, list[bool]]:
        choices = ["runtime", "runtime", "runtime", "stdlib", "assign"]
        if self.differential:
            choices += ["dotted", "snapshot"]
        if guarded and self.differential:
            choices += ["missing", "missing"]
        choice = self.draw(st.sampled_from(choices))
        if choice == "runtime":
            return self.runtime_import()
        if choice == "missing":
            return self.missing_import()
        if choice == "stdlib":
            statement = self.draw(st.sampled_from(_STDLIB_STATEMENTS))
            return statement, [False]
        if choice == "dotted":
            return self.dotted_import()
        if choice == "snapshot":
            self.features.add("snapshot")
            return f'{self.fresh("_snap")} = __import__("{HELPER}").snapshot(globals())', []
        return f"{self.fresh('x')} = {self.draw(st.integers(0, 9))}", []

    def line(self, *, guarded: bool) -> tuple[str, list[bool]]:
        """One physical statement line; sometimes several joined with ``;``."""
        parts = [self.simple(guarded=guarded) for _ in range(self.draw(st.integers(1, 2)))]
        if len(parts) > 1 and self.draw(st.booleans()):
            text = "; ".join(text for text, _ in parts)
            flags = [flag for _, part_flags in parts for flag in part_flags]
            parts = [(text, flags)]
        if not self.differential and self.draw(st.integers(0, 4)) == 0:
            text, flags = parts[-1]
            parts[-1] = (text + "  # trailing", flags)
        return "\n".join(text for text, _ in parts), [f for _, flags in parts for f in flags]

    def block(self) -> tuple[str, list[bool], set[str]]:
        """A top-level statement: a line, a compound block around lines, or a def."""
        choices = [
            "line",
            "line",
            "line",
            "if",
            "if-suite",
            "dead-if",
            "if-else",
            "try",
            "try-else",
            "with",
            "for",
            "def",
            "class",
        ]
        if self.differential:
            choices += ["fallback", "fallback", "optional", "optional"]
        else:
            choices += ["comment", "type-checking", "not-type-checking"]
        choice = self.draw(st.sampled_from(choices))
        needs: set[str] = set()
        if choice == "line":
            text, flags = self.line(guarded=False)
            return text, flags, needs
        if choice == "comment":
            # Indented too: LibCST reads a comment indented like the block
            # above it as that block's footer (after a pin, the `except`'s).
            comment = self.draw(st.sampled_from(["#", "    #", "  #", "\t#"]))
            return f"{comment} a comment\n", [], needs
        if choice == "if-suite":
            text, flags = self.runtime_import()
            if "\n" in text:
                return f"if True:\n{_indent(text)}", flags, needs
            return f"if True: {text}", flags, needs
        if choice == "fallback":
            return self.fallback()
        if choice == "optional":
            return self.optional()
        if choice in ("def", "class"):
            # `import *` is only allowed at module level.
            text, _ = self.runtime_import(star=False)
            name = self.fresh("g" if choice == "def" else "Holder")
            if choice == "class":
                return f"class {name}:\n{_indent(text)}", [], needs
            code = f"def {name}():\n{_indent(text)}\n    return locals()"
            if self.differential:
                code += f"\n{self.fresh('r')} = sorted({name}())"
            return code, [], needs
        if choice == "type-checking":
            text, _ = self.runtime_import()
            needs.add("typing")
            return f"if TYPE_CHECKING:\n{_indent(text)}", [False], needs
        if choice == "not-type-checking":
            body, flags = self.lines(guarded=False)
            other, _ = self.runtime_import()
            needs.add("typing")
            return (
                f"if not TYPE_CHECKING:\n{_indent(body)}\nelse:\n{_indent(other)}",
                [*flags, False],
                needs,
            )
        guarded = choice in ("try", "with")
        body, flags = self.lines(guarded=guarded)
        if choice == "if":
            return f"if 1 + 1 == 2:\n{_indent(body)}", flags, needs
        if choice == "dead-if":
            return f"if not True:\n{_indent(body)}", flags, needs
        if choice == "if-else":
            return f"if False:\n    pass\nelse:\n{_indent(body)}", flags, needs
        if choice == "try":
            handler = self.record() if self.differential else "    pass"
            return f"try:\n{_indent(body)}\nexcept ImportError as error:\n{handler}", flags, needs
        if choice == "try-else":
            return (
                f"try:\n    pass\nexcept ImportError:\n    pass\nelse:\n{_indent(body)}",
                flags,
                needs,
            )
        if choice == "with":
            if self.differential:
                # No module-level import of contextlib: the lines above the
                # init block stay the header and the preamble.
                return (
                    f'with __import__("contextlib").suppress(ImportError):\n{_indent(body)}',
                    flags,
                    needs,
                )
            needs.add("contextlib")
            return f"with contextlib.suppress(ImportError):\n{_indent(body)}", flags, needs
        return f"for _i in range(1):\n{_indent(body)}", flags, needs

    def fallback(self) -> tuple[str, list[bool], set[str]]:
        """``try: from .m import x`` / ``except ImportError: from m import x``.

        The dual-mode idiom: in a script entry the relative import fails
        (no parent package) and the absolute one binds the names.
        """
        self.features.add("relative-fallback")
        modules = range(len(self.tree.modules))
        index = self.draw(st.sampled_from(modules))
        available = self.tree.available_names(index)
        dotted = self.tree.modules[index].dotted
        names = "*"
        if available:
            names = ", ".join(
                self.draw(st.lists(st.sampled_from(available), min_size=1, max_size=2, unique=True))
            )
        handler = self.record() + "\n" if self.draw(st.booleans()) else ""
        return (
            f"try:\n    from .{dotted} import {names}\nexcept ImportError as error:\n"
            f"{handler}    from {dotted} import {names}",
            [True, self.kind == "script"],
            set(),
        )

    def optional(self) -> tuple[str, list[bool], set[str]]:
        """An optional import: a missing (or present) module or name, and a fallback."""
        self.features.add("optional-import")
        if self.draw(st.booleans()):
            text, flags = self.missing_import()
        else:
            text, flags = self.runtime_import(star=False)
        handler = self.draw(st.sampled_from(["pass", "extra = None", "record"]))
        if handler == "record":
            return (
                f"try:\n{_indent(text)}\nexcept ImportError as error:\n{self.record()}",
                flags,
                set(),
            )
        return f"try:\n{_indent(text)}\nexcept ImportError:\n    {handler}", flags, set()

    def failing_tail(self) -> tuple[str, list[bool]]:
        """An import the entry does not catch, which fails in the original."""
        self.features.add("uncaught-failure")
        text, flags = self.missing_import()
        if self.kind == "script" and self.draw(st.booleans()):
            # No parent package: ImportError with `name` None.
            index = self.draw(st.integers(0, len(self.tree.modules) - 1))
            text = f"from .{self.tree.modules[index].dotted} import fa"
        if self.lazy_safe:
            # Lazy mode defers a top-level runtime import to first use, and its
            # failure with it: by design. Nested, it stays eager.
            return f"if True:\n{_indent(text)}", flags
        return text, flags

    def lines(self, *, guarded: bool) -> tuple[str, list[bool]]:
        texts: list[str] = []
        flags: list[bool] = []
        for _ in range(self.draw(st.integers(1, 3))):
            text, line_flags = self.line(guarded=guarded)
            texts.append(text)
            flags.extend(line_flags)
        return "\n".join(texts), flags


def _indent(text: str) -> str:
    return "\n".join("    " + line if line else line for line in text.split("\n"))


def _single_import(text: str) -> bool:
    """True for one top-level import statement alone on its line(s)."""
    body = ast.parse(text).body
    return len(body) == 1 and isinstance(body[0], ast.Import | ast.ImportFrom) and ";" not in text


def top_level_bindings(blocks: list[str]) -> list[str]:
    """The names the top-level import lines among ``blocks`` surely bind (no star)."""
    names: list[str] = []
    for block in blocks:
        for node in ast.parse(block).body:
            if isinstance(node, ast.Import):
                names.extend(alias.asname or alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                names.extend(
                    alias.asname or alias.name for alias in node.names if alias.name != "*"
                )
    return list(dict.fromkeys(names))


@st.composite
def entries(
    draw: st.DrawFn,
    tree: RuntimeTree,
    kind: EntryKind,
    *,
    differential: bool,
    lazy_safe: bool = False,
) -> Entry:
    """An entry importing ``tree``.

    With ``differential``, statements are chosen to run: imports that fail
    only inside ``try``/``suppress`` blocks (or once, uncaught, at the end),
    namespace snapshots along the way, functions that are called, the
    ``sys.path`` preamble, optional imports and relative fallbacks, and an
    ``__all__``. Otherwise comments (at column 0 and indented), blank and
    whitespace-only lines, ``TYPE_CHECKING`` blocks and trailing comments
    are added, and nothing needs to run. ``lazy_safe`` leaves out
    what lazy mode changes by design or by a known bug (see the module
    docstring).
    """
    builder = _EntryBuilder(draw, tree, kind, differential=differential, lazy_safe=lazy_safe)
    header: list[str] = []
    if draw(st.booleans()):
        header.append('"""Server entry (generated)."""')
    if draw(st.booleans()):
        header.append("from __future__ import annotations")
    futures = header.count("from __future__ import annotations")
    preamble: list[str] = []
    if differential and draw(st.booleans()):
        # Environment setup first (it moves above the init block), after which
        # every import is E402: the path autopep8 would hoist.
        preamble.extend(PREAMBLE)
        builder.vendor = True
        builder.features.add("preamble")
    # The first statement after the header always loads the runtime, so that
    # an init imported last demonstrably runs too late in the original.
    first, flags = builder.runtime_import()
    blocks = [first]
    movable = [0] if _single_import(first) else []
    needs: set[str] = set()
    for _ in range(draw(st.integers(0, 6))):
        text, block_flags, block_needs = builder.block()
        if _single_import(text) and any(block_flags):
            movable.append(len(blocks))
        blocks.append(text)
        flags.extend(block_flags)
        needs |= block_needs
        if not differential and draw(st.integers(0, 3)) == 0:
            # A blank line, or one holding only whitespace (editors leave
            # indentation behind), which LibCST reads like an indented comment.
            blocks.append(draw(st.sampled_from(["", "    ", "  \t"])))
    if lazy_safe:
        # Lazy mode defers only the runtime imports after the last one that
        # stays eager: a few plain ones at the end, so that it has some to defer.
        for _ in range(draw(st.integers(1, 3))):
            text, line_flags = builder.runtime_import(star=False)
            if _single_import(text):
                movable.append(len(blocks))
            blocks.append(text)
            flags.extend(line_flags)
    if differential:
        bound = [name for name in top_level_bindings(blocks) if not name.startswith("_")]
        if bound and draw(st.integers(0, 2)) == 2:
            exported = draw(st.lists(st.sampled_from(bound), min_size=1, unique=True))
            blocks.append(f"__all__ = {sorted(exported)!r}")
            builder.features.add("entry-all")
        if draw(st.integers(0, 4)) == 4:
            text, tail_flags = builder.failing_tail()
            blocks.append(text)
            flags.extend(tail_flags)
    imports = []
    if "contextlib" in needs:
        imports.append("import contextlib")
    if "typing" in needs:
        imports.append("from typing import TYPE_CHECKING")
    # Differential entries need no imports of their own, so `head` is what
    # stays above the init block: the header, then the preamble.
    head = [*header, *imports, *preamble]
    flags = [False] * (futures + len(imports) + (1 if preamble else 0)) + flags
    text = "\n".join([*head, *blocks]) + "\n"
    # LibCST drops a blank line before an indented comment that ends the
    # file; rewriter refuses such an entry ("cannot rewrite without losing
    # text"), so the generator does not draw it.
    assume(cst.parse_module(text).code == text)
    return Entry(
        text,
        tuple(flags),
        kind,
        head=tuple(head),
        blocks=tuple(blocks),
        movable=tuple(movable),
        features=frozenset(builder.features),
    )


@dataclass
class Program:
    """A runtime tree and an entry that imports it.

    ``probes`` are what other code does with the entry once imported, in
    order; ``move`` the index of the entry block to move above the init
    block of the rewritten entry before a second run (None: no move).
    """

    tree: RuntimeTree
    entry: Entry
    probes: tuple[Probe, ...] = ()
    move: int | None = None

    @property
    def files(self) -> dict[str, str]:
        return self.tree.files(self.entry.kind)

    @property
    def moved_block(self) -> str | None:
        """The text of the block that moves above the init block, if any."""
        return None if self.move is None else self.entry.blocks[self.move]

    @property
    def moved_text(self) -> str:
        """The entry as the moved block makes it mean: that block right after the head."""
        entry = self.entry
        if self.move is None:
            return entry.text
        blocks = list(entry.blocks)
        moved = blocks.pop(self.move)
        return "\n".join([*entry.head, moved, *blocks]) + "\n"

    @property
    def features(self) -> frozenset[str]:
        """The hostile shapes this program holds (for statistics and coverage tests)."""
        extra = {f"probe-{probe}" for probe, _ in self.probes}
        if self.move is not None:
            extra.add("moved-above-block")
        for module in self.tree.modules:
            if module.replaced is not None:
                extra.add(f"replaced-{module.replaced}")
            if module.shadowed:
                extra.add("shadowed-submodule")
            if module.peeks:
                extra.add("order-dependent")
            if "handler" in module.definitions:
                extra.add(f"handler-{module.handler_kind}")
        return self.entry.features | extra


@st.composite
def probes(draw: st.DrawFn, entry: Entry) -> tuple[Probe, ...]:
    """What other code does with the imported entry: attribute probes, star import, calls."""
    names = sorted({*_PROBE_NAMES, *top_level_bindings(list(entry.blocks))})
    probe = st.one_of(
        st.tuples(st.sampled_from(["hasattr", "getattr"]), st.sampled_from(names)),
        st.just(("star", "")),
        st.tuples(st.just("call"), st.sampled_from(HANDLER_NAMES)),
    )
    return tuple(draw(st.lists(probe, max_size=4)))


@st.composite
def programs(
    draw: st.DrawFn,
    kind: EntryKind,
    *,
    differential: bool,
    handlers: bool = False,
    lazy_safe: bool = False,
) -> Program:
    """A runtime tree and an entry of ``kind`` over it.

    With ``differential``, also the probes and (sometimes) a line to move
    above the init block.
    """
    tree = draw(runtime_trees(handlers=handlers))
    entry = draw(entries(tree, kind, differential=differential, lazy_safe=lazy_safe))
    if not differential:
        return Program(tree, entry)
    move = None
    # A line that occurs once, so that the one moved is the one meant.
    movable = [i for i in entry.movable if entry.blocks.count(entry.blocks[i]) == 1]
    if movable and draw(st.booleans()):
        move = draw(st.sampled_from(movable))
    return Program(tree, entry, draw(probes(entry)), move)
