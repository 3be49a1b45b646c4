"""Invariants of ``rewrite_source`` over generated entries (hypothesis).

For entries drawn over a generated runtime tree (``tests/_trees.py``, whose
docstring says what it draws), in every mode:

- the output parses, and a second run changes nothing;
- a run on the output of a run in another mode gives what it gives on the
  original (the mode of the earlier run leaves no trace);
- ``--undo`` gives back the original text byte for byte: the rewrite
  changed nothing but what it added, wrapped and moved;
- the init block is there once, at the top level;
- every top-level runtime import (in the modes that defer them) and every
  top-level import that pycodestyle reports as E402 (which autopep8 would
  hoist above the block) sits in a pin, so the output has no E402 left;
- the original import statements are all still there, as they were.

Programs drawn from Python's grammar (hypothesmith) must parse, be stable,
and undo exactly too; they have no tree, so only their relative imports
count as runtime imports.

What the tree generator cannot draw (so what these properties do not
cover): setup statements (``os.environ``, dotenv, ``sys.path``, gevent;
``tests/test_setup_placement.py`` covers those), entries that are a
package's ``__init__.py``, namespace packages, and entries that LibCST does
not print back as it read them (``tests/_trees.py`` says which).
"""

from __future__ import annotations

import ast
import warnings

import hypothesmith
import libcst as cst
import pycodestyle
from _trees import PACKAGE, EntryKind, Program, programs
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from rewriter.config import Settings
from rewriter.core import rewrite_source
from rewriter.errors import RewriteError
from rewriter.generated import recover
from rewriter.lines import SourceText
from rewriter.result import Result
from rewriter.tree import MemoryTree
from rewriter.undo import undo_source

MODES = [
    Settings(),
    Settings(mode="top-level-import"),
    Settings(lazy=True),
    Settings(mode="preload", preload=("flask",), init="./instrument_server.py"),
]


def rewrite(program: Program, settings: Settings, source: str | None = None) -> Result:
    """Rewrite the program's entry (or ``source``) beside its tree."""
    path = f"{PACKAGE}/index.py" if program.entry.kind == "package" else "index.py"
    text = program.entry.text if source is None else source
    return rewrite_source(text, settings, path=path, tree=MemoryTree(program.files))


class _E402Report(pycodestyle.BaseReport):  # type: ignore[misc]
    def __init__(self, options: object) -> None:
        super().__init__(options)
        self.late: set[int] = set()

    def error(self, line_number: int, offset: int, text: str, check: object) -> object:
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


def import_texts(source: str) -> list[str]:
    """Every import statement of ``source`` that runs at import time, as written."""
    module = ast.parse(source)
    found = []
    for node in ast.walk(module):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            segment = ast.get_source_segment(source, node)
            assert segment is not None
            found.append(segment)
    return found


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
@given(program=ENTRY_PROGRAMS, settings_=st.sampled_from(MODES))
def test_output_parses_and_a_second_run_changes_nothing(
    program: Program, settings_: Settings
) -> None:
    output = rewrite(program, settings_).output
    cst.parse_module(output)
    compile(output, "index.py", "exec", dont_inherit=True)
    assert rewrite(program, settings_, output).output == output


@PROPERTIES
@given(program=ENTRY_PROGRAMS, modes=st.permutations(MODES).map(lambda drawn: drawn[:2]))
def test_a_run_after_one_in_another_mode_gives_what_it_gives_on_the_original(
    program: Program, modes: list[Settings]
) -> None:
    earlier, now = modes
    switched = rewrite(program, earlier).output
    assert rewrite(program, now, switched).output == rewrite(program, now).output


@PROPERTIES
@given(program=ENTRY_PROGRAMS, settings_=st.sampled_from(MODES))
def test_undo_gives_back_the_original(program: Program, settings_: Settings) -> None:
    output = rewrite(program, settings_).output
    assert undo_source(output).output == program.entry.text


@PROPERTIES
@given(program=ENTRY_PROGRAMS, settings_=st.sampled_from(MODES))
def test_the_original_statements_are_kept(program: Program, settings_: Settings) -> None:
    output = rewrite(program, settings_).output
    original = import_texts(program.entry.text)
    # Each original import is in the output as written (at any indentation;
    # the lazy block adds rebuilt copies of the deferred ones).
    rewritten = [" ".join(text.split()) for text in import_texts(output)]
    for text in original:
        assert " ".join(text.split()) in rewritten, text


@PROPERTIES
@given(program=ENTRY_PROGRAMS)
def test_runtime_and_late_imports_are_pinned_after_one_block(program: Program) -> None:
    output = rewrite(program, Settings()).output
    assert not e402_lines(output), output
    module = ast.parse(output)
    recovery = recover(module, SourceText(output))
    kinds = [part.kind for part in recovery.parts]
    assert kinds.count("block") == 1
    block = kinds.index("block")
    # In dynamic-import mode no top-level line after the block loads the
    # runtime outside a pin: the flags come from how the entry was built.
    flags = iter(program.entry.runtime_flags)
    for original in recovery.lines:
        statements = original.line.statements
        nodes = [node for statement in statements for node in _executed_imports(statement)]
        line_flags = [next(flags) for node in nodes]
        top_level_runtime = any(
            flag for node, flag in zip(nodes, line_flags, strict=True) if node in statements
        )
        if top_level_runtime:
            assert original.part > block, "a runtime import before the block"
            assert recovery.parts[original.part].kind == "pin", ast.unparse(statements[0])
    assert next(flags, None) is None


def _executed_imports(statement: ast.stmt) -> list[ast.stmt]:
    # The imports in `statement` outside functions and classes, in source
    # order: the ones _trees records a flag for.
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return [statement]
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return []
    found: list[ast.stmt] = []
    for child in ast.iter_child_nodes(statement):
        if isinstance(child, ast.stmt):
            found.extend(_executed_imports(child))
        elif isinstance(child, (ast.excepthandler, ast.match_case)):
            for inner in child.body:
                found.extend(_executed_imports(inner))
    return found


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
def test_generated_programs_parse_are_stable_and_undo(source: str, before: str, after: str) -> None:
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        try:
            ast.parse(text)
        except SyntaxError:
            assume(False)
    settings_ = Settings(init="instrument_server")
    try:
        output = rewrite_source(text, settings_).output
    except RewriteError as error:
        # The one refusal of valid, round-tripping text: lines at the end of
        # the file that LibCST would not read back after a generated block
        # (fixtures/bad/trailing_blank_lines_after_a_pin).
        assert "LibCST would not read back" in str(error), error
        event("refused: trailing lines LibCST would not read back")
        return
    cst.parse_module(output)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        ast.parse(output)
    assert rewrite_source(output, settings_).output == output
    assert undo_source(output).output == text
