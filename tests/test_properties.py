"""Invariants of ``rewrite_source`` over generated entries (hypothesis).

For entries drawn over a generated runtime tree (tests/_trees.py): the output
parses, a second run changes nothing, every statement that is not a runtime
import comes out unchanged and in order, each runtime import is deferred with
its original text kept byte for byte in the ``TYPE_CHECKING`` branch, and the
init block is placed once, right after the header. Programs drawn from
Python's grammar (hypothesmith) must parse and be stable too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import hypothesmith
import libcst as cst
from _trees import HANDLER_NAMES, PACKAGE, Program, programs
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

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


class _Flattener:
    def __init__(self, module: cst.Module, runtime_flags: Sequence[bool] | None) -> None:
        # runtime_flags: the expected classification of the original's imports;
        # None for a rewritten module, whose deferred imports show themselves.
        self.module = module
        self.flags: Iterator[bool] | None = None if runtime_flags is None else iter(runtime_flags)
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
                self.add("runtime" if next(self.flags) else "import", code)
            else:
                self.add("import", code)

    def suite(self, suite: cst.BaseSuite) -> None:
        if isinstance(suite, cst.SimpleStatementSuite):
            self.small(suite.body)
            self.trailing(suite.trailing_whitespace)
            return
        assert isinstance(suite, cst.IndentedBlock)
        self.trailing(suite.header)
        for statement in suite.body:
            self.statement(statement)
        self.comments(suite.footer)

    def statement(self, node: cst.BaseStatement) -> None:
        self.comments(node.leading_lines)
        if self.flags is None and _is_init_block(node):
            raise AssertionError("an init block below the top level")
        if self.flags is None and _is_mirror(node, self.module):
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


def flatten(source: str, runtime_flags: Sequence[bool] | None = None) -> Flattened:
    """Flatten ``source``; pass ``runtime_flags`` for an original entry."""
    return _Flattener(cst.parse_module(source), runtime_flags).run()


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


ENTRY_PROGRAMS = st.sampled_from(["package", "script"]).flatmap(
    lambda kind: programs(kind, differential=False, handlers=True)
)
PROPERTIES = settings(
    max_examples=60,
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
def test_second_run_is_a_no_op(program: Program) -> None:
    output = rewrite(program).output
    assert rewrite(program, output).output == output


@PROPERTIES
@given(program=ENTRY_PROGRAMS)
def test_only_runtime_imports_change(program: Program) -> None:
    output = rewrite(program).output
    before = flatten(program.entry.text, program.entry.runtime_flags)
    after = flatten(output)
    # Same statements, comments and compound headers, in the same order; the
    # runtime imports (and only they) sit in TYPE_CHECKING branches, byte for byte.
    assert after.atoms == before.atoms, output
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
    try:
        cst.parse_module(text)
    except cst.ParserSyntaxError:
        assume(False)
    settings_ = Settings(init="instrument_server")
    output = rewrite_source(text, settings_).output
    cst.parse_module(output)
    try:
        ast.parse(text)
    except SyntaxError:
        pass
    else:
        ast.parse(output)
    assert rewrite_source(output, settings_).output == output
