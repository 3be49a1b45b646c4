"""What an entry's surroundings mean for the rewrite (issue 12's layouts).

Each test builds a small tree on disk as a build or a deploy would have it,
rewrites it with the real command line, and where it matters runs the result
in a fresh interpreter:

- a module init spec must be importable from the entry, or the run is a
  configuration error (exit 2) that says what would work;
- a directory search does not take another entry's runtime for an entry;
- a prelude in the tree is a prelude, and may be named relative to the entry;
- a tree without ``__init__.py`` files (PEP 420) is classified like one with;
- ``--check`` follows the packages that enclose the entry;
- code installed in the tree by ``pip install --target`` is third-party, and
  the files only the init imports are not runtime;
- setup that needs the runtime is refused, with its position, and nothing
  is written;
- a path-loaded init imports its siblings (absolutely and relatively) when
  the entry runs as a module of its package, as a script, by path
  (``runpy.run_path``) and from a zip archive;
- preload mode calls a configured init after the preload block;
- the generated code reaches nothing a first-party file can shadow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from rewriter import cli


def write(root: Path, files: dict[str, str]) -> Path:
    for relpath, text in files.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str, cwd: Path) -> tuple[int, str]:
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        code = cli.main(list(argv))
    finally:
        os.chdir(previous)
    return code, capsys.readouterr().err


def python(root: Path, code: str, *, path: tuple[Path, ...] = ()) -> dict[str, object]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("REWRITER_")
    }
    environment["PYTHONPATH"] = os.pathsep.join(str(item) for item in path)
    environment["PYTHONDONTWRITEBYTECODE"] = "1"
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    value: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return value


# -- the init spec -------------------------------------------------------------


def test_a_module_init_beside_a_package_entry_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        tmp_path,
        {
            "mysvc/__init__.py": "",
            "mysvc/wsgi.py": "from .app import application\n",
            "mysvc/app.py": "def application(environ, start_response):\n    return []\n",
            "mysvc/instrument.py": "def init():\n    pass\n",
        },
    )
    before = (tmp_path / "mysvc/wsgi.py").read_text()
    code, err = run_cli(
        capsys,
        "--init",
        "instrument:init",
        "--handler",
        "application",
        "mysvc/wsgi.py",
        cwd=tmp_path,
    )
    assert code == 2
    assert err.startswith(
        "error: mysvc/wsgi.py:1:1: init module 'instrument' cannot be imported by the entry:"
        " the entry is a module of package mysvc"
    )
    assert "did you mean './instrument.py' or 'mysvc.instrument:init'?" in err
    assert (tmp_path / "mysvc/wsgi.py").read_text() == before

    code, _ = run_cli(
        capsys,
        "--init",
        "mysvc.instrument:init",
        "--handler",
        "application",
        "mysvc/wsgi.py",
        cwd=tmp_path,
    )
    assert code == 0


def test_a_misspelt_init_module_suggests_the_closest_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, {"wsgi.py": "import os\n", "instrument.py": ""})
    code, err = run_cli(capsys, "--init", "instrumnt", "wsgi.py", cwd=tmp_path)
    assert code == 2
    assert "did you mean 'instrument'?" in err


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "mysvc.instrument:ini",
            "init callable 'ini' is not defined in instrument.py;"
            " did you mean mysvc.instrument:init?",
        ),
        (
            "mysvc.settings:init",  # module-level code only: the module is the init
            "init callable 'init' is not defined in settings.py;"
            " to run the module itself, use --init mysvc.settings",
        ),
        (
            "mysvc.aio:init",  # the block would call it and drop the coroutine unawaited
            "init callable 'init' in aio.py is an async def: the init block calls it"
            " without awaiting it, so its body would never run; make it a plain def",
        ),
        (
            "mysvc.instrument.init",
            "init module 'mysvc.instrument.init' cannot be imported: 'mysvc.instrument'"
            " (mysvc/instrument.py) is a module, not a package;"
            " did you mean 'mysvc.instrument:init'?",
        ),
    ],
)
def test_an_init_spec_its_module_cannot_satisfy_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: str, message: str
) -> None:
    write(
        tmp_path,
        {
            "mysvc/__init__.py": "",
            "mysvc/wsgi.py": "from .app import application\n",
            "mysvc/app.py": "def application(environ, start_response):\n    return []\n",
            "mysvc/instrument.py": "def init():\n    pass\n",
            "mysvc/settings.py": "import os\nos.environ['A'] = '1'\n",
            "mysvc/aio.py": "async def init():\n    pass\n",
        },
    )
    before = (tmp_path / "mysvc/wsgi.py").read_text()
    code, err = run_cli(
        capsys, "--init", spec, "--handler", "application", "mysvc/wsgi.py", cwd=tmp_path
    )
    assert code == 2
    assert f"error: mysvc/wsgi.py:1:1: {message}" in err
    assert (tmp_path / "mysvc/wsgi.py").read_text() == before


def test_an_init_callable_the_module_may_bind_dynamically_is_left_to_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        tmp_path,
        {
            "wsgi.py": "from app import application\n",
            "app.py": "def application(environ, start_response):\n    return []\n",
            "instrument.py": "from setup_helpers import *\n",
            "setup_helpers.py": "def init():\n    pass\n",
            "walrus.py": "import os\nif (init := getattr(os, 'getcwd', None)):\n    pass\n",
            # An async def that something else makes a plain callable.
            "decorated.py": "from asgiref.sync import async_to_sync\n\n\n@async_to_sync\n"
            "async def init():\n    pass\n",
            "rebound.py": "async def init():\n    pass\n\n\nfrom setup_helpers import init\n",
            "either.py": "import os\n\n\nasync def init():\n    pass\n\n\nif os.environ:\n"
            "    def init():\n        pass\n",
        },
    )
    for spec in ("instrument:init", "walrus:init", "decorated:init", "rebound:init", "either:init"):
        code, err = run_cli(
            capsys, "--init", spec, "--handler", "application", "wsgi.py", cwd=tmp_path
        )
        assert code == 0, (spec, err)
        run_cli(capsys, "--undo", "wsgi.py", cwd=tmp_path)


# -- which files are entries ---------------------------------------------------


def test_another_entrys_runtime_is_not_an_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        tmp_path,
        {
            "build/server/index.py": "from .chunks.pages import index as page\n",
            "build/server/__init__.py": "",
            "build/server/chunks/__init__.py": "",
            "build/server/chunks/pages/__init__.py": "",
            "build/server/chunks/pages/index.py": "def handler():\n    return 'page'\n",
            "build/server/instrument.server.py": "",
            "build/__init__.py": "",
        },
    )
    page = (tmp_path / "build/server/chunks/pages/index.py").read_text()
    code, err = run_cli(capsys, "-v", "build", cwd=tmp_path)
    assert code == 0, err
    assert (
        "skipped build/server/chunks/pages/index.py: the runtime of the entry"
        " server/index.py" in err
    )
    assert err.endswith("1 file rewritten.\n")
    assert (tmp_path / "build/server/chunks/pages/index.py").read_text() == page
    assert run_cli(capsys, "--check", "build", cwd=tmp_path)[0] == 0


# -- preludes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prelude", "line"),
    [
        pytest.param("early_setup", "import early_setup", id="absolute, in the tree"),
        pytest.param(".helpers.early", "from .helpers.early import setup", id="relative"),
    ],
)
def test_a_prelude_in_the_tree_runs_before_init(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], prelude: str, line: str
) -> None:
    write(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/index.py": f"{line}\nfrom .chunks.rt import handler\n",
            "app/early_setup.py": "import builtins\nbuiltins.EARLY = True\n",
            "app/helpers/__init__.py": "",
            "app/helpers/early.py": (
                "import builtins\nbuiltins.EARLY = True\ndef setup():\n    pass\n"
            ),
            "app/chunks/__init__.py": "",
            "app/chunks/rt.py": "def handler():\n    return 'ok'\n",
            "app/instrument.server.py": (
                "import builtins\nbuiltins.EARLY_AT_INIT = getattr(builtins, 'EARLY', False)\n"
            ),
        },
    )
    if prelude == "early_setup":
        # Absolute in a package entry: the module as the package imports it.
        (tmp_path / "app/index.py").write_text(
            "from . import early_setup\nfrom .chunks.rt import handler\n"
        )
        prelude = ".early_setup"
    (tmp_path / "pyproject.toml").write_text(f'[tool.rewriter]\nprelude = ["{prelude}"]\n')
    code, err = run_cli(capsys, "app/index.py", cwd=tmp_path)
    assert code == 0, err
    text = (tmp_path / "app/index.py").read_text()
    assert text.index(text.splitlines()[0]) < text.index("# rewriter:init")
    result = python(
        tmp_path,
        "import builtins, json, app.index\n"
        "print(json.dumps({'early_at_init': builtins.EARLY_AT_INIT}))",
        path=(tmp_path,),
    )
    assert result == {"early_at_init": True}


# -- namespace packages and enclosing packages ---------------------------------


def test_a_namespace_package_tree_is_classified_like_a_regular_one(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "build/server/index.py": "import build.server.chunks.app\n",
            "build/server/chunks/app.py": "def handler():\n    return 'ok'\n",
            "build/server/instrument_server.py": "",
        },
    )
    from rewriter.config import Settings
    from rewriter.runner import rewrite_file

    report = rewrite_file(tmp_path / "build/server/index.py", Settings(guard=True))
    assert report.status == "changed", report.error
    assert report.result is not None
    assert report.result.runtime_modules == ("build.server.chunks.app",)
    text = (tmp_path / "build/server/index.py").read_text()
    assert "try:\n    import build.server.chunks.app\nexcept" in text
    assert '"build.server.chunks.app"' in text  # the guard looks for it


def test_check_follows_the_package_that_encloses_the_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        tmp_path,
        {
            "build/__init__.py": "",
            "build/server/__init__.py": "from .chunks.app import handler as _h\n",
            "build/server/index.py": "from .chunks.app import handler\n",
            "build/server/chunks/__init__.py": "",
            "build/server/chunks/app.py": "def handler():\n    return 'ok'\n",
            "build/server/instrument.server.py": "",
        },
    )
    code, err = run_cli(capsys, "build/server/index.py", cwd=tmp_path)
    assert code == 1  # written, but the guarantee is broken by the package
    assert (
        "error: build/server/__init__.py:1:1: imports chunks.app before init"
        " (index.py:1 -> __init__.py:1 -> chunks/app.py)" in err
    ), err


# -- installed code and the init's own files ------------------------------------


def test_installed_code_and_the_inits_helpers_are_not_runtime(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        tmp_path,
        {
            "lambda_function.py": """\
                from dotenv import load_dotenv
                load_dotenv()
                from app.handler import lambda_handler
            """,
            "app/__init__.py": "",
            "app/handler.py": "def lambda_handler(event, context):\n    return event\n",
            "dotenv/__init__.py": "def load_dotenv():\n    return True\n",
            "python_dotenv-1.0.0.dist-info/RECORD": "dotenv/__init__.py,,\n",
            "sdk/__init__.py": "",
            "sdk_pkg-1.0.dist-info/RECORD": "sdk/__init__.py,,\n",
            "sentry_options.py": "OPTIONS = {}\n",
            "instrument.py": "import sdk\nfrom sentry_options import OPTIONS\n",
        },
    )
    code, err = run_cli(capsys, "--preset", "lambda", "lambda_function.py", cwd=tmp_path)
    assert (code, err) == (0, "1 file rewritten.\n")
    text = (tmp_path / "lambda_function.py").read_text()
    # dotenv stays setup (before init); the app's handler is the runtime.
    assert text.index("load_dotenv()") < text.index("# rewriter:init")
    assert "try:\n    from app.handler import lambda_handler\nexcept" in text
    assert (
        run_cli(capsys, "--preset", "lambda", "--check", "lambda_function.py", cwd=tmp_path)[0] == 0
    )


# -- setup that cannot move ---------------------------------------------------


def test_setup_that_needs_the_runtime_is_refused_where_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        tmp_path,
        {
            "index.py": "import os\nfrom chunks.settings import NAME\nos.environ['APP'] = NAME\n",
            "chunks/__init__.py": "",
            "chunks/settings.py": "NAME = 'app'\n",
            "instrument.server.py": "",
        },
    )
    before = (tmp_path / "index.py").read_bytes()
    code, err = run_cli(capsys, "index.py", cwd=tmp_path)
    assert code == 123
    assert err.startswith(
        "error: index.py:2:1: the setup statement at 3:1 must run before init, but it needs"
        " this import of the runtime module chunks.settings"
    )
    assert (tmp_path / "index.py").read_bytes() == before


# -- how a path-loaded init is loaded -------------------------------------------

SIBLING_TREE = {
    "build/__init__.py": "",
    "build/server/__init__.py": "",
    "build/server/index.py": "from build.server.chunks.app import handler\n",
    "build/server/chunks/__init__.py": "",
    "build/server/chunks/app.py": "def handler():\n    return 'ok'\n",
    "build/server/sentry_options.py": "OPTIONS = {'dsn': 'abs'}\n",
    "build/server/relative_options.py": "OPTIONS = {'dsn': 'rel'}\n",
    "build/server/instrument.server.py": """\
        import builtins
        from sentry_options import OPTIONS as ABSOLUTE
        from .relative_options import OPTIONS as RELATIVE
        builtins.INIT = [ABSOLUTE["dsn"], RELATIVE["dsn"]]
    """,
}
PROBE = "import builtins, json\n{load}\nprint(json.dumps({{'init': builtins.INIT}}))"


@pytest.fixture
def sibling_tree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    write(tmp_path, SIBLING_TREE)
    code, err = run_cli(capsys, "build/server/index.py", cwd=tmp_path)
    assert code == 0, err
    return tmp_path


@pytest.mark.parametrize(
    "load",
    [
        pytest.param("import build.server.index", id="as a module of its package"),
        pytest.param(
            "import runpy; runpy.run_path('build/server/index.py')", id="by path (run_path)"
        ),
    ],
)
def test_a_path_loaded_init_imports_its_siblings(sibling_tree: Path, load: str) -> None:
    result = python(sibling_tree, PROBE.format(load=load), path=(sibling_tree,))
    assert result == {"init": ["abs", "rel"]}


def test_a_path_loaded_init_imports_its_siblings_from_a_zip(sibling_tree: Path) -> None:
    archive = sibling_tree / "app.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted((sibling_tree / "build").rglob("*.py")):
            bundle.write(path, path.relative_to(sibling_tree).as_posix())
    load = "import build.server.index"
    result = python(sibling_tree / "build", PROBE.format(load=load), path=(archive,))
    assert result == {"init": ["abs", "rel"]}


def test_a_script_entry_init_imports_its_siblings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        tmp_path,
        {
            "index.py": "from chunks.app import handler\nimport builtins, json\n"
            "print(json.dumps({'init': builtins.INIT}))\n",
            "chunks/__init__.py": "",
            "chunks/app.py": "def handler():\n    return 'ok'\n",
            "sentry_options.py": "OPTIONS = {'dsn': 'abs'}\n",
            "relative_options.py": "OPTIONS = {'dsn': 'rel'}\n",
            "instrument.server.py": SIBLING_TREE["build/server/instrument.server.py"],
        },
    )
    assert run_cli(capsys, "index.py", cwd=tmp_path)[0] == 0
    result = subprocess.run(
        [sys.executable, "index.py"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert json.loads(result.stdout) == {"init": ["abs", "rel"]}, result.stderr


# -- preload with an init --------------------------------------------------------


def test_preload_calls_a_configured_init_after_the_preload_block(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        tmp_path,
        {
            "index.py": "from chunks.app import handler\n",
            "chunks/__init__.py": "",
            "chunks/app.py": (
                "import builtins\nAT_IMPORT = getattr(builtins, 'INIT', False)\n"
                "def handler():\n    return 'ok'\n"
            ),
            "myinit.py": "import builtins\ndef init():\n    builtins.INIT = True\n",
        },
    )
    code, err = run_cli(
        capsys,
        "--mode",
        "preload",
        "--preload",
        "flask",
        "--init",
        "myinit:init",
        "index.py",
        cwd=tmp_path,
    )
    assert code == 0, err
    text = (tmp_path / "index.py").read_text()
    assert "def _rewriter_preload():" in text
    assert "from myinit import init" in text
    result = python(
        tmp_path,
        "import json, sys; sys.path.insert(0, '.'); import index; import chunks.app as app\n"
        "print(json.dumps({'init_first': app.AT_IMPORT}))",
    )
    assert result == {"init_first": True}


# -- the block's own imports -------------------------------------------------------


def test_first_party_files_named_like_the_stdlib_are_never_the_blocks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    boom = "raise SystemExit('the block imported the app\\'s own {name}.py')\n"
    files = {f"{name}.py": boom.format(name=name) for name in ("logging", "time", "warnings", "os")}
    files.update(
        {
            "index.py": "from chunks.app import handler\nimport json\nprint(json.dumps('ok'))\n",
            "chunks/__init__.py": "",
            "chunks/app.py": "def handler():\n    return 'ok'\n",
            "instrument.server.py": "raise RuntimeError('init exploded')\n",
        }
    )
    write(tmp_path, files)
    code, err = run_cli(capsys, "index.py", cwd=tmp_path)
    assert (code, err) == (0, "1 file rewritten.\n")  # no finding about the block's imports
    result = subprocess.run(
        [sys.executable, "index.py"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == '"ok"\n'
    assert "rewriter: instrumentation init failed" in result.stderr
    assert "RuntimeError: init exploded" in result.stderr


def test_no_init_found_names_the_files_beside_the_entry_that_look_like_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, {"wsgi.py": "import os\n", "instrument.py": "", "views.py": ""})
    code, err = run_cli(capsys, "wsgi.py", cwd=tmp_path)
    assert code == 2
    assert "; beside it: --init ./instrument.py (or a preset" in err
    assert "views.py" not in err
