"""Modes and init policy: preload, lazy, prelude, failed deferred imports.

Every test builds a small package in a temporary directory, rewrites its
entry with the real CLI, and runs it in a fresh interpreter.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from _python import last_json, run_python

from rewriter.cli import main
from rewriter.config import Settings
from rewriter.core import rewrite_source
from rewriter.errors import ConfigError
from rewriter.tree import MemoryTree

RUNTIME = '''
import sys, time
counter = sys.modules.setdefault("import_counter", type(sys)("import_counter"))
counter.n = getattr(counter, "n", 0) + 1
time.sleep(0.05)  # widens the window in which racing threads could import twice


def handler(event, context=None):
    """The runtime handler."""
    return {"ok": event}


async def server(scope):
    return "async " + scope


class App:
    def __call__(self, scope):
        return scope


app = App()
'''


def _write(root: Path, files: dict[str, str]) -> None:
    for relpath, text in files.items():
        target = root / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text), encoding="utf-8")


def _write_app(root: Path, files: dict[str, str]) -> None:
    """The package ``app`` with its runtime package ``app.chunks``, and ``files``."""
    _write(root, {"app/__init__.py": "", "app/chunks/__init__.py": "", **files})


@pytest.fixture
def lazy_app(tmp_path: Path) -> Path:
    _write_app(
        tmp_path,
        {
            "app/chunks/rt.py": RUNTIME,
            "app/index.py": "from .chunks.rt import handler, server, app\n",
            "app/instrument_server.py": (
                "import sys\nRUNTIME_LOADED = 'app.chunks.rt' in sys.modules\n"
            ),
        },
    )
    argv = ["--lazy", "-q", "--handler", "handler", "--handler", "server", "--handler", "app"]
    assert main([*argv, str(tmp_path / "app" / "index.py")]) == 0
    return tmp_path


def test_lazy_mode_defers_the_runtime_to_first_use_and_keeps_handler_kinds(
    lazy_app: Path,
) -> None:
    result = run_python(
        lazy_app,
        """
        import asyncio, inspect, json, sys
        import app.index as entry
        loaded_at_import = "app.chunks.rt" in sys.modules
        kinds = [inspect.iscoroutinefunction(entry.server),
                 inspect.iscoroutinefunction(entry.handler)]
        wrapper = entry.handler
        answer = wrapper(7)
        runtime = sys.modules["app.chunks.rt"]
        print(json.dumps({
            "loaded_at_import": loaded_at_import,
            "init_saw_runtime": sys.modules["app.instrument_server"].RUNTIME_LOADED,
            "kinds": kinds,
            "answer": answer,
            "wrapper_metadata": [wrapper.__name__, wrapper.__doc__,
                                 wrapper.__wrapped__ is runtime.handler],
            "wrapper_signature": str(inspect.signature(wrapper)),
            # After the first call the held wrapper is a bare C-level partial
            # of the runtime's function: no Python frame of its own.
            "wrapper_calls_runtime_directly": [wrapper.func is runtime.handler,
                                               wrapper.args, wrapper.keywords],
            "global_is_runtime_object": entry.handler is runtime.handler,
            "async_result": asyncio.run(entry.server("x")),
            "app_is_runtime_object": entry.app is runtime.app,
            "app_cached_in_globals": "app" in vars(entry),
        }))
        """,
    )
    assert last_json(result) == {
        "loaded_at_import": False,
        "init_saw_runtime": False,
        "kinds": [True, False],
        "answer": {"ok": 7},
        "wrapper_metadata": ["handler", "The runtime handler.", True],
        "wrapper_signature": "(event, context=None)",
        "wrapper_calls_runtime_directly": [True, [], {}],
        "global_is_runtime_object": True,
        "async_result": "async x",
        "app_is_runtime_object": True,
        "app_cached_in_globals": True,
    }


def test_lazy_first_use_imports_once_when_32_threads_race(lazy_app: Path) -> None:
    result = run_python(
        lazy_app,
        """
        import json, sys, threading
        import app.index as entry
        handler = entry.handler
        barrier = threading.Barrier(32)
        results = []

        def call():
            barrier.wait()
            results.append(handler(1))

        threads = [threading.Thread(target=call) for _ in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(json.dumps({"imports": sys.modules["import_counter"].n, "answers": results}))
        """,
    )
    assert last_json(result) == {"imports": 1, "answers": [{"ok": 1}] * 32}


def test_a_held_lazy_stand_in_copies_and_follows_a_swapped_handler(
    tmp_path: Path,
) -> None:
    # From a hostile review of a staticmethod stand-in: it could not be
    # copied, and a handler that instrumentation swapped for a class (whose
    # __dict__ holds an __init__) left it pointing nowhere.
    _write_app(
        tmp_path,
        {
            "app/chunks/rt.py": """
                def handler(environ, start_response):
                    return [b"function"]


                class App:
                    def __init__(self, environ, start_response):
                        self.body = [b"class"]

                    def __iter__(self):
                        return iter(self.body)


                from . import patch
            """,
            "app/chunks/patch.py": "from . import rt\nrt.handler = rt.App\n",
            "app/index.py": "from .chunks.rt import handler\n",
            "app/instrument_server.py": "",
        },
    )
    assert main(["--lazy", "-q", str(tmp_path / "app" / "index.py")]) == 0
    assert "def make_stand_in(name):" in (tmp_path / "app" / "index.py").read_text()
    result = run_python(
        tmp_path,
        """
        import copy, json
        import app.index as entry
        held = entry.__dict__["handler"]
        copies = copy.copy(held), copy.deepcopy(held)
        body = list(held({}, None))
        print(json.dumps({
            "body": [part.decode() for part in body],
            "copies_call_through": [list(c({}, None))[0].decode() for c in copies],
            "wrapped": held.__wrapped__ is entry.handler,
        }))
        """,
    )
    assert last_json(result) == {
        "body": ["class"],
        "copies_call_through": ["class", "class"],
        "wrapped": True,
    }


def test_a_held_lazy_stand_in_pickles_as_its_handler(lazy_app: Path) -> None:
    result = run_python(
        lazy_app,
        """
        import json, pickle
        import app.index as entry
        held = entry.__dict__["handler"]
        held(1)
        again = pickle.loads(pickle.dumps(held))
        print(json.dumps({"answer": again(2), "same": again.func is entry.handler}))
        """,
    )
    assert last_json(result) == {"answer": {"ok": 2}, "same": True}


def test_lazy_keeps_an_import_eager_when_the_entry_uses_its_names() -> None:
    tree = MemoryTree(
        {
            "chunks/__init__.py": "",
            "chunks/rt.py": "def handler(): pass\nCONFIG = {}\n",
            "instrument_server.py": "",
        }
    )
    source = "from .chunks.rt import handler, CONFIG\nPORT = CONFIG.get('port')\n"
    result = rewrite_source(source, Settings(lazy=True), path="index.py", tree=tree)
    deferred = result.output.partition("finally:")[2]
    assert "rewriter:deferred" not in deferred and "_rewriter_lazy" not in deferred
    assert "try:\n    from .chunks.rt import handler, CONFIG\nexcept" in deferred
    [warning] = result.warnings
    assert "uses or rebinds 'CONFIG'" in warning.message
    assert (warning.line, warning.column) == (1, 1)


def test_lazy_refuses_an_entry_that_defines_getattr() -> None:
    tree = MemoryTree({"chunks/rt.py": "", "instrument_server.py": ""})
    source = "from .chunks import rt\ndef __getattr__(name):\n    raise AttributeError(name)\n"
    with pytest.raises(ConfigError, match="__getattr__"):
        rewrite_source(source, Settings(lazy=True), path="index.py", tree=tree)


PRELOAD_RUN = """
import json
import web.index as entry
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

client = entry.handler.test_client()
client.get("/")  # the application has not initialised yet
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)  # the application's late init
before = len(exporter.get_finished_spans())
client.get("/")
print(json.dumps({"before_init": before, "after_init": len(exporter.get_finished_spans())}))
"""


@pytest.fixture
def preload_app(tmp_path: Path) -> Path:
    _write(
        tmp_path,
        {
            "web/__init__.py": "",
            "web/chunks/__init__.py": "",
            "web/chunks/app.py": """
                from flask import Flask

                handler = Flask(__name__)


                @handler.get("/")
                def index():
                    return "hi"
                """,
            "web/index.py": "from .chunks.app import handler\n",
        },
    )
    argv = ["--mode", "preload", "--preload", "flask", "-q", str(tmp_path / "web/index.py")]
    assert main(argv) == 0
    return tmp_path


def test_preload_instruments_early_and_emits_only_after_the_app_initialises(
    preload_app: Path,
) -> None:
    text = (preload_app / "web/index.py").read_text()
    assert "from opentelemetry.instrumentation.flask import FlaskInstrumentor" in text
    assert "entry_points" not in text  # resolved at build time, not at cold start
    assert last_json(run_python(preload_app, PRELOAD_RUN)) == {"before_init": 0, "after_init": 1}


def test_preload_integrations_can_be_narrowed_at_run_time(preload_app: Path) -> None:
    result = run_python(preload_app, PRELOAD_RUN, REWRITER_PRELOAD_INTEGRATIONS="requests,Bogus")
    assert last_json(result) == {"before_init": 0, "after_init": 0}
    assert "names unknown integrations: bogus, requests; available: flask" in result.stderr


@pytest.mark.parametrize("value", ["1", "TRUE", "t", "yes", "Y", "on"])
def test_preload_debug_logs_each_integration_with_its_time(preload_app: Path, value: str) -> None:
    result = run_python(preload_app, PRELOAD_RUN, REWRITER_DEBUG=value)
    assert last_json(result) == {"before_init": 0, "after_init": 1}
    assert "rewriter: preloaded flask in " in result.stderr


@pytest.mark.parametrize("value", ["0", "false", "f", "no", "n", "off", ""])
def test_preload_debug_is_quiet_when_false(preload_app: Path, value: str) -> None:
    result = run_python(preload_app, PRELOAD_RUN, REWRITER_DEBUG=value)
    assert "rewriter:" not in result.stderr


def test_preload_of_an_integration_that_is_not_installed_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path, {"index.py": "import os\n"})
    with pytest.raises(ConfigError, match=r"'nosuchlib' is not installed .* installed: .*flask"):
        rewrite_source("import os\n", Settings(mode="preload", preload=("nosuchlib",)))


def test_a_failing_deferred_import_keeps_its_traceback_and_gets_a_note(
    tmp_path: Path,
) -> None:
    _write_app(
        tmp_path,
        {
            "app/chunks/broken.py": (
                "def handler():\n    pass\n\nraise LookupError('runtime is broken')\n"
            ),
            "app/index.py": "from .chunks.broken import handler\n",
            "app/instrument_server.py": "",
        },
    )
    assert main(["-q", str(tmp_path / "app/index.py")]) == 0
    result = run_python(tmp_path, "import app.index")
    assert result.returncode == 1
    assert "LookupError: runtime is broken" in result.stderr
    assert 'app/chunks/broken.py", line 4' in result.stderr  # the original frame is kept
    # The original statement ran: its own traceback line, then rewriter's note.
    assert 'app/index.py", line' in result.stderr
    assert "from .chunks.broken import handler" in result.stderr
    assert result.stderr.rstrip().endswith("rewriter: imported after the instrumentation init")


def test_top_level_import_mode_only_inserts_the_init_block() -> None:
    tree = MemoryTree({"chunks/rt.py": "def handler(): pass\n", "instrument_server.py": ""})
    source = '"""Doc."""\nfrom .chunks.rt import handler\n'
    result = rewrite_source(source, Settings(mode="top-level-import"), path="index.py", tree=tree)
    before, _, after = result.output.partition("finally:")
    assert before.startswith('"""Doc."""\n\n# rewriter:init')
    assert after.endswith("\nfrom .chunks.rt import handler\n")
    assert "_rewriter_from" not in result.output and "_rewriter_typing" not in result.output


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("from gevent import monkey\nmonkey.patch_all()\n", id="gevent"),
        pytest.param("import eventlet\neventlet.monkey_patch()\n", id="eventlet"),
        pytest.param("import sys\nsys.path.insert(0, '/opt/app')\n", id="sys.path insert"),
        pytest.param("import sys\nsys.path[:0] = ['/opt']\n", id="sys.path slice"),
        pytest.param("from dotenv import load_dotenv\nload_dotenv()\n", id="dotenv"),
        pytest.param("import early_setup\nearly_setup.configure()\n", id="configured prelude"),
    ],
)
def test_prelude_statements_stay_before_the_init_block(header: str) -> None:
    tree = MemoryTree({"chunks/rt.py": "", "instrument_server.py": ""})
    source = f"{header}from .chunks import rt\n"
    settings = Settings(prelude=("early_setup",))
    output = rewrite_source(source, settings, path="index.py", tree=tree).output
    assert output.startswith(header + "\n# rewriter:init")


def test_a_patch_after_a_runtime_import_moves_above_the_init_and_the_runtime() -> None:
    tree = MemoryTree({"chunks/rt.py": "", "instrument_server.py": ""})
    source = "from .chunks import rt\nfrom gevent import monkey\nmonkey.patch_all()\n"
    output = rewrite_source(source, Settings(), path="index.py", tree=tree).output
    assert output.startswith("from gevent import monkey\nmonkey.patch_all()\n\n# rewriter:init")
    assert "# rewriter:moved 2 3 -- " in output
    tail = output.split("except ")[-1]
    assert output.endswith("try:\n    from .chunks import rt\nexcept " + tail)


def test_without_a_tree_only_relative_imports_are_runtime() -> None:
    output = rewrite_source("import os\nfrom .x import y\n", Settings(init="instrument")).output
    after = output.partition("finally:")[2]
    # `import os` belongs to the same import block: it goes into the pin too.
    assert "\ntry:\n    import os\n    from .x import y\nexcept " in after


def test_lazy_mode_is_idempotent() -> None:
    tree = MemoryTree({"chunks/rt.py": "def handler(): pass\n", "instrument_server.py": ""})
    settings = Settings(lazy=True)
    first = rewrite_source("from .chunks.rt import handler\n", settings, path="index.py", tree=tree)
    assert "def _rewriter_lazy():" in first.output
    again = rewrite_source(first.output, settings, path="index.py", tree=tree)
    assert again.output == first.output


def test_lazy_keeps_eager_the_imports_before_a_class_body_that_imports_the_runtime() -> None:
    # Found by tests/test_differential.py: a class body runs when the class
    # is defined, so its import loaded the runtime before the deferred
    # imports above it, out of the original order.
    source = (
        "from .chunks.a import first\n"
        "class Holder:\n"
        "    from .chunks import b\n"
        "from .chunks.c import handler\n"
    )
    result = rewrite_source(source, Settings(init="instrument_server", lazy=True))
    deferred_block = result.output.split("if TYPE_CHECKING:", 1)[1]
    assert "from .chunks.a import first" not in deferred_block
    assert "from .chunks.c import handler" in deferred_block
    assert [w.message for w in result.warnings if "class body on line 3" in w.message]
