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
from the tool.

Two entry kinds: a *package* entry (``app/index.py``, imported as
``app.index``; ``app/__init__.py`` exists) uses relative imports and absolute
``app.`` imports; a *script* entry (``python index.py``) uses absolute imports
of its siblings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from hypothesis import strategies as st

EntryKind = Literal["package", "script"]
ImportKind = Literal["star", "names", "module"]

PACKAGE = "app"
INIT_FILE = "instrument_server.py"
HANDLER_NAMES = ("handler", "server", "default")
TRACE_KEY = "_difftrace"
INIT_KEY = "_diffinit"

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


@dataclass(frozen=True)
class ModuleImport:
    """An import in runtime module ``source`` of module ``target`` (indexes)."""

    target: int
    kind: ImportKind
    names: tuple[str, ...] = ()
    relative: bool = True


@dataclass
class ModuleSpec:
    """One runtime module or package, by its path below the entry directory."""

    parts: tuple[str, ...]
    is_package: bool
    children: list[int] = field(default_factory=list)
    definitions: tuple[str, ...] = ()
    imports: list[ModuleImport] = field(default_factory=list)
    all_names: tuple[str, ...] | None = None

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


@dataclass
class RuntimeTree:
    """The runtime modules beside an entry, in preorder (packages before children)."""

    modules: list[ModuleSpec]

    def available_names(self, index: int) -> list[str]:
        """Names that ``from <module> import NAME`` finds in module ``index``.

        Definitions, names bound by the module's own imports, and (for a
        package) its submodules, which the import loads on demand.
        """
        module = self.modules[index]
        names = list(module.definitions)
        for imported in module.imports:
            if imported.kind == "names":
                names.extend(imported.names)
            elif imported.kind == "module":
                names.append(self.modules[imported.target].parts[-1])
        names.extend(self.modules[child].parts[-1] for child in module.children)
        return list(dict.fromkeys(names))

    def source(self, index: int, kind: EntryKind) -> str:
        """The text of module ``index`` for an entry of ``kind``."""
        module = self.modules[index]
        # Every module has a private name, which star imports without
        # __all__ must leave out.
        lines = [TRACE_LINE, f"_hidden = {module.dotted!r}"]
        for imported in module.imports:
            lines.append(self._import_line(module, imported, kind))
        for name in module.definitions:
            definition_kind = {**_DEFINITIONS, **_HANDLER_DEFINITIONS}[name]
            if definition_kind == "function":
                lines.append(f"def {name}():\n    return __name__")
            elif definition_kind == "class":
                lines.append(f"class {name}:\n    pass")
            else:
                lines.append(f"{name} = {module.dotted + ':' + name!r}")
        if module.all_names is not None:
            lines.append(f"__all__ = {list(module.all_names)!r}")
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
    for index, module in enumerate(modules):
        module.definitions = tuple(
            draw(st.lists(st.sampled_from(sorted(pool)), unique=True, max_size=4))
        )
        targets = [other for other in range(len(modules)) if _may_import(modules, index, other)]
        if targets:
            for target in draw(st.lists(st.sampled_from(targets), unique=True, max_size=2)):
                kind: ImportKind = draw(st.sampled_from(["star", "names", "module"]))
                names: tuple[str, ...] = ()
                if kind == "names":
                    # Definitions of the target only: they exist once it ran.
                    available = modules[target].definitions
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
        if draw(st.booleans()):
            public = tree.available_names(index)
            module.all_names = tuple(
                draw(st.lists(st.sampled_from(public), unique=True)) if public else ()
            )
    return tree


@dataclass
class Entry:
    """An entry's text and the expected classification of its import statements."""

    text: str
    runtime_flags: tuple[bool, ...]
    kind: EntryKind


class _EntryBuilder:
    """Draws the statements of one entry, recording each import's classification."""

    def __init__(
        self, draw: st.DrawFn, tree: RuntimeTree, kind: EntryKind, *, differential: bool
    ) -> None:
        self.draw = draw
        self.tree = tree
        self.kind = kind
        self.differential = differential
        self.counter = 0

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
        return f"from {self.module_reference(index)} import nope", [True]

    def simple(self, *, guarded: bool) -> tuple[str, list[bool]]:
        choices = ["runtime", "runtime", "runtime", "stdlib", "assign"]
        if self.differential:
            choices.append("snapshot")
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
        if choice == "snapshot":
            return f'{self.fresh("_snap")} = __import__("_diffdump").snapshot(globals())', []
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
        choice = self.draw(
            st.sampled_from(
                [
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
                    *(
                        []
                        if self.differential
                        else ["comment", "type-checking", "not-type-checking"]
                    ),
                ]
            )
        )
        needs: set[str] = set()
        if choice == "line":
            text, flags = self.line(guarded=False)
            return text, flags, needs
        if choice == "comment":
            return "# a comment\n", [], needs
        if choice == "if-suite":
            text, flags = self.runtime_import()
            if "\n" in text:
                return f"if True:\n{_indent(text)}", flags, needs
            return f"if True: {text}", flags, needs
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
            return f"try:\n{_indent(body)}\nexcept ImportError:\n    pass", flags, needs
        if choice == "try-else":
            return (
                f"try:\n    pass\nexcept ImportError:\n    pass\nelse:\n{_indent(body)}",
                flags,
                needs,
            )
        if choice == "with":
            needs.add("contextlib")
            return f"with contextlib.suppress(ImportError):\n{_indent(body)}", flags, needs
        return f"for _i in range(1):\n{_indent(body)}", flags, needs

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


@st.composite
def entries(draw: st.DrawFn, tree: RuntimeTree, kind: EntryKind, *, differential: bool) -> Entry:
    """An entry importing ``tree``.

    With ``differential``, statements are chosen to run: imports that fail
    only inside ``try``/``suppress`` blocks, namespace snapshots along the
    way, and functions that are called. Otherwise comments, ``TYPE_CHECKING``
    blocks and trailing comments are added, and nothing needs to run.
    """
    builder = _EntryBuilder(draw, tree, kind, differential=differential)
    header: list[str] = []
    if draw(st.booleans()):
        header.append('"""Server entry (generated)."""')
    if draw(st.booleans()):
        header.append("from __future__ import annotations")
    # The first statement after the header always loads the runtime, so that
    # an init imported last demonstrably runs too late in the original.
    first, flags = builder.runtime_import()
    blocks = [first]
    needs: set[str] = set()
    for _ in range(draw(st.integers(0, 6))):
        text, block_flags, block_needs = builder.block()
        blocks.append(text)
        flags.extend(block_flags)
        needs |= block_needs
        if not differential and draw(st.integers(0, 3)) == 0:
            blocks.append("")
    imports = []
    if "contextlib" in needs:
        imports.append("import contextlib")
    if "typing" in needs:
        imports.append("from typing import TYPE_CHECKING")
    text = "\n".join([*header, *imports, *blocks]) + "\n"
    plain = len(imports) + header.count("from __future__ import annotations")
    return Entry(text, tuple([False] * plain + flags), kind)


@dataclass
class Program:
    """A runtime tree and an entry that imports it."""

    tree: RuntimeTree
    entry: Entry

    @property
    def files(self) -> dict[str, str]:
        return self.tree.files(self.entry.kind)


@st.composite
def programs(
    draw: st.DrawFn, kind: EntryKind, *, differential: bool, handlers: bool = False
) -> Program:
    """A runtime tree and an entry of ``kind`` over it."""
    tree = draw(runtime_trees(handlers=handlers))
    return Program(tree, draw(entries(tree, kind, differential=differential)))
