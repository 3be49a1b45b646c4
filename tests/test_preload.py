"""Preload mode: the build-time dependency check and the import hooks.

The instrumentors here are real installed packages: the OpenTelemetry ones of
the test extra, and small distributions written into a temporary site
directory (a ``dist-info`` with ``METADATA``, ``entry_points.txt`` and
``RECORD``, and the modules themselves). Every rewritten entry runs in a fresh
interpreter.
"""

from __future__ import annotations

import subprocess
import textwrap
from importlib import machinery
from pathlib import Path

import pytest
from _python import last_json, run_python

from rewriter.cli import main
from rewriter.errors import ConfigError
from rewriter.preload import Integration, resolve_integrations

GROUP = "rewriter_test_preload"
# The instrumentors of the fake site record how they were called, and patch
# their library the way OpenTelemetry's do: by replacing a module attribute.
INSTRUMENTORS = """
import json, os


class Instrumentor:
    library = "rwfake_lib"

    def instrument(self, **kwargs):
        library = __import__(self.library)
        if os.environ.get("RWFAKE_FAIL"):
            raise LookupError("instrumentor is broken")
        library.Thing = "instrumented " + library.Thing
        calls = json.loads(os.environ.get("RWFAKE_CALLS", "[]"))
        os.environ["RWFAKE_CALLS"] = json.dumps([*calls, [type(self).__name__, kwargs]])


class OkInstrumentor(Instrumentor):
    pass


class AnyInstrumentor(Instrumentor):
    pass


class PlainInstrumentor(Instrumentor):
    pass
"""
LIBRARY = 'Thing = "thing"\n'


def _dist(
    site: Path,
    name: str,
    requires: tuple[str, ...] = (),
    entry_points: str = "",
    files: dict[str, str] | None = None,
) -> None:
    """Install distribution ``name`` 1.0 into ``site``: its metadata and ``files``."""
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"
    metadata += "".join(f"Requires-Dist: {requirement}\n" for requirement in requires)
    (info / "METADATA").write_text(metadata)
    (info / "entry_points.txt").write_text(entry_points)
    record = [f"{info.name}/{part},," for part in ("METADATA", "entry_points.txt", "RECORD")]
    for relpath, text in (files or {}).items():
        (site / relpath).parent.mkdir(parents=True, exist_ok=True)
        (site / relpath).write_text(text)
        record.append(f"{relpath},,")
    (info / "RECORD").write_text("\n".join(record) + "\n")


def _instrumentation(site: Path, name: str, cls: str, *requires: str) -> None:
    """Install an instrumentor distribution with entry point ``name`` in ``GROUP``."""
    entry_points = f"[{GROUP}]\n{name} = rwfake_inst:{cls}Instrumentor\n"
    _dist(site, f"rwfake-{name}-instrumentation", requires, entry_points)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A site directory with fake instrumentors in entry-point group ``GROUP``.

    ``ok`` instruments rwfake-lib, ``any`` one of rwfake-ghost (not installed)
    and rwfake-lib, ``plain`` declares nothing; ``ghost`` and ``old`` cannot
    instrument anything here.
    """
    site = tmp_path / "site"
    _dist(site, "rwfake-inst", files={"rwfake_inst.py": INSTRUMENTORS})
    _dist(site, "rwfake-lib", files={"rwfake_lib/__init__.py": LIBRARY})
    _instrumentation(
        site, "ok", "Ok", "flask; extra == 'test'", "rwfake-lib>=1; extra == 'instruments'"
    )
    _instrumentation(
        site,
        "any",
        "Any",
        "rwfake-ghost; extra == 'instruments-any'",
        "rwfake-lib; extra == 'instruments-any'",
    )
    _instrumentation(site, "plain", "Plain")
    _instrumentation(site, "ghost", "Ok", "rwfake-ghost; extra == 'instruments'")
    _instrumentation(site, "old", "Ok", "flask < 1; extra == 'instruments'")
    monkeypatch.syspath_prepend(str(site))
    return site


def _app(root: Path, runtime: str, *options: str, policy: str = "warn", group: str = GROUP) -> None:
    """A package ``web`` whose entry imports ``runtime``, rewritten in preload mode."""
    files = {
        "pyproject.toml": (
            f'[tool.rewriter]\npreload_group = "{group}"\non_init_error = "{policy}"\n'
        ),
        "web/__init__.py": "",
        "web/chunks/__init__.py": "",
        "web/chunks/app.py": textwrap.dedent(runtime),
        "web/index.py": "from .chunks.app import handler\n",
    }
    for relpath, text in files.items():
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_text(text)
    argv = ["--mode", "preload", "-q", *options, str(root / "web/index.py")]
    assert main(argv) == 0


def _run(root: Path, code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``code`` run with the fake site directory on the path too."""
    return run_python(root, code, path=(root / "site",), **env)


