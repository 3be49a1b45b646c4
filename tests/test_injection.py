"""Injection resistance: nothing from the command line or a config file is
spliced into generated code unless it is a plain name.

Every setting that reaches generated code (handler names, the init spec and
its callable, preload names, prelude modules, instrumented modules, the
preload entry-point group, default init files, the preset) is fed hostile
values, through the command line and through ``[tool.rewriter]``. Each one
is refused with exit code 2 and a one-line error, and no file changes.

A template that renders code that does not parse is refused the same way:
``render_statements`` raises, and ``rewrite_file`` leaves the entry as it
was.
"""

from __future__ import annotations

import ast
import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rewriter.templates
from rewriter import cli
from rewriter.config import InitSpec, Settings
from rewriter.core import rewrite_source
from rewriter.errors import ConfigError, RewriteError
from rewriter.names import is_dotted_name, is_identifier
from rewriter.runner import rewrite_file
from rewriter.templates import render_statements
from rewriter.tree import MemoryTree

ENTRY = b'"""Entry."""\nfrom .chunks.app import handler\n'
FILES = {
    "index.py": ENTRY,
    "instrument.server.py": b"# instrumentation init\n",
    "chunks/__init__.py": b"",
    "chunks/app.py": b"def handler(event, context):\n    return 'ok'\n",
}

# Values that are neither identifiers nor dotted names nor safe file paths.
HOSTILE_NAMES = (
    pytest.param("x = 1; import os", id="statement after a semicolon"),
    pytest.param("os.system('id')", id="call"),
    pytest.param("__import__('os')", id="dunder import call"),
    pytest.param("handler\nimport os", id="newline then a statement"),
    pytest.param("handler\r\nimport os", id="CRLF then a statement"),
    pytest.param('handler"', id="double quote"),
    pytest.param("han'dler", id="single quote"),
    pytest.param("handler # comment", id="comment"),
    pytest.param("class", id="keyword"),
    pytest.param("None", id="keyword constant"),
    pytest.param("import", id="keyword import"),
    pytest.param("h\u0430ndler", id="cyrillic a lookalike"),
    pytest.param("\uff48andler", id="fullwidth h (NFKC normalises to handler)"),
    pytest.param("\U0001d525andler", id="mathematical fraktur h"),
    pytest.param("\u200bhandler", id="zero-width space"),
    pytest.param("1handler", id="leading digit"),
    pytest.param("handler()", id="parentheses"),
    pytest.param("", id="empty"),
    pytest.param(" handler", id="leading space"),
    pytest.param("a\x00b", id="NUL"),
    pytest.param("a\\nb", id="backslash"),
    pytest.param("a..b", id="empty dotted part"),
    pytest.param(".relative", id="leading dot"),
    pytest.param("lambda: 0", id="lambda"),
    pytest.param("def f(): pass", id="def"),
    pytest.param("x[0]", id="subscript"),
    pytest.param("{x}", id="braces (jinja and f-strings)"),
)

# Extra values for the init spec, which also takes 'module:callable' and file paths.
HOSTILE_INIT_SPECS = (
    pytest.param("os:system('id')", id="callable with a call"),
    pytest.param("os.path:join; import os", id="callable with a statement"),
    pytest.param("instrument:", id="empty callable"),
    pytest.param("instrument:init:extra", id="two colons"),
    pytest.param("instrument:init()", id="callable with parentheses"),
    pytest.param("./x'.py", id="file with a single quote"),
    pytest.param('./a".py', id="file with a double quote"),
    pytest.param("/etc/passwd.py", id="absolute file"),
    pytest.param("../$(id).py", id="file with shell syntax"),
    pytest.param("./init.py\nimport os", id="file with a newline"),
    pytest.param("./a b.py", id="file with a space"),
    pytest.param("./a;b.py", id="file with a semicolon"),
    pytest.param("C:\\x\\evil.py", id="windows drive"),
    pytest.param("./{{ x }}.py", id="file with jinja syntax"),
    pytest.param("./init.txt", id="not a python file"),
)

# [tool.rewriter] keys whose values reach generated code; True for list values.
CODE_KEYS = {
    "handler": True,
    "init": False,
    "preload": True,
    "prelude": True,
    "instrumented": True,
    "preload_group": False,
    "init_files": True,
    "preset": False,
}
CLI_OPTIONS = ("--handler", "--init", "--preload", "--preset")


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        path.relative_to(root).as_posix(): (path.read_bytes(), stat.S_IMODE(path.stat().st_mode))
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.parts
    }


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / ".git").mkdir()
    for relpath, data in FILES.items():
        (tmp_path / relpath).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relpath).write_bytes(data)
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    yield tmp_path
    after = snapshot(tmp_path)
    # The tests write their own pyproject.toml; they check it themselves.
    after.pop("pyproject.toml", None)
    assert after == before, "a refused value changed a file"


