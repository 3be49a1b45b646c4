"""The verdict cache: a second run reuses clean verdicts, and only while they hold.

Each invalidation test changes one thing a verdict depends on, of one kind
of probe (``rewriter.probes``): a text the analysis read, a file it looked
for, a directory it listed, a module it found installed, the settings. The
run after the change must agree with a run without the cache, and differ
from the cached verdict, so that a cache that ignored the change fails.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rewriter import cli, probes
from rewriter.cache import CacheUnusable, VerdictCache
from rewriter.config import Settings
from rewriter.files import read_source
from rewriter.report import FileReport
from rewriter.runner import rewrite_text

ENTRY = '"""Server entry."""\nfrom .chunks.app import handler\nfrom .chunks import routes\n'
APP = "def handler(event, context):\n    return 'served'\n"
INIT = "def init():\n    pass\n\n\ninit()\n"
PYPROJECT = '[tool.rewriter]\ninit = "instrument:init"\n'


def make_tree(root: Path, count: int = 3, *, init: str = "instrument:init") -> list[Path]:
    """``root/build/appN/index.py`` with its runtime and init; ``root/pyproject.toml``."""
    entries = []
    for index in range(count):
        app = root / "build" / f"app{index}"
        (app / "chunks").mkdir(parents=True)
        (app / "chunks" / "__init__.py").write_text("")
        (app / "chunks" / "app.py").write_text(APP)
        (app / "chunks" / "routes.py").write_text("ROUTES = []\n")
        (app / "instrument.py").write_text(INIT)
        (app / "index.py").write_text(ENTRY)
        entries.append(app / "index.py")
    (root / "pyproject.toml").write_text(f'[tool.rewriter]\ninit = "{init}"\n')
    return entries


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def count_analyses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The entries analysed from now on (rewrites and discovery), in order.

    Only what this process analyses counts: with more than one entry, run
    with ``-j 1``, or the workers' analyses are not seen (an empty list
    then proves nothing; each test that expects one also expects a count
    above zero somewhere).
    """
    import rewriter.discovery
    import rewriter.runner

    analysed: list[str] = []
    rewrite, discover = rewriter.runner.rewrite_text, rewriter.discovery._runtime_relpaths

    def counted_rewrite(text: str, settings: Settings, **options: Any) -> FileReport:
        analysed.append(f"rewrite {options['path']}")
        return rewrite(text, settings, **options)

    def counted_discovery(entry: Path, text: str, settings: Settings) -> list[str] | None:
        analysed.append(f"discover {entry}")
        return discover(entry, text, settings)

    monkeypatch.setattr(rewriter.runner, "rewrite_text", counted_rewrite)
    monkeypatch.setattr(rewriter.discovery, "_runtime_relpaths", counted_discovery)
    return analysed