# Build time.


def test_installed_opentelemetry_instrumentors_are_checked_and_wait_for_their_library() -> None:
    flask = {i.name: i for i in resolve_integrations((), "opentelemetry_instrumentor")}["flask"]
    assert flask == Integration(
        "flask", "opentelemetry.instrumentation.flask", "FlaskInstrumentor", True, ("flask",)
    )


def test_an_integration_whose_library_is_missing_or_too_new_is_left_out(site: Path) -> None:
    assert [integration.name for integration in resolve_integrations((), GROUP)] == [
        "any",
        "ok",
        "plain",
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("ghost", "'rwfake-ghost', but it is not installed", id="not installed"),
        pytest.param("old", r"'flask<1', but 3\.[0-9.]+ is installed", id="version conflict"),
    ],
)
def test_a_named_integration_whose_library_does_not_match_is_an_error(
    site: Path, name: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=rf"integration '{name}' cannot instrument .*{message}"):
        resolve_integrations((name,), GROUP)


def test_one_satisfied_library_of_instruments_any_is_enough(site: Path) -> None:
    (found,) = resolve_integrations(("any",), GROUP)
    assert (found.checked, found.watch) == (True, ("rwfake_lib",))


def test_an_instrumentor_without_instruments_extras_keeps_its_run_time_check(site: Path) -> None:
    (found,) = resolve_integrations(("plain",), GROUP)
    assert (found.checked, found.watch) == (False, ())


def test_the_watched_modules_are_the_first_ones_each_import_runs(site: Path) -> None:
    """Regular packages, the first regular package in a namespace package, plain and
    extension modules; never scripts, metadata, data or names that are not identifiers."""
    extension = machinery.EXTENSION_SUFFIXES[0]
    files = [
        "rwfake_pkg/__init__.py",
        "rwfake_pkg/sub/mod.py",
        "rwfake_pkg/data.txt",
        "rwfake_ns/inner/__init__.py",
        "rwfake_ns/inner/deep.py",
        "rwfake_ns/loose.py",
        "rwfake_single.py",
        "rwfake_ext/__init__.py",
        f"rwfake_ext/_speedups{extension}",
        f"rwfake_top{extension}",
        "os; import sys.py",
        "bad-name/x.py",
        "../../bin/rwfake",
    ]
    _dist(site, "rwfake-many", files=dict.fromkeys(files, ""))
    _instrumentation(site, "many", "Ok", "rwfake-many; extra == 'instruments'")
    (found,) = resolve_integrations(("many",), GROUP)
    assert found.watch == (
        "rwfake_ext",
        "rwfake_ns.inner",
        "rwfake_ns.loose",
        "rwfake_pkg",
        "rwfake_single",
        "rwfake_top",
    )


def test_a_library_with_a_pth_file_is_not_watched_but_instrumented_at_once(site: Path) -> None:
    """A ``.pth`` file (an editable install, a path hook) may add modules that its
    RECORD does not list, so which import comes first is unknown."""
    files = {"rwfake_editable/__init__.py": "", "rwfake_editable.pth": ""}
    _dist(site, "rwfake-editable", files=files)
    _instrumentation(site, "editable", "Ok", "rwfake-editable; extra == 'instruments'")
    (found,) = resolve_integrations(("editable",), GROUP)
    assert (found.checked, found.watch) == (True, ())


# Run time: the real OpenTelemetry instrumentors.

FLASK_APP = """
    from flask import Flask

    handler = Flask(__name__)


    @handler.get("/")
    def index():
        return "hi"
    """


@pytest.fixture
def flask_app(tmp_path: Path) -> Path:
    """A Flask app rewritten with every installed OpenTelemetry instrumentor."""
    _app(tmp_path, FLASK_APP, group="opentelemetry_instrumentor")
    return tmp_path