def run_refused(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run the CLI, expect exit 2, no stdout, one error line; return that line."""
    code = cli.main(argv)
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


def toml_string(value: str) -> str:
    # A TOML basic string: JSON's escapes are TOML's, without \u surrogate pairs.
    return json.dumps(value, ensure_ascii=False)


def write_pyproject(root: Path, key: str, value: str) -> bytes:
    literal = toml_string(value)
    if CODE_KEYS[key]:
        literal = f"[{literal}]"
    text = (
        f'[project]\nname = "app"\n\n[tool.rewriter]\nmode = "dynamic-import"\n{key} = {literal}\n'
    )
    (root / "pyproject.toml").write_text(text, encoding="utf-8")
    return (root / "pyproject.toml").read_bytes()


@pytest.mark.parametrize("option", CLI_OPTIONS)
@pytest.mark.parametrize("value", HOSTILE_NAMES)
def test_hostile_name_on_the_command_line(
    project: Path, capsys: pytest.CaptureFixture[str], option: str, value: str
) -> None:
    line = run_refused(capsys, [f"{option}={value}", "index.py"])
    if option == "--init":  # 'module:callable' is split first, so only a part may be quoted
        assert line.startswith("error: init ")
    else:
        assert repr(value) in line


@pytest.mark.parametrize("value", HOSTILE_INIT_SPECS)
def test_hostile_init_spec_on_the_command_line(
    project: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    line = run_refused(capsys, [f"--init={value}", "index.py"])
    assert "init" in line


# A prelude may be named relative to the entry (`.helpers.early`), so a
# leading dot is a valid prelude; every other pair must be refused.
HOSTILE_PAIRS = [
    pytest.param(key, value.values[0], id=f"{value.id}-{key}")
    for key in sorted(CODE_KEYS)
    for value in HOSTILE_NAMES
    if not (key == "prelude" and value.id == "leading dot")
]


@pytest.mark.parametrize(("key", "value"), HOSTILE_PAIRS)
def test_hostile_name_in_pyproject(
    project: Path, capsys: pytest.CaptureFixture[str], key: str, value: str
) -> None:
    config = write_pyproject(project, key, value)
    line = run_refused(capsys, ["index.py"])
    assert (project / "pyproject.toml").read_bytes() == config
    # Positioned at the key, on line 6 of the file.
    prefix = f"error: {(project / 'pyproject.toml').resolve()}:6:1: "
    assert line.startswith(prefix), line


@pytest.mark.parametrize("value", HOSTILE_INIT_SPECS)
def test_hostile_init_spec_in_pyproject(
    project: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    config = write_pyproject(project, "init", value)
    line = run_refused(capsys, ["index.py"])
    assert (project / "pyproject.toml").read_bytes() == config
    assert line.startswith(f"error: {(project / 'pyproject.toml').resolve()}:6:1: init")


def test_hostile_values_are_numerous() -> None:
    assert len(HOSTILE_NAMES) + len(HOSTILE_INIT_SPECS) >= 20


def test_hostile_entry_point_is_refused(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Preload reads instrumentors from installed metadata, which ends up in code too."""
    site = project.parent / f"{project.name}-site"
    dist = site / "evil-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[rewriter_test_instrumentors]\nevil = os; import sys:Instrumentor\n"
    )
    monkeypatch.syspath_prepend(str(site))
    (project / "pyproject.toml").write_text(
        '[tool.rewriter]\nmode = "preload"\npreload_group = "rewriter_test_instrumentors"\n'
    )
    line = run_refused(capsys, ["-q", "--preload", "evil", "index.py"])
    assert line == (
        "error: preload integration 'evil' (entry point 'evil' of evil 1.0 in group "
        "'rewriter_test_instrumentors') cannot be used: its module must be a dotted Python "
        "name like 'pkg.module', got 'os; import sys'"
    )


