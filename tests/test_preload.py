"""Preload mode: the build-time dependency check and the import hooks.

The instrumentors here are real installed packages: the OpenTelemetry ones of
the test extra, and small distributions written into a temporary site
directory (a ``dist-info`` with ``METADATA``, ``entry_points.txt`` and
``RECORD``, and the modules themselves). Every rewritten entry runs in a fresh
interpreter.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from importlib import machinery, metadata
from pathlib import Path

import pytest
from _python import last_json, run_python

from rewriter.cli import main
from rewriter.config import Settings
from rewriter.errors import ConfigError
from rewriter.preload import Integration, plan_preload, resolve_integrations
from rewriter.runner import rewrite_build

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


def _app(
    root: Path,
    runtime: str,
    *options: str,
    policy: str = "warn",
    group: str = GROUP,
    quiet: bool = True,
) -> None:
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
    argv = ["--mode", "preload", *(["-q"] if quiet else []), *options, str(root / "web/index.py")]
    assert main(argv) == 0


def _run(root: Path, code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``code`` run with the fake site directory on the path too."""
    return run_python(root, code, path=(root / "site",), **env)


# Build time.


def test_installed_opentelemetry_instrumentors_are_checked_and_wait_for_their_library() -> None:
    flask = {i.name: i for i in resolve_integrations((), "opentelemetry_instrumentor")}["flask"]
    assert flask == Integration(
        "flask",
        "instrument_flask",
        "opentelemetry.instrumentation.flask",
        "FlaskInstrumentor",
        True,
        ("flask",),
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
    origin = rf"\(entry point '{name}' of rwfake-{name}-instrumentation 1\.0 in group '{GROUP}'\)"
    expected = rf"integration '{name}' {origin} cannot instrument .*{message}"
    with pytest.raises(ConfigError, match=expected):
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


def test_the_import_hook_is_hashable_and_weakly_referenceable(flask_app: Path) -> None:
    # Code that dedupes sys.meta_path (`set(sys.meta_path)`, CPython's own
    # test_no_duplicates_in_meta_path) needs what instances of a class have.
    code = """
        import json, sys, weakref
        import web.index
        hook = sys.meta_path[0]
        unique = len(set(sys.meta_path)) == len(sys.meta_path)
        print(json.dumps([unique, weakref.ref(hook)() is hook, "find_spec" in dir(hook)]))
        """
    assert last_json(_run(flask_app, code)) == [True, True, True]


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
        assert "preload of ok failed; it is not instrumented" in result.stderr
    else:
        assert result.returncode == 1
        assert "LookupError: instrumentor is broken" in result.stderr


# Entry-point names are strings, not identifiers.

OTEL = "opentelemetry_instrumentor"
LAMBDA_RUN = """
    import json
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import lambda_function as entry

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # the function's late init


    class Context:
        function_name = "fn"
        aws_request_id = "request-1"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:fn"


    result = entry.handler({}, Context())
    import flask

    spans = [span.name for span in exporter.get_finished_spans()]
    print(json.dumps([type(entry.handler).__name__, result, spans, flask.Flask.__name__]))
    """
# What the Lambda runtime sets; AwsLambdaInstrumentor wraps ORIG_HANDLER.
LAMBDA_ENV = {"AWS_LAMBDA_FUNCTION_NAME": "fn", "ORIG_HANDLER": "handlers.handler"}


def _lambda_function(root: Path, *options: str) -> Path:
    """A Lambda function ``lambda_function.py`` rewritten in preload mode with ``options``."""
    (root / "handlers.py").write_text("def handler(event, context):\n    return 'ok'\n")
    entry = root / "lambda_function.py"
    entry.write_text("from handlers import handler\n")
    assert main(["--mode", "preload", "-q", *options, str(entry)]) == 0
    return entry


def test_the_hyphenated_instrumentors_are_installed() -> None:
    """The tests below need the real ones, from the test extra."""
    names = {point.name for point in metadata.entry_points(group=OTEL)}
    assert {"aws-lambda", "aiohttp-client"} <= names


def test_hyphenated_entry_points_do_not_stop_the_preload_of_another(tmp_path: Path) -> None:
    _app(tmp_path, FLASK_APP, "--preload", "flask", group=OTEL)
    text = (tmp_path / "web/index.py").read_text()
    assert "def instrument_flask():" in text
    assert "aws" not in text and "aiohttp" not in text


def test_a_hyphenated_entry_point_is_preloaded_and_really_instruments(tmp_path: Path) -> None:
    entry = _lambda_function(tmp_path, "--preload", "aws-lambda")
    tree = ast.parse(entry.read_text())
    functions = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    assert "instrument_aws_lambda" in functions
    # The name is in the code only as string literals.
    strings = [node for node in ast.walk(tree) if isinstance(node, ast.Constant)]
    assert entry.read_text().count("aws-lambda") == sum(s.value == "aws-lambda" for s in strings)
    assert last_json(run_python(tmp_path, LAMBDA_RUN, **LAMBDA_ENV)) == [
        "FunctionWrapper",
        "ok",
        ["fn"],
        "Flask",
    ]


def test_rewriter_preload_integrations_narrows_to_a_hyphenated_one(tmp_path: Path) -> None:
    _lambda_function(tmp_path)  # every usable instrumentor: aws-lambda, flask, ...
    everything = run_python(tmp_path, LAMBDA_RUN, **LAMBDA_ENV)
    assert last_json(everything) == ["FunctionWrapper", "ok", ["fn"], "_InstrumentedFlask"]
    narrowed = run_python(
        tmp_path, LAMBDA_RUN, REWRITER_PRELOAD_INTEGRATIONS=" AWS-Lambda ", **LAMBDA_ENV
    )
    assert last_json(narrowed) == ["FunctionWrapper", "ok", ["fn"], "Flask"]
    assert "unknown" not in narrowed.stderr


def _names(site: Path, dist: str, entry_points: dict[str, str]) -> None:
    """Install ``dist`` with ``entry_points`` (name -> value) in ``GROUP``."""
    lines = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
    _dist(site, dist, entry_points=f"[{GROUP}]\n{lines}")


def test_names_that_map_to_one_identifier_get_functions_of_their_own(
    site: Path, tmp_path: Path
) -> None:
    _names(
        site,
        "rwfake-spelling",
        {
            "dash-ed": "rwfake_inst:OkInstrumentor",
            "dash.ed": "rwfake_inst:AnyInstrumentor",
            "dash_ed": "rwfake_inst:PlainInstrumentor [extra]",
        },
    )
    names = ("dash-ed", "dash.ed", "dash_ed")
    plan = plan_preload(names, GROUP)
    assert [(i.name, i.function) for i in plan.integrations] == [
        ("dash-ed", "instrument_dash_ed"),
        ("dash.ed", "instrument_dash_ed_2"),
        ("dash_ed", "instrument_dash_ed_3"),
    ]
    options = [option for name in names for option in ("--preload", name)]
    _app(tmp_path, LIBRARY_USER, *options)
    code = "import json, web.index as entry\nprint(json.dumps(entry.handler))"
    assert last_json(_run(tmp_path, code)) == [
        "instrumented instrumented instrumented thing",
        [["OkInstrumentor", {}], ["AnyInstrumentor", {}], ["PlainInstrumentor", {}]],
    ]


ODD = {
    "evil": "os; import sys:Instrumentor",
    "moduleonly": "rwfake_inst",
    "dotted": "rwfake_inst:Instrumentor.inner",
}


def test_odd_entry_points_that_were_not_asked_for_are_skipped_with_a_warning(
    site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _names(site, "rwfake-odd", ODD)
    _app(tmp_path, LIBRARY_USER, quiet=False)
    err = capsys.readouterr().err
    origin = "skipped entry point {!r} of rwfake-odd 1.0 in group 'rewriter_test_preload': "
    assert err.splitlines()[:-1] == [
        "warning: " + origin.format("dotted") + "its class must be a Python identifier, "
        "got 'Instrumentor.inner'",
        "warning: " + origin.format("evil") + "its module must be a dotted Python name like "
        "'pkg.module', got 'os; import sys'",
        "warning: " + origin.format("moduleonly") + "its value 'rwfake_inst' names no class "
        "('module:Class')",
    ]
    text = (tmp_path / "web/index.py").read_text()
    assert "os; import sys" not in text and "evil" not in text
    code = "import json, web.index as entry\nprint(json.dumps(entry.handler[0]))"
    assert last_json(_run(tmp_path, code)) == "instrumented instrumented instrumented thing"


def test_a_name_that_another_distribution_has_first_is_skipped_with_a_warning(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    later = tmp_path / "later-site"
    _names(later, "rwfake-again", {"OK": "rwfake_inst:PlainInstrumentor"})
    monkeypatch.setattr(sys, "path", [*sys.path, str(later)])
    plan = plan_preload((), GROUP)
    assert [i.name for i in plan.integrations] == ["any", "ok", "plain"]
    assert plan.skipped == (
        "skipped entry point 'OK' of rwfake-again 1.0 in group 'rewriter_test_preload': "
        "entry point 'ok' of rwfake-ok-instrumentation 1.0 has the same name and comes first "
        "on sys.path",
    )


def _two_entries(root: Path, *options: str) -> tuple[int, dict[Path, str]]:
    """Run preload mode with ``options`` over a build of two entries; the exit code and
    the entries' texts afterwards (unchanged unless the run succeeded)."""
    texts = {}
    for name in ("one", "two"):
        entry = root / "build" / name / "index.py"
        entry.parent.mkdir(parents=True)
        entry.write_text("import os\n")
        texts[entry] = entry.read_text()
    (root / "pyproject.toml").write_text(f'[tool.rewriter]\npreload_group = "{GROUP}"\n')
    code = main(["--mode", "preload", "-q", *options, str(root / "build")])
    return code, {entry: entry.read_text() for entry in texts}


@pytest.mark.parametrize(
    ("names", "message"),
    [
        pytest.param(
            ("ghost",),
            "preload integration 'ghost' (entry point 'ghost' of rwfake-ghost-instrumentation "
            "1.0 in group 'rewriter_test_preload') cannot instrument anything here: it "
            "instruments 'rwfake-ghost', but it is not installed",
            id="library missing",
        ),
        pytest.param(
            ("ok", "evil"),
            "preload integration 'evil' (entry point 'evil' of rwfake-odd 1.0 in group "
            "'rewriter_test_preload') cannot be used: its module must be a dotted Python name "
            "like 'pkg.module', got 'os; import sys'",
            id="broken",
        ),
        pytest.param(
            ("ok", "nosuch"),
            "preload integration 'nosuch' is not installed in entry-point group "
            "'rewriter_test_preload'; installed: any, dotted, evil, ghost, moduleonly, ok, old, "
            "plain",
            id="not installed",
        ),
    ],
)
def test_an_environment_error_is_reported_once_per_run_as_a_configuration_error(
    site: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    names: tuple[str, ...],
    message: str,
) -> None:
    _names(site, "rwfake-odd", ODD)
    options = [option for name in names for option in ("--preload", name)]
    code, after = _two_entries(tmp_path, *options)
    assert code == 2
    assert capsys.readouterr().err == f"error: {message}\n"
    assert set(after.values()) == {"import os\n"}


def test_preload_names_from_pyproject_that_are_not_installed_point_at_the_key(
    site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = tmp_path / "index.py"
    entry.write_text("import os\n")
    config = f'[tool.rewriter]\nmode = "preload"\npreload_group = "{GROUP}"\npreload = ["x"]\n'
    (tmp_path / "pyproject.toml").write_text(config)
    assert main(["-q", str(entry)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path / 'pyproject.toml'}:4:1: preload integration 'x' ")


def test_no_usable_integration_is_a_configuration_error(tmp_path: Path) -> None:
    """A preload block that instruments nothing would pass every check silently."""
    code, after = _two_entries(tmp_path)  # nothing is installed in GROUP without `site`
    assert code == 2
    assert set(after.values()) == {"import os\n"}
    with pytest.raises(ConfigError, match=r"nothing to instrument.*'rewriter_test_preload'"):
        plan_preload((), GROUP)


def test_the_integrations_are_resolved_once_per_run(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scans = []
    real = metadata.entry_points

    def counted(**selection: str) -> metadata.EntryPoints:
        scans.append(selection)
        return real(**selection)

    monkeypatch.setattr(metadata, "entry_points", counted)
    code, after = _two_entries(tmp_path, "-j", "1")
    assert code == 0 and "import os\n" not in after.values()
    assert scans == [{"group": GROUP}]


def test_rewrite_build_raises_an_environment_error_before_any_file(
    site: Path, tmp_path: Path
) -> None:
    entry = tmp_path / "build" / "index.py"
    entry.parent.mkdir()
    entry.write_text("import os\n")
    settings = Settings(mode="preload", preload=("ghost",), preload_group=GROUP)
    with pytest.raises(ConfigError, match=r"'ghost' .* of rwfake-ghost-instrumentation 1\.0"):
        rewrite_build(tmp_path / "build", settings)
    assert entry.read_text() == "import os\n"


def test_rewrite_build_warns_about_each_skipped_entry_point(site: Path, tmp_path: Path) -> None:
    _names(site, "rwfake-odd", {"evil": ODD["evil"]})
    entry = tmp_path / "build" / "index.py"
    entry.parent.mkdir()
    entry.write_text("import os\n")
    settings = Settings(mode="preload", preload_group=GROUP)
    with pytest.warns(RuntimeWarning, match="rewriter: skipped entry point 'evil' of rwfake-odd"):
        report = rewrite_build(tmp_path / "build", settings)
    assert [file.status for file in report.files] == ["changed"]
