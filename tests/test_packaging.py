"""The built wheel works on its own: installed in a fresh venv, it rewrites an entry.

The wheel is built from a copy of the checkout (a build writes ``build/``
and ``*.egg-info`` next to the sources), installed with its dependencies in
a new venv, and run from a directory outside the checkout, so nothing is
imported from the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import rewriter
from rewriter.config import Settings
from rewriter.runner import rewrite_file

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "e2e" / "script"
ENTRY = "build/server/index.py"
# Top-level entries of the checkout that are not part of the package sources.
NOT_SOURCES = {".git", "build", "dist", "tests", "fixtures", "bench", ".venv", ".ci"}
HIDDEN_FROM_SUBPROCESSES = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}


def _env() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in HIDDEN_FROM_SUBPROCESSES and not key.startswith("REWRITER_")
    }
    env["PYTHONNOUSERSITE"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _check(*command: str | Path, cwd: Path, timeout: float = 300) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _copy_sources(destination: Path) -> Path:
    destination.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".*_cache")
    for item in ROOT.iterdir():
        if item.name in NOT_SOURCES or item.name.endswith((".egg-info", "_cache")):
            continue
        if item.is_dir():
            shutil.copytree(item, destination / item.name, ignore=ignore)
        else:
            shutil.copy2(item, destination / item.name)
    return destination


def _build_project(directory: Path) -> Path:
    shutil.copytree(FIXTURE, directory)
    # The nearest pyproject.toml is the config: keep the run independent of the machine.
    (directory / "pyproject.toml").write_text("[tool.rewriter]\n", encoding="utf-8")
    return directory


@pytest.mark.slow
def test_installed_wheel_rewrites_an_entry(tmp_path: Path) -> None:
    version = rewriter.__version__
    sources = _copy_sources(tmp_path / "sources")
    dist = tmp_path / "dist"
    _check(sys.executable, "-m", "build", "--wheel", "--outdir", dist, sources, cwd=tmp_path)
    (wheel,) = dist.glob(f"rewriter-{version}-*.whl")  # the version pyproject.toml reads
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert {
        "rewriter/__main__.py",
        "rewriter/py.typed",
        "rewriter/_trace_child.py",  # --trace runs it by path
        "rewriter/_templates/block.py.j2",
        "rewriter/_templates/pin.py.j2",
        "rewriter/_templates/lazy.py.j2",
    } <= names

    venv = tmp_path / "venv"
    _check(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    _check(python, "-m", "pip", "install", "--quiet", wheel, cwd=tmp_path)

    work = _build_project(tmp_path / "work")
    assert _check(venv / "bin" / "rewriter", "--version", cwd=work) == f"rewriter {version}\n"

    located = _check(
        python,
        "-c",
        "import json, importlib.resources as r, rewriter, rewriter.templates; "
        "print(json.dumps([str(r.files('rewriter._templates')), rewriter.__file__]))",
        cwd=work,
    )
    templates, package = (Path(path).resolve() for path in json.loads(located))
    assert templates.is_relative_to(venv.resolve()), templates
    assert package.is_relative_to(venv.resolve()), package
    assert (templates / "block.py.j2").is_file()

    _check(python, "-m", "rewriter", ENTRY, cwd=work)
    rewritten = (work / ENTRY).read_text(encoding="utf-8")
    assert "# rewriter:init" in rewritten
    assert "try:\n    from chunks.nitro import handler\nexcept Exception as" in rewritten
    # The installed templates render exactly what the checkout's templates render.
    reference = _build_project(tmp_path / "reference")
    assert rewrite_file(reference / ENTRY, Settings()).error is None
    assert rewritten == (reference / ENTRY).read_text(encoding="utf-8")

    # The rewritten entry runs under the venv's interpreter, init first.
    report = json.loads(_check(python, ENTRY, cwd=work))
    assert report == {"handler": "nitro", "init_runs_at_import": 1, "init_runs": 1}
