"""Real servers for tests: start one on 127.0.0.1, request it, always stop it.

The pieces, for any test that needs a real server or the AWS runtime:

- ``free_port()`` and ``clean_env(**extra)``: a port to bind and an
  environment that nothing of the test run leaks into (no ``OTEL_*``,
  ``SENTRY_*``, ``REWRITER_*``, ``PYTHONPATH`` ...). ``SUPPORT`` (the
  ``corpus_probe`` module) is on its ``PYTHONPATH``.
- Commands as a user types them, each a ``list[str]`` run with this
  interpreter: ``gunicorn``, ``uvicorn``, ``flask_run``, ``fastapi_run``,
  ``manage_runserver``, ``python_script`` and the ``opentelemetry_instrument``
  wrapper.
- ``serve(command, cwd=, env=, port=, logs=)``: a context manager that starts
  the command in its own process group, waits until the port accepts
  connections (or fails at once when the process exits first), yields a
  ``Server`` whose ``get(path)`` returns a ``Response`` of any status, and
  on exit stops the whole process group: SIGTERM, then SIGKILL after
  ``stop_timeout`` seconds. A server that exits, never listens or drops a
  connection raises ``ServerFailed``, an AssertionError that carries the
  server's output.
- ``invoke_lambda(task_root, handler, events, env=)``: import a Lambda
  handler and call it with each event, as the AWS Python runtime does, in a
  fresh ``python -S`` process (no site-packages, as in a function).
- ``Records`` and ``wait_for_records()``: what the corpus inits wrote through
  ``corpus_probe`` (init runs, spans, Sentry envelope items, each with its
  pid).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SUPPORT = Path(__file__).resolve().parent.parent / "fixtures" / "real" / "support"
RECORD_ENV = "CORPUS_RECORD"  # corpus_probe.RECORD_ENV
# Servers run with this interpreter: the one the test extra installed them into.
_PYTHON = sys.executable

# Variables of the test run that would change what a server under test does.
_LEAKING_PREFIXES = ("OTEL_", "SENTRY_", "REWRITER_", "FLASK_", "DJANGO_", "GUNICORN_", "UVICORN_")
_LEAKING_NAMES = {"PYTHONPATH", "PYTHONWARNINGS", "PYTHONSTARTUP", "WEB_CONCURRENCY", "PORT"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on at the moment of the call."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def clean_env(**extra: str) -> dict[str, str]:
    """``os.environ`` without the variables that would leak into a server, plus ``extra``.

    ``PYTHONPATH`` is ``SUPPORT`` (a stand-in for an installed package,
    outside any build tree); output is unbuffered and no bytecode is written.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_LEAKING_PREFIXES) and name not in _LEAKING_NAMES
    }
    env.update(PYTHONPATH=str(SUPPORT), PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def gunicorn(target: str, port: int, *options: str) -> list[str]:
    """``gunicorn TARGET`` with one worker on 127.0.0.1:port.

    ``--no-control-socket``: parallel runs would share the control socket's
    default path under the home directory.
    """
    fixed = ["--workers", "1", "--no-control-socket", "--graceful-timeout", "5"]
    return [_PYTHON, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", *fixed, *options, target]


def uvicorn(target: str, port: int, *options: str) -> list[str]:
    """``uvicorn TARGET`` on 127.0.0.1:port."""
    return [_PYTHON, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), *options, target]


def flask_run(app: str, port: int) -> list[str]:
    """``flask --app APP run``: Flask's development server, without reloader or debugger."""
    fixed = ["--host", "127.0.0.1", "--no-reload", "--no-debugger"]
    return [_PYTHON, "-m", "flask", "--app", app, "run", *fixed, "--port", str(port)]


def fastapi_run(path: str, port: int) -> list[str]:
    """``fastapi run PATH``: FastAPI's CLI (fastapi-cli), serving with uvicorn."""
    return [_PYTHON, "-m", "fastapi", "run", path, "--host", "127.0.0.1", "--port", str(port)]


def manage_runserver(port: int) -> list[str]:
    """``python manage.py runserver --noreload``: Django's development server."""
    return [_PYTHON, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]


def python_script(path: str) -> list[str]:
    """``python PATH``: an entry or launcher that serves itself."""
    return [_PYTHON, path]


def opentelemetry_instrument(command: Sequence[str]) -> list[str]:
    """``opentelemetry-instrument COMMAND``: OpenTelemetry's zero-code launcher.

    Its exporters are configured through ``OTEL_*`` variables; pass
    ``OTEL_TRACES_EXPORTER=none`` (and the same for metrics and logs) to keep
    it off the network.
    """
    launcher = Path(sys.executable).with_name("opentelemetry-instrument")
    return [str(launcher), *command]


@dataclass(frozen=True)
class Response:
    """An HTTP response: its status code and body as text."""

    status: int
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


def http_get(url: str, timeout: float = 30.0) -> Response:
    """GET ``url``; any HTTP status is a Response, a connection failure raises OSError."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return Response(reply.status, reply.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as error:
        return Response(error.code, error.read().decode("utf-8", "replace"))


class ServerFailed(AssertionError):
    """The server exited, never listened, or dropped a connection.

    ``reason`` says which, ``output`` is what the server printed; the message holds both.
    """

    def __init__(self, reason: str, output: str) -> None:
        super().__init__(f"{reason}\n{output}")
        self.reason = reason
        self.output = output


@dataclass
class Server:
    """A started server: where it listens and what it printed (stdout and stderr files)."""

    process: subprocess.Popen[bytes]
    port: int
    logs: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stdout(self) -> str:
        return (self.logs / "stdout.log").read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        return (self.logs / "stderr.log").read_text(encoding="utf-8", errors="replace")

    def output(self) -> str:
        """Both streams, labelled, for assertion messages."""
        return f"--- server stdout ---\n{self.stdout()}--- server stderr ---\n{self.stderr()}"

    def get(self, path: str, timeout: float = 30.0) -> Response:
        """GET ``path``; a connection failure (the server died, say) raises ServerFailed."""
        try:
            return http_get(self.url + path, timeout)
        except OSError as error:
            raise ServerFailed(f"GET {path} failed: {error!r}", self.output()) from None


def _wait_for_port(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            last_words = (server.stderr().strip().splitlines() or [""])[-1]
            raise ServerFailed(
                f"server exited with {server.process.returncode} before listening on "
                f"{server.port}: {last_words}",
                server.output(),
            )
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
            return
        if time.monotonic() > deadline:
            raise ServerFailed(
                f"server did not listen on {server.port} within {timeout:.0f} s", server.output()
            )
        time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes], timeout: float) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            continue
        break
    # Workers the leader left behind go with the group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def serve(
    command: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    port: int,
    logs: Path,
    ready_timeout: float = 60.0,
    stop_timeout: float = 10.0,
) -> Iterator[Server]:
    """Start ``command`` in ``cwd``, yield it once ``port`` accepts connections, always stop it.

    ``env`` is the server's whole environment (build it with ``clean_env``).
    ``logs`` is a directory for ``stdout.log`` and ``stderr.log``; they stay
    readable after the block. A server that exits before it listens, or
    does not listen within ``ready_timeout`` seconds, raises ServerFailed
    (an AssertionError) with its output.
    """
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / "stdout.log").open("wb") as out, (logs / "stderr.log").open("wb") as err:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    server = Server(process, port, logs)
    try:
        _wait_for_port(server, ready_timeout)
        yield server
    finally:
        _stop(process, stop_timeout)


@dataclass(frozen=True)
class LambdaRun:
    """One run of the Lambda invoker: each invocation's result, and what the process printed."""

    returncode: int
    outcomes: list[dict[str, Any]]
    stderr: str

    def failure(self) -> str | None:
        """Why the run failed (the handler's import or a call raised), or None."""
        failed = [outcome for outcome in self.outcomes if "error" in outcome]
        if self.returncode == 0 and not failed:
            return None
        tracebacks = "".join(outcome["traceback"] for outcome in failed)
        return f"Lambda invocation failed (exit {self.returncode}):\n{tracebacks}"

    def results(self) -> list[Any]:
        """Each invocation's return value; an AssertionError when the run failed."""
        failure = self.failure()
        assert failure is None, f"{failure}\n--- stderr ---\n{self.stderr}"
        return [outcome["result"] for outcome in self.outcomes]


def invoke_lambda(
    task_root: Path,
    handler: str,
    events: Sequence[Any],
    *,
    env: Mapping[str, str],
    isolated: bool = True,
    timeout: float = 120.0,
) -> LambdaRun:
    """Import ``handler`` (``module.function``) from ``task_root`` and call it once per event.

    Runs ``SUPPORT/lambda_runtime.py`` in one fresh process, in ``task_root``,
    as the AWS Python runtime does: module import by handler string, then
    ``handler(event, context)`` for each event. With ``isolated`` the
    interpreter has no site-packages (``-S``): only the standard library,
    the task root and ``env``'s PYTHONPATH.
    """
    flags = ["-S", "-P"] if isolated else ["-P"]
    result = subprocess.run(
        [
            sys.executable,
            *flags,
            str(SUPPORT / "lambda_runtime.py"),
            handler,
            json.dumps(list(events)),
        ],
        cwd=task_root,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    outcomes = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return LambdaRun(result.returncode, outcomes, result.stderr)


@dataclass(frozen=True)
class Records:
    """What ``corpus_probe`` wrote: init runs, finished spans and Sentry envelope items.

    Each record is a dict with ``kind`` and ``pid``; see corpus_probe's
    docstring for the other fields.
    """

    entries: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> Records:
        if not path.exists():
            return cls()
        lines = path.read_text(encoding="utf-8").splitlines()
        return cls([json.loads(line) for line in lines if line.strip()])

    def of(self, kind: str, pid: int | None = None) -> list[dict[str, Any]]:
        """The records of ``kind`` (``init``, ``span``, ``sentry``), of one process if ``pid``."""
        return [
            entry
            for entry in self.entries
            if entry["kind"] == kind and (pid is None or entry["pid"] == pid)
        ]

    def inits_per_pid(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for entry in self.of("init"):
            counts[entry["pid"]] = counts.get(entry["pid"], 0) + 1
        return counts


def wait_for_records(path: Path, ready: Callable[[Records], bool], timeout: float = 5.0) -> Records:
    """The records at ``path`` once ``ready`` holds, or as they are after ``timeout`` seconds.

    Spans and events may be written just after the response went out (a
    span ends when the server finishes the request), so a test reads them
    through this rather than at once.
    """
    deadline = time.monotonic() + timeout
    while True:
        records = Records.read(path)
        if ready(records) or time.monotonic() > deadline:
            return records
        time.sleep(0.05)
