"""The README's recipes, run exactly as written (issue 17, item 6).

The README is the single source: each recipe's commands are the fenced
blocks that follow a ``<!-- recipe: NAME/PART -->`` comment in README.md.
A ``sh`` block is commands, one per line, each run with ``sh -c`` in the
project (``$PORT`` comes from the environment); a block in another language
is the project file PART (``gevent/wsgi.py``, ``docker/Dockerfile``).

The projects are those of the real-entry corpus (``tests/_corpus.py``,
``fixtures/real/``), with the inits that record what they do, and they are
served and judged by the corpus's machinery (``serve_and_judge``): every
request answers 200; init ran once in each process, saw the environment the
entry sets up, and was in place before the app was imported (a server span
for the route and a Sentry event in the serving process); gevent had
patched before init and never warned; rewriter's generated code printed
nothing. On top of that, each test asserts what its recipe says about where
init runs (only in the serving process; in the master of ``fastapi run
--workers`` and not in uvicorn's), and that the rewrite changed only the
entries.

What the test environment adds, and why: this interpreter's scripts first
on ``PATH`` (the README's ``rewriter``, ``gunicorn``, ``django-admin``...
are the test extra's); gunicorn's control socket in a directory of the test
(``XDG_RUNTIME_DIR``), so that parallel servers do not share one under the
home directory; and for the Docker build, ``PIP_NO_INDEX=1``, so that its
``pip install`` can only confirm what is installed, never download or change
the test's environment.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path

import pytest
from _corpus import (
    FASTAPI_APP,
    FLASK_APP,
    RECORD_ENV,
    Bases,
    Case,
    Served,
    Verdict,
    build,
    django_case,
    lambda_case,
    serve_and_judge,
)
from _servers import Records, clean_env

README = Path(__file__).resolve().parent.parent / "README.md"
_MARKER = re.compile(r"^<!-- recipe:", re.MULTILINE)  # a marker starts its line
_BLOCK = re.compile(
    r"^<!-- recipe: (?P<name>[\w.-]+/[\w.-]+) -->\n+```(?P<language>\w*)\n(?P<body>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)
_BUILD_RECORDS = "build-records.jsonl"  # what an init run by a build step (--trace) records


@dataclass(frozen=True)
class Block:
    """A fenced block of the README that a recipe marker names."""

    language: str
    body: str

    def commands(self) -> list[str]:
        """Its commands: the lines, continuations joined, blank and comment lines left out."""
        lines = self.body.replace("\\\n", " ").splitlines()
        return [
            line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")
        ]


def recipe_blocks(text: str) -> dict[str, Block]:
    """Every block of ``text`` marked ``<!-- recipe: NAME/PART -->``, by ``NAME/PART``.

    Raises ValueError for a marker that is not right before a fenced block,
    and for a name marked twice.
    """
    blocks: dict[str, Block] = {}
    for match in _BLOCK.finditer(text):
        if match["name"] in blocks:
            raise ValueError(f"README.md marks two blocks recipe: {match['name']}")
        blocks[match["name"]] = Block(match["language"], match["body"])
    markers = len(_MARKER.findall(text))
    if markers != len(blocks):
        raise ValueError(f"README.md has {markers} recipe markers but {len(blocks)} marked blocks")
    return blocks


BLOCKS = recipe_blocks(README.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Recipe:
    """A README recipe and the corpus project it runs on.

    ``case`` is the corpus case (layers, what the init must see); its
    ``serve`` is filled in from the README for each command. ``entries``
    are the files the rewrite may change.
    """

    name: str
    case: Case
    entries: tuple[str, ...]

    def files(self) -> Iterator[tuple[str, str]]:
        """The project files the README gives, as (path, text)."""
        for name, block in BLOCKS.items():
            recipe, _, part = name.partition("/")
            if recipe == self.name and block.language != "sh":
                yield part, block.body


RECIPES = {
    recipe.name: recipe
    for recipe in (
        Recipe("django", django_case("django", None), ("mysite/asgi.py", "mysite/wsgi.py")),
        Recipe("flask", Case("flask", "wsgi", FLASK_APP, None), ("wsgi.py",)),
        Recipe("fastapi", Case("fastapi", "asgi", FASTAPI_APP, None), ("main.py",)),
        Recipe(
            "gevent",
            Case("gevent", "wsgi", (("apps/flask", "."),), None, gevent=True),
            ("wsgi.py",),
        ),
        Recipe("lambda", lambda_case("lambda", base=None), ("package/lambda_function.py",)),
    )
}


def tool_env(workdir: Path) -> dict[str, str]:
    """What the README's commands need besides the corpus's environment (see the module doc)."""
    scripts = Path(sys.executable).parent
    return {"PATH": f"{scripts}{os.pathsep}{os.environ['PATH']}", "XDG_RUNTIME_DIR": str(workdir)}


def build_env(workdir: Path, **extra: str) -> dict[str, str]:
    """The environment of a build step: an init that a step runs records beside the project."""
    return clean_env(**tool_env(workdir), **{RECORD_ENV: str(workdir / _BUILD_RECORDS)}, **extra)


def run_step(command: str, cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """One README command, with ``sh -c`` in ``cwd``."""
    return subprocess.run(
        ["sh", "-c", command],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def run_steps(block: str, cwd: Path, env: Mapping[str, str]) -> None:
    """Run the commands of the README block ``block`` in order; each must exit 0."""
    for command in BLOCKS[block].commands():
        step = run_step(command, cwd, env)
        assert step.returncode == 0, (
            f"{block}: `{command}` exited {step.returncode}\n{step.stdout}{step.stderr}"
        )


class RecipeBases(Bases):
    """The corpus's bases, with the Django project made by the README's ``django/new``."""

    @functools.cached_property
    def django(self) -> Path:
        project = self.root / "django"
        project.mkdir()
        run_steps("django/new", project, build_env(self.root))
        return project


@pytest.fixture(scope="session")
def recipe_bases(tmp_path_factory: pytest.TempPathFactory) -> RecipeBases:
    """Made once per session (per xdist worker): the README's Django project."""
    return RecipeBases(tmp_path_factory.mktemp("recipe-bases"))


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    """A short directory for the project, its records and logs.

    Short, because gunicorn binds its control socket in it, and a socket's
    path must fit in 108 bytes.
    """
    directory = Path(tempfile.mkdtemp(prefix="recipe-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def assemble(recipe: Recipe, workdir: Path, bases: Bases) -> Path:
    """The recipe's project: the corpus base and layers, then the files the README gives."""
    project = workdir / "project"
    build(recipe.case, project, bases)
    for path, text in recipe.files():
        (project / path).write_text(text, encoding="utf-8")
    return project


def _contents(project: Path) -> dict[str, bytes]:
    return {
        path.relative_to(project).as_posix(): path.read_bytes()
        for path in project.rglob("*")
        if path.is_file()
    }


def rewrite(recipe: Recipe, workdir: Path, bases: Bases) -> Path:
    """Assemble the project and run the README's build commands; only the entries may change."""
    project = assemble(recipe, workdir, bases)
    before = _contents(project)
    run_steps(f"{recipe.name}/build", project, build_env(workdir))
    after = _contents(project)
    changed = sorted(
        path for path in before.keys() | after.keys() if before.get(path) != after.get(path)
    )
    assert changed == sorted(recipe.entries)
    return project


def shell(command: str) -> list[str]:
    return ["sh", "-c", command]


def serve_recipe(recipe: Recipe, command: str, project: Path, workdir: Path) -> Served:
    """Serve ``project`` with the README's ``command`` and judge it as the corpus does."""
    case = replace(
        recipe.case,
        name=f"{recipe.name}: {command}",
        serve=lambda port: shell(command),
        env={**recipe.case.env, **tool_env(workdir)},
    )
    verdict = Verdict(case)
    served = serve_and_judge(case, project, workdir, verdict)
    if verdict.problems:
        pytest.fail(verdict.report(), pytrace=False)
    return served


def _served_commands(*names: str) -> list[tuple[str, str]]:
    return [(name, command) for name in names for command in BLOCKS[f"{name}/serve"].commands()]


@pytest.mark.parametrize(
    ("name", "command"),
    _served_commands("django", "flask", "fastapi", "gevent"),
    ids=lambda value: value.split()[0],
)
def test_recipe_serves_with_init_first(
    name: str, command: str, recipe_bases: RecipeBases, workdir: Path
) -> None:
    recipe = RECIPES[name]
    project = rewrite(recipe, workdir, recipe_bases)

    served = serve_recipe(recipe, command, project, workdir)

    # Init ran in the process that served and nowhere else: not in gunicorn's master.
    assert sorted(served.records.inits_per_pid()) == sorted(served.pids)


# Whether the master process runs init under each command of fastapi/workers.
MASTER_RUNS_INIT = {"fastapi": True, "uvicorn": False}


@pytest.mark.parametrize(
    "command", BLOCKS["fastapi/workers"].commands(), ids=lambda command: command.split()[0]
)
def test_fastapi_workers_recipe(command: str, recipe_bases: RecipeBases, workdir: Path) -> None:
    recipe = RECIPES["fastapi"]
    project = rewrite(recipe, workdir, recipe_bases)

    served = serve_recipe(recipe, command, project, workdir)

    parents = {init["pid"]: init["ppid"] for init in served.records.of("init")}
    workers = {pid for pid in parents if pid not in parents.values()}
    assert len(workers) == 2, parents
    [master] = {parents[pid] for pid in workers}
    assert served.pids <= workers
    master_runs_init = MASTER_RUNS_INIT[command.split()[0]]
    assert (master in parents) is master_runs_init, parents
    assert len(parents) == 2 + master_runs_init


def test_lambda_recipe(recipe_bases: RecipeBases, workdir: Path) -> None:
    recipe = RECIPES["lambda"]
    project = assemble(recipe, workdir, recipe_bases)
    # The reader's requirements: what the handler and the init import, at the tested versions.
    pinned = [f"{name}=={metadata.version(name)}" for name in ("python-dotenv", "sentry-sdk")]
    (project / "requirements.txt").write_text("\n".join(pinned) + "\n", encoding="utf-8")
    assert shutil.which("zip"), "the Lambda recipe needs the zip command"

    run_steps("lambda/build", project, build_env(workdir))
    # The AWS service unzips the package into the function's task root.
    task_root = workdir / "task"
    with zipfile.ZipFile(project / "function.zip") as archive:
        archive.extractall(task_root)
    verdict = Verdict(recipe.case)
    served = serve_and_judge(recipe.case, task_root, workdir, verdict)

    if verdict.problems:
        pytest.fail(verdict.report(), pytrace=False)
    assert "# rewriter:init" in (task_root / "lambda_function.py").read_text(encoding="utf-8")
    # Two invocations, one cold start: init ran once, in the invoking process.
    assert served.records.inits_per_pid() == {pid: 1 for pid in served.pids}


def dockerfile(block: Block) -> list[tuple[str, str]]:
    """The instructions of a Dockerfile, as (KEYWORD, arguments)."""
    instructions = []
    for line in block.commands():
        keyword, _, arguments = line.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def docker_copy(arguments: str, context: Path, workdir: Path) -> None:
    """``COPY SOURCE DEST`` from the build context into the WORKDIR, for one source."""
    source, destination = arguments.split()
    origin, target = context / source, workdir / destination
    if origin.is_dir():
        shutil.copytree(origin, target, dirs_exist_ok=True)
    else:
        shutil.copy2(origin, target / origin.name if destination.endswith(("/", ".")) else target)


def docker_build(block: Block, context: Path, image: Path, env: Mapping[str, str]) -> None:
    """Do what ``docker build`` does with the instructions of ``block``, in ``image``.

    FROM (the base image: this interpreter stands for it) and CMD (not a build
    step) are not run; any other instruction the test cannot do fails it.
    """
    for keyword, arguments in dockerfile(block):
        if keyword in ("FROM", "CMD"):
            continue
        if keyword == "WORKDIR":
            image.mkdir()
        elif keyword == "COPY":
            docker_copy(arguments, context, image)
        elif keyword == "RUN":
            step = run_step(arguments, image, env)
            assert step.returncode == 0, f"RUN {arguments} exited {step.returncode}\n{step.stderr}"
        else:
            pytest.fail(f"the Docker recipe test cannot do {keyword} {arguments}")


def test_docker_recipe(recipe_bases: RecipeBases, workdir: Path) -> None:
    recipe = RECIPES["django"]
    context = assemble(recipe, workdir, recipe_bases)
    (context / "Dockerfile").write_text(BLOCKS["docker/Dockerfile"].body, encoding="utf-8")
    requirements = ["django", "gunicorn", "opentelemetry-instrumentation-django", "sentry-sdk"]
    (context / "requirements.txt").write_text("\n".join([*requirements, "rewriter"]) + "\n")
    image = workdir / "image"

    docker_build(BLOCKS["docker/Dockerfile"], context, image, build_env(workdir, PIP_NO_INDEX="1"))

    # The --trace step imported wsgi.py and asgi.py, each in an interpreter of its own,
    # and each ran the init once.
    assert list(Records.read(workdir / _BUILD_RECORDS).inits_per_pid().values()) == [1, 1]
    [gunicorn] = [line for line in BLOCKS["django/serve"].commands() if line.startswith("gunicorn")]
    served = serve_recipe(recipe, gunicorn, image, workdir)
    assert sorted(served.records.inits_per_pid()) == sorted(served.pids)


# An init that imports the app before it instruments, and one that imports
# a package the build did not install.
IMPORTS_THE_APP = "from service import app\n"
MISSING_PACKAGE = "import opentelemetry.instrumentation.not_installed\n"


@pytest.mark.parametrize(
    ("prepended", "exits", "expected"),
    [
        pytest.param("", [0, 0, 0], r"\n1 entry traced: 1 ok\.\n", id="correct"),
        pytest.param(
            IMPORTS_THE_APP,
            [1],
            r"error: instrument\.py:1:1: imports service before init "
            r"\(wsgi\.py:\d+ -> instrument\.py:1 -> service/__init__\.py\)",
            id="init-imports-the-app",
        ),
        pytest.param(
            MISSING_PACKAGE,
            [0, 0, 1],
            r"error: instrument\.py:1:1: init raised ModuleNotFoundError: "
            r"No module named 'opentelemetry\.instrumentation\.not_installed'",
            id="init-imports-a-missing-package",
        ),
    ],
)
def test_ci_recipe(
    prepended: str, exits: list[int], expected: str, recipe_bases: RecipeBases, workdir: Path
) -> None:
    project = assemble(RECIPES["flask"], workdir, recipe_bases)
    init = project / "instrument.py"
    init.write_text(prepended + init.read_text(encoding="utf-8"), encoding="utf-8")

    # As a CI job runs them: in order, until one fails.
    steps = []
    for command in BLOCKS["ci/steps"].commands():
        steps.append(run_step(command, project, build_env(workdir)))
        if steps[-1].returncode != 0:
            break

    output = "".join(step.stdout + step.stderr for step in steps)
    assert [step.returncode for step in steps] == exits, output
    assert re.search(expected, output), output


# The README blocks that the tests above run.
RUN_BY_TESTS = {
    *("django/new", "django/build", "django/serve"),
    *("flask/build", "flask/serve"),
    *("fastapi/build", "fastapi/serve", "fastapi/workers"),
    *("gevent/wsgi.py", "gevent/build", "gevent/serve"),
    "lambda/build",
    "docker/Dockerfile",
    "ci/steps",
}


def test_every_recipe_block_is_run_by_a_test() -> None:
    assert sorted(BLOCKS) == sorted(RUN_BY_TESTS)
