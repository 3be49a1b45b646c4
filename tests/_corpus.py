"""The real-entry corpus: how a case is built, rewritten, served and judged.

A case is a project assembled in a temporary directory from a base (empty,
a Django project made by ``django-admin startproject``, or a Lambda task
root made by ``pip install --target``) and layers of files from
``fixtures/real/``. It is rewritten with the real CLI and the preset a user
would pick, checked with ``--check``, then served by a real server (or
invoked as a Lambda function), requested twice, and judged on what its
instrumentation init recorded through ``corpus_probe`` (see
``fixtures/real/support/corpus_probe.py``).

``run_case`` returns every problem it found, so that one failing run says
all that is wrong with the case at once.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from _servers import (
    RECORD_ENV,
    Records,
    Response,
    ServerFailed,
    clean_env,
    free_port,
    invoke_lambda,
    serve,
    wait_for_records,
)

REAL = Path(__file__).resolve().parent.parent / "fixtures" / "real"
DOTENV_DSN = "https://dotenv@sentry.invalid/1"  # what fixtures/real/dotenv/.env sets
DEPLOY_DSN = "https://deploy@sentry.invalid/2"  # what a deployment sets in the environment
LAMBDA_HANDLER = "lambda_function.lambda_handler"

# What rewriter's generated code prints at run time: the guard's warning (its
# message and category), a logged init failure, REWRITER_DEBUG lines.
_REWRITER_OUTPUT = re.compile(r"rewriter:|Rewriter\w*Warning|instrumentation init failed")
_REQUESTS = 2
_OUTPUT_LIMIT = 12_000

# Where a case's files come from, as (directory under fixtures/real, destination in the project).
Layer = tuple[str, str]
Command = Callable[[int], list[str]]

# The deployment's own environment: the DSN, set where the server runs.
DEPLOYED: Mapping[str, str] = MappingProxyType({"SENTRY_DSN": DEPLOY_DSN})
FLASK_APP: tuple[Layer, ...] = (("apps/flask", "."), ("entries/plain_flask", "."))
FASTAPI_APP: tuple[Layer, ...] = (("apps/fastapi", "."), ("entries/plain_fastapi", "."))


@dataclass(frozen=True)
class Case:
    """One real entry: its layout, the rewrite a user runs, how it is served, what must hold.

    ``serve`` builds the server command for a port; None means the project
    is a Lambda function, invoked through ``LAMBDA_HANDLER``. ``env`` is
    the server's environment (on top of ``clean_env()``; by default the
    deployment's DSN), ``seen`` what the init must find in ``os.environ``;
    ``route`` the ``http.route`` of the server span each request must
    produce (None: no tracing in this init); ``sentry_environment`` the
    environment Sentry's event must carry; ``gevent`` asks that gevent had
    patched the process before init; ``options`` are more of rewriter's
    options, given after ``--preset``.
    """

    name: str
    preset: str
    layers: tuple[Layer, ...]
    serve: Command | None
    base: str | None = None  # a generated base: "django" or "lambda_zip" (see Bases)
    path: str = "/hello"
    env: Mapping[str, str] = field(default_factory=lambda: DEPLOYED)
    seen: Mapping[str, str] = field(default_factory=lambda: DEPLOYED)
    route: str | None = "/hello"
    sentry_environment: str | None = None
    gevent: bool = False
    options: tuple[str, ...] = ()  # given to rewriter after the preset


def django_case(name: str, serve: Command, options: tuple[str, ...] = ()) -> Case:
    """The project ``django-admin startproject mysite`` makes, with the corpus's view and init,
    rewritten with ``--preset django`` and ``options``."""
    return Case(
        name,
        "django",
        (("apps/django", "."),),
        serve,
        base="django",
        path="/hello/",
        route="hello/",
        seen={**DEPLOYED, "DJANGO_SETTINGS_MODULE": "mysite.settings"},
        options=options,
    )


def lambda_case(name: str, base: str | None = "lambda_zip") -> Case:
    """The Lambda handler module ``lambda_function.py`` (it loads ``.env``, then imports
    ``lambda_handler`` from its app), invoked as the AWS runtime does. ``base`` is the
    task root it is laid over; None: an empty directory."""
    return Case(
        name,
        "lambda",
        (("dotenv", "."), ("entries/lambda_zip", ".")),
        None,
        base=base,
        route=None,
        env={},
        seen={"SENTRY_DSN": DOTENV_DSN},
    )


class Bases:
    """Generated bases, made once per test session (per xdist worker) on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @functools.cached_property
    def django(self) -> Path:
        """A project made by ``django-admin startproject mysite`` with the installed Django."""
        project = self.root / "django"
        project.mkdir()
        _run([sys.executable, "-m", "django", "startproject", "mysite", str(project)], self.root)
        return project

    @functools.cached_property
    def lambda_zip(self) -> Path:
        """A task root holding python-dotenv and sentry-sdk as ``pip install --target`` lays
        them out (packages and their ``*.dist-info`` beside each other), at the installed
        versions."""
        task_root = self.root / "lambda"
        wanted = [f"{name}=={metadata.version(name)}" for name in ("python-dotenv", "sentry-sdk")]
        options = ["--quiet", "--no-compile", "--disable-pip-version-check"]
        _run(
            [sys.executable, "-m", "pip", "install", *options, "--target", str(task_root), *wanted],
            self.root,
        )
        return task_root

    def get(self, name: str) -> Path:
        """The base called ``name`` (``django`` or ``lambda_zip``), made now on its first use."""
        if name not in ("django", "lambda_zip"):
            raise ValueError(f"no base called {name!r}")
        base: Path = getattr(self, name)
        return base


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stderr}"
    return result


