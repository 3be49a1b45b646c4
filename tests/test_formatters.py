"""Survival under formatters: the real tools run on rewritten entries.

``fixtures/formatters`` holds a package build whose entries mix a docstring,
``from __future__``, unsorted stdlib imports, runtime imports of several
forms, user code between imports and a third-party ``import flask`` after a
user statement (see its README). Each entry is rewritten, then each tool runs
with its default options, and each entry is imported in a fresh process. The
init module and the runtime modules record what ran in which order, so the
probe sees whether init still runs before the runtime and before ``flask``.
A second rewrite of the formatted file must change nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rewriter.config import Settings
from rewriter.runner import rewrite_file

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "formatters"
ENTRIES = ("app/server/index.py", "app/server/index_no_future.py")
SETTINGS = Settings()

# Written by hand from the fixture: init first, nothing imported before it,
# then the runtime modules in the order the entry imports them.
EXPECTED_PROBE = {
    "events": [
        "init",
        "app.server.chunks.nitro.nitro",
        "app.server.chunks.routes",
        "app.server.chunks.utils",
    ],
    "init_ran_first": True,
    "response": {"statusCode": 200, "body": "hello probe"},
    "same_handler": True,
    "same_server": True,
    "server_is_async": True,
    "default": "default export",
    "health": {"ok": True, "app": "flask", "debug": False, "python": 3},
    "late_import_warnings": [],
}

PROBE = """\
import importlib, inspect, sys, warnings

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    entry = importlib.import_module(sys.argv[1])
import json
from app.record import EVENTS
from app.server.chunks.nitro import nitro

