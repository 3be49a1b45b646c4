from __future__ import annotations

from pathlib import Path

import pytest

from rewriter.config import (
    DEFAULT_ENTRY,
    Settings,
    find_pyproject,
    load_table,
    merge_layers,
)
from rewriter.errors import ConfigError, ConfigFileError


def write_pyproject(directory: Path, text: str) -> Path:
    path = directory / "pyproject.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "text",
    (
        pytest.param("", id="empty file"),
        pytest.param('[project]\nname = "app"\n', id="no tool table"),
        pytest.param("[tool.black]\nline-length = 100\n", id="other tools only"),
    ),
)
def test_missing_table_is_empty(tmp_path: Path, text: str) -> None:
    assert load_table(write_pyproject(tmp_path, text)) == {}


def test_table_values_are_read_and_lists_become_tuples(tmp_path: Path) -> None:
    path = write_pyproject(
        tmp_path,
        "[tool.rewriter]\n"
        'init = "instrument:init"\n'
        'runtime = ["chunks/**"]\n'
        'handler = ["handler", "app"]\n'
        'mode = "top-level-import"\n'
        "lazy = true\n",
    )
    assert load_table(path) == {
        "init": "instrument:init",
        "runtime": ("chunks/**",),
        "handler": ("handler", "app"),
        "mode": "top-level-import",
        "lazy": True,
    }


def test_from_pyproject(tmp_path: Path) -> None:
    path = write_pyproject(tmp_path, '[tool.rewriter]\ninit = "instrument"\nexclude = ["a/**"]\n')
    assert Settings.from_pyproject(path) == Settings(init="instrument", exclude=("a/**",))


def test_from_pyproject_without_table_gives_defaults(tmp_path: Path) -> None:
    assert Settings.from_pyproject(write_pyproject(tmp_path, "")) == Settings()


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    (
        pytest.param(
            '[tool.rewriter]\ninit = "a"\nruntme = ["x"]\n',
            "unknown key 'runtme' in [tool.rewriter]; did you mean 'runtime'?",
            3,
            1,
            id="misspelt key",
        ),
        pytest.param(
            '[project]\nname = "app"\n\n[tool.rewriter]\n  handlr = ["app"]\n',
            "unknown key 'handlr' in [tool.rewriter]; did you mean 'handler'?",
            5,
            3,
            id="indented key after another table",
        ),
        pytest.param(
            '[tool.rewriter]\n"on-init-error" = "raise"\n',
            "unknown key 'on-init-error' in [tool.rewriter]; did you mean 'on_init_error'?",
            2,
            1,
            id="dashes instead of underscores",
        ),
        pytest.param(
            "[tool.rewriter]\nflavour = 1\n",
            "unknown key 'flavour' in [tool.rewriter]",
            2,
            1,
            id="no close match",
        ),
        pytest.param(
            "[tool.rewriter.prelde]\nx = 1\n",
            "unknown key 'prelde' in [tool.rewriter]; did you mean 'prelude'?",
            1,
            16,
            id="key as a sub-table",
        ),
    ),
)
def test_unknown_key(tmp_path: Path, text: str, message: str, line: int, column: int) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_table(write_pyproject(tmp_path, text))
    assert excinfo.value.diagnostic.message == message
    assert (excinfo.value.diagnostic.line, excinfo.value.diagnostic.column) == (line, column)


@pytest.mark.parametrize(
    ("text", "line", "column"),
    (
        pytest.param("[tool.rewriter]\nmode = \n", 2, 8, id="missing value"),
        pytest.param("[tool.rewriter]\ninit = 'a'\ninit = 'b'\n", 3, 11, id="duplicate key"),
        pytest.param('[tool.rewriter]\nentry = ["a",\n', 3, 1, id="unclosed array"),
    ),
)
def test_toml_syntax_error(tmp_path: Path, text: str, line: int, column: int) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_table(write_pyproject(tmp_path, text))
    assert excinfo.value.diagnostic.message.startswith("invalid TOML: ")
    assert (excinfo.value.diagnostic.line, excinfo.value.diagnostic.column) == (line, column)


