"""Built-in presets: their values, how they merge with the user's settings, how they fail."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from rewriter import cli
from rewriter.config import Settings
from rewriter.core import rewrite_source
from rewriter.errors import ConfigError
from rewriter.presets import BUILTIN, Preset, get_preset
from rewriter.runner import rewrite_build
from rewriter.tree import MemoryTree

DEFAULT_INIT_FILES = (
    "instrument.server.py",
    "instrument_server.py",
    "sentry.server.config.py",
    "sentry_server_config.py",
)
APP_INIT_FILES = (*DEFAULT_INIT_FILES, "instrument.py", "instrumentation.py")
THIRD_PARTY = ("venv/", ".venv/", "site-packages/", "node_modules/", "__pycache__/")


@pytest.mark.parametrize(
    ("name", "entry", "exclude", "runtime", "handlers", "init_files"),
    (
        pytest.param(
            "nitro",
            ("/index.py", "**/server/index.py"),
            ("chunks/",),
            ("chunks/**",),
            ("handler", "server", "default"),
            DEFAULT_INIT_FILES,
            id="nitro",
        ),
        pytest.param(
            "wsgi",
            ("**/wsgi.py", "**/app.py"),
            THIRD_PARTY,
            (),
            ("app", "application"),
            APP_INIT_FILES,
            id="wsgi",
        ),
        pytest.param(
            "asgi",
            ("**/asgi.py", "**/main.py"),
            THIRD_PARTY,
            (),
            ("app", "handler"),
            APP_INIT_FILES,
            id="asgi",
        ),
        pytest.param(
            "django",
            ("**/wsgi.py", "**/asgi.py"),
            THIRD_PARTY,
            (),
            ("application",),
            APP_INIT_FILES,
            id="django",
        ),
        pytest.param(
            "lambda",
            ("**/lambda_function.py",),
            THIRD_PARTY,
            (),
            ("lambda_handler", "handler"),
            APP_INIT_FILES,
            id="lambda",
        ),
    ),
)
def test_builtin_preset_fills_the_defaults(
    name: str,
    entry: tuple[str, ...],
    exclude: tuple[str, ...],
    runtime: tuple[str, ...],
    handlers: tuple[str, ...],
    init_files: tuple[str, ...],
) -> None:
    settings = Settings(preset=name)
    assert settings.entry == entry
    assert settings.exclude == exclude
    assert settings.runtime == runtime
    assert settings.handlers == handlers
    assert settings.init_files == init_files
    # The preset's handler names stay defaults, not names the user configured.
    assert settings.handler is None
    assert settings.mode == "dynamic-import"
    assert settings.preset == name


def test_builtin_names() -> None:
    assert list(BUILTIN) == ["nitro", "wsgi", "asgi", "django", "lambda"]


@pytest.mark.parametrize(
    ("explicit", "attribute", "expected"),
    (
        pytest.param({"entry": ("custom.py",)}, "entry", ("custom.py",), id="entry"),
        pytest.param({"exclude": ("out/",)}, "exclude", ("out/",), id="exclude"),
        pytest.param({"runtime": ("lib/**",)}, "runtime", ("lib/**",), id="runtime"),
        pytest.param({"handler": ("app",)}, "handlers", ("app",), id="handler"),
        pytest.param({"init_files": ("otel.py",)}, "init_files", ("otel.py",), id="init files"),
        pytest.param({"mode": "top-level-import"}, "mode", "top-level-import", id="mode"),
    ),
)
def test_explicit_value_beats_the_preset(
    explicit: dict[str, object], attribute: str, expected: object
) -> None:
    assert getattr(Settings(preset="nitro", **explicit), attribute) == expected  # type: ignore[arg-type]
    assert getattr(Settings.from_mapping({"preset": "nitro", **explicit}), attribute) == expected


def test_a_preset_is_stable_under_replace() -> None:
    settings = Settings(preset="lambda", init="otel:init")
    expected = Settings(preset="lambda", init="otel:init", jobs=2)
    assert dataclasses.replace(settings, jobs=2) == expected


NITRO_ENTRY = "from .chunks.nitro.nitro import handler\n"
NITRO_TREE = {
    "index.py": NITRO_ENTRY,
    "__init__.py": "",
    "chunks/__init__.py": "",
    "chunks/nitro/__init__.py": "",
    "chunks/nitro/nitro.py": "def handler(event, context):\n    return 1\n",
    "sentry.server.config.py": "",
}


def test_preset_handler_names_warn_only_when_none_is_exported() -> None:
    # The entry exports `handler` but not `server` or `default`: fine for defaults.
    result = rewrite_source(
        NITRO_ENTRY, Settings(preset="nitro"), path="index.py", tree=MemoryTree(NITRO_TREE)
    )
    assert result.reexports == ("handler",)
    assert result.warnings == ()
    assert "sentry.server.config.py" in result.output

    # None of django's names is exported: that is worth a warning.
    django_result = rewrite_source(
        NITRO_ENTRY,
        Settings(preset="django", init="otel"),
        path="index.py",
        tree=MemoryTree({**NITRO_TREE, "otel.py": ""}),
    )
    assert django_result.reexports == ()
    assert [warning.message for warning in django_result.warnings] == [
        "none of the handler names application is exported by the entry or its runtime"
    ]


def test_configured_handler_names_still_warn_with_a_preset() -> None:
    result = rewrite_source(
        NITRO_ENTRY,
        Settings(preset="nitro", handler=("handler", "server")),
        path="index.py",
        tree=MemoryTree(NITRO_TREE),
    )
    assert [warning.message for warning in result.warnings] == [
        "handler 'server' is not exported by the entry or its runtime"
    ]


def _write(root: Path, files: dict[str, str]) -> None:
    for relpath, text in files.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


# A build in which the default entry pattern (**/index.py) also matches a route.
BUILD = {
    "out/server/__init__.py": "",
    "out/server/index.py": NITRO_ENTRY,
    "out/server/chunks/__init__.py": "",
    "out/server/chunks/nitro/__init__.py": "",
    "out/server/chunks/nitro/nitro.py": "from ..routes import index\nhandler = index.get\n",
    "out/server/chunks/routes/__init__.py": "",
    "out/server/chunks/routes/index.py": "def get(request):\n    return 'index'\n",
    "out/main.py": "import os\napp = None\n",
    "out/lambda_function.py": "def lambda_handler(event, context):\n    return 1\n",
}


@pytest.fixture
def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, BUILD)
    # The init module, where a server started in this directory imports it.
    _write(tmp_path, {"otel.py": "def init():\n    pass\n\n\ninit()\n"})
    return tmp_path


def _entries(capsys: pytest.CaptureFixture[str], pyproject: str, *argv: str) -> list[str]:
    """The entries ``rewriter --check --format json ... out`` finds with this pyproject."""
    Path("pyproject.toml").write_text('[tool.rewriter]\ninit = "otel"\n' + pyproject)
    code = cli.main(["--check", "--format", "json", *argv, "out"])
    out, err = capsys.readouterr()
    assert code in (0, 1), err
    return [item["path"] for item in json.loads(out)["files"]]


@pytest.mark.parametrize(
    ("pyproject", "argv", "expected"),
    (
        pytest.param(
            "",
            [],
            ["out/server/chunks/routes/index.py", "out/server/index.py"],
            id="defaults take a route for an entry",
        ),
        pytest.param("", ["--preset", "nitro"], ["out/server/index.py"], id="preset on the cli"),
        pytest.param('preset = "nitro"\n', [], ["out/server/index.py"], id="preset in pyproject"),
        pytest.param(
            'preset = "nitro"\nentry = ["**/main.py"]\n',
            [],
            ["out/main.py"],
            id="pyproject over preset",
        ),
        pytest.param(
            'preset = "nitro"\nentry = ["**/main.py"]\n',
            ["--entry", "lambda_function.py"],
            ["out/lambda_function.py"],
            id="cli over pyproject",
        ),
        pytest.param(
            'preset = "nitro"\n',
            ["--preset", "lambda"],
            ["out/lambda_function.py"],
            id="cli preset over pyproject preset",
        ),
        pytest.param(
            'preset = "asgi"\n',
            ["--exclude", "server/"],
            ["out/main.py"],
            id="cli exclude with a pyproject preset",
        ),
    ),
)
def test_merge_order(
    build: Path,
    capsys: pytest.CaptureFixture[str],
    pyproject: str,
    argv: list[str],
    expected: list[str],
) -> None:
    assert _entries(capsys, pyproject, *argv) == expected


def test_app_presets_skip_installed_code(build: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(
        build,
        {
            "out/.venv/lib/python3.11/site-packages/flask/app.py": "app = None\n",
            "out/venv/app.py": "app = None\n",
            "out/web/app.py": "app = None\n",
        },
    )
    assert _entries(capsys, "", "--preset", "wsgi") == ["out/web/app.py"]


def test_rewrite_build_with_a_preset(build: Path) -> None:
    report = rewrite_build(build / "out", Settings(preset="nitro", init="otel"))
    assert [item.path for item in report.rewritten] == [str(build / "out/server/index.py")]
    assert not report.failed
    route = (build / "out/server/chunks/routes/index.py").read_text()
    assert route == BUILD["out/server/chunks/routes/index.py"]


KNOWN = "known presets: nitro, wsgi, asgi, django, lambda"


def test_unknown_preset_on_the_cli(build: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Path("pyproject.toml").write_text("")
    assert cli.main(["--preset", "nuxt", "out"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"error: unknown preset 'nuxt'; {KNOWN}")
    assert (build / "out/server/index.py").read_text() == NITRO_ENTRY


def test_unknown_preset_in_pyproject(build: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Path("pyproject.toml").write_text('[tool.rewriter]\ninit = "otel"\n  preset = "nuxt"\n')
    assert cli.main(["out"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    where = build.resolve() / "pyproject.toml"
    assert err == f"error: {where}:3:3: unknown preset 'nuxt'; {KNOWN}\n"


def test_unknown_preset_in_the_library() -> None:
    with pytest.raises(ConfigError, match=re.escape(f"unknown preset 'nuxt'; {KNOWN}")):
        Settings(preset="nuxt")


@pytest.mark.parametrize(
    "value",
    (
        pytest.param(["nitro"], id="list"),
        pytest.param(1, id="number"),
    ),
)
def test_preset_must_be_a_name(value: object) -> None:
    with pytest.raises(ConfigError, match=r"^preset must be a preset name"):
        Settings.from_mapping({"preset": value})


def test_list_presets(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--list-presets"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert lines[:5] == [
        "nitro   Nitro-style build output: server/index.py importing chunks/nitro/nitro.py",
        "wsgi    WSGI apps (Flask and others): wsgi.py or app.py exporting app or application",
        "asgi    ASGI apps (FastAPI, Starlette): asgi.py or main.py exporting app,"
        " or Mangum's handler",
        "django  Django projects: the application of wsgi.py and asgi.py",
        "lambda  AWS Lambda functions: lambda_function.py exporting lambda_handler or handler",
    ]


@pytest.mark.parametrize(
    ("settings", "message"),
    (
        pytest.param({"handler": ["not valid"]}, "handler must be a Python identifier", id="name"),
        pytest.param({"init": "a-b"}, "init module must be a dotted Python name", id="init"),
        pytest.param({"entry": "**/x.py"}, "entry must be a list of strings", id="entry string"),
        pytest.param({"mode": "eager"}, "mode must be one of", id="mode"),
        pytest.param({"handlers": ["app"]}, "unknown key 'handlers'.*'handler'", id="key"),
        pytest.param({"preset": "nitro"}, "a preset cannot name another preset", id="nested"),
    ),
)
def test_preset_values_are_validated(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Preset("A preset", settings)


def test_preset_needs_a_description() -> None:
    with pytest.raises(ConfigError, match="description"):
        Preset("  ", {})


def test_get_preset_returns_the_builtin_object() -> None:
    assert get_preset("django") is BUILTIN["django"]
    assert dict(get_preset("django").settings)["handler"] == ("application",)
