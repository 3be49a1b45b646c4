"""The README's examples are what the fixtures hold and what rewriter writes.

A ``<!-- readme: input PATH -->`` comment in README.md is followed by a
fenced block that must equal the file PATH (relative to the repository).
A ``<!-- readme: output PATH OPTION... -->`` comment is followed by the
rewrite of PATH with those options, by the real CLI on a copy of PATH's
fixture directory, with the body of each generated function shown as
``...`` (the README leaves it out). So the examples cannot drift from the
tool, and a change to the output shows up as a README diff to review.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

_EXAMPLE = re.compile(
    r"<!-- readme: (?P<kind>input|output) (?P<args>[^>]*?) -->\n```[a-z]*\n(?P<body>.*?)```",
    re.DOTALL,
)
# A generated function (`def _rewriter_init():`) up to the call that follows it.
_GENERATED_BODY = re.compile(
    r"^(?P<def>    def _rewriter_\w+\(\):\n).*?(?=^\n    _rewriter_\w+\(\)$)",
    re.DOTALL | re.MULTILINE,
)


@dataclass(frozen=True)
class Example:
    kind: str
    path: str
    options: tuple[str, ...]
    body: str

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.path}"


def _examples() -> list[Example]:
    text = README.read_text(encoding="utf-8")
    found = []
    for match in _EXAMPLE.finditer(text):
        path, *options = shlex.split(match["args"])
        found.append(Example(match["kind"], path, tuple(options), match["body"]))
    return found


EXAMPLES = _examples()


def test_the_readme_has_examples_of_both_kinds() -> None:
    assert {example.kind for example in EXAMPLES} == {"input", "output"}
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.kind == "input"], ids=lambda e: e.id)
def test_an_input_example_is_the_fixture(example: Example) -> None:
    assert example.body == (ROOT / example.path).read_text(encoding="utf-8")


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.kind == "output"], ids=lambda e: e.id)
def test_an_output_example_is_what_rewriter_writes(example: Example, tmp_path: Path) -> None:
    fixture = Path(example.path).parts[:2]  # fixtures/<name>
    shutil.copytree(ROOT.joinpath(*fixture), tmp_path.joinpath(*fixture))
    result = subprocess.run(
        [sys.executable, "-m", "rewriter", *example.options, example.path],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    written = (tmp_path / example.path).read_text(encoding="utf-8")
    shown = _GENERATED_BODY.sub(r"\g<def>        ...\n", written)
    assert shown != written, "the rewrite has no generated function to leave out"
    assert example.body == shown


def test_leaving_out_a_body_keeps_the_lines_around_it() -> None:
    written = (
        "try:\n\n    def _rewriter_init():\n        a = 1\n\n        b = 2\n\n"
        "    _rewriter_init()\n"
    )
    shown = _GENERATED_BODY.sub(r"\g<def>        ...\n", written)
    assert shown == "try:\n\n    def _rewriter_init():\n        ...\n\n    _rewriter_init()\n"
