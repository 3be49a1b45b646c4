"""Options that the chosen mode does not read are usage errors, not silence.

``preload`` and ``preload_group`` are read only in preload mode; ``handler``
only where runtime imports are deferred (dynamic-import mode, or lazy). Set
anywhere else, each is refused with exit code 2, one line saying what to do
instead, and no file written. A key that came from pyproject.toml is pointed
at in that file, even when the mode came from the command line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rewriter import cli
from rewriter.config import Settings, load_table
from rewriter.errors import ConfigError

ENTRY = "from .chunks.app import handler\n"
APP = "def handler(event, context):\n    return 'ok'\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``index.py`` importing its runtime ``chunks/app.py``, beside its init file."""
    (tmp_path / "chunks").mkdir()
    (tmp_path / "chunks/__init__.py").write_text("")
    (tmp_path / "chunks/app.py").write_text(APP)
    (tmp_path / "instrument.server.py").write_text("")
    (tmp_path / "index.py").write_text(ENTRY)
    (tmp_path / "pyproject.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def refused(capsys: pytest.CaptureFixture[str], project: Path, *argv: str) -> str:
    """Run the CLI on ``index.py``; expect exit 2, one error line and no write; return it."""
    code = cli.main([*argv, "index.py"])
    out, err = capsys.readouterr()
    assert (code, out) == (2, ""), err
    assert len(err.splitlines()) == 1, err
    assert (project / "index.py").read_text() == ENTRY
    return err.rstrip("\n")


PRELOAD_FIX = 'add --mode preload (mode = "preload"), or remove'
HANDLER_FIX = "add --lazy (lazy = true), or remove handler"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["--preload", "flask", "--preload", "aws-lambda"],
            "preload 'flask', 'aws-lambda' is read only in preload mode, and the mode is "
            f"'dynamic-import': {PRELOAD_FIX} preload",
            id="preload in dynamic-import mode",
        ),
        pytest.param(
            ["--mode", "top-level-import", "--preload", "flask"],
            "preload 'flask' is read only in preload mode, and the mode is "
            f"'top-level-import': {PRELOAD_FIX} preload",
            id="preload in top-level-import mode",
        ),
        pytest.param(
            ["--mode", "top-level-import", "--handler", "handler"],
            "handler 'handler' is read only where runtime imports are deferred "
            "(dynamic-import mode, or --lazy), and in top-level-import mode the entry's own "
            f"imports bind the handlers: {HANDLER_FIX}",
            id="handler in top-level-import mode",
        ),
        pytest.param(
            ["--mode", "preload", "--handler", "handler"],
            "handler 'handler' is read only where runtime imports are deferred "
            "(dynamic-import mode, or --lazy), and in preload mode the entry's own "
            f"imports bind the handlers: {HANDLER_FIX}",
            id="handler in preload mode",
        ),
    ],
)
def test_an_option_the_mode_ignores_on_the_command_line_is_a_usage_error(
    project: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert refused(capsys, project, *argv) == f"error: {message}"


@pytest.mark.parametrize(
    ("table", "argv", "line", "message"),
    [
        pytest.param(
            'preload = ["flask"]\n',
            [],
            2,
            f"preload 'flask' is read only in preload mode, and the mode is 'dynamic-import': "
            f"{PRELOAD_FIX} preload",
            id="preload",
        ),
        pytest.param(
            'preload_group = "my_instrumentors"\n',
            [],
            2,
            "preload_group 'my_instrumentors' is read only in preload mode, and the mode is "
            f"'dynamic-import': {PRELOAD_FIX} preload_group",
            id="preload_group",
        ),
        pytest.param(
            'mode = "preload"\npreload = ["flask"]\n',
            ["--mode", "dynamic-import"],
            3,
            f"preload 'flask' is read only in preload mode, and the mode is 'dynamic-import': "
            f"{PRELOAD_FIX} preload",
            id="preload, with the mode from the command line",
        ),
        pytest.param(
            'handler = ["handler"]\n',
            ["--mode", "top-level-import"],
            2,
            "handler 'handler' is read only where runtime imports are deferred "
            "(dynamic-import mode, or --lazy), and in top-level-import mode the entry's own "
            f"imports bind the handlers: {HANDLER_FIX}",
            id="handler",
        ),
    ],
)
def test_an_option_the_mode_ignores_in_pyproject_is_refused_at_its_key(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    table: str,
    argv: list[str],
    line: int,
    message: str,
) -> None:
    (project / "pyproject.toml").write_text(f"[tool.rewriter]\n{table}")
    pyproject = (project / "pyproject.toml").resolve()
    assert refused(capsys, project, *argv) == f"error: {pyproject}:{line}:1: {message}"


@pytest.mark.parametrize(
    ("table", "argv"),
    [
        pytest.param('preload = ["flask"]\n', ["--mode", "preload"], id="mode from the CLI"),
        pytest.param('mode = "preload"\n', ["--preload", "flask"], id="names from the CLI"),
        pytest.param(
            'handler = ["handler"]\n', ["--mode", "top-level-import", "--lazy"], id="lazy handler"
        ),
        pytest.param("", ["--mode", "preload", "--lazy", "--handler", "handler"], id="all three"),
        pytest.param("", ["--mode", "preload", "--init", "instrument"], id="init in preload"),
    ],
)
def test_options_that_the_mode_reads_are_accepted_from_any_layer(
    project: Path, capsys: pytest.CaptureFixture[str], table: str, argv: list[str]
) -> None:
    (project / "instrument.py").write_text("")
    (project / "pyproject.toml").write_text(f"[tool.rewriter]\n{table}")
    code = cli.main(["-q", *argv, "index.py"])
    assert code == 0, capsys.readouterr().err
    assert (project / "index.py").read_text() != ENTRY


def test_each_key_of_pyproject_is_checked_on_its_own(tmp_path: Path) -> None:
    """The mode may come from the command line, so the table alone is no usage error."""
    (tmp_path / "pyproject.toml").write_text(
        '[tool.rewriter]\npreload = ["aws-lambda"]\npreload_group = "mine"\nhandler = ["app"]\n'
    )
    assert load_table(tmp_path / "pyproject.toml") == {
        "preload": ("aws-lambda",),
        "preload_group": "mine",
        "handler": ("app",),
    }


@pytest.mark.parametrize(
    ("values", "key"),
    [
        pytest.param({"preload": ("flask",)}, "preload", id="preload"),
        pytest.param({"preload_group": "mine"}, "preload_group", id="preload_group"),
        pytest.param({"mode": "top-level-import", "handler": ("app",)}, "handler", id="handler"),
    ],
)
def test_the_library_refuses_them_too(values: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match="is read only") as raised:
        Settings.from_mapping(values)
    assert raised.value.key == key


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("a=b", id="equals sign"),
        pytest.param("[extra", id="leading bracket"),
        pytest.param(" flask", id="leading space"),
        pytest.param("flask ", id="trailing space"),
        pytest.param("fla\nsk", id="newline"),
        pytest.param("", id="empty"),
    ],
)
def test_a_preload_name_must_be_an_entry_point_name(
    project: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    line = refused(capsys, project, "--mode", "preload", f"--preload={name}")
    assert line.startswith("error: preload integration must be an entry point name ")
    assert line.endswith(f"got {name!r}")


@pytest.mark.parametrize("name", ["aws-lambda", "aiohttp-client", "a.b", "x y", "ünï"])
def test_entry_point_names_that_are_not_identifiers_are_accepted(name: str) -> None:
    assert Settings(mode="preload", preload=(name,)).preload == (name,)