print(json.dumps({
    "events": EVENTS,
    "init_ran_first": nitro.INIT_RAN_FIRST,
    "response": entry.handler({"name": "probe"}),
    "same_handler": entry.handler is nitro.handler,
    "same_server": entry.server is nitro.server,
    "server_is_async": inspect.iscoroutinefunction(entry.server),
    "default": entry.default(),
    "health": json.loads(entry.health()),
    "late_import_warnings": [
        str(warning.message) for warning in caught if "rewriter" in str(warning.message)
    ],
}))
"""

# Each tool with its default options; ruff gets --isolated so that no ruff
# configuration on the machine changes its defaults.
TOOLS = [
    pytest.param(("isort",), id="isort"),
    pytest.param(
        ("ruff", "check", "--isolated", "--fix", "--select", "I,E402"),
        id="ruff check --fix --select I,E402",
    ),
    pytest.param(("ruff", "format", "--isolated"), id="ruff format"),
    pytest.param(("black",), id="black"),
    pytest.param(("autopep8", "--in-place"), id="autopep8"),
    pytest.param(("autopep8", "--in-place", "--aggressive"), id="autopep8 --aggressive"),
]


def run_tool(tool: tuple[str, ...], *paths: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``python -m TOOL... PATHS`` with the interpreter running the tests."""
    command = [sys.executable, "-m", *tool, *map(str, paths)]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def probe(root: Path, entry: str) -> dict[str, object]:
    """Import ``entry`` (a path under ``root``) as a package module in a fresh process."""
    module = entry.removesuffix(".py").replace("/", ".")
    env = {key: value for key, value in os.environ.items() if not key.startswith("REWRITER_")}
    env["PYTHONPATH"] = str(root)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    result = subprocess.run(
        [sys.executable, "-c", PROBE, module],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    output: dict[str, object] = json.loads(result.stdout)
    return output


def init_block(text: str) -> str:
    """The init block of a rewritten entry, up to its ``finally:``."""
    start = text.index("# rewriter:init")
    return text[start : text.index("\nfinally:", start)]


def rewrite_tree(root: Path, settings: Settings = SETTINGS) -> Path:
    """Copy the fixture to ``root`` and rewrite its entries there."""
    shutil.copytree(FIXTURE, root)
    for entry in ENTRIES:
        report = rewrite_file(root / entry, settings)
        assert report.status == "changed", report.error
    return root


@pytest.fixture(scope="module")
def rewritten(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture tree with its entries rewritten (shared, never modified)."""
    return rewrite_tree(tmp_path_factory.mktemp("rewritten") / "build")


@pytest.fixture
def tree(rewritten: Path, tmp_path: Path) -> Path:
    """A private copy of the rewritten tree, for a tool to change."""
    root = tmp_path / "build"
    shutil.copytree(rewritten, root)
    return root


@pytest.mark.parametrize("entry", ENTRIES)
def test_rewritten_entry_runs_init_first(rewritten: Path, entry: str) -> None:
    assert probe(rewritten, entry) == EXPECTED_PROBE


@pytest.mark.parametrize("entry", ENTRIES)
def test_original_entry_imports_the_runtime_before_any_init(entry: str) -> None:
    # The control: without the rewrite, the runtime loads and init never runs.
    output = probe(FIXTURE, entry)
    assert output["events"] == EXPECTED_PROBE["events"][1:]
    assert output["init_ran_first"] is False


@pytest.mark.parametrize(
    "checker",
    [
        pytest.param(("pycodestyle", "--select", "E402"), id="pycodestyle"),
        pytest.param(("ruff", "check", "--isolated", "--select", "E402"), id="ruff"),
    ],
)
def test_rewritten_entry_has_no_import_a_formatter_would_hoist(
    rewritten: Path, checker: tuple[str, ...]
) -> None:
    # autopep8 moves every import that pycodestyle reports as E402 to the top
    # of the file, above the init block; the rewrite leaves none to move.
    originals = run_tool(checker, *(FIXTURE / entry for entry in ENTRIES), cwd=FIXTURE)
    assert originals.returncode == 1, "the fixture must have late imports to begin with"
    assert "E402" in originals.stdout
    result = run_tool(checker, *(rewritten / entry for entry in ENTRIES), cwd=rewritten)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("tool", TOOLS)
def test_init_survives_the_formatter(
    tool: tuple[str, ...], rewritten: Path, tree: Path, tmp_path: Path
) -> None:
    # isort (and ruff's I rules) may sort the imports of a block, in the
    # original entry too: the rewritten entry must still run init first and
    # then load the runtime as the sorted original does. The other tools
    # must not change the order at all (autopep8 would hoist E402 imports of
    # the original, but finds none to hoist in the rewritten entry).
    control = tmp_path / "control"
    shutil.copytree(FIXTURE, control)
    if tool[0] == "isort" or "I,E402" in tool:
        run_tool(tool, *(control / entry for entry in ENTRIES), cwd=control)
    paths = [tree / entry for entry in ENTRIES]
    result = run_tool(tool, *paths, cwd=tree)
    assert result.returncode == 0, result.stdout + result.stderr
    for entry, path in zip(ENTRIES, paths, strict=True):
        formatted = path.read_text(encoding="utf-8")
        original = (rewritten / entry).read_text(encoding="utf-8")
        assert formatted != original, "the tool did nothing"
        if tool[0] == "autopep8":
            # autopep8 wraps lines past 79 columns: the rerun below then
            # proves that a reflowed init block is not regenerated.
            assert init_block(formatted) != init_block(original)
        compile(formatted, str(path), "exec", dont_inherit=True)
        order = probe(control, entry)["events"]
        assert isinstance(order, list) and "init" not in order
        assert probe(tree, entry) == {**EXPECTED_PROBE, "events": ["init", *order]}, entry

        again = rewrite_file(path, SETTINGS)
        assert again.status == "unchanged", again.error
        assert path.read_text(encoding="utf-8") == formatted


def test_top_level_import_mode_survives_autopep8(tmp_path: Path) -> None:
    # In this mode runtime imports stay static, except those autopep8 would
    # hoist: they are deferred, and a second run keeps the helpers they call.
    settings = Settings(mode="top-level-import")
    root = rewrite_tree(tmp_path / "build", settings)
    paths = [root / entry for entry in ENTRIES]
    assert run_tool(("autopep8", "--in-place"), *paths, cwd=root).returncode == 0
    for entry, path in zip(ENTRIES, paths, strict=True):
        assert probe(root, entry) == EXPECTED_PROBE, entry
        assert rewrite_file(path, settings, write=False).status == "unchanged"


STABLE_UNDER = [
    pytest.param(("black", "-q"), id="black"),
    pytest.param(("ruff", "format", "--isolated"), id="ruff format"),
]


MODES = [
    pytest.param(SETTINGS, id="dynamic-import"),
    pytest.param(Settings(mode="top-level-import"), id="top-level-import"),
    pytest.param(Settings(mode="preload"), id="preload"),
    pytest.param(Settings(lazy=True), id="lazy"),
]


@pytest.mark.parametrize("settings", MODES)
@pytest.mark.parametrize("formatter", STABLE_UNDER)
def test_rewriter_output_is_stable_under_formatter(
    formatter: tuple[str, ...], settings: Settings, tmp_path: Path
) -> None:
    # An entry the formatter already accepts stays accepted after the rewrite:
    # the injected code is laid out the way the formatter would lay it out.
    root = tmp_path / "build"
    shutil.copytree(FIXTURE, root)
    paths = [root / entry for entry in ENTRIES]
    assert run_tool(formatter, *paths, cwd=root).returncode == 0
    for path in paths:
        assert rewrite_file(path, settings).status == "changed"
    check = run_tool((*formatter, "--check", "--diff"), *paths, cwd=root)
    assert check.returncode == 0, check.stdout + check.stderr
