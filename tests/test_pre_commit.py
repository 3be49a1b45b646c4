"""The pre-commit hooks (``.pre-commit-hooks.yaml``), run by the real pre-commit.

pre-commit installs a hook repository into a virtual environment of its own
(``pip install`` of this project), which takes seconds. ``pre-commit run``
keeps that environment in ``PRE_COMMIT_HOME``, so the tests share one home
(and one snapshot of this project to install from) across the session, and
across xdist workers. ``pre-commit try-repo`` always installs into a fresh
temporary home, whatever ``PRE_COMMIT_HOME`` says, so only one test uses it.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pre_commit.clientlib import load_manifest

from rewriter.presets import BUILTIN

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / ".pre-commit-hooks.yaml"
HOOKS = ("rewriter-check", "rewriter")
TIMEOUT = 600  # seconds; the first hook install builds a virtual environment

pytestmark = pytest.mark.slow

PYPROJECT = """\
[tool.rewriter]
preset = "django"
init = "mysite.instrument:init"
"""
WSGI = '''\
"""WSGI config for mysite."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

application = get_wsgi_application()
'''
LAMBDA = '''\
"""An AWS Lambda function."""
from .handlers import lambda_handler
'''
PROJECT = {
    "pyproject.toml": PYPROJECT,
    "mysite/__init__.py": "",
    "mysite/instrument.py": "def init():\n    pass\n",
    "mysite/wsgi.py": WSGI,
    # Not an entry: the hooks must leave it alone although it imports first-party code.
    "mysite/views.py": "from .instrument import init\n",
    "fn/__init__.py": "",
    "fn/handlers.py": "def lambda_handler(event, context):\n    return event\n",
    "fn/lambda_function.py": LAMBDA,
    # Installed code committed with the project: never an entry.
    ".venv/lib/python3.11/site-packages/pkg/wsgi.py": WSGI,
}


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", "-c", "user.name=rewriter tests", "-c", "user.email=tests@rewriter.invalid",
         "-c", "commit.gpgsign=false", *args],
        cwd=cwd, check=True, capture_output=True, timeout=60,
    )


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory that every xdist worker of this session shares."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    directory = base / "pre-commit-shared"
    directory.mkdir(exist_ok=True)
    return directory


@pytest.fixture(scope="session")
def hook_repo(shared_dir: Path) -> Path:
    """A git repository holding this project as it is on disk, committed.

    pre-commit installs a repository at a commit; the working tree may hold
    changes that are not committed yet, and they are what is under test. The
    first worker to get here makes it; the others wait for it and reuse it.
    """
    repo = shared_dir / "hook-repo"
    with open(shared_dir / "hook-repo.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not repo.is_dir():
            staging = shared_dir / f"hook-repo.{os.getpid()}"
            _snapshot(ROOT, staging)
            staging.rename(repo)
    return repo


def _snapshot(source: Path, repo: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=source, check=True, capture_output=True, timeout=60,
    ).stdout.decode()
    for relpath in filter(None, listed.split("\0")):
        if (source / relpath).is_file():  # not deleted in the working tree
            (repo / relpath).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / relpath, repo / relpath)
    _git("init", "-q", cwd=repo)
    _git("add", "-A", cwd=repo)
    _git("commit", "-q", "-m", "snapshot", cwd=repo)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A Django project with a Lambda function, in a git repository, all staged."""
    for relpath, text in PROJECT.items():
        (tmp_path / relpath).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relpath).write_text(text)
    _git("init", "-q", cwd=tmp_path)
    _git("add", "-f", ".", cwd=tmp_path)
    return tmp_path


def _pre_commit(
    project: Path, shared_dir: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("REWRITER_", "PRE_COMMIT")) and key != "PYTHONPATH"
    }
    env["PRE_COMMIT_HOME"] = str(shared_dir / "pre-commit-home")
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args, "--color", "never"],
        cwd=project, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )


def _run_hook(
    project: Path, shared_dir: Path, hook_repo: Path, hook: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """``pre-commit run HOOK ARGS`` with a config that uses this project's hooks."""
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=hook_repo, check=True, capture_output=True,
        text=True, timeout=60,
    ).stdout.strip()
    config = project / ".pre-commit-config.yaml"
    config.write_text(
        f"repos:\n-   repo: {hook_repo}\n    rev: {head}\n    hooks:\n"
        + "".join(f"    -   id: {name}\n" for name in HOOKS)
    )
    _git("add", config.name, cwd=project)
    return _pre_commit(project, shared_dir, "run", hook, *args)


def _rewrite(path: Path) -> None:
    """Rewrite ``path`` with the rewriter under test, as a user would before committing."""
    result = subprocess.run(
        [sys.executable, "-m", "rewriter", str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr


def _would_rewrite(output: str) -> set[str]:
    return set(re.findall(r"^would rewrite (\S+)$", output, flags=re.MULTILINE))


def test_manifest_is_valid_for_pre_commit() -> None:
    hooks = load_manifest(str(MANIFEST))
    assert [hook["id"] for hook in hooks] == list(HOOKS)
    by_id = {hook["id"]: hook for hook in hooks}
    assert by_id["rewriter-check"]["entry"] == "rewriter --check"
    assert by_id["rewriter"]["entry"] == "rewriter"
    for hook in hooks:
        assert hook["language"] == "python"
        assert hook["pass_filenames"] is True
        assert hook["require_serial"] is True
    # Both hooks look at the same files.
    assert len({(hook["files"], hook["exclude"]) for hook in hooks}) == 1


@pytest.mark.parametrize(
    ("path", "matched"),
    (
        pytest.param("wsgi.py", True, id="wsgi at the root"),
        pytest.param("mysite/wsgi.py", True, id="django wsgi"),
        pytest.param("mysite/asgi.py", True, id="django asgi"),
        pytest.param("lambda_function.py", True, id="lambda at the root"),
        pytest.param("functions/orders/lambda_function.py", True, id="lambda in a folder"),
        pytest.param("server/index.py", True, id="server index"),
        pytest.param(".output/server/index.py", True, id="nitro output"),
        pytest.param("index.py", False, id="a bare index.py"),
        pytest.param("mysite/views.py", False, id="app module"),
        pytest.param("mysite/settings.py", False, id="settings"),
        pytest.param("my_wsgi.py", False, id="name ending in wsgi"),
        pytest.param("wsgi.pyi", False, id="stub"),
        pytest.param("webserver/index.py", False, id="folder ending in server"),
        pytest.param("venv/lib/python3.11/site-packages/x/wsgi.py", False, id="venv"),
        pytest.param(".venv/lib/python3.11/site-packages/x/asgi.py", False, id="dot venv"),
        pytest.param("vendor/site-packages/x/lambda_function.py", False, id="site-packages"),
        pytest.param("node_modules/x/server/index.py", False, id="node_modules"),
    ),
)
def test_hook_files_pattern(path: str, matched: bool) -> None:
    # pre-commit selects a file when re.search finds `files` and not `exclude`.
    hook = load_manifest(str(MANIFEST))[0]
    selected = bool(re.search(hook["files"], path)) and not re.search(hook["exclude"], path)
    assert selected is matched


def test_hooks_skip_what_the_app_presets_skip() -> None:
    hook = load_manifest(str(MANIFEST))[0]
    skipped = [
        directory
        for directory in tuple(BUILTIN["django"].settings["exclude"])
        if directory != "__pycache__/"  # holds no .py files
    ]
    assert skipped
    for directory in skipped:
        assert re.search(hook["exclude"], f"{directory}mysite/wsgi.py"), directory
        assert re.search(hook["exclude"], f"project/{directory}mysite/wsgi.py"), directory


def test_check_hook_passes_on_a_rewritten_entry(
    project: Path, shared_dir: Path, hook_repo: Path
) -> None:
    _rewrite(project / "mysite" / "wsgi.py")
    result = _run_hook(
        project, shared_dir, hook_repo, "rewriter-check", "--files", "mysite/wsgi.py"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^rewriter --check\.+Passed$", result.stdout, flags=re.MULTILINE)


def test_check_hook_fails_on_an_entry_that_is_not_rewritten(
    project: Path, shared_dir: Path, hook_repo: Path
) -> None:
    entry = project / "mysite" / "wsgi.py"
    result = _run_hook(
        project, shared_dir, hook_repo, "rewriter-check", "--files", "mysite/wsgi.py"
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(r"^rewriter --check\.+Failed$", result.stdout, flags=re.MULTILINE)
    assert "error: mysite/wsgi.py:1:1: not rewritten" in result.stdout
    assert _would_rewrite(result.stdout) == {"mysite/wsgi.py"}
    assert entry.read_text() == WSGI


def test_rewrite_hook_fixes_the_entry_with_the_projects_settings(
    project: Path, shared_dir: Path, hook_repo: Path
) -> None:
    entry = project / "mysite" / "wsgi.py"
    result = _run_hook(project, shared_dir, hook_repo, "rewriter", "--files", "mysite/wsgi.py")
    # pre-commit fails a hook that changed files, so that they are reviewed and staged.
    assert result.returncode == 1, result.stdout + result.stderr
    assert "files were modified by this hook" in result.stdout
    rewritten = entry.read_text()
    assert "# rewriter:init" in rewritten
    # The init spec comes from [tool.rewriter]; preset = "django" names `application`,
    # so the default handler names do not warn.
    assert "mysite.instrument:init" in rewritten
    assert "warning:" not in result.stdout

    _git("add", "mysite/wsgi.py", cwd=project)
    again = _run_hook(project, shared_dir, hook_repo, "rewriter", "--files", "mysite/wsgi.py")
    assert again.returncode == 0, again.stdout + again.stderr
    check = _run_hook(project, shared_dir, hook_repo, "rewriter-check", "--files", "mysite/wsgi.py")
    assert check.returncode == 0, check.stdout + check.stderr
    assert entry.read_text() == rewritten


def test_hooks_select_the_entries_of_a_repository(
    project: Path, shared_dir: Path, hook_repo: Path
) -> None:
    result = _run_hook(project, shared_dir, hook_repo, "rewriter-check", "--all-files")
    assert result.returncode == 1, result.stdout + result.stderr
    # views.py and the copy under .venv/ are not entries, so they are never passed.
    assert _would_rewrite(result.stdout) == {"fn/lambda_function.py", "mysite/wsgi.py"}
    assert "2 files would be rewritten." in result.stdout


def test_try_repo_runs_the_check_hook(project: Path, shared_dir: Path, hook_repo: Path) -> None:
    _rewrite(project / "mysite" / "wsgi.py")
    result = _pre_commit(
        project, shared_dir, "try-repo", str(hook_repo), "rewriter-check",
        "--files", "mysite/wsgi.py", "fn/lambda_function.py",
    )
    assert result.returncode == 1, result.stdout + result.stderr
    # The rewritten entry passes, the other one fails.
    assert _would_rewrite(result.stdout) == {"fn/lambda_function.py"}
    assert "1 file would be rewritten, 1 file would be left unchanged." in result.stdout
