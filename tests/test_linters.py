"""The linters people run find nothing new in a rewritten entry.

Each clean entry (``fixtures/linters``, and a project that ``django-admin
startproject`` makes) is rewritten in every mode and combination of guard,
prelude and failure policy. The real ruff (its default rules), flake8 (its
default plugins; line length aside: the generated code is laid out as black
lays it out, to 88 columns), pyflakes, ``pylint --errors-only`` and mypy (its
default options) then run
on the original entry and on every rewritten copy, side by side in the same
directory so that imports resolve the same way. A finding counts by tool,
code and the text of the line it is on; each rewritten copy may have only
the findings the original has.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rewriter.config import Settings
from rewriter.runner import rewrite_file

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "linters"


@dataclass(frozen=True)
class Variant:
    """One way to rewrite the entries: a name and its settings (``init`` per entry)."""

    name: str
    options: dict[str, object]


VARIANTS = [
    Variant("default", {}),
    Variant("guard_off", {"guard": False}),
    Variant("guard_strict", {"guard": "strict"}),
    Variant("raise", {"on_init_error": "raise"}),
    Variant("top_level_import", {"mode": "top-level-import"}),
    Variant("preload", {"mode": "preload", "preload": ("flask",)}),
    Variant("preload_init", {"mode": "preload", "preload": ("flask",), "with_init": True}),
    Variant("lazy", {"lazy": True}),
    Variant("lazy_strict", {"lazy": True, "guard": "strict"}),
    Variant("prelude", {"prelude": ("early",)}),
]


@dataclass(frozen=True)
class Entry:
    """An entry of the matrix: its tree, its path in it, and its init spec."""

    name: str
    tree: Path
    path: str
    init: str
    prelude: bool = False


@pytest.fixture(scope="module")
def entries(tmp_path_factory: pytest.TempPathFactory) -> list[Entry]:
    base = tmp_path_factory.mktemp("linters")
    shutil.copytree(FIXTURES / "nitro", base / "nitro")
    shutil.copytree(FIXTURES / "service", base / "service")
    django = base / "django"
    django.mkdir()
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "mysite"],
        cwd=django,
        check=True,
        capture_output=True,
    )
    (django / "mysite" / "mysite" / "instrument.py").write_text(
        '"""The instrumentation init."""\n\n\ndef init() -> None:\n    return None\n'
    )
    return [
        Entry("nitro", base / "nitro", "app/server/index.py", "./instrument.server.py"),
        Entry("service", base / "service", "wsgi.py", "instrument:init", prelude=True),
        Entry("django", django / "mysite", "mysite/wsgi.py", "mysite.instrument:init"),
    ]


def _settings(entry: Entry, variant: Variant) -> Settings | None:
    options = dict(variant.options)
    with_init = options.pop("with_init", False)
    if "prelude" in options and not entry.prelude:
        return None
    if options.get("mode") != "preload" or with_init:
        options["init"] = entry.init
    return Settings.from_mapping(options)


@pytest.fixture(scope="module")
def rewritten(entries: list[Entry]) -> dict[str, list[tuple[str, Path]]]:
    """Every variant of every entry, as a copy beside the original entry."""
    copies: dict[str, list[tuple[str, Path]]] = {}
    for entry in entries:
        original = entry.tree / entry.path
        for variant in VARIANTS:
            settings = _settings(entry, variant)
            if settings is None:
                continue
            copy = original.with_name(f"{original.stem}_{variant.name}.py")
            shutil.copyfile(original, copy)
            report = rewrite_file(copy, settings)
            assert report.status == "changed", (entry.name, variant.name, report.error)
            copies.setdefault(entry.name, []).append((variant.name, copy))
    return copies


def _run(command: list[str], cwd: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", *command], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert result.returncode in (0, 1, 2, 4, 8, 16, 32), result.stderr
    return result.stdout


def _findings(tool: str, files: list[Path], cwd: Path) -> Iterator[tuple[Path, str, int]]:
    """``(file, code, line)`` for every finding of ``tool`` on ``files``."""
    names = [str(path.relative_to(cwd)) for path in files]
    if tool == "ruff":
        output = _run(["ruff", "check", "--isolated", "--output-format", "json", *names], cwd)
        for item in json.loads(output or "[]"):
            yield cwd / item["filename"], item["code"] or "syntax", item["location"]["row"]
    elif tool == "flake8":
        output = _run(
            ["flake8", "--extend-ignore=E501", "--format=%(path)s|%(row)d|%(code)s", *names], cwd
        )
        for line in output.splitlines():
            path, row, code = line.split("|")
            yield cwd / path, code, int(row)
    elif tool == "pyflakes":
        for line in _run(["pyflakes", *names], cwd).splitlines():
            found = re.match(r"(.+?):(\d+):(?:\d+:)? (.*)", line)
            assert found, line
            # The message names things ('os' imported but unused): keep it whole.
            yield cwd / found[1], found[3], int(found[2])
    elif tool == "mypy":
        command = ["mypy", "--cache-dir=/dev/null", "--no-error-summary", "--show-error-codes"]
        for line in _run([*command, *names], cwd).splitlines():
            found = re.match(r"(.+?):(\d+): error: .*\[([\w-]+)\]$", line)
            if found:
                yield cwd / found[1], found[3], int(found[2])
    else:
        output = _run(["pylint", "--errors-only", "--output-format=json", *names], cwd)
        for item in json.loads(output or "[]"):
            yield cwd / item["path"], item["message-id"], item["line"]


TOOLS = ["ruff", "flake8", "pyflakes", "pylint", "mypy"]


@pytest.mark.slow
@pytest.mark.parametrize("tool", TOOLS)
def test_rewritten_entries_add_no_finding(
    tool: str, entries: list[Entry], rewritten: dict[str, list[tuple[str, Path]]]
) -> None:
    problems = []
    for entry in entries:
        original = entry.tree / entry.path
        copies = dict(rewritten[entry.name])
        found: dict[Path, Counter[tuple[str, str]]] = {}
        for path, code, line in _findings(tool, [original, *copies.values()], entry.tree):
            text = path.read_text(encoding="utf-8").splitlines()[line - 1].strip()
            found.setdefault(path, Counter())[(code, text)] += 1
        baseline = found.get(original, Counter())
        for variant, copy in copies.items():
            added = found.get(copy, Counter()) - baseline
            if added:
                problems.append(f"{entry.name}/{variant}: {dict(added)}")
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_the_matrix_covers_every_mode(rewritten: dict[str, list[tuple[str, Path]]]) -> None:
    # The control: each mode really is in the matrix, with its own code.
    texts = {
        (entry, name): copy.read_text()
        for entry, copies in rewritten.items()
        for name, copy in copies
    }
    assert "def _rewriter_preload():" in texts["nitro", "preload"]
    assert "def _rewriter_lazy():" in texts["nitro", "lazy"]
    assert '__import__("_functools")' in texts["nitro", "lazy"]  # a handler stand-in
    assert "rewriter:moved" in texts["django", "default"]
    assert "rewriter:moved" in texts["service", "default"]
    assert "_warnings.warn" not in texts["nitro", "guard_off"]
    assert "libraries = [" in texts["nitro", "guard_strict"]
