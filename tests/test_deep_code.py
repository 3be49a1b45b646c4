"""Code nested deeper than the interpreter's recursion limit, in the entry or in what it imports.

Generated bundles hold such code: a string built from a thousand ``+``
terms, a long chain of calls or attributes. At 1,500 levels CPython parses
it, but a recursive walk of its tree overflows the default recursion limit
(1,000); at 3,000 levels CPython's own parser gives up (RecursionError or
MemoryError). Neither may end a run with an internal error: a runtime
module or init module that CPython cannot parse is read as one that does
not parse, and an entry too deep for LibCST is refused at its position.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from rewriter.config import Settings
from rewriter.core import rewrite_source
from rewriter.errors import RewriteError
from rewriter.tree import MemoryTree

PARSED = 1_500
"""Levels CPython parses, and over the default recursion limit."""
UNPARSED = 3_000
"""Levels CPython's parser refuses."""
SHAPES = {
    "sum": lambda n: " + ".join(['"a"'] * n),
    "subscripts": lambda n: "table" + "[0]" * n,
    "calls": lambda n: "make" + "()" * n,
    "attributes after a call": lambda n: "make()" + ".next" * n,
    "not": lambda n: "not " * n + "flag",
}
MODES = {
    "dynamic-import": Settings(init="instrument"),
    "lazy": Settings(init="instrument", lazy=True),
    "top-level-import": Settings(init="instrument", mode="top-level-import"),
    "strict guard": Settings(init="instrument", guard="strict"),
}
ENTRY = "from .chunk import *\nfrom .chunk import handler\n"
RUNTIME = 'import os\n\ndef handler():\n    return "ok"\n\n__all__ = ["handler"]\n'
INIT = "def init():\n    pass\n\n\ninit()\n"


def deep(shape: str, levels: int) -> str:
    return f"value = {SHAPES[shape](levels)}\n"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("levels", [PARSED, UNPARSED])
@pytest.mark.parametrize("shape", SHAPES)
def test_a_deep_runtime_module_is_read_without_ending_the_run(
    shape: str, levels: int, mode: str
) -> None:
    """After a plain ``def`` the summary walks every later statement for what it rebinds."""
    tree = MemoryTree({"chunk.py": RUNTIME + deep(shape, levels), "instrument.py": INIT})
    result = rewrite_source(ENTRY, MODES[mode], path="index.py", tree=tree)
    assert result.changed
    assert result.runtime_modules == (".chunk", ".chunk")


@pytest.mark.parametrize("levels", [PARSED, UNPARSED])
@pytest.mark.parametrize("shape", SHAPES)
def test_a_deep_init_module_is_read_without_ending_the_run(shape: str, levels: int) -> None:
    tree = MemoryTree({"chunk.py": RUNTIME, "instrument.py": INIT + deep(shape, levels)})
    result = rewrite_source(ENTRY, MODES["dynamic-import"], path="index.py", tree=tree)
    assert result.changed


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", SHAPES)
def test_a_deep_entry_is_refused_at_its_position(shape: str, mode: str) -> None:
    """A plain ``def`` first: in lazy mode the entry's summary walks the deep statement too."""
    source = "def helper():\n    pass\n\nfrom .chunk import handler\n" + deep(shape, PARSED)
    tree = MemoryTree({"chunk.py": RUNTIME, "instrument.py": INIT})
    with pytest.raises(RewriteError) as refused:
        rewrite_source(source, MODES[mode], path="index.py", tree=tree)
    diagnostic = refused.value.diagnostic
    assert diagnostic.message.startswith("cannot rewrite: the code nests too deeply for LibCST")
    assert diagnostic.line == 5


def test_the_command_line_rewrites_beside_a_deep_runtime_module(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "chunk.py").write_text(RUNTIME + deep("sum", UNPARSED))
    (app / "instrument.py").write_text(INIT)
    (app / "index.py").write_text(ENTRY)
    completed = subprocess.run(
        [sys.executable, "-m", "rewriter", "--init", "app.instrument", "--lazy", "app/index.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "internal error" not in completed.stderr
    assert "rewriter:init" in (app / "index.py").read_text()


SMALL_STACK = """
import sys, threading
from rewriter.config import Settings
from rewriter.core import rewrite_source
from rewriter.tree import MemoryTree

chunk, entry, init = sys.argv[1:]
threading.stack_size(256 * 1024)
outcome = []

def run():
    tree = MemoryTree({"chunk.py": chunk, "instrument.py": init})
    outcome.append(rewrite_source(entry, Settings(init="instrument"), path="index.py", tree=tree))

thread = threading.Thread(target=run)
thread.start()
thread.join()
print(outcome[0].changed)
"""


def test_a_caller_on_a_small_stack_survives_a_deep_runtime_module() -> None:
    """CPython parses the modules beside the entry on the parser thread, as it parses the entry.

    On a 256 KiB thread stack, CPython's own parse of 10,000 nested unary
    minuses overflows the stack and kills the process (exit 139).
    """
    chunk = RUNTIME + "value = " + "-" * 10_000 + "1\n"
    completed = subprocess.run(
        [sys.executable, "-c", SMALL_STACK, chunk, ENTRY, INIT],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (completed.returncode, completed.stdout) == (0, "True\n"), completed.stderr[-2000:]


ELIF_CHAIN = "if flag:\n    value = 0\n" + "".join(
    f"elif flag == {n}:\n    value = {n}\n" for n in range(1, 1_500)
)


@pytest.mark.parametrize("mode", MODES)
def test_an_elif_chain_beside_the_entry_is_read_without_ending_the_run(mode: str) -> None:
    """Each ``elif`` nests an ``If`` in the last one's ``orelse``: 1,500 levels of statements."""
    tree = MemoryTree({"chunk.py": RUNTIME + "flag = 1\n" + ELIF_CHAIN, "instrument.py": INIT})
    result = rewrite_source(ENTRY, MODES[mode], path="index.py", tree=tree)
    assert result.changed


def test_an_elif_chain_in_the_entry_is_refused_at_its_position() -> None:
    source = "from .chunk import handler\nflag = 1\n" + ELIF_CHAIN
    tree = MemoryTree({"chunk.py": RUNTIME, "instrument.py": INIT})
    with pytest.raises(RewriteError) as refused:
        rewrite_source(source, MODES["lazy"], path="index.py", tree=tree)
    assert refused.value.diagnostic.message.startswith("cannot rewrite: the code nests too deeply")


LONG_NAME = "if False:\n    value = os" + ".part" * 500 + "\n"
"""Valid Python that CPython parses at once, and longer than LibCST can nest."""


@pytest.mark.parametrize("mode", MODES)
def test_a_long_dotted_name_beside_the_entry_changes_nothing(mode: str) -> None:
    """LibCST never parses a runtime module or the init module: its limits do not apply there.

    An async handler keeps its async stand-in in lazy mode, and an init file's
    sibling imports keep their ``sys.path`` entry, as without the name.
    """
    runtime = 'import os\n\nasync def handler():\n    return "ok"\n'
    init_file = "import helper\n"

    def rewrite(extra: str) -> str:
        files = {
            "chunk.py": runtime + extra,
            "instrument_server.py": init_file + extra,
            "helper.py": "",
        }
        settings = dataclasses.replace(MODES[mode], init="./instrument_server.py")
        entry = "from .chunk import handler\n"
        return rewrite_source(entry, settings, path="index.py", tree=MemoryTree(files)).output

    assert rewrite(LONG_NAME) == rewrite("")
