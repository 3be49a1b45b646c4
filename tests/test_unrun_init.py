"""An init that the rewritten entry would never run is named in a warning.

Two mistakes used to pass every run in silence and leave the server
uninstrumented: an init module imported for its side effects that only
defines its init function, and preload mode without ``--init`` beside a
default init file. Each warning is one line, ``warning: PATH:LINE:COL:
message`` about the init file; the entry is still rewritten, and the exit
code is 0.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rewriter import cli

ENTRY = "import os\nfrom chunks.app import handler\n"
DEFINES_INIT = """\
import sentry_sdk


def init():
    sentry_sdk.init(traces_sample_rate=1.0)
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``index.py`` importing its runtime ``chunks/app.py``; no init yet."""
    (tmp_path / "chunks").mkdir()
    (tmp_path / "chunks/__init__.py").write_text("")
    (tmp_path / "chunks/app.py").write_text("def handler(event, context):\n    return 'ok'\n")
    (tmp_path / "index.py").write_text(ENTRY)
    (tmp_path / "pyproject.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    """Rewrite ``index.py`` with ``argv``; expect exit 0 and a rewrite; return the warnings."""
    code = cli.main([*argv, "index.py"])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert Path("index.py").read_text() != ENTRY
    return [line for line in err.splitlines() if line.startswith("warning:")]


UNCALLED = {
    "only the function": DEFINES_INIT,
    "called under the main guard": DEFINES_INIT + '\n\nif __name__ == "__main__":\n    init()\n',
    "called under a reversed main guard": DEFINES_INIT
    + '\n\nif "__main__" == __name__:\n    init()\n',
    "keyword arguments with defaults": "def init(*, dsn=None):\n    pass\n",
    "with a logger": "import logging\nlog = logging.getLogger(__name__)\n\n\n"
    "def setup():\n    log.info('up')\n",
    "reads the environment": "import os\nDSN = os.environ.get('DSN')\n" + DEFINES_INIT,
    "a decorated class": "from dataclasses import dataclass\n\n\n@dataclass\nclass C:\n"
    "    x: int = 0\n\n\ndef init():\n    pass\n",
    # It may start its SDK another way: the message says "if".
    "starts its SDK itself": "import sentry_sdk\n\nsentry_sdk.init()\n\n\ndef setup():\n    pass\n",
}


@pytest.mark.parametrize("source", UNCALLED.values(), ids=UNCALLED.keys())
def test_an_init_module_that_only_defines_its_init_function_is_named(
    source: str, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "boot.py").write_text(source)
    name = "setup" if "def setup" in source else "init"
    line = source.splitlines().index(next(s for s in source.splitlines() if f" {name}(" in s))
    assert run(capsys, "--init", "boot") == [
        f"warning: boot.py:{line + 1}:1: init module 'boot' defines {name}() but nothing"
        f" calls it when the file is imported; if {name}() starts the instrumentation, it"
        f" never runs: use --init boot:{name}, or call {name}() at the end of the module"
    ]


def test_a_default_init_file_that_only_defines_init_is_named(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "instrument.server.py").write_text(DEFINES_INIT)
    assert run(capsys) == [
        "warning: instrument.server.py:4:1: this init file defines init() but nothing calls"
        " it when the file is imported; if init() starts the instrumentation, it never runs:"
        " call init() at the end of the file"
    ]


CALLED = {
    "called at the end": DEFINES_INIT + "\n\ninit()\n",
    "called through another function": DEFINES_INIT + "\n\ndef start():\n    init()\n\n\nstart()\n",
    "registered": DEFINES_INIT + "\n\nimport atexit\natexit.register(init)\n",
    "decorated": "import atexit\n\n\n@atexit.register\ndef init():\n    pass\n",
    "called in a try": DEFINES_INIT + "\n\ntry:\n    init()\nexcept ImportError:\n    pass\n",
    "an instance made": "class T:\n    pass\n\n\ndef setup():\n    pass\n\n\nTRACER = T()\n",
    "no init function": "import sentry_sdk\n\nsentry_sdk.init()\n\n\ndef helper():\n    pass\n",
    "called in a class body": DEFINES_INIT + "\n\nclass Started:\n    done = init()\n",
    "called in the else of a main guard": DEFINES_INIT
    + '\n\nif __name__ == "__main__":\n    pass\nelse:\n    init()\n',
    "called unless run as a script": DEFINES_INIT + '\n\nif __name__ != "__main__":\n    init()\n',
    # Its fix would differ (an async init must be awaited): no advice at all.
    "an async init": "async def init():\n    pass\n",
    # The advice calls it with no arguments, which would fail.
    "an init that needs an argument": "def instrument(app):\n    pass\n",
    # A script's entry point: calling it on import would run the script.
    "a script's main": "def main():\n    pass\n\n\nif __name__ == '__main__':\n    main()\n",
    "a decorator of its own": "def hook(function):\n    return function\n\n\n@hook\n"
    "class C:\n    pass\n\n\ndef init():\n    pass\n",
}


@pytest.mark.parametrize("source", CALLED.values(), ids=CALLED.keys())
def test_an_init_module_that_runs_its_code_is_not_named(
    source: str, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "boot.py").write_text(source)
    assert run(capsys, "--init", "boot") == []


def test_an_init_callable_is_not_named(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "boot.py").write_text(DEFINES_INIT)
    assert run(capsys, "--init", "boot:init") == []


PRELOAD = ("--mode", "preload", "--preload", "flask")
UNRUN_DEFAULT = (
    "warning: instrument_server.py:1:1: preload mode runs an init only when --init (init in"
    " [tool.rewriter]) names one, and no import of this init file was found from the entry,"
    " so it may never run; pass --init ./instrument_server.py to run it right after the"
    " integrations are prepared, unless a module the build cannot follow imports it (a"
    " settings module named in a string)"
)


def test_preload_without_init_names_the_default_init_file_it_leaves_unrun(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "instrument_server.py").write_text("import sentry_sdk\n\nsentry_sdk.init()\n")
    assert run(capsys, *PRELOAD) == [UNRUN_DEFAULT]


@pytest.mark.parametrize(
    ("files", "argv"),
    [
        pytest.param(
            {"index.py": "import os\nimport instrument_server\nfrom chunks.app import handler\n"},
            PRELOAD,
            id="the entry imports it",
        ),
        pytest.param(
            {
                "chunks/app.py": "import instrument_server\n\n\ndef handler(event, context):\n"
                "    return 'ok'\n"
            },
            PRELOAD,
            id="a module the entry imports imports it",
        ),
        pytest.param({}, (*PRELOAD, "--init", "./instrument_server.py"), id="named by --init"),
        pytest.param({}, (), id="another mode"),
    ],
)
def test_a_default_init_file_that_runs_is_not_named(
    files: dict[str, str],
    argv: tuple[str, ...],
    project: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (project / "instrument_server.py").write_text("import sentry_sdk\n\nsentry_sdk.init()\n")
    for name, text in files.items():
        (project / name).write_text(text)
    assert run(capsys, *argv) == []


def test_a_lazy_preload_run_again_does_not_name_the_init_file_the_entry_imports(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The first run moves the entry's import of it under `if TYPE_CHECKING:`
    # (lazy mode defers it); the second reads the entry's original lines.
    (project / "instrument_server.py").write_text("import sentry_sdk\n\nsentry_sdk.init()\n")
    (project / "index.py").write_text(
        "import os\nimport instrument_server\nfrom chunks.app import handler\n"
    )
    assert run(capsys, *PRELOAD, "--lazy", "--no-cache") == []
    assert "if TYPE_CHECKING:" in (project / "index.py").read_text()
    code = cli.main([*PRELOAD, "--lazy", "--no-cache", "--check", "index.py"])
    _, err = capsys.readouterr()
    assert (code, err) == (0, "1 file would be left unchanged.\n")
