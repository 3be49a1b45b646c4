"""Invariants of ``rewrite_source`` over generated entries (hypothesis).

For entries drawn over a generated runtime tree (tests/_trees.py): the output
parses, a second run changes nothing, every statement that is not a runtime
import comes out unchanged and in order, each runtime import (and each
top-level import that pycodestyle reports as E402, which autopep8 would hoist
above init) is deferred with its original text kept byte for byte in the
``TYPE_CHECKING`` branch, the output has no E402 left, and the init block is
placed once, right after the header. Programs drawn from
Python's grammar (hypothesmith) must parse and be stable too.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

import hypothesmith
import libcst as cst
import pycodestyle
from _trees import HANDLER_NAMES, PACKAGE, EntryKind, Program, programs
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from rewriter.config import Settings
from rewriter.core import rewrite_source
from rewriter.result import Result
from rewriter.tree import MemoryTree

INIT_MARKER = "# rewriter:init"
MIRROR_TEST = "_rewriter_typing.TYPE_CHECKING"

Atom = tuple[str, ...]


def rewrite(program: Program, source: str | None = None) -> Result:
    """Rewrite the program's entry (or ``source``) beside its tree."""
    path = f"{PACKAGE}/index.py" if program.entry.kind == "package" else "index.py"
    text = program.entry.text if source is None else source
    return rewrite_source(text, Settings(), path=path, tree=MemoryTree(program.files))


@dataclass
class Flattened:
    """A module as a flat sequence of atoms, blank lines and layout aside.

    Atoms are comments, the code of each small statement (without its
    semicolon), the headers of compound statements and whole functions and
    classes. An import is ``("runtime", code)`` when it loads the runtime and
    ``("import", code)`` otherwise. In a rewritten module, the init block is
    left out and each deferred import contributes only its TYPE_CHECKING
    branch; handler re-exports found there are collected apart.
    """

    atoms: list[Atom] = field(default_factory=list)
    init_blocks: list[int] = field(default_factory=list)
    reexports: list[str] = field(default_factory=list)
    # The flags each top-level statement line consumed, by index in the body.
    line_flags: dict[int, list[bool]] = field(default_factory=dict)


