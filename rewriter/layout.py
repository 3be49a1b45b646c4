"""Where everything goes: the order of an entry's top-level lines after the rewrite.

``plan_layout`` reads the original top-level lines of an entry (``ast``, no
LibCST) and decides:

1. The *prefix*: what runs before the init block. The module docstring and
   ``from __future__`` imports, every environment setup statement
   (``rewriter.setup``), and what those depend on: for each name a prefix
   line reads, the line before it that last binds the name (its import, the
   assignment of a path). A setup statement that comes after other code is
   moved up, above that code, only where the move cannot change what the
   entry binds (``rewriter.dataflow``) and cannot change what an import
   finds: environment, dotenv, patching and prelude setup may run before the
   imports that came before it (that is their purpose: Django's settings
   module, a DSN, gevent's patches must be in place when the libraries load),
   a ``sys.path`` edit may not. A line the setup cannot move above comes into
   the prefix too, before it. A prefix line that imports the runtime, or
   needs a name the runtime binds, is an error: nothing is written.
2. The init block, then the *rest* in its original order. A runtime import
   line of the rest (in ``dynamic-import`` mode) and an import line that
   pycodestyle would report as E402 (module-level import after code, which
   autopep8 moves to the top of the file, above the block) is *pinned*:
   wrapped in a ``try`` that adds a note to any exception and re-raises it.
   Consecutive pinned lines share one pin.
3. Handler re-exports inside pins, and in lazy mode which runtime imports
   are deferred to first use (``rewriter.lazy``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from rewriter.analysis import ExportReader, ModuleLocator, module_level
from rewriter.bindings import ImportStatement
from rewriter.dataflow import NameFlow, name_flow
from rewriter.errors import Diagnostic, RewriteError
from rewriter.lines import Line, SourceText
from rewriter.setup import Setup, SetupRecognizer

if TYPE_CHECKING:
    from rewriter.lazy import StandIn

GroupKind = Literal["plain", "pin", "mirror"]

# pycodestyle's module_imports_on_top_of_file (E402), read on a logical
# line's text: these may stand between imports without making later ones E402.
_ALLOWED_KEYWORDS = ("try", "except", "else", "finally", "with", "if", "elif")
_DUNDER = re.compile(r"^__([^\s]+)__(?::\s*[a-zA-Z.]+)? = ")
_STRING = re.compile(r"^[uUbB]?[rR]?['\"]")
_NOQA = re.compile(r"# no(?:qa|pep8)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Reexport:
    """A handler name bound explicitly from ``module`` (as written in the entry)."""

    name: str
    module: str


@dataclass(frozen=True)
class Item:
    """One line of a group: an original line (by index) or a generated re-export."""

    line: int | None = None
    reexport: Reexport | None = None


@dataclass(frozen=True)
class Group:
    """Consecutive lines of the rest, emitted as they are, pinned, or deferred."""

    kind: GroupKind
    items: tuple[Item, ...]

    @property
    def lines(self) -> tuple[int, ...]:
        """The original line indices in the group."""
        return tuple(item.line for item in self.items if item.line is not None)


@dataclass(frozen=True)
class ImportSite:
    """A module-level import of the entry: its line, statement and position."""

    line: int
    node: ast.Import | ast.ImportFrom
    statement: ImportStatement
    top_level: bool
    runtime: tuple[str, ...]
    """The runtime modules (as written) it may load; empty for other imports."""


@dataclass(frozen=True)
class Layout:
    """The planned order: ``prefix`` lines, the block, then ``groups``.

    ``moved`` lists the 1-based original positions of the prefix lines that
    were moved above other lines (the block records them for ``--undo``).
    """

    prefix: tuple[int, ...]
    groups: tuple[Group, ...]
    moved: tuple[int, ...]
    sites: tuple[ImportSite, ...]
    warnings: tuple[Diagnostic, ...] = ()
    lazy_names: tuple[str, ...] = ()
    stand_ins: tuple[StandIn, ...] = ()
    setup_lines: tuple[int, ...] = ()
    handlers_found: tuple[str, ...] = ()

    @property
    def runtime_sites(self) -> tuple[ImportSite, ...]:
        """The imports of runtime modules, in source order."""
        return tuple(site for site in self.sites if site.runtime)


@dataclass
class LayoutInput:
    """What the planner needs besides the lines; built by ``rewriter.core``.

    ``is_runtime`` tells the runtime modules (as written) an import may
    load; ``pin_runtime`` pins every top-level runtime import (the modes
    that defer imports); ``prelude`` and ``package`` feed the setup
    recognition; ``instrumented`` are libraries worth a warning when the
    prefix imports them.
    """

    is_runtime: Callable[[ImportStatement], tuple[str, ...]]
    locator: ModuleLocator
    exports: ExportReader
    pin_runtime: bool
    prelude: Sequence[str] = ()
    package: str = ""
    instrumented: Sequence[str] = ()
    handlers: Sequence[str] = ()
    explicit_handlers: bool = False
    reexport: bool = False
    lazy: bool = False
    pinned: Sequence[frozenset[int]] = ()
    """The original lines of each pin an earlier run made: they stay pinned,
    so that a formatter that reorders or spaces them out (isort's sections)
    leaves a file the next run does not change. Not when this run leaves the
    runtime imports static (``pin_runtime`` false) and the earlier one
    deferred them (a pin holds a top-level runtime import, or
    ``deferred_before``): the pins then came from the other mode, and the
    lines are laid out as a first run would lay them out."""
    deferred_before: bool = False
    """The entry holds a lazy block: an earlier run deferred its runtime imports."""
    warnings: list[Diagnostic] = field(default_factory=list)


def plan_layout(lines: Sequence[Line], text: SourceText, given: LayoutInput) -> Layout:
    """Plan the rewritten order of ``lines`` (the original top-level lines).

    Raises ``RewriteError`` (positioned) for a setup statement that cannot
    run before init: it needs the runtime.
    """
    sites = tuple(_sites(lines, given))
    setups = _recognise(lines, given)
    flows = _Flows(lines, given)  # worked out only for the lines that move
    prefix = _prefix(lines, text, flows, setups, sites)
    rest = [index for index in range(len(lines)) if index not in prefix]
    moved = tuple(index + 1 for index in sorted(prefix) if rest and index > rest[0])
    warnings = list(given.warnings)
    warnings.extend(_early_libraries(prefix, sites, given, text))
    from rewriter.lazy import plan_lazy

    lazy = plan_lazy(lines, rest, sites, text, given) if given.lazy else None
    if lazy is not None:
        warnings.extend(lazy.warnings)
    deferred = set(lazy.lines) if lazy is not None else set()
    found: list[str] = []
    reexports = _reexports(lines, sites, given, warnings, found) if given.reexport else {}
    groups = _groups(lines, text, sorted(prefix), rest, sites, given, deferred, reexports)
    return Layout(
        prefix=tuple(sorted(prefix)),
        groups=tuple(groups),
        moved=moved,
        sites=sites,
        warnings=tuple(warnings),
        lazy_names=lazy.names if lazy is not None else (),
        stand_ins=lazy.stand_ins if lazy is not None else (),
        setup_lines=tuple(sorted(setups)),
        handlers_found=tuple(found),
    )


def _sites(lines: Sequence[Line], given: LayoutInput) -> list[ImportSite]:
    sites = []
    for index, line in enumerate(lines):
        top = {id(statement) for statement in line.statements}
        for node in module_level(line.statements):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                statement = ImportStatement.from_ast(node)
                runtime = () if statement.is_future else given.is_runtime(statement)
                sites.append(ImportSite(index, node, statement, id(node) in top, runtime))
    return sites


class _Flows:
    """``NameFlow`` of each line, worked out when first asked for."""

    def __init__(self, lines: Sequence[Line], given: LayoutInput) -> None:
        self._lines = lines
        self._given = given
        self._flows: dict[int, NameFlow] = {}

    def __getitem__(self, index: int) -> NameFlow:
        if index not in self._flows:
            self._flows[index] = _flow(self._lines[index], self._given)
        return self._flows[index]


def _flow(line: Line, given: LayoutInput) -> NameFlow:
    reads: set[str] = set()
    binds: set[str] = set()
    dynamic = False
    for statement in line.statements:
        flow = name_flow(statement)
        reads |= flow.reads
        binds |= flow.binds
        # In a package's __init__.py, `from .rt import x` binds `rt` too.
        binds.update(
            attribute
            for node in module_level([statement])
            if isinstance(node, ast.ImportFrom)
            and (attribute := ImportStatement.from_ast(node).package_attribute)
        )
        dynamic = dynamic or flow.dynamic
        if dynamic and isinstance(statement, ast.ImportFrom) and not flow.binds:
            # A star import: its names are known when its module can be read.
            names = given.exports.star_import_names(ImportStatement.from_ast(statement).module)
            if names is not None:
                binds |= names
                dynamic = any(
                    name_flow(other).dynamic for other in line.statements if other is not statement
                )
    return NameFlow(frozenset(reads), frozenset(binds), dynamic)


def _recognise(lines: Sequence[Line], given: LayoutInput) -> dict[int, Setup]:
    recognizer = SetupRecognizer(given.prelude, given.package)
    setups: dict[int, Setup] = {}
    for index, line in enumerate(lines):
        for statement in line.statements:
            setup = recognizer.recognise(statement)
            if setup is not None and index not in setups:
                setups[index] = setup
    return setups


def _prefix(
    lines: Sequence[Line],
    text: SourceText,
    flows: _Flows,
    setups: dict[int, Setup],
    sites: Sequence[ImportSite],
) -> set[int]:
    header = _header(lines)
    runtime_lines = {site.line for site in sites if site.runtime}
    for index in header:
        if index in runtime_lines:
            _refuse_header(index, text, sites)
    prefix = set(header)
    reasons: dict[int, int] = {}  # prefix line -> the setup line that needs it
    for index in setups:
        prefix.add(index)
        reasons[index] = index
    needed: set[int] = set()  # lines whose bindings a moving line reads
    pending = sorted(prefix)
    while pending:
        current = pending.pop()
        dependencies = _dependencies(current, lines, flows, reasons.get(current, current))
        needed |= dependencies
        blockers = _blockers(current, lines, flows, setups, prefix, reasons)
        for other in sorted((dependencies | blockers) - prefix):
            prefix.add(other)
            reasons[other] = reasons.get(current, current)
            pending.append(other)
    for index in sorted(prefix):
        if index in runtime_lines:
            _refuse(index, reasons.get(index, index), lines, text, sites)
    # A setup statement moves past imports (that is what it is for), and so
    # do the lines it needs. A line that comes along only because the setup
    # may not jump it might see what a runtime import above it did
    # (sys.modules, the environment, any side effect): it may not move.
    for index in sorted(prefix - needed - set(setups) - set(header)):
        if lines[index].is_import or _inert(lines[index]):
            continue
        jumped = [line for line in sorted(runtime_lines) if line < index and line not in prefix]
        if jumped:
            _refuse(jumped[0], reasons.get(index, index), lines, text, sites)
    return prefix


def _header(lines: Sequence[Line]) -> list[int]:
    header = []
    for index, line in enumerate(lines):
        first = line.first
        # The docstring's whole line stays first, even with other statements
        # joined to it by `;` (a `from __future__` import must follow it).
        docstring = index == 0 and _is_docstring(first)
        if docstring or (isinstance(first, ast.ImportFrom) and first.module == "__future__"):
            header.append(index)
        else:
            break
    return header


def _dependencies(index: int, lines: Sequence[Line], flows: _Flows, caller: int) -> set[int]:
    # For each name the line reads, the latest earlier line that binds it.
    # A function, lambda or class body on the line reads names when it is
    # called, which may be as late as the setup line `caller` that needs it:
    # those names are looked for before that line.
    # (A line's reads include those of the bodies it defines: ``name_flow``.)
    needed = set()
    start = max(index, caller) if _defines_code(lines[index]) else index
    for name in flows[index].reads:
        for earlier in range(start - 1, -1, -1):
            if earlier != index and (name in flows[earlier].binds or flows[earlier].dynamic):
                needed.add(earlier)
                break
    return needed


def _defines_code(line: Line) -> bool:
    """True when the line defines a function, lambda or class body that may run later."""
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
    return any(isinstance(node, kinds) for s in line.statements for node in ast.walk(s))


def _blockers(
    index: int,
    lines: Sequence[Line],
    flows: _Flows,
    setups: dict[int, Setup],
    prefix: set[int],
    reasons: dict[int, int],
) -> set[int]:
    # The lines before `index` that it may not jump: they come along.
    setup = setups.get(reasons.get(index, index))
    past_imports = setup is None or setup.moves_past_imports
    blockers = set()
    for earlier in range(index):
        if earlier in prefix:
            continue
        line = lines[earlier]
        if flows[index].conflicts_with(flows[earlier]):
            blockers.add(earlier)
        elif line.is_import and past_imports:
            continue
        elif not _inert(line):
            blockers.add(earlier)
    return blockers


def _inert(line: Line) -> bool:
    """True for lines whose running can neither see nor cause a setup effect."""
    for statement in line.statements:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if statement.decorator_list:
                return False
            if isinstance(statement, ast.ClassDef) and (statement.bases or statement.keywords):
                return False
            continue
        if isinstance(statement, ast.Pass) or _is_docstring(statement):
            continue
        targets = statement.targets if isinstance(statement, ast.Assign) else []
        if isinstance(statement, ast.AnnAssign):
            targets = [statement.target]
        if (
            isinstance(statement, (ast.Assign, ast.AnnAssign))
            and statement.value is not None
            and all(_is_literal(node) for node in ast.walk(statement.value))
            # Binding names only: `cfg["X"] = "b"` or `cfg.x = "b"` changes an object.
            and all(isinstance(node, ast.Name) for node in targets)
        ):
            continue
        return False
    return True


def _is_literal(node: ast.AST) -> bool:
    return isinstance(
        node,
        (
            ast.Constant,
            ast.Tuple,
            ast.List,
            ast.Set,
            ast.Dict,
            ast.Load,
            ast.UnaryOp,
            ast.USub,
            ast.UAdd,
        ),
    )


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def _refuse(
    index: int, reason: int, lines: Sequence[Line], text: SourceText, sites: Sequence[ImportSite]
) -> None:
    site = next(site for site in sites if site.line == index and site.runtime)
    needer = lines[reason].first
    where = f"{needer.lineno}:{text.column(needer)}"
    if reason == index:
        message = (
            f"setup statement imports the runtime module {site.runtime[0]}, which must not load"
            " before init; move that import out of the setup"
        )
    else:
        message = (
            f"the setup statement at {where} must run before init, but it needs this import of"
            f" the runtime module {site.runtime[0]} (or code after it); move the setup above it"
        )
    raise RewriteError(message, site.node.lineno, text.column(site.node))


def _refuse_header(index: int, text: SourceText, sites: Sequence[ImportSite]) -> None:
    site = next(site for site in sites if site.line == index and site.runtime)
    raise RewriteError(
        f"this line must stay first (a docstring or a `from __future__` import), but it also"
        f" imports the runtime module {site.runtime[0]}, which must load after init; put that"
        " import on a line of its own",
        site.node.lineno,
        text.column(site.node),
    )


def _early_libraries(
    prefix: set[int], sites: Sequence[ImportSite], given: LayoutInput, text: SourceText
) -> list[Diagnostic]:
    warnings = []
    for site in sites:
        if site.line not in prefix or site.runtime:
            continue
        for module in site.statement.imported_modules():
            top = module.lstrip(".").split(".", 1)[0]
            if not module.startswith(".") and top in given.instrumented:
                warnings.append(
                    Diagnostic(
                        f"{top} is imported before the init block, because the environment"
                        " setup after it must run first; instrumentation that patches it at"
                        " import time may miss names bound here",
                        site.node.lineno,
                        text.column(site.node),
                    )
                )
    return warnings


def _reexports(
    lines: Sequence[Line],
    sites: Sequence[ImportSite],
    given: LayoutInput,
    warnings: list[Diagnostic],
    found: list[str],
) -> dict[int, list[Reexport]]:
    from rewriter.analysis import defined_names

    defined = defined_names(s for line in lines for s in line.statements)
    pinned = [site for site in sites if site.runtime and site.top_level]
    by_line: dict[int, list[Reexport]] = {}
    for name in given.handlers:
        if name in defined:
            found.append(name)
            continue
        if _from_star(name, pinned, given):
            # A star import binds it at module level already, where type
            # checkers and tracers see it; an explicit import of it would be
            # an unused import to pyflakes.
            found.append(name)
            continue
        # Binding a name the entry does not have is only done on request:
        # a runtime module may well define a `handler` that is no handler.
        located = _from_module(name, pinned, given) if given.explicit_handlers else None
        if located is None:
            if given.explicit_handlers:
                warnings.append(
                    Diagnostic(f"handler {name!r} is not exported by the entry or its runtime")
                )
            continue
        line, module = located
        by_line.setdefault(line, []).append(Reexport(name, module))
        found.append(name)
    if not given.explicit_handlers and not found and given.handlers:
        warnings.append(
            Diagnostic(
                f"none of the handler names {', '.join(given.handlers)} is exported"
                " by the entry or its runtime"
            )
        )
    return by_line


def _from_star(
    name: str, sites: Sequence[ImportSite], given: LayoutInput
) -> tuple[int, str] | None:
    # The last star import that provides the name wins, as at run time.
    for site in reversed(sites):
        if site.statement.kind == "star" and name in (
            given.exports.star_import_names(site.statement.module) or ()
        ):
            return site.line, site.statement.module
    return None


def _from_module(
    name: str, sites: Sequence[ImportSite], given: LayoutInput
) -> tuple[int, str] | None:
    from rewriter.bindings import submodule_name

    for site in sites:
        statement = site.statement
        if statement.kind == "import":
            modules = [alias.name for alias in statement.names if alias.asname]
        elif statement.kind == "from":
            modules = [submodule_name(statement.module, alias.name) for alias in statement.names]
        else:
            continue
        for module in modules:
            path = given.locator.resolve(module)
            summary = given.exports.summary(path) if path is not None else None
            if summary is not None and name in summary.defined:
                return site.line, module
    return None


def _groups(
    lines: Sequence[Line],
    text: SourceText,
    prefix: Sequence[int],
    rest: Sequence[int],
    sites: Sequence[ImportSite],
    given: LayoutInput,
    deferred: set[int],
    reexports: dict[int, list[Reexport]],
) -> list[Group]:
    kinds = _kinds(lines, text, prefix, rest, sites, given, deferred)
    groups: list[Group] = []
    for index in rest:
        kind = kinds[index]
        items = [Item(line=index)]
        if kind == "pin":
            items.extend(Item(reexport=reexport) for reexport in reexports.get(index, ()))
        # Lines that moved setup stood between stay apart: the code between
        # them made them two import blocks for isort, and a second run must
        # see the same groups without knowing what stood between.
        adjacent = bool(groups) and groups[-1].lines[-1] == index - 1
        if adjacent and kind != "plain" and groups[-1].kind == kind:
            groups[-1] = Group(kind, (*groups[-1].items, *items))
        else:
            groups.append(Group(kind, tuple(items)))
    return groups


def _kinds(
    lines: Sequence[Line],
    text: SourceText,
    prefix: Sequence[int],
    rest: Sequence[int],
    sites: Sequence[ImportSite],
    given: LayoutInput,
    deferred: set[int],
) -> dict[int, GroupKind]:
    """Whether each line of the rest stays plain, is pinned, or is deferred (a mirror)."""
    state = _CodeState()
    for index in prefix:
        state.read(lines[index], text)
    runtime_top = {site.line for site in sites if site.runtime and site.top_level}
    kept = _kept_pins(runtime_top, given)
    kinds: dict[int, GroupKind] = {}
    previous: int | None = None
    for index in rest:
        line = lines[index]
        late = state.read(line, text)
        # Two import lines that code (now moved above the block) kept apart
        # would become one import block to isort; a pin keeps them apart.
        joined = (
            line.is_import
            and previous is not None
            and lines[previous].is_import
            and any(not lines[between].is_import for between in range(previous + 1, index))
        )
        if index in deferred:
            kinds[index] = "mirror"
        elif late or joined or index in kept or _pins_runtime(index, runtime_top, given):
            kinds[index] = "pin"
        else:
            kinds[index] = "plain"
        previous = index
    # An import block stays whole: the plain import lines right next to a pin
    # (no blank line between) go into it, so that isort sees the same blocks
    # and black finds no import line followed by a `try` without a blank
    # line. Next to a mirror, they get a pin of their own.
    for position, index in enumerate(rest):
        if kinds[index] == "plain":
            continue
        for step in (-1, 1):
            other = position + step
            while 0 <= other < len(rest):
                first, second = sorted((rest[other], rest[other - step]))
                if (
                    kinds[rest[other]] != "plain"
                    or not lines[rest[other]].is_import
                    or second != first + 1
                    or not _touching(lines[first], lines[second], text)
                ):
                    break
                kinds[rest[other]] = "pin"
                other += step
    return kinds


def _touching(first: Line, second: Line, text: SourceText) -> bool:
    """True when no blank line stands between two lines (comments and code may)."""
    between = range(first.end_lineno + 1, second.lineno)
    return all(text.line_text(number).strip() for number in between)


def _pins_runtime(index: int, runtime_top: set[int], given: LayoutInput) -> bool:
    # dynamic-import mode pins every top-level runtime import.
    return given.pin_runtime and index in runtime_top


def _kept_pins(runtime_top: set[int], given: LayoutInput) -> set[int]:
    """The lines of the earlier pins that stay pinned (``LayoutInput.pinned``)."""
    kept = {index for pin in given.pinned for index in pin}
    from_deferring_mode = given.deferred_before or not kept.isdisjoint(runtime_top)
    return kept if given.pin_runtime or not from_deferring_mode else set()


class _CodeState:
    """pycodestyle's E402 state, read line by line (``module_imports_on_top_of_file``)."""

    def __init__(self) -> None:
        self.seen_code = False
        self.seen_docstring = False

    def read(self, line: Line, text: SourceText) -> bool:
        """Advance over ``line``; True when it is an import pycodestyle reports as E402."""
        first = text.line_text(line.lineno)[text.column(line.first) - 1 :]
        physical = (text.line_text(number) for number in range(line.lineno, line.end_lineno + 1))
        if any(_NOQA.search(physical_line) for physical_line in physical):
            return False  # pycodestyle skips a logical line marked noqa entirely
        if first.startswith(("import ", "from ")):
            return self.seen_code
        if _DUNDER.match(first) or first.startswith(_ALLOWED_KEYWORDS):
            return False
        if _STRING.match(first) and not self.seen_docstring:
            self.seen_docstring = True
        else:
            self.seen_code = True
        return False
