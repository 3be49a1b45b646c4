"""The import-binding rules: what a static import statement imports and binds.

This is the one place that knows Python's import forms. Every other part of
the tool (classification, placement, re-exports, lazy mode, the checker) asks
an ``ImportStatement`` instead of looking at syntax nodes.

rewriter never re-implements an import: a runtime import stays the original
statement, so CPython itself binds its names. These rules are what the
*analysis* needs to know about a statement, and each follows the bytecode
CPython 3.11 compiles for that form (``Python/compile.c``, ``compiler_import``
and ``compiler_from_import``; ``Python/ceval.c``, ``IMPORT_NAME``/``IMPORT_FROM``
/``IMPORT_STAR``):

- ``import a.b.c`` is ``IMPORT_NAME 'a.b.c'`` with an empty fromlist, then
  ``STORE_NAME a``: ``__import__`` imports ``a``, ``a.b`` and ``a.b.c`` and
  returns ``sys.modules['a']``, the first component of the name as written.
- ``import a.b.c as d`` is ``IMPORT_NAME 'a.b.c'``, then ``IMPORT_FROM b`` and
  ``IMPORT_FROM c`` (since Python 3.7, bpo-30024), then ``STORE_NAME d``: an
  attribute lookup on each package, falling back to ``sys.modules['a.b']``
  when the attribute is missing.
- ``from m import x`` is ``IMPORT_NAME 'm'`` with fromlist ``('x',)``, which
  also imports the submodule ``m.x`` when ``m`` is a package without an
  attribute ``x`` (``importlib._bootstrap._handle_fromlist``), then
  ``IMPORT_FROM x``: the attribute, else ``sys.modules['m.x']``, else
  ``ImportError(name='m')``.
- ``from m import *`` is ``IMPORT_STAR``: the names in ``m.__all__``, else
  every name in ``m.__dict__`` that does not start with an underscore.
- Relative forms (``from . import x``, ``from ..m import x``) resolve against
  the importing module's ``__package__`` (PEP 328, PEP 366).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Literal

ImportKind = Literal["import", "from", "star"]


@dataclass(frozen=True)
class ImportedName:
    """One alias of an import: ``a.b`` or ``a.b as c``, ``x`` or ``x as y``."""

    name: str
    asname: str | None = None

    @property
    def bound(self) -> str:
        """The name this alias binds in the importing namespace.

        ``import a.b`` binds ``a`` (``STORE_NAME`` of the first component);
        ``import a.b as c`` binds ``c``; ``from m import x`` binds ``x``.
        """
        if self.asname is not None:
            return self.asname
        return self.name.split(".", 1)[0]


@dataclass(frozen=True)
class ImportStatement:
    """A static import statement, reduced to what it imports and binds.

    ``module`` is the module of a ``from`` import as written, with its leading
    dots (``".chunks.nitro"``, ``"."``, ``"flask"``); it is empty for plain
    ``import`` statements, whose modules are the ``names``.
    """

    kind: ImportKind
    module: str
    names: tuple[ImportedName, ...] = ()

    @classmethod
    def from_ast(cls, node: ast.Import | ast.ImportFrom) -> ImportStatement:
        """Describe an ``ast.Import`` or ``ast.ImportFrom`` node."""
        if isinstance(node, ast.Import):
            return cls("import", "", tuple(ImportedName(a.name, a.asname) for a in node.names))
        module = "." * node.level + (node.module or "")
        if node.names[0].name == "*":
            return cls("star", module)
        return cls("from", module, tuple(ImportedName(a.name, a.asname) for a in node.names))

    @property
    def level(self) -> int:
        """The number of leading dots (0 for absolute imports)."""
        return len(self.module) - len(self.module.lstrip("."))

    @property
    def is_future(self) -> bool:
        """True for ``from __future__ import ...``."""
        return self.module == "__future__"

    @property
    def bound_names(self) -> tuple[str, ...]:
        """The names the statement binds, in order (empty for a star import)."""
        return tuple(alias.bound for alias in self.names)

    @property
    def package_attribute(self) -> str | None:
        """The name ``from .m import x`` also binds when its importer is the package itself.

        Loading a submodule sets it as an attribute of its parent package
        (``importlib._bootstrap._load_unlocked`` then ``setattr(parent,
        child, module)`` in ``_find_and_load_unlocked``), so in a package's
        ``__init__.py`` ``from .m import x`` binds ``m`` as well as ``x``.
        None for other forms.
        """
        if self.kind == "import" or self.level != 1:
            return None
        return self.module.lstrip(".").split(".", 1)[0] or None

    def imported_modules(self) -> tuple[str, ...]:
        """The modules the statement certainly imports, as written.

        ``import a.b, c`` imports ``a.b`` and ``c``; ``from .m import x`` and
        ``from .m import *`` import ``.m``.
        """
        if self.kind == "import":
            return tuple(alias.name for alias in self.names)
        return (self.module,)

    def candidate_modules(self) -> tuple[str, ...]:
        """Every module the statement may import, as written.

        A ``from m import x`` may import the submodule ``m.x`` when ``x`` is
        not an attribute of ``m``, so ``m.x`` is a candidate too.
        """
        if self.kind != "from":
            return self.imported_modules()
        return (self.module, *(submodule_name(self.module, alias.name) for alias in self.names))

    def executed_modules(self) -> tuple[str, ...]:
        """Every module whose code the statement may run, parents first.

        ``import a.b.c`` runs ``a/__init__.py``, ``a/b/__init__.py`` and
        ``a/b/c.py``; for relative names the dots are kept (``.m`` runs the
        importer's own package first, which is already running).
        """
        found: list[str] = []
        for module in self.candidate_modules():
            dots = len(module) - len(module.lstrip("."))
            parts = module[dots:].split(".") if module[dots:] else []
            for depth in range(1, len(parts) + 1):
                name = "." * dots + ".".join(parts[:depth])
                if name not in found:
                    found.append(name)
        return tuple(found)


def submodule_name(module: str, name: str) -> str:
    """``submodule_name(".chunks", "x") == ".chunks.x"``; ``(".", "x") == ".x"``."""
    return f"{module}{name}" if module.endswith(".") else f"{module}.{name}"


def absolute_name(module: str, package: str) -> str | None:
    """The absolute name of ``module`` (as written) imported from ``package``.

    Follows ``importlib._bootstrap._resolve_name``: each dot beyond the first
    goes one package up. None when the name climbs above the top-level
    package, or is relative with no package.
    """
    dots = len(module) - len(module.lstrip("."))
    if not dots:
        return module
    if not package:
        return None
    parts = package.split(".")
    if dots - 1 >= len(parts):
        return None
    base = ".".join(parts[: len(parts) - (dots - 1)])
    rest = module[dots:]
    return f"{base}.{rest}" if rest else base
