"""The parse front-end (``rewriter.parsing``): every input is judged in bounded time.

CPython's parser judges the text first; valid text that would nest too
deeply for LibCST, or cost it too much, is refused before LibCST sees it,
with the position where it goes over. The shapes here are the ones that
crashed LibCST's native parser or ran for minutes (the whole-file versions
are the ``hostile_*`` cases of ``fixtures/bad/``). What the limits let
through must then rewrite without running out of recursion.
"""

from __future__ import annotations

import ast
import io
import itertools
import subprocess
import sys
import textwrap
import time
import tokenize
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewriter.config import Settings
from rewriter.core import rewrite_source
from rewriter.errors import RewriteError
from rewriter.parsing import (
    MAX_LIBCST_DEPTH,
    deep_expression_start,
    parse_module,
    python_tree,
    scan_text,
)
from rewriter.tree import MemoryTree
from rewriter.undo import undo_source

SETTINGS = Settings(init="instrument")
TREE = MemoryTree({"instrument.py": ""})
PYTHON_GIVES_UP = "cannot parse: this expression nests too deeply for Python's parser"
TOO_DEEP = "cannot rewrite: the code nests too deeply for LibCST: "
# Generous for a loaded two-core machine: these took LibCST minutes, or crashed it.
SECONDS = 3.0


def in_function(expression: str) -> str:
    """``expression`` as the value of an assignment on line 3, column 13."""
    return f"import os\n\ndef route(event):\n    value = {expression}\n    return value\n"


def refusal(source: str) -> tuple[str, int, int, float]:
    started = time.monotonic()
    with pytest.raises(RewriteError) as excinfo:
        parse_module(source)
    diagnostic = excinfo.value.diagnostic
    return diagnostic.message, diagnostic.line, diagnostic.column, time.monotonic() - started


# Shapes that nest: each makes valid Python of ``n`` levels.
SHAPES: dict[str, Callable[[int], str]] = {
    "unary minus": lambda n: in_function("-" * n + "1"),
    "not": lambda n: in_function("not " * n + "event"),
    "sum": lambda n: in_function(" + ".join(["1"] * n)),
    "power": lambda n: in_function("2 ** " * n + "1"),
    "attribute": lambda n: in_function("os" + ".path" * n),
    "calls in a chain": lambda n: in_function("f" + "()" * n),
    "subscripts": lambda n: in_function("event" + "[0]" * n),
    "nested calls": lambda n: in_function("f(" * n + ")" * n),
    "nested lists": lambda n: in_function("[" * n + "]" * n),
    "nested dicts": lambda n: in_function("{1: " * n + "1" + "}" * n),
    "or": lambda n: in_function(" or ".join(["event"] * n)),
    "strings": lambda n: in_function("(" + " ".join(["'a'"] * n) + ")"),
    "lambdas": lambda n: in_function("lambda: " * n + "1"),
    "conditional": lambda n: in_function("1 if event else " * n + "2"),
    "dotted import": lambda n: "import os" + ".path" * n + "\n",
    "elif": lambda n: "if x == 0:\n    pass\n"
    + "".join(f"elif x == {k}:\n    pass\n" for k in range(1, n)),
    "nested functions": lambda n: "".join(
        "    " * k + f"def f{k}():\n" for k in range(min(n, 99))
    )
    + "    " * min(n, 99)
    + "pass\n",
}


@pytest.mark.parametrize(
    ("source", "message", "line", "column"),
    (
        pytest.param(
            in_function("-" * 10_000 + "1"), PYTHON_GIVES_UP, 4, 13, id="10,000 minus signs"
        ),
        pytest.param(
            in_function("not " * 10_000 + "event"), PYTHON_GIVES_UP, 4, 13, id="10,000 nots"
        ),
        pytest.param(in_function("~" * 10_000 + "1"), PYTHON_GIVES_UP, 4, 13, id="10,000 tildes"),
        pytest.param(
            in_function("f(1, " + "-" * 10_000 + "1)"), PYTHON_GIVES_UP, 4, 13, id="inside a call"
        ),
        pytest.param(
            in_function(" + ".join(["1"] * 20_000)), PYTHON_GIVES_UP, 4, 13, id="20,000 terms"
        ),
        pytest.param(
            in_function("f" + "()" * 20_000), PYTHON_GIVES_UP, 4, 13, id="20,000 calls in a chain"
        ),
        pytest.param(
            in_function("(" * 10_000 + ")" * 10_000),
            "cannot parse: too many nested parentheses",
            4,
            213,
            id="10,000 parentheses: CPython's own position",
        ),
        pytest.param(
            "x = (\n", "cannot parse: '(' was never closed", 1, 5, id="ordinary syntax error"
        ),
        pytest.param("x = 1\ny = '\0'\n", "cannot parse: source code", 2, 6, id="a NUL character"),
    ),
)
def test_invalid_text_fails_fast_where_python_puts_it(
    source: str, message: str, line: int, column: int
) -> None:
    got, got_line, got_column, elapsed = refusal(source)
    assert (got.startswith(message), got_line, got_column) == (True, line, column), got
    assert elapsed < SECONDS