class _Flattener:
    def __init__(
        self,
        module: cst.Module,
        runtime_flags: Sequence[bool] | None,
        *,
        late_lines: AbstractSet[int] = frozenset(),
        positions: Mapping[cst.CSTNode, CodeRange] | None = None,
    ) -> None:
        # runtime_flags: the expected classification of the original's imports;
        # None for a rewritten module, whose deferred imports show themselves.
        # late_lines: lines of top-level imports that pycodestyle reports as
        # E402, which the tool defers too (else autopep8 hoists them above init).
        self.module = module
        self.flags: Iterator[bool] | None = None if runtime_flags is None else iter(runtime_flags)
        self.late_lines = late_lines
        self.positions = positions
        self.depth = 0
        self.index = 0
        self.out = Flattened()

    def run(self) -> Flattened:
        header = list(self.module.header)
        markers = [i for i, line in enumerate(header) if _is_marker(line)]
        if self.flags is None and markers:
            # LibCST keeps the comments above a file's first statement in the
            # module header: here, those of an init block placed first.
            assert self.module.body and isinstance(self.module.body[0], cst.Try)
            self.out.init_blocks.append(0)
            header = header[: markers[0]]
        self.comments(header)
        for index, statement in enumerate(self.module.body):
            self.index = index
            if index == 0 and self.out.init_blocks:
                continue
            if self.flags is None and _is_init_block(statement):
                self.out.init_blocks.append(index)
                continue
            self.statement(statement)
        self.comments(self.module.footer)
        if self.flags is not None:
            assert next(self.flags, None) is None, "more flags than imports"
        return self.out

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    def add(self, *atom: str) -> None:
        self.out.atoms.append(atom)

    def comments(self, lines: Sequence[cst.EmptyLine]) -> None:
        for line in lines:
            if line.comment is not None:
                self.add("comment", line.comment.value)

    def trailing(self, whitespace: cst.TrailingWhitespace) -> None:
        if whitespace.comment is not None:
            self.add("comment", whitespace.comment.value)

    def small(self, statements: Sequence[cst.BaseSmallStatement]) -> None:
        for statement in statements:
            code = self.code(statement.with_changes(semicolon=cst.MaybeSentinel.DEFAULT))
            if not isinstance(statement, (cst.Import, cst.ImportFrom)):
                self.add("statement", code)
            elif self.flags is not None:
                runtime = next(self.flags)
                if self.depth == 0:
                    self.out.line_flags.setdefault(self.index, []).append(runtime)
                    runtime = runtime or self.is_late(statement)
                self.add("runtime" if runtime else "import", code)
            else:
                self.add("import", code)

    def is_late(self, statement: cst.BaseSmallStatement) -> bool:
        return self.positions is not None and (
            self.positions[statement].start.line in self.late_lines
        )

    def suite(self, suite: cst.BaseSuite) -> None:
        self.depth += 1
        if isinstance(suite, cst.SimpleStatementSuite):
            self.small(suite.body)
            self.trailing(suite.trailing_whitespace)
        else:
            assert isinstance(suite, cst.IndentedBlock)
            self.trailing(suite.header)
            for statement in suite.body:
                self.statement(statement)
            self.comments(suite.footer)
        self.depth -= 1

    def statement(self, node: cst.BaseStatement) -> None:
        assert isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement))
        self.comments(node.leading_lines)
        if self.flags is None and _is_init_block(node):
            raise AssertionError("an init block below the top level")
        if self.flags is None and isinstance(node, cst.If) and _is_mirror(node, self.module):
            self.mirror(node)
        elif isinstance(node, cst.SimpleStatementLine):
            self.small(node.body)
            self.trailing(node.trailing_whitespace)
        elif isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            self.add("definition", self.code(node.with_changes(leading_lines=())))
        elif isinstance(node, cst.If):
            self.branches(node)
        elif isinstance(node, cst.Try):
            self.add("try")
            self.suite(node.body)
            for handler in node.handlers:
                self.comments(handler.leading_lines)
                self.add("except", "" if handler.type is None else self.code(handler.type))
                self.suite(handler.body)
            self.orelse(node.orelse)
            if node.finalbody is not None:
                self.comments(node.finalbody.leading_lines)
                self.add("finally")
                self.suite(node.finalbody.body)
        elif isinstance(node, cst.With):
            self.add("with", *(self.code(item) for item in node.items))
            self.suite(node.body)
        elif isinstance(node, cst.For):
            self.add("for", self.code(node.target), self.code(node.iter))
            self.suite(node.body)
            self.orelse(node.orelse)
        else:
            self.add("compound", self.code(node.with_changes(leading_lines=())))

    def branches(self, node: cst.If) -> None:
        self.add("if", self.code(node.test))
        self.suite(node.body)
        orelse = node.orelse
        if isinstance(orelse, cst.If):
            self.comments(orelse.leading_lines)
            self.add("elif")
            self.branches(orelse)
        else:
            self.orelse(orelse)

    def orelse(self, node: cst.Else | None) -> None:
        if node is not None:
            self.comments(node.leading_lines)
            self.add("else")
            self.suite(node.body)

    def mirror(self, node: cst.If) -> None:
        # The TYPE_CHECKING branch starts with the original statement; the
        # else branch (the deferred import) is what the tool generated.
        assert isinstance(node.body, cst.IndentedBlock)
        first, *rest = node.body.body
        assert isinstance(first, cst.SimpleStatementLine) and len(first.body) == 1
        assert isinstance(first.body[0], (cst.Import, cst.ImportFrom))
        self.comments(first.leading_lines)
        self.add("runtime", self.code(first.body[0]))
        self.trailing(first.trailing_whitespace)
        self.out.reexports.extend(self.code(line).strip() for line in rest)
        assert isinstance(node.orelse, cst.Else), "a deferred import without its else branch"


def _is_marker(line: cst.EmptyLine) -> bool:
    return line.comment is not None and line.comment.value.startswith(INIT_MARKER)


def _is_init_block(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.Try) and any(_is_marker(line) for line in node.leading_lines)


def _is_mirror(node: cst.CSTNode, module: cst.Module) -> bool:
    return isinstance(node, cst.If) and module.code_for_node(node.test) == MIRROR_TEST


def flatten_output(source: str) -> Flattened:
    """Flatten a rewritten entry: deferred imports show as ``runtime`` atoms."""
    return _Flattener(cst.parse_module(source), None).run()


def expected_atoms(source: str, runtime_flags: Sequence[bool]) -> list[Atom]:
    """The atoms of the original entry, with the imports the tool must defer.

    Those are the runtime imports (``runtime_flags``) and the top-level
    imports that pycodestyle reports as E402 once each line holding a runtime
    import is split into one statement per line, as the rewrite splits it.
    """
    module = cst.parse_module(source)
    lines = _Flattener(module, runtime_flags).run().line_flags
    split = module.with_changes(body=list(_split_lines(module.body, lines)))
    positions = MetadataWrapper(split, unsafe_skip_copy=True).resolve(PositionProvider)
    flattener = _Flattener(
        split, runtime_flags, late_lines=e402_lines(split.code), positions=positions
    )
    return flattener.run().atoms


