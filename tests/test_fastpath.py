"""The fast path (``rewriter.fastpath``) answers exactly as the full rewrite does.

``rewrite_source`` first asks the fast path whether an entry is already
rewritten; ``_fast_path=False`` forces the full LibCST rewrite. Over every
golden case (its expected output and the full rewrite's output of its
input), over generated entries (hypothesis) and over hand-made variations of
a rewritten entry, both calls must return equal ``Result`` values. The fast
path must also actually answer for a stable output, or it saves nothing.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import libcst as cst
import pytest
from _golden import BUILD_NAME, Case, all_cases
from _trees import PACKAGE, Program, programs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rewriter import fastpath
from rewriter.config import Settings
from rewriter.core import rewrite_source
from rewriter.fastpath import parse_entry, unchanged_result
from rewriter.files import DiskTree, read_source
from rewriter.result import Result
from rewriter.transforms.sites import ImportSiteCollector
from rewriter.tree import MemoryTree, SourceTree

CASES = [pytest.param(case, id=case.name) for case in all_cases()]


def both(
    source: str, options: Settings, *, path: str, tree: SourceTree
) -> tuple[Result | Exception, Result | Exception]:
    """The result (or error) of the default call and of the forced full rewrite."""
    outcomes: list[Result | Exception] = []
    for fast in (True, False):
        try:
            outcomes.append(rewrite_source(source, options, path=path, tree=tree, _fast_path=fast))
        except Exception as error:  # compared below: both paths must fail alike
            outcomes.append(error)
    return outcomes[0], outcomes[1]


def assert_same(fast: Result | Exception, slow: Result | Exception) -> None:
    if isinstance(slow, Exception):
        assert type(fast) is type(slow) and str(fast) == str(slow)
    else:
        assert fast == slow


def case_build(case: Case, tmp_path: Path) -> tuple[Path, str]:
    """The case's input copied to ``tmp_path``; the entry path and its source."""
    build = tmp_path / BUILD_NAME
    shutil.copytree(case.input_dir, build)
    entry = build / case.entry
    return entry, read_source(entry).text


@pytest.mark.parametrize("case", CASES)
def test_fast_path_agrees_on_golden_outputs(case: Case, tmp_path: Path) -> None:
    entry, source = case_build(case, tmp_path)
    tree = DiskTree(entry.parent)
    first = rewrite_source(source, case.settings, path=str(entry), tree=tree, _fast_path=False)
    expected_text = read_source(case.expected_path).text
    for text in (source, first.output, expected_text):
        assert_same(*both(text, case.settings, path=str(entry), tree=DiskTree(entry.parent)))


@pytest.mark.parametrize("case", CASES)
def test_fast_path_answers_for_a_stable_output(case: Case, tmp_path: Path) -> None:
    entry, source = case_build(case, tmp_path)
    tree = DiskTree(entry.parent)
    output = rewrite_source(source, case.settings, path=str(entry), tree=tree).output
    second = rewrite_source(output, case.settings, path=str(entry), tree=tree, _fast_path=False)
    assert second.output == output, "the full rewrite is not stable here"
    known = unchanged_result(output, case.settings, path=str(entry), tree=tree)
    assert known == second


def test_fast_path_declines_an_entry_that_is_not_rewritten(tmp_path: Path) -> None:
    case = next(case for case in all_cases() if case.name == "async_handler")
    entry, source = case_build(case, tmp_path)
    tree = DiskTree(entry.parent)
    assert unchanged_result(source, case.settings, path=str(entry), tree=tree) is None


# A rewritten entry, then variations of it. Each variation must get the same
# answer from both paths; the fast path must decline (None) all but the first.
RUNTIME = {"chunks/__init__.py": "", "chunks/app.py": "def handler(event):\n    return 1\n"}
TREE = {**RUNTIME, "instrument_server.py": "INIT = True\n"}
ENTRY = '''"""Server entry."""
from __future__ import annotations

import os
from .chunks.app import handler

SETTINGS = {"debug": os.environ.get("DEBUG")}
'''


def rewritten_entry(options: Settings) -> str:
    tree = MemoryTree(TREE)
    return rewrite_source(ENTRY, options, path=f"{PACKAGE}/index.py", tree=tree).output


