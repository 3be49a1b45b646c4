"""``rewriter.printing``: a module printed node by node is what LibCST prints whole.

The rewrite prints only the nodes it made and takes the text of every other
top-level node from the round-trip check. Every golden case and a set of
edge shapes (no trailing newline, comments only, CRLF, form feeds, a
footer after a compound statement) must print exactly as ``Module.code``,
before and after the rewrite.
"""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from _golden import Case, all_cases, copy_input

from rewriter.parsing import parse_printed
from rewriter.printing import PrintedModule, print_module
from rewriter.runner import rewrite_file

EDGE_SOURCES = {
    "empty": "",
    "one newline": "\n",
    "comments only": "# one\n\n# two\n",
    "no trailing newline": "import os\nx = 1",
    "comment without trailing newline": "import os\n# last",
    "crlf": "import os\r\n\r\nif os:\r\n    x = 1\r\n# footer\r\n",
    "header and footer": "#!/usr/bin/env python\n# coding: utf-8\n\nimport os\n\n# end\n\n",
    "footer after a compound statement": "def f():\n    pass\n    # inside\n\n# outside\n",
    "tabs": "if True:\n\tx = 1\n",
    "semicolons": "import os; import sys\n",
    "statements and comments": (
        "import os\n\n# about sys\nimport sys  # why\n\n\ndef f():\n    pass\n"
    ),
}


@pytest.mark.parametrize("source", EDGE_SOURCES.values(), ids=EDGE_SOURCES.keys())
def test_a_parsed_module_prints_back_as_libcst_prints_it(source: str) -> None:
    printed = parse_printed(source)
    assert printed.code == printed.module.code == source


@pytest.mark.parametrize("source", EDGE_SOURCES.values(), ids=EDGE_SOURCES.keys())
def test_changed_nodes_are_printed_and_kept_ones_reused(source: str) -> None:
    printed = parse_printed(source)
    module = printed.module
    added = cst.parse_statement("import added\n")
    changed = module.with_changes(body=[added, *module.body[1:]])
    assert print_module(changed, printed) == changed.code
    # A kept node's text comes from the parse (a stale one would show), a
    # made node's is printed.
    if module.body[1:] and changed.has_trailing_newline:
        assert printed.texts is not None
        kept = module.body[1]
        fake = PrintedModule(module, {**printed.texts, id(kept): "STALE\n"})
        assert "STALE" in print_module(changed, fake)
        assert "import added" in print_module(changed, fake)


def test_a_module_printed_whole_ignores_node_texts() -> None:
    module = cst.parse_module("import os\n")
    assert print_module(module, PrintedModule(module, None)) == "import os\n"


@pytest.mark.parametrize("case", [pytest.param(case, id=case.name) for case in all_cases()])
def test_every_golden_rewrite_prints_as_libcst_prints_it_whole(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def checked(module: cst.Module, printed: PrintedModule | None = None) -> str:
        text = print_module(module, printed)
        assert text == module.code
        calls.append(text)
        return text

    monkeypatch.setattr("rewriter.printing.print_module", checked)
    report = rewrite_file(copy_input(case, tmp_path) / case.entry, case.settings)
    assert report.error is None, report.error
    if report.status == "changed":
        assert calls, "the rewrite did not print through rewriter.printing"


def test_a_module_without_a_trailing_newline_is_printed_whole_once() -> None:
    # Printing its nodes too would add a third print of the entry (a
    # newcomer's review counted them).
    printed = parse_printed("import os\nx = 1")
    assert printed.texts is None
    assert printed.code == "import os\nx = 1"


def test_texts_of_another_newline_or_indent_are_not_reused() -> None:
    printed = parse_printed("if x:\n    y = 1\n")
    for changes in ({"default_newline": "\r\n"}, {"default_indent": "\t"}):
        changed = printed.module.with_changes(**changes)
        assert print_module(changed, printed) == changed.code != printed.code