def _split_lines(
    body: Sequence[cst.BaseStatement], line_flags: Mapping[int, list[bool]]
) -> Iterator[cst.BaseStatement]:
    for index, statement in enumerate(body):
        if not (isinstance(statement, cst.SimpleStatementLine) and any(line_flags.get(index, ()))):
            yield statement
            continue
        last = len(statement.body) - 1
        for position, small in enumerate(statement.body):
            yield cst.SimpleStatementLine(
                body=[small.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)],
                leading_lines=statement.leading_lines if position == 0 else (),
                trailing_whitespace=(
                    statement.trailing_whitespace if position == last else cst.TrailingWhitespace()
                ),
            )


class _E402Report(pycodestyle.BaseReport):  # type: ignore[misc]
    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self.late: set[int] = set()

    def error(self, line_number: int, offset: int, text: str, check: Any) -> Any:
        if text.startswith("E402"):
            self.late.add(line_number)
        return super().error(line_number, offset, text, check)


def e402_lines(source: str) -> set[int]:
    """Lines of module-level imports that pycodestyle reports as E402."""
    style = pycodestyle.StyleGuide(select=["E402"], quiet=True)
    report = _E402Report(style.options)
    pycodestyle.Checker(
        lines=source.splitlines(True), options=style.options, report=report
    ).check_all()
    return report.late


def header_length(source: str) -> int:
    """The number of leading docstring and ``__future__`` statements."""
    length = 0
    for index, statement in enumerate(ast.parse(source).body):
        is_docstring = (
            index == 0
            and isinstance(statement, ast.Expr)
            and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str)
        )
        is_future = isinstance(statement, ast.ImportFrom) and statement.module == "__future__"
        if not (is_docstring or is_future):
            break
        length += 1
    return length


ENTRY_KINDS: tuple[EntryKind, ...] = ("package", "script")
ENTRY_PROGRAMS = st.sampled_from(ENTRY_KINDS).flatmap(
    lambda kind: programs(kind, differential=False, handlers=True)
)
PROPERTIES = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROPERTIES
@given(program=ENTRY_PROGRAMS)
def test_output_parses(program: Program) -> None:
    output = rewrite(program).output
    cst.parse_module(output)
    compile(output, "index.py", "exec", dont_inherit=True)


@PROPERTIES
@given(program=ENTRY_PROGRAMS)
def test_output_has_no_import_a_formatter_would_hoist(program: Program) -> None:
    # autopep8 moves E402 imports to the top of the file, above the init block.
    output = rewrite(program).output
    assert not e402_lines(output), output


@PROPERTIES
@given(program=ENTRY_PROGRAMS)
def test_second_run_is_a_no_op(program: Program) -> None:
    output = rewrite(program).output
    assert rewrite(program, output).output == output


@PROPERTIES
@given(program=ENTRY_PROGRAMS)
def test_only_runtime_imports_change(program: Program) -> None:
    output = rewrite(program).output
    after = flatten_output(output)
    # Same statements, comments and compound headers, in the same order; the
    # runtime (and E402) imports, and only they, sit in TYPE_CHECKING branches,
    # byte for byte.
    assert after.atoms == expected_atoms(program.entry.text, program.entry.runtime_flags), output
    assert after.init_blocks == [header_length(program.entry.text)], output
    for line in after.reexports:
        module, _, name = line.removeprefix("from ").partition(" import ")
        assert name in HANDLER_NAMES and module, line


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(
    source=hypothesmith.from_grammar(),
    before=st.sampled_from(["", "from .chunks import handler\n", "from . import routes as r\n"]),
    after=st.sampled_from(["", "from .chunks.nitro import *\n", "import os; from . import x\n"]),
)
def test_generated_programs_parse_and_are_stable(source: str, before: str, after: str) -> None:
    # Without a tree, relative imports count as runtime imports.
    if source and not source.endswith("\n"):
        source += "\n"
    text = before + source + after
    # Inputs LibCST cannot parse, or parses but does not print back as they
    # were (some form feeds and whitespace-only lines), are out of scope.
    try:
        assume(cst.parse_module(text).code == text)
    except cst.ParserSyntaxError:
        assume(False)
    # LibCST also drops the last newline of a file that uses bare "\r"
    # newlines and ends in an indented block (parse_module("if a:\r    b\r")
    # loses the final "\r"), and a deferred import ends in one.
    assume("\r" not in text.replace("\r\n", ""))
    settings_ = Settings(init="instrument_server")
    output = rewrite_source(text, settings_).output
    cst.parse_module(output)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        try:
            ast.parse(text)
        except SyntaxError:
            pass
        else:
            ast.parse(output)
    assert rewrite_source(output, settings_).output == output