@pytest.mark.parametrize(
    ("source", "detail", "line", "column"),
    (
        pytest.param(
            in_function(" or ".join(["event"] * 20_000)),
            "LibCST's nodes would nest 20,006 levels deep here",
            4,
            13,
            id="or-chain of 20,000: valid, flat for CPython",
        ),
        pytest.param(
            in_function("(" + " ".join(["'a'"] * 20_000) + ")"),
            "LibCST's nodes would nest 20,005 levels deep here",
            4,
            14,
            id="20,000 concatenated strings",
        ),
        pytest.param(
            "import os" + ".path" * 19_999 + "\n",
            "this dotted name has 20,000 parts",
            1,
            8,
            id="import of a 20,000-part name",
        ),
        pytest.param(
            "from os" + ".path" * 19_999 + " import x\n",
            "this dotted name has 20,000 parts",
            1,
            6,
            id="from-import of a 20,000-part name",
        ),
        pytest.param(
            in_function("os" + " . path" * 1_999),
            "this dotted name has 2,000 parts",
            4,
            13,
            id="attribute chain of 2,000, spaced",
        ),
        pytest.param(
            in_function("-" * 500 + "1"),
            "LibCST's nodes would nest 401 levels deep here",
            4,
            408,
            id="500 minus signs: fine for CPython",
        ),
        pytest.param(
            in_function("[" * 199 + "]" * 199),
            "LibCST's nodes would nest 402 levels deep here",
            4,
            211,
            id="199 nested lists",
        ),
        pytest.param(
            SHAPES["elif"](300),
            "LibCST's nodes would nest 401 levels deep here",
            397,
            11,
            id="300 elif branches: at the comparison that goes over",
        ),
        pytest.param(
            "".join(f"x{n} = " + "f(" * 150 + ")" * 150 + "\n" for n in range(60)),
            "brackets nest 150 levels deep here, and LibCST's parse of the file's nested"
            " brackets would take about 3,089 MB (the limit for this file is 1,536 MB)",
            1,
            305,
            id="60 statements of 150 nested calls",
        ),
    ),
)
def test_valid_text_too_deep_for_libcst_is_refused_where_it_goes_over(
    source: str, detail: str, line: int, column: int
) -> None:
    compile(source, "<test>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)  # valid
    got, got_line, got_column, elapsed = refusal(source)
    assert (got, got_line, got_column) == (f"{TOO_DEEP}{detail}" + _rest(got, detail), line, column)
    assert elapsed < SECONDS


def _rest(message: str, detail: str) -> str:
    # The limit follows the detail; the tests above pin the part that says what and where.
    return message.partition(detail)[2]


def deepest_accepted(shape: Callable[[int], str]) -> int:
    """The largest ``n`` whose text ``parse_module`` accepts (binary search up to 2,000)."""
    low, high = 1, 2000
    parse_module(shape(low))
    while high - low > 1:
        middle = (low + high) // 2
        try:
            parse_module(shape(middle))
        except RewriteError:
            high = middle
        else:
            low = middle
    return low


@pytest.mark.parametrize("name", SHAPES)
def test_whatever_the_limits_let_through_is_rewritten(name: str) -> None:
    """The deepest text of each shape that passes the checks rewrites without a recursion error.

    This guards the limit against the rest of the pipeline: a transform
    that recurses more per level makes this fail before a user's file does.
    """
    shape = SHAPES[name]
    n = deepest_accepted(shape)
    assert n >= min(99, MAX_LIBCST_DEPTH // 4), "the limit should allow ordinary nesting"
    result = rewrite_source(shape(n), SETTINGS, path="index.py", tree=TREE)
    ast.parse(result.output)
    again = rewrite_source(result.output, SETTINGS, path="index.py", tree=TREE)
    assert again.output == result.output
    # Undo parses the rewritten text with LibCST again, and gives the text back.
    assert undo_source(result.output).output == shape(n)


def test_the_limit_does_not_depend_on_the_callers_thread_stack() -> None:
    """A framework may call the hook from a thread with a small stack; the parse has its own.

    LibCST's native parser ran on the caller's stack and crashed the process
    (exit 139) at 390 levels on a 256 KiB thread stack.
    """
    program = textwrap.dedent(
        """
        import threading
        from rewriter.config import Settings
        from rewriter.core import rewrite_source
        from rewriter.tree import MemoryTree

        source = "value = " + "-" * 390 + "1\\n"
        changed = []

        def run():
            result = rewrite_source(
                source, Settings(init="instrument"), path="index.py",
                tree=MemoryTree({"instrument.py": ""}),
            )
            changed.append(result.changed)

        threading.stack_size(256 * 1024)
        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        print(changed)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120, check=False
    )
    assert (result.returncode, result.stdout) == (0, "[True]\n"), result.stderr


@pytest.mark.parametrize(
    ("source", "expected"),
    (
        pytest.param("x = 1\n", (1, 1), id="nothing nested"),
        pytest.param("x = " + "-" * 50 + "1\n", (1, 5), id="unary chain"),
        pytest.param("import os\nx = os" + ".p" * 50 + "\n", (2, 5), id="attribute chain"),
        pytest.param("x = f(1, " + "not " * 50 + "y)\n", (1, 5), id="chain inside a call"),
        pytest.param("x = [1, " + "not " * 50 + "y]\n", (1, 9), id="chain inside a list"),
        pytest.param("x = f" + "()" * 50 + "\n", (1, 5), id="chain of calls"),
        pytest.param("x = a + f(" + "-" * 50 + "1)\n", (1, 5), id="chain under an operator"),
        pytest.param("x = [1, 2]\ny = " + "~" * 9 + "1\n", (2, 5), id="second statement"),
        pytest.param("x = '-------' + 1\ny = --1\n", (2, 5), id="strings do not count"),
    ),
)
def test_deep_expression_start(source: str, expected: tuple[int, int]) -> None:
    assert deep_expression_start(source) == expected


def reference_bracket_work(source: str) -> int:
    """Bracket work counted character by character, with brackets found by ``tokenize``."""
    opens: list[int] = []
    closes: list[int] = []
    starts = [0, *itertools.accumulate(len(line) for line in source.splitlines(keepends=True))]
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.OP and token.string in "([{)]}":
            index = starts[token.start[0] - 1] + token.start[1]
            (opens if token.string in "([{" else closes).append(index)
    # A character is inside the brackets opened before it and not closed at or before it.
    return sum(
        sum(o < index for o in opens) - sum(c <= index for c in closes)
        for index in range(len(source))
    )


@pytest.mark.parametrize(
    ("source", "work"),
    (
        pytest.param("x = 1\n", 0, id="no brackets"),
        pytest.param("x = f(abc)\n", 3, id="one call"),
        pytest.param("x = [[1]]\n", 3 + 1, id="nested lists"),
        pytest.param("x = '(((((' # [[[[\n", 0, id="brackets in a string and a comment"),
        pytest.param('x = """\n(((\n"""\ny = (1,)\n', 2, id="a triple-quoted string"),
        pytest.param("x = 'it\\'s ('\ny = f(1)\n", 1, id="an escaped quote"),
    ),
)
def test_bracket_work(source: str, work: int) -> None:
    assert scan_text(source).bracket_work == work == reference_bracket_work(source)


# Expressions with brackets, strings that hold brackets and quotes, and comments.
_atoms = st.sampled_from(["x", "1", "'('", '"]"', "'''[\n'''", "r'\\''", "f'{x}('", "'#'"])


def _nest(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        inner.map(lambda e: f"f({e})"),
        inner.map(lambda e: f"[{e}, 1]"),
        inner.map(lambda e: f"({e},)"),
        inner.map(lambda e: f"({e})"),
        inner.map(lambda e: f"{{{e}: 2}}"),
        inner.map(lambda e: f"x[{e}]"),
        st.tuples(inner, inner).map(lambda pair: f"{pair[0]} + {pair[1]}"),
        inner.map(lambda e: f"(  # ((\n    {e}\n)"),
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(st.recursive(_atoms, _nest, max_leaves=12), min_size=1, max_size=4))
def test_the_text_scan_counts_the_brackets_tokenize_finds(expressions: list[str]) -> None:
    """``scan_text`` reads strings and comments as the tokenizer does, with one regex pass."""
    source = "".join(f"v{n} = {expression}\n" for n, expression in enumerate(expressions))
    ast.parse(source)
    assert scan_text(source).bracket_work == reference_bracket_work(source)


@pytest.mark.parametrize(
    ("source", "found"),
    (
        pytest.param("import os.path\n", None, id="short name"),
        pytest.param("x = '" + "a." * 500 + "a'\n", None, id="in a string"),
        pytest.param("# " + "a." * 500 + "a\n", None, id="in a comment"),
        pytest.param("x = 1\nimport " + "a." * 400 + "a\n", (2, 8), id="401 parts"),
        pytest.param("import " + "a." * 399 + "a\n", None, id="400 parts"),
        pytest.param("x = 1." + "a." * 500 + "a\n", None, id="after a number"),
    ),
)
def test_long_dotted_names_are_found_by_the_text_scan(
    source: str, found: tuple[int, int] | None
) -> None:
    assert scan_text(source).long_name == found


@pytest.mark.parametrize(
    "source",
    (
        pytest.param("x = 1\ry = 2\r", id="lone CR endings"),
        pytest.param("if x:\r    y = 1\r", id="lone CR ending a block"),
    ),
)
def test_lost_text_is_named_for_what_it_is(source: str) -> None:
    message, line, column, _ = refusal(source)
    assert "lone carriage return (old Mac line endings)" in message
    assert (line, column) == (2, len(source.split("\r")[1]) + 1)


def test_a_caller_with_cpythons_tree_hands_it_over() -> None:
    """``python_tree`` then ``parse_module(source, tree)``: the same checks, one CPython parse."""
    source = in_function("value + 1")
    assert parse_module(source, python_tree(source)).code == source
    deep = in_function(" or ".join(["event"] * 1_000))
    with pytest.raises(RewriteError, match="would nest 1,006 levels deep here"):
        parse_module(deep, python_tree(deep))
    with pytest.raises(RewriteError, match="this dotted name has 1,000 parts"):
        python_tree("import os" + ".path" * 999 + "\n")


def test_a_rewrite_parses_the_entry_with_cpython_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks before LibCST's parse take the analysis's tree: no second CPython parse.

    On a 5,000-line entry the second parse was a tenth of the time the rewrite
    adds to LibCST's own parse and print (issue 16).
    """
    import rewriter.parsing

    source = "import os\n" + "".join(f"from .chunk_{n} import route_{n}\n" for n in range(3))
    tree = MemoryTree({"instrument.py": "", **{f"chunk_{n}.py": "" for n in range(3)}})
    parsed: list[str] = []
    compile_text = rewriter.parsing._compile

    def counting(text: str) -> ast.Module:
        parsed.append(text)
        return compile_text(text)

    monkeypatch.setattr(rewriter.parsing, "_compile", counting)
    result = rewrite_source(source, SETTINGS, path="index.py", tree=tree)
    assert result.changed
    assert parsed.count(source) == 1


def test_rewrites_on_several_threads_give_the_serial_output() -> None:
    """Library callers may rewrite on threads; CPython 3.11's AST constructor is not
    thread-safe (python/cpython#106905), so rewriter's parses take turns."""
    from concurrent.futures import ThreadPoolExecutor

    sources = [
        "import os\n" + "".join(f"from .chunk_{n} import route_{n}\n" for n in range(k))
        for k in range(1, 9)
    ]
    tree = MemoryTree({"instrument.py": "", **{f"chunk_{n}.py": "" for n in range(8)}})

    def rewrite(source: str) -> str:
        return rewrite_source(source, SETTINGS, path="index.py", tree=tree).output

    serial = [rewrite(source) for source in sources]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            assert list(pool.map(rewrite, sources)) == serial
