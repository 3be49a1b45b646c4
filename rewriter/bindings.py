"""The import-binding rules: what a static import statement imports and binds.

This is the one place that knows Python's import forms. Every other part of
the tool (classification, the deferred rewrite, re-exports, the tracer
mirror) asks an ``ImportStatement`` instead of looking at LibCST nodes.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Literal

import libcst as cst
from libcst.helpers import get_full_name_for_node

ImportKind = Literal["import", "from", "star"]


@dataclass(frozen=True)
class ImportedName:
    """One alias of an import: ``a.b`` or ``a.b as c``, ``x`` or ``x as y``."""

    name: str
    asname: str | None = None

    @property
    def bound(self) -> str:
        """The name this alias binds in the importing namespace.

        ``import a.b`` binds ``a``; ``import a.b as c`` binds ``c``;
        ``from m import x`` binds ``x``.
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
    def from_node(cls, node: cst.Import | cst.ImportFrom) -> ImportStatement:
        """Describe a LibCST ``Import`` or ``ImportFrom`` node."""
        if isinstance(node, cst.Import):
            return cls("import", "", tuple(_alias(alias) for alias in node.names))
        dotted = get_full_name_for_node(node.module) if node.module is not None else None
        module = "." * len(node.relative) + (dotted or "")
        if isinstance(node.names, cst.ImportStar):
            return cls("star", module)
        return cls("from", module, tuple(_alias(alias) for alias in node.names))

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


def submodule_name(module: str, name: str) -> str:
    """``submodule_name(".chunks", "x") == ".chunks.x"``; ``(".", "x") == ".x"``."""
    return f"{module}{name}" if module.endswith(".") else f"{module}.{name}"


def _alias(alias: cst.ImportAlias) -> ImportedName:
    name = get_full_name_for_node(alias.name)
    if name is None:  # pragma: no cover - LibCST always gives a Name or Attribute
        raise ValueError("import alias without a name")
    asname = None
    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
        asname = alias.asname.name.value
    return ImportedName(name, asname)
