"""Help that answers: ``--help``, ``--list-presets -v`` and the README's tables."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rewriter import cli, report
from rewriter.config import SETTING_KEYS, Settings
from rewriter.presets import BUILTIN

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.fixture
def help_text(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    # Wide enough that argparse puts every option's help on one line.
    monkeypatch.setenv("COLUMNS", "400")
    assert cli.main(["--help"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


def section(text: str, title: str) -> list[str]:
    """The lines under ``title:`` in the help, up to the next blank line."""
    lines = text.splitlines()
    start = lines.index(f"{title}:") + 1
    end = lines.index("", start) if "" in lines[start:] else len(lines)
    return lines[start:end]


def entries(lines: list[str]) -> list[str]:
    """Help entries as one line each: an entry starts at two spaces of indent, and
    more indented lines continue it."""
    joined: list[str] = []
    for line in lines:
        if line.startswith("   ") and joined:
            joined[-1] += " " + line.strip()
        else:
            joined.append(line.strip())
    return joined


def option_help(text: str, flag: str) -> str:
    """The help of the option whose flags include ``flag``, as one line."""
    for entry in entries(section(text, "options")):
        flags = entry.split("  ")[0]
        if re.search(rf"(^|[ ,]){re.escape(flag)}([ ,]|$)", flags):
            return entry
    raise AssertionError(f"{flag} is not in the help")


def options(text: str) -> set[str]:
    return set(re.findall(r"--[a-z][a-z-]*", "\n".join(section(text, "options"))))


def table(markdown: str, heading: str) -> list[list[str]]:
    """The rows (cells stripped) of the first table under ``heading``, header first."""
    body = markdown.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in body.splitlines() if line.startswith("|")]
    assert rows, f"no table under {heading}"
    return [
        [cell.strip() for cell in row.strip("|").split("|")] for row in rows if "---" not in row
    ]


def test_help_lists_every_exit_code(help_text: str) -> None:
    codes = {
        value
        for module in (cli, report)
        for name, value in vars(module).items()
        if name.startswith("EXIT_") and isinstance(value, int)
    }
    assert codes >= {0, 1, 2, 123}
    listed = {int(line.split()[0]) for line in section(help_text, "exit codes")}
    assert listed == codes


def config_only_keys(text: str) -> dict[str, str]:
    """The keys listed as having no option, each with its help as one line."""
    found = entries(section(text, "keys of [tool.rewriter] without an option"))
    return {key: rest.strip() for key, _, rest in (entry.partition(" ") for entry in found)}


def test_help_lists_every_config_only_key(help_text: str) -> None:
    has_option = options(help_text)
    config_only = [key for key in SETTING_KEYS if f"--{key.replace('_', '-')}" not in has_option]
    assert "max_size" in config_only and "init" not in config_only
    assert list(config_only_keys(help_text)) == config_only


@pytest.mark.parametrize(
    ("key", "default"),
    (
        pytest.param("guard", "(default: true)", id="bool"),
        pytest.param("on_init_error", '(default: "warn")', id="string"),
        pytest.param("max_size", "(default: 8388608)", id="number"),
        pytest.param("prelude", "(default: [])", id="empty list"),
        pytest.param(
            "init_files",
            '(default: ["instrument.server.py", "instrument_server.py", '
            '"sentry.server.config.py", "sentry_server_config.py"])',
            id="list",
        ),
    ),
)
def test_help_describes_a_config_only_key_and_its_default(
    help_text: str, key: str, default: str
) -> None:
    text = config_only_keys(help_text)[key]
    assert text.endswith(default)
    assert len(text) > len(default) + 10, "no description"


def test_help_shows_the_defaults_of_the_options(help_text: str) -> None:
    defaults = Settings()
    assert f"default: {', '.join(defaults.entry)})" in option_help(help_text, "--entry")
    assert f"default: {', '.join(defaults.handlers)})" in option_help(help_text, "--handler")
    assert f"(default: {defaults.mode})" in option_help(help_text, "--mode")
    assert all(name in option_help(help_text, "--init") for name in defaults.init_files)
    assert "(default: " in option_help(help_text, "-j")
    assert "(default: text)" in option_help(help_text, "--format")
    assert "(default: off)" in option_help(help_text, "--lazy")


def test_no_path_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "error: the following arguments are required: PATH (see rewriter --help)\n"


DJANGO_VERBOSE = """\
django  Django projects: the application of wsgi.py and asgi.py
        entry:       **/wsgi.py, **/asgi.py
        exclude:     venv/, .venv/, site-packages/, node_modules/, __pycache__/
        runtime:     (every first-party module)
        handler:     application
        init_files:  instrument.server.py, instrument_server.py, sentry.server.config.py, \