def build(case: Case, project: Path, bases: Bases) -> None:
    """Assemble the case's project at ``project``: its base, then its layers in order."""
    if case.base is None:
        project.mkdir(parents=True)
    else:
        shutil.copytree(bases.get(case.base), project)
    for source, destination in case.layers:
        shutil.copytree(REAL / source, project / destination, dirs_exist_ok=True)
    # rewriter reads the nearest pyproject.toml upward: keep the run independent of the machine.
    (project.parent / "pyproject.toml").write_text("[tool.rewriter]\n", encoding="utf-8")


def run_rewriter(project: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """``python -m rewriter ARGUMENTS`` in ``project``, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "rewriter", *arguments],
        cwd=project,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@dataclass
class Verdict:
    """What a run of a case found wrong, and the server output that explains it."""

    case: Case
    problems: list[str] = field(default_factory=list)
    output: str = ""

    def report(self) -> str:
        output = self.output
        if len(output) > _OUTPUT_LIMIT:
            output = "[...]\n" + output[-_OUTPUT_LIMIT:]
        listed = "\n".join(f"- {problem}" for problem in self.problems)
        return f"{self.case.name}: {len(self.problems)} problem(s)\n{listed}\n{output}"


def run_case(case: Case, workdir: Path, bases: Bases) -> Verdict:
    """Build, rewrite, check, serve and judge ``case`` in ``workdir``; the problems found.

    A rewrite or check that exits non-zero is a problem, and the project is
    served all the same: what it then does at run time is part of the report.
    """
    project = workdir / "project"
    build(case, project, bases)
    verdict = Verdict(case)
    arguments = ("--preset", case.preset, *case.options, ".")
    for extra in ((), ("--check",)):
        run = run_rewriter(project, *arguments, *extra)
        if run.returncode != 0:
            command = " ".join(("rewriter", *arguments, *extra))
            verdict.problems.append(f"{command} exited {run.returncode}: {run.stderr.strip()}")

    serve_and_judge(case, project, workdir, verdict)
    return verdict


@dataclass(frozen=True)
class Served:
    """What serving a case left: the pids that answered 200, and what the inits recorded."""

    pids: frozenset[int]
    records: Records


def serve_and_judge(case: Case, project: Path, workdir: Path, verdict: Verdict) -> Served:
    """Serve (or invoke) the rewritten ``project`` as ``case`` says, and judge what it did.

    Adds the problems found to ``verdict``; records go to ``workdir/records.jsonl``
    and server logs under ``workdir/logs``. For a test that prepares the project
    its own way (the README's recipes) and judges it as the corpus does.
    """
    record = workdir / "records.jsonl"
    env = clean_env(**{RECORD_ENV: str(record)}, **case.env)

    def settled(pids: set[int]) -> Records:
        return wait_for_records(record, lambda found: _complete(case, found, pids))

    if case.serve is None:
        pids = _invoke(case, project, env, verdict)
    else:
        pids = _serve(case, case.serve, project, workdir, env, verdict, settled)
    records = settled(pids)
    _judge(case, pids, records, verdict)
    return Served(frozenset(pids), records)


def _serve(
    case: Case,
    command: Command,
    project: Path,
    workdir: Path,
    env: dict[str, str],
    verdict: Verdict,
    settled: Callable[[set[int]], Records],
) -> set[int]:
    port = free_port()
    logs = workdir / "logs"
    try:
        with serve(
            command(port), cwd=project, env={**env, "PORT": str(port)}, port=port, logs=logs
        ) as server:
            responses = [server.get(case.path) for _ in range(_REQUESTS)]
            pids = _serving_pids(responses, verdict)
            # A server span ends just after its response went out: stopping the
            # server at once could kill the process before the span is written.
            settled(pids)
    except ServerFailed as error:
        verdict.problems.append(error.reason)
        verdict.output = error.output
        return set()
    # Read after the stop: the output is complete then.
    verdict.output = server.output()
    return pids


def _serving_pids(responses: list[Response], verdict: Verdict) -> set[int]:
    """The pids the successful responses name; a problem for each kind of failed response."""
    failed: dict[tuple[int, str], int] = {}
    pids = set()
    for response in responses:
        if response.status == 200:
            pids.add(int(response.json()["pid"]))
        else:
            key = (response.status, response.body[:300])
            failed[key] = failed.get(key, 0) + 1
    for (status, body), count in failed.items():
        verdict.problems.append(f"{count} of {len(responses)} requests returned {status}: {body!r}")
    return pids


def _invoke(case: Case, project: Path, env: dict[str, str], verdict: Verdict) -> set[int]:
    run = invoke_lambda(project, LAMBDA_HANDLER, [{"n": n} for n in range(_REQUESTS)], env=env)
    verdict.output = f"--- invoker stderr ---\n{run.stderr}"
    failure = run.failure()
    if failure is not None:
        verdict.problems.append(failure)
        return set()
    responses = [Response(result["statusCode"], result["body"]) for result in run.results()]
    return _serving_pids(responses, verdict)


def _complete(case: Case, records: Records, pids: set[int]) -> bool:
    """Whether everything a served request leaves behind has been written."""
    return all(
        (case.route is None or _server_spans(records, pid, case.route))
        and _sentry_events(records, pid)
        for pid in pids
    )


def _server_spans(records: Records, pid: int, route: str) -> list[dict[str, Any]]:
    return [
        span
        for span in records.of("span", pid)
        if span["span_kind"] == "SERVER" and span["route"] == route
    ]


def _sentry_events(records: Records, pid: int) -> list[dict[str, Any]]:
    return [
        item
        for item in records.of("sentry", pid)
        if item["type"] == "event" and item["message"] == "hello"
    ]


def _judge(case: Case, pids: set[int], records: Records, verdict: Verdict) -> None:
    problems = verdict.problems
    # Every init, in whatever process it ran, must have seen the entry's setup.
    for init in records.of("init"):
        problems.extend(_judge_init(case, init))
    counts = records.inits_per_pid()
    for pid, count in sorted(counts.items()):
        if count != 1:
            problems.append(f"init ran {count} times in process {pid}")
    if not pids:
        problems.append("no request returned 200: the serving process cannot be checked")
    for pid in sorted(pids):
        if pid not in counts:
            problems.append(f"init never ran in the serving process {pid}")
        problems.extend(_judge_served(case, records, pid))
    if "MonkeyPatchWarning" in verdict.output:
        problems.append("gevent warned MonkeyPatchWarning")
    printed = [line for line in verdict.output.splitlines() if _REWRITER_OUTPUT.search(line)]
    if printed:
        problems.append(f"rewriter's code printed at run time: {printed}")


def _judge_init(case: Case, init: dict[str, Any]) -> list[str]:
    """What is wrong with the environment one init run saw."""
    where = f"init in process {init['pid']}"
    problems = [
        f"{where} saw {name}={init['env'].get(name)!r}, not {expected!r}"
        for name, expected in case.seen.items()
        if init["env"].get(name) != expected
    ]
    if case.gevent and init["gevent_patched"] is not True:
        problems.append(
            f"{where} ran before gevent patched socket and ssl "
            f"(gevent_patched={init['gevent_patched']!r})"
        )
    return problems


def _judge_served(case: Case, records: Records, pid: int) -> list[str]:
    """What is missing from what the process ``pid`` recorded while it served the requests."""
    problems = []
    if case.route is not None and not _server_spans(records, pid, case.route):
        spans = [(span["span_kind"], span["route"]) for span in records.of("span", pid)]
        problems.append(f"no SERVER span with route {case.route!r} recorded; spans: {spans}")
    events = _sentry_events(records, pid)
    if not events:
        items = [item["type"] for item in records.of("sentry", pid)]
        problems.append(f"no Sentry event recorded; envelope items: {items}")
    elif case.sentry_environment is not None:
        environments = sorted({str(event["environment"]) for event in events})
        if environments != [case.sentry_environment]:
            problems.append(
                f"Sentry events carry environment {environments}, not {case.sentry_environment!r}"
            )
    return problems


def assert_case_holds(case: Case, workdir: Path, bases: Bases) -> None:
    """Run ``case`` and fail the test with the whole report when anything is wrong."""
    verdict = run_case(case, workdir, bases)
    if verdict.problems:
        pytest.fail(verdict.report(), pytrace=False)