def _replace_block_line(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


VARIATIONS = [
    pytest.param(lambda text: text, True, id="unchanged answers"),
    pytest.param(lambda text: text + "from .chunks import app\n", False, id="runtime import added"),
    pytest.param(lambda text: text + "import json\n", False, id="import after code (E402)"),
    pytest.param(
        lambda text: text + "import os; x = 1\nimport json\n",
        False,
        id="import after a line of import and code",
    ),
    pytest.param(
        lambda text: text + "\n\n# rewriter:init again\n", False, id="second marker comment"
    ),
    pytest.param(
        lambda text: text.replace("# rewriter:init", "# rewritten", 1), False, id="marker removed"
    ),
    pytest.param(
        lambda text: _replace_block_line(text, '"flask", ', ""), False, id="guard list edited"
    ),
    pytest.param(
        lambda text: _replace_block_line(
            text,
            "\n# rewriter:init",
            "try:\n    pass\nfinally:\n    pass\n\n# rewriter:init",
        ),
        False,
        id="a try before the block",
    ),
    pytest.param(
        lambda text: _replace_block_line(
            text,
            "if _rewriter_typing.TYPE_CHECKING:\n    from .chunks.app import handler\n",
            "if _rewriter_typing.TYPE_CHECKING: from .chunks.app import handler\n",
        ),
        False,
        id="one-line mirror body",
    ),
    pytest.param(
        lambda text: text + "if not TYPE_CHECKING:\n    pass\nelif True:\n    import json\n",
        False,
        id="elif after not TYPE_CHECKING",
    ),
    pytest.param(lambda text: text + "def broken(:\n", False, id="syntax error"),
    # LibCST would not print these back as they are, so the full rewrite
    # refuses the file; the fast path must not call it unchanged.
    pytest.param(lambda text: text + "\f\nx = 1\n", False, id="form feed"),
    pytest.param(lambda text: text + "if x:\n    pass\r", False, id="lone CR"),
    pytest.param(
        lambda text: text + "try:\n    pass\nexcept OSError :\n    pass\n",
        False,
        id="space before except colon",
    ),
]


@pytest.mark.parametrize(
    "options",
    [
        pytest.param(Settings(init="./instrument_server.py"), id="dynamic-import"),
        pytest.param(
            Settings(init="./instrument_server.py", mode="top-level-import"), id="top-level-import"
        ),
        pytest.param(Settings(init="instrument_server:setup"), id="init callable"),
        pytest.param(Settings(init="./instrument_server.py", guard=False), id="no guard"),
        pytest.param(Settings(init="./instrument_server.py", handler=("nothere",)), id="warning"),
    ],
)
@pytest.mark.parametrize(("vary", "answers"), VARIATIONS)
def test_variations_of_a_rewritten_entry(options: Settings, vary: object, answers: bool) -> None:
    assert callable(vary)
    try:
        text = vary(rewritten_entry(options))
    except AssertionError:
        pytest.skip("this variation does not apply to this mode's output")
    tree = MemoryTree(TREE)
    path = f"{PACKAGE}/index.py"
    assert_same(*both(text, options, path=path, tree=tree))
    known = unchanged_result(text, options, path=path, tree=tree)
    assert (known is not None) == answers


def test_a_formatted_block_is_still_recognised() -> None:
    options = Settings(init="./instrument_server.py")
    text = rewritten_entry(options).replace("    ", "\t")
    tree = MemoryTree(TREE)
    path = f"{PACKAGE}/index.py"
    known = unchanged_result(text, options, path=path, tree=tree)
    assert known is not None
    assert known == rewrite_source(text, options, path=path, tree=tree, _fast_path=False)


def test_the_parse_is_shared_for_the_same_text() -> None:
    text = rewritten_entry(Settings(init="./instrument_server.py"))
    assert parse_entry(text) is parse_entry(text)
    copy = "".join(list(text))
    assert copy is not text
    assert parse_entry(copy) is not parse_entry(text)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    program=st.one_of(
        programs("package", differential=False), programs("script", differential=False)
    ),
    mode=st.sampled_from(["dynamic-import", "top-level-import"]),
)
def test_fast_path_agrees_on_generated_entries(program: Program, mode: str) -> None:
    options = Settings(mode=mode)  # type: ignore[arg-type]
    path = f"{PACKAGE}/index.py" if program.entry.kind == "package" else "index.py"
    tree = MemoryTree(program.files)
    first = rewrite_source(program.entry.text, options, path=path, tree=tree, _fast_path=False)
    assert_same(*both(first.output, options, path=path, tree=MemoryTree(program.files)))
    second = rewrite_source(first.output, options, path=path, tree=tree, _fast_path=False)
    # In top-level-import mode, imports may stay after code, where the fast
    # path declines on purpose; after a dynamic-import rewrite it must answer.
    if second.output == first.output and mode == "dynamic-import":
        assert unchanged_result(first.output, options, path=path, tree=tree) == second


# The fast path finds import sites with ``ast``; it must find exactly what
# LibCST's ImportSiteCollector finds, in the same order.
SITE_SHAPES = [
    pytest.param(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING: import os\nfrom .chunks import app\n",
        id="one-line TYPE_CHECKING body",  # the collector used to crash on it
    ),
    pytest.param(
        "try:\n    import a\nexcept ImportError:\n    import b\nelse:\n    import c\n"
        "finally:\n    import d\n",
        id="try branches",
    ),
    pytest.param(
        "if not TYPE_CHECKING:\n    import a\nelse:\n    import b\nif typing.TYPE_CHECKING:\n"
        "    import c\nelif x:\n    import d\n",
        id="TYPE_CHECKING branches",
    ),
    pytest.param(
        "with x:\n    import a\nfor i in y:\n    import b\nelse:\n    import c\n"
        "while z:\n    import d\n",
        id="with, for, while",
    ),
    pytest.param(
        "match x:\n    case 1:\n        import a\n    case _:\n        import b\n", id="match"
    ),
    pytest.param("def f():\n    import a\nclass K:\n    import b\n", id="functions and classes"),
    pytest.param("import a; from .b import c; x = 1; import d\n", id="semicolons"),
    pytest.param("if x: import a; import b\n", id="one-line if"),
]


def collector_sites(source: str) -> list[tuple[object, bool]]:
    sites = ImportSiteCollector.collect(cst.parse_module(source))
    return [(site.statement, site.deferred) for site in sites]


@pytest.mark.parametrize("source", SITE_SHAPES)
def test_site_walker_matches_the_collector(source: str) -> None:
    walked = fastpath._collect_sites(ast.parse(source).body, deferred=False)
    assert walked is not None
    assert [(site.statement, site.deferred) for site in walked] == collector_sites(source)


@pytest.mark.parametrize("case", CASES)
def test_site_walker_matches_the_collector_on_rewritten_entries(case: Case, tmp_path: Path) -> None:
    entry, source = case_build(case, tmp_path)
    output = rewrite_source(source, case.settings, path=str(entry), tree=DiskTree(entry.parent))
    walked = fastpath._collect_sites(ast.parse(output.output).body, deferred=False)
    assert walked is not None
    assert [(site.statement, site.deferred) for site in walked] == collector_sites(output.output)