def test_a_second_check_reuses_every_verdict_and_reports_the_same(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(project)
    assert run(capsys, "-q", "build")[0] == 0
    first = run(capsys, "--check", "--format", "json", "build")
    assert first[0] == 0
    analysed = count_analyses(monkeypatch)
    second = run(capsys, "--check", "--format", "json", "-j", "1", "build")
    text = run(capsys, "--check", "-v", "-j", "1", "build")
    assert analysed == []
    fresh = run(capsys, "--check", "--format", "json", "-j", "1", "--no-cache", "build")
    assert len(analysed) == 6  # the count does see the analyses of a run
    assert second == first == fresh
    assert text[0] == 0
    assert text[2].count("unchanged build/app") == 3
    document = json.loads(second[1])
    assert [item["runtime_modules"] for item in document["files"]] == [
        [".chunks.app", ".chunks"]  # the modules as the imports write them
    ] * 3


def test_no_cache_analyses_again(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(project, 1)
    assert run(capsys, "-q", "build")[0] == 0
    assert run(capsys, "-q", "--check", "build")[0] == 0
    analysed = count_analyses(monkeypatch)
    assert run(capsys, "-q", "--check", "--no-cache", "build")[0] == 0
    assert analysed == ["discover build/app0/index.py", "rewrite build/app0/index.py"]


def test_the_number_of_jobs_does_not_matter(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(project, 2)
    assert run(capsys, "-q", "build")[0] == 0
    assert run(capsys, "-q", "--check", "-j", "2", "build")[0] == 0
    analysed = count_analyses(monkeypatch)
    assert run(capsys, "-q", "--check", "-j", "1", "build")[0] == 0
    assert analysed == []
    assert run(capsys, "-q", "--check", "-j", "1", "--no-cache", "build")[0] == 0
    assert len(analysed) == 4


def test_a_write_run_reuses_verdicts_too(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = make_tree(project, 2)
    assert run(capsys, "-q", "build")[0] == 0
    assert run(capsys, "-q", "build")[0] == 0  # unchanged: the verdicts are kept
    rewritten = [entry.read_bytes() for entry in entries]
    analysed = count_analyses(monkeypatch)
    assert run(capsys, "-j", "1", "build") == (0, "", "2 files left unchanged.\n")
    assert analysed == []
    assert run(capsys, "-j", "1", "--no-cache", "build") == (0, "", "2 files left unchanged.\n")
    assert len(analysed) == 4
    assert [entry.read_bytes() for entry in entries] == rewritten


def test_only_clean_verdicts_are_kept(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A check that finds work, and a run with a warning, keep nothing.
    entries = make_tree(project, 1)
    assert run(capsys, "-q", "--check", "build")[0] == 1
    assert run(capsys, "-q", "build", "--runtime", "chunk/**")[0] == 0
    assert run(capsys, "-q", "--check", "build", "--runtime", "chunk/**")[0] == 0
    assert entries[0].read_text() != ENTRY
    analysed = count_analyses(monkeypatch)
    code, _, err = run(capsys, "--check", "build", "--runtime", "chunk/**")
    assert (code, err.count("matches no module")) == (0, 1)
    assert analysed == ["rewrite build/app0/index.py"]  # what it imports is kept


def _seen_after(
    project: Path, capsys: pytest.CaptureFixture[str], change: Callable[[], object]
) -> tuple[int, str, str]:
    """Rewrite and check (the verdict is kept), ``change()``, and check again.

    The check after the change must agree with one without the cache and
    differ from the check before it; it is returned.
    """
    assert run(capsys, "-q", "build")[0] == 0
    before = run(capsys, "--check", "build")
    assert before[0] == 0
    change()
    cached = run(capsys, "--check", "build")
    assert cached == run(capsys, "--check", "--no-cache", "build")
    assert cached != before
    return cached


def test_a_changed_text_the_analysis_read_is_seen(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The init callable is checked in the init module's text ("text" probe).
    entries = make_tree(project, 2)
    init = entries[1].parent / "instrument.py"
    cached = _seen_after(project, capsys, lambda: init.write_text("def setup():\n    pass\n"))
    assert cached[0] == 2
    assert "init callable 'init' is not defined" in cached[2]
    assert "app0/" not in cached[2]  # the other entry's verdict still holds


def test_a_file_that_goes_away_is_seen(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The runtime module was looked for and found ("kind" probe).
    entries = make_tree(project, 2)
    routes = entries[0].parent / "chunks" / "routes.py"
    _seen_after(project, capsys, routes.unlink)


def test_a_file_that_appears_is_seen(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `import vendorlib` finds no file in the tree: an installed library,
    # left static. A `vendorlib.py` beside the entry makes it runtime: a
    # file that was looked for and not found ("kind" probe, answer 0).
    entries = make_tree(project, 1)
    entries[0].write_text(ENTRY + "import vendorlib\n")
    module = entries[0].parent / "vendorlib.py"
    cached = _seen_after(project, capsys, lambda: module.write_text(APP))
    assert cached[0] == 1


def test_an_installed_distribution_that_appears_is_seen(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `pip install --target` puts a dist-info beside the code; a module its
    # RECORD lists is third-party ("names" and "identity" probes).
    entries = make_tree(project, 1)
    app = entries[0].parent

    def install() -> None:
        info = app / "chunks-1.0.dist-info"
        info.mkdir()
        (info / "RECORD").write_text("chunks/__init__.py,,\nchunks/app.py,,\nchunks/routes.py,,\n")

    cached = _seen_after(project, capsys, install)
    assert cached[0] != 0


def test_an_installed_init_module_that_goes_away_is_seen(
    project: Path,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An init module outside the tree counts when this interpreter can
    # import it ("importable" probe).
    site = tmp_path_factory.mktemp("site")
    (site / "outside_init.py").write_text(INIT)
    monkeypatch.syspath_prepend(str(site))
    make_tree(project, 1, init="outside_init")

    def uninstall() -> None:
        (site / "outside_init.py").unlink()
        sys.path_importer_cache.clear()

    cached = _seen_after(project, capsys, uninstall)
    assert cached[0] == 2
    assert "outside_init" in cached[2]


def test_changed_settings_are_seen(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_tree(project, 1)
    cached = _seen_after(
        project,
        capsys,
        lambda: (project / "pyproject.toml").write_text(f"{PYPROJECT}guard = false\n"),
    )
    assert cached[0] == 1


def test_a_changed_entry_is_seen(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    entries = make_tree(project, 1)
    cached = _seen_after(
        project, capsys, lambda: entries[0].write_text(entries[0].read_text() + "import json\n")
    )
    assert cached[0] == 1


def test_a_leftover_temporary_is_reported_again(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = make_tree(project, 1)

    def leave_temporary() -> None:
        temporary = entries[0].parent / ".index.py.abcd1234.rewriter.tmp"
        temporary.write_bytes(b"half a rewrite")
        then = time.time() - 3600
        os.utime(temporary, (then, then))

    cached = _seen_after(project, capsys, leave_temporary)
    assert "interrupted run left behind" in cached[2]


def _cache_files() -> list[Path]:
    directory = Path(os.environ["REWRITER_CACHE_DIR"])
    return sorted(path for path in directory.rglob("*") if path.parent != directory)


def _kept_verdicts(project: Path, capsys: pytest.CaptureFixture[str], count: int = 1) -> Path:
    """A tree of ``count`` entries, rewritten and checked once; the cache's file of records."""
    make_tree(project, count)
    assert run(capsys, "-q", "build")[0] == 0
    assert run(capsys, "-q", "--check", "build")[0] == 0
    [pack] = _cache_files()
    return pack


def test_a_damaged_record_is_a_miss(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pack = _kept_verdicts(project, capsys, 2)
    records = json.loads(pack.read_text())
    assert len(records) == 4  # a verdict and the runtime files of each entry
    damaged = ["", [1, 2], {"content": 1}, {"content": "x", "probes": 3}]
    pack.write_text(json.dumps(dict(zip(records, damaged, strict=True))))
    analysed = count_analyses(monkeypatch)  # in this process: one job
    unchanged = (0, "", "2 files would be left unchanged.\n")
    assert run(capsys, "--check", "-j", "1", "build") == unchanged
    assert len(analysed) == 4
    pack.write_text("{")
    assert run(capsys, "--check", "-j", "1", "build") == unchanged
    assert len(analysed) == 8
    assert len(json.loads(pack.read_text())) == 4  # kept again


def test_a_journal_cut_short_by_a_kill_keeps_its_whole_lines(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pack = _kept_verdicts(project, capsys, 2)
    records = json.loads(pack.read_text())
    pack.unlink()
    lines = [json.dumps([key, record]) for key, record in records.items()]
    journal = pack.parent / "4321-abcdabcd.journal"
    journal.write_text("\n".join(lines[:3]) + "\n" + lines[3][:40])
    analysed = count_analyses(monkeypatch)  # in this process: one job
    assert run(capsys, "--check", "-j", "1", "build") == (
        0,
        "",
        "2 files would be left unchanged.\n",
    )
    assert len(analysed) == 1  # the record cut short
    assert not journal.exists()
    assert len(json.loads(pack.read_text())) == 4


def test_a_cache_that_cannot_be_made_changes_nothing(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(project, 1)
    blocked = project.parent / "a-file"
    blocked.write_text("")
    monkeypatch.setenv("REWRITER_CACHE_DIR", str(blocked / "cache"))
    assert run(capsys, "-q", "build")[0] == 0
    analysed = count_analyses(monkeypatch)
    for _ in range(2):
        assert run(capsys, "--check", "build") == (0, "", "1 file would be left unchanged.\n")
    assert len(analysed) == 4  # discovery and rewrite, each time
    assert blocked.read_text() == ""


def test_a_cache_that_others_can_write_to_is_not_used_and_v_says_why(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = project.parent / "shared"
    shared.mkdir()
    shared.chmod(0o775)  # what `mkdir -p` makes under umask 002
    with pytest.raises(CacheUnusable, match="others can write to it"):
        VerdictCache.open(shared)
    not_a_directory = project.parent / "file"
    not_a_directory.write_text("")
    for unusable in (not_a_directory, not_a_directory / "below"):
        with pytest.raises(CacheUnusable, match="cannot be made"):
            VerdictCache.open(unusable)
    make_tree(project, 1)
    monkeypatch.setenv("REWRITER_CACHE_DIR", str(shared))
    assert run(capsys, "-q", "build")[0] == 0
    code, _, err = run(capsys, "-v", "--check", "build")
    assert code == 0
    assert f"cache: off: {shared}: others can write to it (chmod go-w to use it)\n" in err


def test_v_says_how_many_verdicts_were_reused_and_where(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_tree(project, 3)
    assert run(capsys, "-q", "build")[0] == 0
    (project / "build" / "app2" / "index.py").write_text(ENTRY)  # undone: would be rewritten
    lines = [run(capsys, "-v", "--check", "build")[2].splitlines() for _ in range(2)]
    cache = VerdictCache.open()
    assert f"cache: 0 of 3 verdicts reused ({cache.records})" in lines[0]
    assert f"cache: 2 of 3 verdicts reused ({cache.records})" in lines[1]
    assert "cache: off (--no-cache)" in run(capsys, "-v", "--no-cache", "--check", "build")[2]


def test_a_new_cache_directory_is_private_and_marked_as_a_cache(tmp_path: Path) -> None:
    directory = tmp_path / "new" / "cache"
    VerdictCache.open(directory)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert (directory / ".gitignore").read_text().splitlines()[-1] == "*"
    tag = (directory / "CACHEDIR.TAG").read_text()
    assert tag.startswith("Signature: 8a477f597d28d172789f06886806bc55\n")


def test_the_fingerprint_follows_texts_and_versions_not_times(tmp_path: Path) -> None:
    # A fresh install (a new CI job, a Docker build) writes the same texts
    # at another time: the records of the last one must still be found.
    import hashlib

    from rewriter.cache import _add_texts, _library_version

    package = tmp_path / "package"
    (package / "__pycache__").mkdir(parents=True)
    (package / "module.py").write_text("A = 1\n")
    (package / "__pycache__" / "module.pyc").write_bytes(b"compiled")

    def digest() -> str:
        found = hashlib.sha256()
        _add_texts(found, str(package))
        return found.hexdigest()

    first = digest()
    os.utime(package / "module.py", (1, 1))
    (package / "__pycache__" / "module.pyc").write_bytes(b"compiled again")
    assert digest() == first
    (package / "module.py").write_text("A = 2\n")
    assert digest() != first
    site = tmp_path / "site"
    (site / "fake_markup").mkdir(parents=True)
    (site / "fake_markup" / "__init__.py").write_text("")
    (site / "fake_markdown-3.0.dist-info").mkdir()
    (site / "Fake_Markup-2.1.5.dist-info").mkdir()
    sys.path.insert(0, str(site))
    try:
        assert _library_version("fake_markup") == "Fake_Markup-2.1.5.dist-info"
        (site / "Fake_Markup-2.1.5.dist-info").rmdir()
        assert _library_version("fake_markup").startswith("fake_markup: ")  # its text
        assert _library_version("fake_missing_library") == "fake_missing_library: missing"
    finally:
        sys.path.remove(str(site))


def test_the_cache_directory_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rewriter.cache import default_directory

    monkeypatch.setenv("REWRITER_CACHE_DIR", str(tmp_path / "given"))
    assert default_directory() == tmp_path / "given"
    monkeypatch.delenv("REWRITER_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_directory() == tmp_path / "xdg" / "rewriter"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative")  # the XDG spec says: ignore it
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_directory() == tmp_path / "home" / ".cache" / "rewriter"


def _audited_reads(entry: Path, settings: Settings) -> tuple[set[str], list[probes.Probe]]:
    """The paths the analysis of ``entry`` opened or listed, and the probes it noted."""
    opened: set[str] = set()
    watching = [True]

    def hook(event: str, arguments: tuple[object, ...]) -> None:
        if watching[0] and event in {"open", "os.listdir", "os.scandir"} and arguments:
            target = arguments[0]
            if isinstance(target, (str, bytes, os.PathLike)):
                opened.add(os.path.abspath(os.fsdecode(target)))

    sys.addaudithook(hook)  # hooks cannot be removed: this one stops listening below
    source = read_source(entry)
    try:
        with probes.recording() as asked:
            report = rewrite_text(source.text, settings, path=str(entry), root=entry.parent)
    finally:
        watching[0] = False
    assert report.status == "changed", report
    return opened, asked


@pytest.mark.parametrize("case", ["nitro", "installed", "outside_init", "package"])
def test_every_file_the_analysis_reads_is_a_probe(
    case: str, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An audit hook sees every open and listing; each must be in the record.

    The import system lists the directories of ``sys.path`` (the current
    directory among them) when it looks for an installed init module; the
    ``importable`` probe asks that question again as a whole.
    """
    init = {"outside_init": "outside_init", "package": "build.app0.instrument:init"}.get(
        case, "instrument:init"
    )
    entry = make_tree(project, 1, init=init)[0]
    app = entry.parent
    if case == "installed":
        info = app / "vendor-1.0.dist-info"
        info.mkdir()
        (info / "RECORD").write_text("vendor.py,,\n")
        (app / "vendor.py").write_text("import json\n")
        entry.write_text(entry.read_text() + "import vendor\n")
    if case == "outside_init":
        (project / "outside_init.py").write_text(INIT)
    if case == "package":
        (app / "__init__.py").write_text("")
        (app.parent / "__init__.py").write_text("")
    opened, asked = _audited_reads(entry, Settings(init=init))
    read = {os.path.abspath(subject) for kind, subject, _ in asked if kind in {"text", "names"}}
    if any(kind == "importable" for kind, _, _ in asked):
        read.add(str(project))
    in_tree = {path for path in opened if path.startswith(str(project))}
    assert in_tree - {str(entry)} <= read
    assert read  # the probes name what was read


# What the property test below changes between runs, in the tree of one
# entry (build/app0). It draws sequences of these, each followed by a check
# with the cache and one without. It cannot draw: changes outside the
# entry's tree other than the settings (a library upgrade, another Python,
# a module installed on sys.path: the run fingerprint and the "importable"
# probe, tested above), symlinks, permissions, or a change made while a run
# is under way.
_CHANGES: dict[str, tuple[str, str | None]] = {
    "runtime imports os": ("chunks/app.py", APP + "import os\n"),
    "runtime as before": ("chunks/app.py", APP),
    "runtime module removed": ("chunks/routes.py", None),
    "runtime module back": ("chunks/routes.py", "ROUTES = []\n"),
    "runtime package shadows module": ("chunks/app/__init__.py", APP),
    "runtime package removed": ("chunks/app/__init__.py", None),
    "library beside the entry": ("vendorlib.py", APP),
    "library removed": ("vendorlib.py", None),
    "init renamed": ("instrument.py", "def setup():\n    pass\n"),
    "init back": ("instrument.py", INIT),
    "init removed": ("instrument.py", None),
    "distribution installed": ("chunks-1.0.dist-info/RECORD", "chunks/app.py,,\n"),
    "distribution removed": ("chunks-1.0.dist-info/RECORD", None),
    "entry made a package": ("__init__.py", ""),
    "entry a script again": ("__init__.py", None),
    "helper imports the runtime": ("helpers.py", "from chunks import app\n"),
    "helper imports nothing": ("helpers.py", "import json\n"),
    "entry imports the library": ("index.py", "+import vendorlib\n"),
    "entry imports the helper first": ("index.py", "^import helpers\n"),
    "guard off": ("../../pyproject.toml", f"{PYPROJECT}guard = false\n"),
    "guard on": ("../../pyproject.toml", PYPROJECT),
    "rewrite": ("", None),
}


def _apply(app: Path, change: str, capsys: pytest.CaptureFixture[str]) -> None:
    relpath, content = _CHANGES[change]
    target = app / relpath
    if change == "rewrite":
        run(capsys, "-q", "build")
    elif content is None:
        if target.exists():
            target.unlink()
    elif content.startswith(("+", "^")) and target.exists():
        text = target.read_text()
        target.write_text(text + content[1:] if content[0] == "+" else content[1:] + text)
    elif not content.startswith(("+", "^")):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(changes=st.lists(st.sampled_from(sorted(_CHANGES)), min_size=1, max_size=8))
def test_a_cached_check_always_agrees_with_a_fresh_one(
    changes: list[str],
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = tmp_path_factory.mktemp("drawn")
    monkeypatch.chdir(project)
    app = make_tree(project, 1)[0].parent
    run(capsys, "-q", "build")
    for change in changes:
        _apply(app, change, capsys)
        cached = run(capsys, "--check", "--format", "json", "build")
        again = run(capsys, "--check", "--format", "json", "build")
        fresh = run(capsys, "--check", "--format", "json", "--no-cache", "build")
        assert cached == again == fresh, change


def _agree(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``--check --format json ARGV`` with the cache, which must equal the same without it."""
    cached = run(capsys, "--check", "--format", "json", *argv)
    assert cached == run(capsys, "--check", "--format", "json", "--no-cache", *argv)
    return cached


def test_a_path_through_a_symlink_and_up_is_another_entry(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `build/link/../app` goes through the link's target, where no init
    # module is; the same spelling normalised names the entry that has one.
    entry = make_tree(project, 1)[0]
    assert run(capsys, "-q", "build")[0] == 0
    elsewhere = project / "elsewhere"
    (elsewhere / "app0").mkdir(parents=True)
    (elsewhere / "x").mkdir()
    (elsewhere / "app0" / "index.py").write_bytes(entry.read_bytes())
    (project / "build" / "link").symlink_to(elsewhere / "x")
    for _ in range(2):
        assert _agree(capsys, "build/app0/index.py")[0] == 0
    through = _agree(capsys, "build/link/../app0/index.py")
    assert through[0] == 2
    assert "init module 'instrument' cannot be imported" in through[2]


def test_the_spelling_of_a_path_that_decides_the_package_is_part_of_the_key(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # With `__init__.py` up to the project, `build` and `../project/build`
    # give the entry different packages: `build.app0` and `project.build.app0`.
    entry = make_tree(project, 1, init="build.app0.instrument:init")[0]
    for package in (project, project / "build", entry.parent):
        (package / "__init__.py").write_text("")
    entry.write_text('"""Server entry."""\nfrom build.app0.chunks.app import handler\n')
    assert run(capsys, "-q", "build")[0] == 0
    for _ in range(2):
        assert _agree(capsys, "build")[0] == 0
    other = _agree(capsys, f"../{project.name}/build")
    assert other != _agree(capsys, "build")


def test_a_preset_plugins_handler_names_are_part_of_the_key(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import rewriter.presets
    from rewriter.presets import Preset

    names = {"handler": ("handler",)}
    real = rewriter.presets.get_preset

    def get_preset(name: str) -> Preset:
        if name == "plugged":
            return Preset("A plugin.", {"handler": names["handler"], "init": "instrument:init"})
        return real(name)

    monkeypatch.setattr(rewriter.presets, "get_preset", get_preset)
    make_tree(project, 1)
    (project / "pyproject.toml").write_text('[tool.rewriter]\npreset = "plugged"\n')
    assert run(capsys, "-q", "build")[0] == 0
    before = _agree(capsys, "build")
    names["handler"] = ("app",)
    after = _agree(capsys, "build")
    assert json.loads(before[1])["files"][0]["reexports"] == ["handler"]
    assert json.loads(after[1])["files"][0]["reexports"] == []


def test_a_text_is_read_again_within_the_size_it_was_read_with(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An init module in the current directory, over `max_size`, is read
    # with the settings' limit, and read again with the same limit.
    make_tree(project, 1, init="shared_init:init")
    table = '[tool.rewriter]\ninit = "shared_init:init"\nmax_size = 4096\n'
    (project / "pyproject.toml").write_text(table)
    shared = project / "shared_init.py"
    shared.write_text(INIT + "#" * (9 * 1024 * 1024) + "\n")
    assert run(capsys, "-q", "build")[0] == 0
    for _ in range(2):
        assert _agree(capsys, "build")[0] == 0
    shared.write_text("def setup():\n    pass\n" + "#" * 5000 + "\n")
    assert _agree(capsys, "build")[0] == 0  # over the limit: not read, as before


def test_cache_files_that_are_not_files_are_misses(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = _kept_verdicts(project, capsys)
    pack.unlink()
    os.mkfifo(pack)  # opened as a file, it would block the run
    journal = pack.parent / "4321-abcdabcd.journal"
    journal.symlink_to("/dev/zero")  # read as a file, it would never end
    assert run(capsys, "--check", "build") == (0, "", "1 file would be left unchanged.\n")


def test_no_current_directory_is_no_crash(tmp_path: Path) -> None:
    import subprocess

    entry = make_tree(tmp_path, 1)[0]
    gone = tmp_path / "gone"
    gone.mkdir()
    script = (
        "import os, sys; from rewriter import cli; os.chdir(sys.argv[1]); os.rmdir(sys.argv[1]);"
        " sys.exit(cli.main(['--check', sys.argv[2]]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(gone), str(entry)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in done.stderr
    assert done.returncode in (1, 2, 123), done.stderr


def test_warnings_about_the_parsed_code_do_not_depend_on_the_cache(tmp_path: Path) -> None:
    # CPython warns about `"\d"` when it parses it; under -W error the
    # warning would be a SyntaxError. The user's code is kept as it is.
    import subprocess

    entry = make_tree(tmp_path, 1)[0]
    (entry.parent / "chunks" / "app.py").write_text(APP + 'PATTERN = "\\d+"\n')
    entry.write_text(entry.read_text() + 'ROUTE = "\\w+"\n')
    command = [sys.executable, "-W", "error", "-m", "rewriter"]
    environment = {**os.environ, "PYTHONWARNINGS": "error"}
    outcomes = [
        subprocess.run(
            [*command, *options, "build"],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        for options in ([], ["--check"], ["--check"], ["--check", "--no-cache"])
    ]
    assert [(done.returncode, done.stderr) for done in outcomes] == [
        (0, "1 file rewritten.\n"),
        *[(0, "1 file would be left unchanged.\n")] * 3,
    ]


def test_only_rewriters_own_old_folders_are_removed(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The cache directory may be one the user had before, full of their files.
    make_tree(project, 1)
    monkeypatch.setenv("REWRITER_CACHE_DIR", str(project))
    month_ago = time.time() - 40 * 24 * 3600
    notes = project / "docs" / "old" / "notes.txt"
    notes.parent.mkdir(parents=True)
    notes.write_text("important\n")
    stale = project / ("a" * 32)  # a fingerprint's folder that no run has saved to
    stale.mkdir()
    (stale / "records.json").write_text("{}")
    (stale / "1-abcd.journal").write_text("")
    looks_stale = project / ("b" * 32)  # named like one, but holding a user's file
    looks_stale.mkdir()
    (looks_stale / "records.json").write_text("{}")
    (looks_stale / "mine.txt").write_text("mine\n")
    for folder in (notes.parent, notes.parent.parent, stale, looks_stale):
        os.utime(folder, (month_ago, month_ago))
    assert run(capsys, "-q", "build")[0] == 0
    assert run(capsys, "-q", "--check", "build")[0] == 0
    assert notes.read_text() == "important\n"
    assert (looks_stale / "mine.txt").read_text() == "mine\n"
    assert not stale.exists()


@pytest.mark.parametrize(
    ("probe", "analyses"),
    [
        (["importable", None, True], 2),
        (["importable", 5, True], 2),
        (["kind", ["a", "list"], 0], 2),
        (["unknown kind", "x", 1], 2),
        # Well formed, and the same answer again: the verdict holds.
        (["text", "/tmp/" + "a" * 5000, [100, None]], 0),
        (["names", "/dev/null", None], 0),
    ],
    ids=["null-module", "int-module", "list-subject", "unknown", "long-path", "device"],
)
def test_a_record_with_a_probe_of_any_shape_is_no_crash(
    probe: list[object],
    analyses: int,
    project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pack = _kept_verdicts(project, capsys)
    records = json.loads(pack.read_text())
    for record in records.values():
        record["probes"].insert(0, probe)
    pack.write_text(json.dumps(records))
    analysed = count_analyses(monkeypatch)
    assert run(capsys, "--check", "build") == (0, "", "1 file would be left unchanged.\n")
    assert len(analysed) == analyses


def test_deeply_nested_cache_files_are_misses(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = _kept_verdicts(project, capsys)
    (pack.parent / "9-deep.journal").write_text("[" * 200_000 + "]" * 200_000 + "\n")
    for _ in range(2):  # the first run saves it into the pack
        assert run(capsys, "--check", "build") == (0, "", "1 file would be left unchanged.\n")
    pack.write_text('{"a":' * 100_000 + "1" + "}" * 100_000)
    assert run(capsys, "--check", "build") == (0, "", "1 file would be left unchanged.\n")


def test_saving_never_writes_through_a_symlink(
    project: Path, capsys: pytest.CaptureFixture[str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    make_tree(project, 1)
    assert run(capsys, "-q", "build")[0] == 0
    [pack] = _cache_files()
    victim = tmp_path_factory.mktemp("victim") / "precious.txt"
    victim.write_text("precious\n")
    (pack.parent / f".records.json.{os.getpid()}.tmp").symlink_to(victim)
    (pack.parent / "1-aa.journal").write_text('["k",{}]\n')
    assert run(capsys, "-q", "--check", "build")[0] == 0
    assert victim.read_text() == "precious\n"
    assert not pack.is_symlink()
    assert "k" in json.loads(pack.read_text())


def test_a_fingerprint_folder_that_is_a_symlink_is_not_used(
    project: Path, capsys: pytest.CaptureFixture[str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    mine = tmp_path_factory.mktemp("mine")
    (mine / "records.json").write_text('{"mine": true}')
    cache = VerdictCache.open()
    cache.records.symlink_to(mine)
    make_tree(project, 1)
    assert run(capsys, "-q", "build")[0] == 0
    for _ in range(2):
        assert _agree(capsys, "build")[0] == 0
    assert [path.name for path in mine.iterdir()] == ["records.json"]
    assert (mine / "records.json").read_text() == '{"mine": true}'
