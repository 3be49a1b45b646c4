"""``rewriter --undo``: the original entry back, byte for byte.

Every golden case's expected output undoes to its input; the property tests
(``tests/test_properties.py``) and the fuzz corpus check the same on
generated entries and on every file of the stdlib and site-packages. Here:
the command line, a file that was never rewritten, and generated code that
was edited by hand.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from _golden import Case, all_cases

from rewriter import cli
from rewriter.config import Settings
from rewriter.core import rewrite_source
from rewriter.errors import RewriteError
from rewriter.files import decode_source
from rewriter.undo import undo_source

CASES = [case for case in all_cases() if not case.already_rewritten]
LEGACY = "upgrade_from_0_1"  # rewriter 0.1's output: undone to its statements, not its layout


@pytest.mark.parametrize("case", [c for c in CASES if c.name != LEGACY], ids=lambda c: c.name)
def test_undo_gives_back_the_input_of_every_golden_case(case: Case) -> None:
    output, _ = decode_source(case.expected_path.read_bytes())
    original, _ = decode_source((case.input_dir / case.entry).read_bytes())
    undone = undo_source(output)
    assert undone.output == original
    assert undone.changed == (original != output)


def test_undo_of_rewriter_0_1_output_gives_back_its_statements() -> None:
    [case] = [case for case in all_cases() if case.name == LEGACY]
    text, _ = decode_source((case.input_dir / case.entry).read_bytes())
    undone = undo_source(text).output
    assert "_rewriter_" not in undone
    assert "from .chunks.routes import *" in undone
    assert "    from .chunks.nitro import server" in undone  # nested, where it was


def _rewritten_example(tmp_path: Path) -> Path:
    root = tmp_path / "example"
    shutil.copytree(Path(__file__).resolve().parent.parent / "fixtures" / "example", root)
    assert cli.main(["-q", str(root / "build/server/index.py")]) == 0
    return root / "build/server/index.py"


def test_the_command_line_restores_and_then_has_nothing_to_undo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = _rewritten_example(tmp_path)
    original = Path(__file__).resolve().parent.parent / "fixtures/example/build/server/index.py"
    capsys.readouterr()

    assert cli.main(["--undo", "--check", str(entry)]) == 1
    assert "would restore" in capsys.readouterr().err
    assert cli.main(["--undo", str(entry)]) == 0
    assert capsys.readouterr().err == "1 file restored.\n"
    assert entry.read_bytes() == original.read_bytes()

    assert cli.main(["--undo", str(entry)]) == 0
    err = capsys.readouterr().err
    assert "nothing to undo: the entry holds no code rewriter generated" in err
    assert err.endswith("1 file left unchanged.\n")
    assert cli.main(["--undo", "--check", str(entry)]) == 0


def test_an_edited_block_is_refused_where_it_was_edited(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = _rewritten_example(tmp_path)
    text = entry.read_text()
    edited = text.replace('flag("REWRITER_DEBUG")', 'flag("MY_DEBUG")')
    assert edited != text
    entry.write_text(edited)
    capsys.readouterr()
    assert cli.main(["--undo", str(entry)]) == 123
    line = text[: text.index("\ntry:\n")].count("\n") + 2  # the block's `try:` line
    assert capsys.readouterr().err.startswith(
        f"error: {entry}:{line}:1: cannot undo: the rewriter init block was edited by hand"
    )
    assert entry.read_text() == edited
    with pytest.raises(RewriteError, match="edited by hand"):
        undo_source(edited)


def test_a_moved_setup_statement_goes_back_to_its_place(tmp_path: Path) -> None:
    original = (
        '"""Entry."""\n\nimport os\n\nfrom flask import Flask\n\n'
        'os.environ.setdefault("SETTINGS", "prod")\n\napp = Flask(__name__)\n'
    )
    entry = tmp_path / "wsgi.py"
    entry.write_text(original)
    (tmp_path / "instrument.py").write_text("")
    assert cli.main(["-q", "--init", "instrument", "--handler", "app", str(entry)]) == 0
    rewritten = entry.read_text()
    assert rewritten.index("os.environ.setdefault") < rewritten.index("# rewriter:init")
    assert "# rewriter:moved 4 -- " in rewritten
    assert undo_source(rewritten).output == original


@pytest.mark.parametrize(
    "blank",
    ["    ", "        ", "  ", "\t", "  \t"],
    ids=["block_indent", "deeper", "shallower", "tab", "mixed"],
)
def test_whitespace_only_lines_inside_a_pin_come_back_whole(blank: str) -> None:
    # Found by tests/test_properties.py: LibCST reads a blank line of four
    # spaces inside the pin as the block's indentation and nothing more, and
    # undo gave back an empty line.
    from rewriter.config import Settings
    from rewriter.core import rewrite_source

    original = f"from .chunks import handler\n\n{blank}\nfrom .chunks.nitro import *\n"
    settings = Settings(init="instrument_server")
    rewritten = rewrite_source(original, settings).output
    assert f"    from .chunks import handler\n\n{blank}\n    from .chunks.nitro" in rewritten
    assert undo_source(rewritten).output == original
    assert rewrite_source(rewritten, settings).output == rewritten


@pytest.mark.parametrize(
    "source",
    ["from .chunks import handler\n#\n    \n", "from .chunks import handler\n# end\n\n"],
)
def test_undo_keeps_the_lines_after_a_pin_that_ends_the_file(source: str) -> None:
    # LibCST reads them as the footer of the pin's `except` block.
    settings = Settings(init="instrument_server")
    rewritten = rewrite_source(source, settings).output
    assert rewrite_source(rewritten, settings).output == rewritten
    assert undo_source(rewritten).output == source


_INDENTED_AFTER = {
    "blank_before_if": "from .chunks import handler\n    \nif True:\n    x = 1\n",
    "blank_before_line": "from .chunks import handler\n    \nx = 1\n",
    "comment_before_line": "from .chunks import handler\n    # note\nx = 1\n",
    "blanks_and_comment": "from .chunks import handler\n\n  \n    # note\n\nx = 1\n",
    "crlf": "from .chunks import handler\r\n    \r\n    # note\r\nx = 1\r\n",
    "after_the_block": '"""Entry."""\n    # note\nfrom .chunks import handler\n',
    "after_the_block_blank": "import os\n    \nfrom .chunks import handler\n",
    "between_pins": "from .chunks import handler\n    # note\nx = 1\nfrom .chunks import server\n",
}
_MODES = {
    "default": Settings(init="instrument_server"),
    "lazy": Settings(init="instrument_server", lazy=True),
    "top_level": Settings(init="instrument_server", mode="top-level-import"),
}


@pytest.mark.parametrize("mode", _MODES, ids=str)
@pytest.mark.parametrize("source", _INDENTED_AFTER.values(), ids=list(_INDENTED_AFTER))
def test_indented_lines_after_generated_code_come_back(source: str, mode: str) -> None:
    # Found by a hostile review: LibCST reads blank and comment lines
    # indented like a pin's `except` block, the block's `finally` or a
    # mirror's body as that block's footer, and undo (and a rewrite in
    # another mode) dropped them with the generated statement.
    settings = _MODES[mode]
    rewritten = rewrite_source(source, settings).output
    assert rewritten != source
    assert undo_source(rewritten).output == source
    assert rewrite_source(rewritten, settings).output == rewritten
    for other in _MODES.values():
        again = rewrite_source(rewritten, other).output
        assert undo_source(again).output == source


_SETUP_AFTER_A_BLOCK = {
    "comment": (
        "import os\nif True:\n    pass\n"
        'from .chunks import handler\n    # c\nos.environ.setdefault("A", "1")\n'
    ),
    "whitespace": (
        "import os\ntry:\n    import dotenv\nexcept ImportError:\n    dotenv = None\n"
        'from .chunks import handler\n    \nos.environ.setdefault("A", "1")\n'
    ),
}


@pytest.mark.parametrize("source", _SETUP_AFTER_A_BLOCK.values(), ids=list(_SETUP_AFTER_A_BLOCK))
def test_a_move_that_would_join_indented_lines_to_a_block_is_refused(source: str) -> None:
    # Found by a hostile review: the setup line moves above the init block,
    # after the entry's own `if`/`try`, and LibCST read the indented line
    # above it as the end of that block; `--undo` then put the line back
    # in the wrong place, with exit 0.
    setup_line = source.splitlines().index('os.environ.setdefault("A", "1")') + 1
    with pytest.raises(RewriteError, match="remove their indentation") as raised:
        rewrite_source(source, Settings(init="instrument_server"))
    assert raised.value.diagnostic.line == setup_line
    # Unindented, the same entry rewrites and undoes exactly.
    plain = source.replace("\n    # c\n", "\n# c\n").replace("\n    \nos", "\n\nos")
    rewritten = rewrite_source(plain, Settings(init="instrument_server")).output
    assert rewritten.index("os.environ.setdefault") < rewritten.index("# rewriter:init")
    assert undo_source(rewritten).output == plain


@pytest.mark.parametrize("lazy", [False, True], ids=["block", "lazy_block"])
@pytest.mark.parametrize("added", ["# my note\n\n", "# my note\n", "    # my note\n"])
def test_a_comment_added_above_a_marker_is_kept(added: str, lazy: bool) -> None:
    # Found by a hostile review: undo, and a rewrite, dropped a comment a
    # user had typed above the block's (or the lazy block's) marker.
    source = 'import os\nos.environ.setdefault("A", "1")\nfrom .chunks import handler\n'
    settings = Settings(init="instrument_server", lazy=lazy)
    rewritten = rewrite_source(source, settings).output
    marker = rewritten.index("# rewriter:lazy" if lazy else "# rewriter:init")
    edited = rewritten[:marker] + added + rewritten[marker:]
    undone = undo_source(edited).output
    again = rewrite_source(edited, settings).output
    for text in (undone, undo_source(again).output):
        assert added.strip() in text
        if added.startswith(" "):
            # LibCST reads an indented comment after a pin or mirror with
            # the blank lines above it, so those come back too: every other
            # line is the original's.
            others = [line for line in text.splitlines() if line.strip() != "# my note"]
            assert [line for line in others if line] == source.splitlines()
        else:
            assert text.replace(added, "") == source
