"""Entries that a hostile review found mishandled, each as its smallest form.

Each entry sits in a package ``app`` beside a runtime package ``app.rt``.
It is either rewritten and then imported in a fresh interpreter, where it
must bind what the original binds, or refused with its position and left
byte for byte as it was: never rewritten into code that runs differently.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from rewriter.config import Settings
from rewriter.runner import rewrite_file

RUNTIME = (
    'import os\nos.environ["RW_A"] = "set-by-runtime"\ndef handler():\n    return "h"\nx = 1\n'
)
INIT = "import builtins\nbuiltins._hostile_init_ran = True\n"
# What the entry binds, after importing it in a fresh interpreter.
PROBE = """\
import builtins, inspect, json, sys
import app.index as entry
names = {
    name: repr(value) if isinstance(value, (str, int, type(None))) else type(value).__name__
    for name, value in vars(entry).items()
    if not name.startswith("__") or name == "__doc__"
}
print(json.dumps({
    "names": names,
    "init": getattr(builtins, "_hostile_init_ran", False),
    "async_handler": inspect.iscoroutinefunction(getattr(entry, "handler", None)),
}))
"""


def _project(tmp_path: Path, entry: str, files: dict[str, str] | None = None) -> Path:
    (tmp_path / "app" / "rt").mkdir(parents=True)
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "instrument.py").write_text(INIT)
    (tmp_path / "app" / "rt" / "__init__.py").write_text(RUNTIME)
    for name, text in (files or {}).items():
        (tmp_path / "app" / name).write_text(text)
    path = tmp_path / "app" / "index.py"
    path.write_text(entry)
    return path


def _probe(project: Path) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=project, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    answer: dict[str, object] = json.loads(result.stdout)
    return answer


def _rewritten(path: Path, **options: object) -> str:
    report = rewrite_file(path, Settings.from_mapping({"init": "app.instrument", **options}))
    assert report.status == "changed", report.error
    return path.read_text()


def _rewrite_keeps_names(project: Path, path: Path) -> dict[str, object]:
    """Rewrite ``path``; the entry must bind what it bound before. Returns the new probe."""
    original = _probe(project)
    _rewritten(path)
    after = _probe(project)
    assert after["names"] == original["names"]
    return after


def _lazy_stays_eager(project: Path, path: Path) -> None:
    """``--lazy`` keeps every import eager, says why, and the entry binds what it did."""
    original = _probe(project)
    report = rewrite_file(path, Settings.from_mapping({"init": "app.instrument", "lazy": True}))
    assert report.status == "changed", report.error
    assert any("reaches its own namespace by name" in w.message for w in report.warnings)
    assert _probe(project)["names"] == original["names"]


def _refused(path: Path) -> str:
    before = path.read_bytes()
    report = rewrite_file(path, Settings.from_mapping({"init": "app.instrument"}))
    assert report.status == "failed"
    assert report.error is not None
    assert path.read_bytes() == before
    return f"{report.error.line}:{report.error.column}: {report.error.message}"


@pytest.mark.parametrize(
    "between",
    [
        'x = sys.modules[__package__ + ".rt"].x',  # reads what the import did
        'before = os.environ.get("RW_A")',  # the runtime set it
        'core = importlib.import_module(".rt", __package__)',  # loads the runtime itself
        "print('side effect')",
    ],
)
def test_a_line_between_a_runtime_import_and_a_setup_is_not_moved_above_it(
    tmp_path: Path, between: str
) -> None:
    # The setup may not jump the line, and the line may not jump the import.
    entry = (
        f'import importlib, os, sys\nfrom .rt import handler\n{between}\nos.environ["B"] = "1"\n'
    )
    error = _refused(_project(tmp_path, entry))
    assert error.startswith("2:1: the setup statement at 4:1 must run before init"), error


def test_a_value_the_setup_reads_still_moves_with_it(tmp_path: Path) -> None:
    entry = (
        "import os\nfrom .rt import handler\n"
        'HERE = os.path.dirname(__file__)\nos.environ["B"] = HERE\n'
    )
    path = _project(tmp_path, entry)
    assert _rewrite_keeps_names(tmp_path, path)["init"] is True


@pytest.mark.parametrize(
    "first_line",
    ['"""doc"""; from __future__ import annotations', '"""doc"""; import os'],
)
def test_a_docstring_line_with_more_statements_stays_first(tmp_path: Path, first_line: str) -> None:
    path = _project(tmp_path, f"{first_line}\nfrom .rt import handler\n")
    original = _probe(tmp_path)
    text = _rewritten(path)
    assert text.startswith(first_line + "\n")
    compile(text, str(path), "exec")  # a `from __future__` import must stay at the top
    assert _probe(tmp_path)["names"] == original["names"]


def test_a_first_line_that_also_imports_the_runtime_is_refused_with_a_reason(
    tmp_path: Path,
) -> None:
    path = _project(tmp_path, "from __future__ import annotations; from .rt import handler\n")
    error = _refused(path)
    assert error.startswith("1:37: this line must stay first"), error


def test_a_star_export_that_cannot_be_read_is_not_taken_for_no_binding(tmp_path: Path) -> None:
    # The runtime binds VAL through globals(): the setup's VAL may be the runtime's.
    entry = 'import os\nVAL = "entry"\nfrom .rt import *\nos.environ["VAL"] = VAL\n'
    path = _project(tmp_path, entry)
    (tmp_path / "app" / "rt" / "__init__.py").write_text(
        'def handler():\n    pass\nglobals()["VAL"] = "runtime"\n'
    )
    error = _refused(path)
    assert "the setup statement at 4:1 must run before init" in error, error


def test_lazy_gives_no_sync_stand_in_for_a_handler_a_star_import_rebinds(tmp_path: Path) -> None:
    files = {
        "rt/core.py": 'def handler(environ=None):\n    return "sync"\nfrom .other import *\n',
        "rt/other.py": "async def handler(scope=None):\n    return None\n",
    }
    path = _project(tmp_path, "from .rt.core import handler\n", files)
    assert _probe(tmp_path)["async_handler"] is True
    _rewritten(path, lazy=True)
    assert _probe(tmp_path)["async_handler"] is True


def test_lazy_keeps_names_eager_for_an_entry_that_looks_them_up_by_name(tmp_path: Path) -> None:
    path = _project(tmp_path, 'from .rt import handler\nh = eval("handler")\n')
    _lazy_stays_eager(tmp_path, path)


def test_an_entry_run_by_exec_without_file_still_starts(tmp_path: Path) -> None:
    path = _project(tmp_path, "from app.rt import handler\nRESULT = handler()\n")
    (tmp_path / "app" / "instrument.server.py").write_text(INIT)
    _rewritten(path, init="./instrument.server.py")
    script = (
        "namespace = {'__name__': '__main__'}\n"
        "exec(open('app/index.py').read(), namespace)\n"
        "print(namespace['RESULT'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "h\n"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_named_as_the_entry_is_refused_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "index.py"
    os.mkfifo(fifo)
    result = subprocess.run(
        [sys.executable, "-m", "rewriter", "--init", "os", str(fifo)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 123, result.stderr
    assert f"error: {fifo}:1:1: is not a regular file (a FIFO); not read" in result.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode)


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_a_device_named_as_the_entry_is_never_replaced(tmp_path: Path) -> None:
    device = tmp_path / "index.py"
    os.mknod(device, stat.S_IFCHR | 0o644, os.makedev(1, 3))  # like /dev/null
    report = rewrite_file(device, Settings.from_mapping({"init": "os"}))
    assert report.status == "failed"
    assert report.error is not None
    assert report.error.message == "is not a regular file (a device); not read"
    assert stat.S_ISCHR(device.stat().st_mode)


def test_a_mutation_before_a_setup_stays_before_it(tmp_path: Path) -> None:
    # `cfg["X"] = "b"` changes what the setup reads: it moves with it.
    entry = (
        'import os\nimport json\ncfg = {"X": "a"}\ncfg["X"] = "b"\n'
        "os.environ.update(cfg)\nfrom .rt import handler\nSEEN = os.environ['X']\n"
    )
    path = _project(tmp_path, entry)
    after = _rewrite_keeps_names(tmp_path, path)
    assert after["names"]["SEEN"] == "'b'"  # type: ignore[index]


@pytest.mark.parametrize(
    "entry",
    [
        # a mutation after the runtime import may see it: it may not jump it
        'import os\nfrom .rt import handler\ncfg = {"X": "a"}\ncfg["X"] = "b"\n'
        "os.environ.update(cfg)\n",
        # the function the setup calls reads what the runtime import binds
        "import os\ndef name():\n    return handler.__name__\nfrom .rt import handler\n"
        'os.environ["X"] = name()\n',
        "import os\nget = lambda: handler.__name__\nfrom .rt import handler\n"
        'os.environ["X"] = get()\n',
    ],
    ids=["mutation", "function", "lambda"],
)
def test_a_setup_that_needs_the_runtime_through_other_code_is_refused(
    tmp_path: Path, entry: str
) -> None:
    error = _refused(_project(tmp_path, entry))
    assert "must run before init" in error, error


def test_a_package_entry_setup_reading_its_submodule_is_refused(tmp_path: Path) -> None:
    # In app/__init__.py, `from .rt import handler` also binds `rt`.
    _project(tmp_path, "")
    path = tmp_path / "app" / "__init__.py"
    path.write_text('import os\nfrom .rt import handler\nos.environ["X"] = str(rt.x)\n')
    error = _refused(path)
    assert error.startswith("2:1: the setup statement at 3:1 must run before init"), error


def test_lazy_keeps_names_eager_for_an_entry_that_imports_itself(tmp_path: Path) -> None:
    entry = (
        "import importlib\nfrom .rt import handler, x\nX = importlib.import_module(__name__).x\n"
    )
    path = _project(tmp_path, entry)
    _lazy_stays_eager(tmp_path, path)


def test_a_socket_named_as_the_entry_is_refused(tmp_path: Path) -> None:
    import socket

    path = tmp_path / "index.py"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        report = rewrite_file(path, Settings.from_mapping({"init": "os"}))
    assert report.error is not None
    assert report.error.message == "is not a regular file (a socket); not read"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_trace_refuses_a_fifo_without_reading_it(tmp_path: Path) -> None:
    fifo = tmp_path / "index.py"
    os.mkfifo(fifo)
    result = subprocess.run(
        [sys.executable, "-m", "rewriter", "--trace", "--by-path", "--init", "os", str(fifo)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 123, result.stderr
    assert "is not a regular file (a FIFO); not read" in result.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_trace_keeps_its_exit_code_when_stdout_closes_early(tmp_path: Path) -> None:
    fifo = tmp_path / "index.py"
    os.mkfifo(fifo)
    command = (
        f"{sys.executable} -m rewriter --trace --by-path --init os {fifo} | true;"
        " echo ${PIPESTATUS[0]}"
    )
    result = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.stdout == "123\n", result.stderr
    assert "Traceback" not in result.stderr