@pytest.mark.parametrize(
    ("text", "message", "line"),
    (
        pytest.param(
            '[tool.rewriter]\ninit = "a"\nmode = "fast"\n', "mode must be one of", 3, id="bad mode"
        ),
        pytest.param(
            '[tool.rewriter]\nhandler = "app"\n', "handler must be a list of strings", 2,
            id="string instead of list",
        ),
        pytest.param(
            "[tool.rewriter]\nentry = [1]\n", "entry must be a list of strings", 2,
            id="list of numbers",
        ),
        pytest.param(
            '[tool.rewriter]\nlazy = "yes"\n', "lazy must be true or false", 2, id="string as bool"
        ),
        pytest.param(
            "[tool.rewriter]\nmax_size = 0\n",
            "max_size must be a whole number of bytes from 1 to 1073741824 (1 GiB), got 0",
            2,
            id="zero size",
        ),
        pytest.param(
            "[tool.rewriter]\ninit = 'x'\nmax_size = 100000000000\n",
            "max_size must be a whole number of bytes from 1 to 1073741824 (1 GiB)",
            3,
            id="size of 100 GB",
        ),
        pytest.param(
            "[tool.rewriter]\nmax_size = 9223372036854775807\n",
            "max_size must be a whole number of bytes from 1 to 1073741824 (1 GiB)",
            2,
            id="size of 2**63-1",
        ),
        pytest.param(
            '[tool.rewriter]\nentry = ["**/index.py", "[z-a]"]\n',
            "entry pattern '[z-a]' is not valid: the range 'z-a' runs backwards,"
            " so it matches 'z' alone",
            2,
            id="entry pattern with a backwards range",
        ),
        pytest.param(
            '[tool.rewriter]\n\nexclude = ["x["]\n',
            "exclude pattern 'x[' is not valid: a '[' is never closed",
            3,
            id="exclude pattern with an unclosed set",
        ),
        pytest.param(
            '[tool.rewriter]\nruntime = ["[z-a]/**"]\n',
            "runtime pattern '[z-a]/**' is not valid",
            2,
            id="runtime pattern with a backwards range",
        ),
        pytest.param(
            '[tool.rewriter]\nhandler = ["app", "not valid"]\n',
            "handler must be a Python identifier",
            2,
            id="handler that is not an identifier",
        ),
        pytest.param(
            '[tool.rewriter]\ninit = "os; import evil"\n',
            "init module must be a dotted Python name",
            2,
            id="init that is not a module name",
        ),
    ),
)
def test_wrong_value(tmp_path: Path, text: str, message: str, line: int) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_table(write_pyproject(tmp_path, text))
    assert excinfo.value.diagnostic.message.startswith(message)
    assert (excinfo.value.diagnostic.line, excinfo.value.diagnostic.column) == (line, 1)


def test_tool_rewriter_must_be_a_table(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[tool.rewriter\] must be a table"):
        load_table(write_pyproject(tmp_path, "[tool]\nrewriter = 3\n"))


def test_unreadable_config_file(tmp_path: Path) -> None:
    """About the file, not a place in it: no line and column to point at."""
    with pytest.raises(ConfigFileError, match="cannot read it: No such file or directory"):
        load_table(tmp_path / "missing.toml")


def test_config_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_bytes(b'[tool.rewriter]\ninit = "\xff"\n')
    with pytest.raises(ConfigError) as excinfo:
        load_table(path)
    assert excinfo.value.diagnostic == excinfo.value.diagnostic.__class__(
        "config file is not valid UTF-8", 2, 9
    )


@pytest.mark.parametrize(
    ("mapping", "expected"),
    (
        pytest.param({}, Settings(), id="empty mapping gives defaults"),
        pytest.param(
            {"entry": ["**/main.py"], "lazy": True},
            Settings(entry=("**/main.py",), lazy=True),
            id="lists become tuples",
        ),
    ),
)
def test_from_mapping(mapping: dict[str, object], expected: Settings) -> None:
    assert Settings.from_mapping(mapping) == expected


def test_from_mapping_unknown_key() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'exlude' .*did you mean 'exclude'\?"):
        Settings.from_mapping({"exlude": ["a"]})


def test_merge_layers_later_layers_win() -> None:
    defaults = Settings()
    pyproject = {"init": "from_file", "mode": "preload", "exclude": ("x",)}
    cli = {"init": "from_cli", "exclude": ("y", "z")}
    settings = Settings.from_mapping(merge_layers(pyproject, cli))
    assert settings.init == "from_cli"
    assert settings.mode == "preload"
    assert settings.exclude == ("y", "z")
    assert settings.entry == defaults.entry == DEFAULT_ENTRY


def test_merge_layers_leaves_room_for_a_preset_layer() -> None:
    preset = {"entry": ("**/server.py",), "handler": ("app",)}
    pyproject = {"handler": ("application",)}
    merged = merge_layers(preset, pyproject, {})
    assert merged == {"entry": ("**/server.py",), "handler": ("application",)}


def test_find_pyproject_in_the_directory(tmp_path: Path) -> None:
    path = write_pyproject(tmp_path, "")
    assert find_pyproject(tmp_path) == path


def test_find_pyproject_from_a_nested_file(tmp_path: Path) -> None:
    path = write_pyproject(tmp_path, "")
    entry = tmp_path / "build" / "server" / "index.py"
    entry.parent.mkdir(parents=True)
    entry.write_text("")
    assert find_pyproject(entry) == path
    assert find_pyproject(entry.parent) == path


def test_find_pyproject_nearest_wins(tmp_path: Path) -> None:
    write_pyproject(tmp_path, "")
    (tmp_path / "sub").mkdir()
    nearer = write_pyproject(tmp_path / "sub", "")
    assert find_pyproject(tmp_path / "sub" / "index.py") == nearer


def test_find_pyproject_stops_at_the_project_root(tmp_path: Path) -> None:
    write_pyproject(tmp_path, "")
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    assert find_pyproject(project / "index.py") is None