def test_the_generated_code_skips_the_dependency_check_done_at_build_time(
    flask_app: Path,
) -> None:
    text = (flask_app / "web/index.py").read_text()
    assert "FlaskInstrumentor().instrument(skip_dep_check=True)" in text
    assert "packaging" not in text and "importlib.metadata" not in text


def test_only_the_libraries_the_app_imports_are_imported_and_instrumented(
    flask_app: Path,
) -> None:
    code = """
        import json, sys
        import web.index as entry
        before = sorted({"fastapi", "requests"} & set(sys.modules))
        import fastapi
        print(json.dumps([
            type(entry.handler).__name__, before, fastapi.FastAPI.__name__,
            entry.handler.test_client().get("/").text,
        ]))
        """
    assert last_json(_run(flask_app, code)) == [
        "_InstrumentedFlask",
        [],
        "_InstrumentedFastAPI",
        "hi",
    ]


def test_a_library_imported_before_the_entry_is_instrumented_at_once(flask_app: Path) -> None:
    code = """
        import json, flask
        original = flask.Flask
        import web.index as entry
        print(json.dumps([flask.Flask.__name__, type(entry.handler).__name__]))
        """
    result = _run(flask_app, code, REWRITER_DEBUG="1")
    assert last_json(result) == ["_InstrumentedFlask", "_InstrumentedFlask"]
    assert "rewriter: preloaded flask in " in result.stderr


def test_a_watched_library_keeps_its_own_loader_and_resources(flask_app: Path) -> None:
    code = """
        import importlib.resources, importlib.util, json
        import web.index
        source = importlib.util.find_spec("flask").loader.get_source("flask")
        import flask
        loader = type(flask.__loader__).__name__
        print(json.dumps([
            "Flask" in source, loader, flask.__spec__.loader is flask.__loader__,
            importlib.resources.files("flask").joinpath("py.typed").is_file(),
        ]))
        """
    assert last_json(_run(flask_app, code)) == [True, "SourceFileLoader", True, True]


def test_a_narrowed_integration_is_not_started_by_its_import(flask_app: Path) -> None:
    code = """
        import json
        import web.index as entry
        import fastapi
        print(json.dumps([type(entry.handler).__name__, fastapi.FastAPI.__name__]))
        """
    result = _run(flask_app, code, REWRITER_PRELOAD_INTEGRATIONS="fastapi")
    assert last_json(result) == ["Flask", "_InstrumentedFastAPI"]


# Run time: the fake site, for calls and failures.

LIBRARY_USER = """
    import json, os
    from rwfake_lib import Thing

    handler = [Thing, json.loads(os.environ.get("RWFAKE_CALLS", "[]"))]
    """


def test_an_instrumentor_starts_once_when_its_library_is_first_imported(
    site: Path, tmp_path: Path
) -> None:
    _app(tmp_path, LIBRARY_USER, "--preload", "ok", "--preload", "any", "--preload", "plain")
    code = """
        import importlib, json, os
        import web.index as entry
        import rwfake_lib
        importlib.reload(rwfake_lib)  # a reload is not a first import
        print(json.dumps([entry.handler[0], json.loads(os.environ["RWFAKE_CALLS"])]))
        """
    assert last_json(_run(tmp_path, code)) == [
        "instrumented instrumented instrumented thing",
        # "plain" names no library: it starts at once, with the run-time check,
        # and its import of rwfake_lib starts the two that wait for it.
        [
            ["OkInstrumentor", {"skip_dep_check": True}],
            ["AnyInstrumentor", {"skip_dep_check": True}],
            ["PlainInstrumentor", {}],
        ],
    ]


@pytest.mark.parametrize("policy", ["warn", "raise"])
def test_a_failing_instrumentor_in_an_import_hook_follows_the_failure_policy(
    site: Path, tmp_path: Path, policy: str
) -> None:
    _app(tmp_path, LIBRARY_USER, "--preload", "ok", policy=policy)
    result = _run(tmp_path, "import web.index as entry\nprint(entry.handler)\n", RWFAKE_FAIL="1")
    if policy == "warn":
        assert result.returncode == 0, result.stderr
        assert result.stdout == "['thing', []]\n"
        assert "preload of ok failed; rwfake_lib is not instrumented" in (result.stderr)
    else:
        assert result.returncode == 1
        assert "LookupError: instrumentor is broken" in result.stderr