def test_path_traversal_in_a_file_init_spec_stays_a_string(tmp_path: Path) -> None:
    """``..`` is allowed in a file init spec (the init file may sit above the build),
    and the path only ever appears in generated code as a string literal."""
    (tmp_path / "instrument.server.py").write_bytes(FILES["instrument.server.py"])
    server = tmp_path / "server"
    (server / "chunks").mkdir(parents=True)
    (server / "index.py").write_bytes(ENTRY)
    (server / "chunks" / "app.py").write_bytes(FILES["chunks/app.py"])
    report = rewrite_file(server / "index.py", Settings(init="../instrument.server.py"))
    assert report.status == "changed", report.error
    output = (server / "index.py").read_text()
    strings = [
        node.value
        for node in ast.walk(ast.parse(output))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]
    assert "../instrument.server.py" in strings
    # Every occurrence in the text is one of those string literals.
    assert output.count("../instrument.server.py") == strings.count("../instrument.server.py")


def _structure(output: str) -> str:
    """The output's AST with every name and string blanked: only its shape is left."""
    tree = ast.parse(output)
    for node in ast.walk(tree):
        for field in ("id", "name", "asname", "attr", "arg", "module"):
            if isinstance(getattr(node, field, None), str):
                setattr(node, field, "_")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = "_"
        if isinstance(node, ast.alias):
            node.name = "_"
    return ast.dump(tree)


@given(st.text(max_size=12))
def test_any_accepted_handler_name_is_a_plain_identifier(name: str) -> None:
    try:
        Settings(handler=(name,))
    except ConfigError:
        return
    assert is_identifier(name) and name.isascii() and re.fullmatch(r"[A-Za-z_]\w*", name)


@given(st.text(max_size=16))
def test_any_accepted_init_spec_is_names_or_a_safe_path(spec: str) -> None:
    try:
        parsed = InitSpec.parse(spec)
    except ConfigError:
        return
    if parsed.kind == "file":
        assert re.fullmatch(r"[A-Za-z0-9_.\-/]+\.py", parsed.target)
    else:
        assert is_dotted_name(parsed.target)
        assert parsed.attribute is None or is_dotted_name(parsed.attribute)


@pytest.mark.parametrize(
    ("benign", "other"),
    (
        pytest.param("instrument:init", "obs.setup:start_tracing", id="module callable"),
        pytest.param("./instrument.server.py", "../up/other-name.py", id="file"),
    ),
)
def test_accepted_values_only_change_names_and_strings(benign: str, other: str) -> None:
    """Two accepted init specs of a kind give code of the same shape."""
    tree = MemoryTree(
        {
            "index.py": "",
            "instrument.server.py": "",
            "instrument.py": "def init(): pass\n",
            "obs/__init__.py": "",
            "obs/setup.py": "def start_tracing(): pass\n",
            "../up/other-name.py": "",
            "chunks/app.py": "def handler(): pass\ndef serve_it(): pass\n",
        }
    )
    entry = "from .chunks.app import *\n"
    outputs = [
        rewrite_source(
            entry, Settings(init=spec, handler=(name,)), path="index.py", tree=tree
        ).output
        for spec, name in ((benign, "handler"), (other, "serve_it"))
    ]
    assert _structure(outputs[0]) == _structure(outputs[1])


@pytest.fixture
def broken_template(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``block.py.j2`` renders code that does not parse; other templates are real."""
    real = rewriter.templates._load
    broken = "try:\n    value = ({{ init_key | pyrepr }}\nfinally:\n    pass\n"

    def load(name: str) -> str:
        return broken if name == "block.py.j2" else real(name)

    monkeypatch.setattr(rewriter.templates, "_load", load)
    rewriter.templates.environment.cache_clear()
    yield broken
    monkeypatch.undo()
    rewriter.templates.environment.cache_clear()


def test_a_template_that_does_not_parse_is_an_error(broken_template: str) -> None:
    with pytest.raises(RewriteError) as excinfo:
        render_statements("block.py.j2", "\n", init_key="instrument")
    assert excinfo.value.diagnostic.message.startswith(
        "template block.py.j2 rendered code that does not parse"
    )


def test_rewrite_file_leaves_the_entry_when_the_template_breaks(
    project: Path, broken_template: str
) -> None:
    entry = project / "index.py"
    entry.chmod(0o640)
    report = rewrite_file(entry, Settings())
    entry.chmod(0o644)
    assert report.status == "failed"
    assert report.error is not None
    assert report.error.message.startswith(
        "template block.py.j2 rendered code that does not parse"
    )
    assert entry.read_bytes() == ENTRY
    assert not [name for name in os.listdir(project) if name.endswith(".tmp")]