sentry_server_config.py, instrument.py, instrumentation.py
"""


@pytest.mark.parametrize(
    "argv",
    (
        pytest.param(["--list-presets", "-v"], id="-v after"),
        pytest.param(["-v", "--list-presets"], id="-v before"),
        pytest.param(["--list-presets", "--verbose", "build"], id="a PATH is ignored"),
    ),
)
def test_list_presets_verbose(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert DJANGO_VERBOSE in out
    blocks = re.split(r"\n(?=\S)", out.strip("\n"))
    assert [block.split()[0] for block in blocks][: len(BUILTIN)] == list(BUILTIN)
    for block, (name, preset) in zip(blocks, BUILTIN.items(), strict=False):
        rows = dict(line.strip().split(":  ", 1) for line in block.splitlines()[1:])
        values = preset.settings
        for key in ("entry", "exclude", "runtime", "init_files"):
            if key in values:
                assert rows[key].strip().split(", ") == list(values[key]), (name, key)
        assert rows["handler"].strip().split(", ") == list(values["handler"]), name


PLUGIN = """\
from rewriter.presets import Preset

PRESET = Preset(
    "Built by a test: out/server.py, top-level-import mode",
    {"entry": ["**/server.py"], "mode": "top-level-import", "lazy": True},
)
"""


def test_list_presets_verbose_shows_a_plugin_with_every_key_it_sets(tmp_path: Path) -> None:
    (tmp_path / "testpreset.py").write_text(PLUGIN)
    dist_info = tmp_path / "testpreset-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: testpreset\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(
        "[rewriter.presets]\ntestpreset = testpreset:PRESET\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("REWRITER_")}
    env["PYTHONPATH"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "rewriter", "--list-presets", "-v"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    block = result.stdout.split("\ntestpreset")[1]
    assert block == """\
  Built by a test: out/server.py, top-level-import mode [plugin: testpreset 0.1]
            entry:       **/server.py
            exclude:     (nothing)
            runtime:     (every first-party module)
            handler:     handler, server, default
            init_files:  instrument.server.py, instrument_server.py, sentry.server.config.py, \
sentry_server_config.py
            mode:        top-level-import
            lazy:        true
"""


def test_list_presets_without_verbose_is_one_line_each(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["--list-presets"]) == 0
    out, _ = capsys.readouterr()
    assert [line.split()[0] for line in out.splitlines()][: len(BUILTIN)] == list(BUILTIN)
    assert "entry:" not in out


def test_readme_documents_every_setting() -> None:
    rows = table(README, "## Configuration")
    assert rows[0][:2] == ["key", "option"]
    keys = [re.fullmatch(r"`(\w+)`", row[0])[1] for row in rows[1:]]
    assert sorted(keys) == sorted(SETTING_KEYS)
    for row in rows[1:]:
        assert row[3], f"{row[0]} has no meaning"


def test_readme_options_column_matches_the_command_line(help_text: str) -> None:
    has_option = options(help_text)
    for row in table(README, "## Configuration")[1:]:
        key = row[0].strip("`")
        option = f"--{key.replace('_', '-')}"
        if option in has_option:
            assert option in row[1] or (key == "jobs" and "-j" in row[1]), key
        else:
            assert row[1] == "", key


def test_readme_presets_table_says_which_presets_skip_installed_code() -> None:
    rows = table(README, "## Presets")
    header = rows[0]
    column = next(i for i, cell in enumerate(header) if "site-packages/" in cell)
    assert "venv/" in header[column]
    by_name = {row[0].strip("`"): row for row in rows[1:]}
    assert set(by_name) == set(BUILTIN)
    for name, preset in BUILTIN.items():
        skips = "site-packages/" in preset.settings.get("exclude", ())
        assert by_name[name][column] == ("yes" if skips else "no"), name
