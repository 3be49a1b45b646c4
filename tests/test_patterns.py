"""Gitignore patterns match exactly what git matches (``rewriter.patterns``).

Every case of the table is also checked against the real ``git
check-ignore``, and a hypothesis property compares the two on generated
trees: which files a search of the tree finds (with the entry pattern
``*``, which selects every file) must be exactly the files git does not
ignore.

The generator draws trees of up to 12 files, up to three levels deep, with
names from a fixed set of 18 (among them ``a b``, ``a ``, ``!a``, ``#a``,
``[a]``, ``*x``, a non-ASCII and a non-UTF-8 name), and a ``.gitignore``
with up to 6 lines in any of their directories. Lines combine negation, a
leading or trailing ``/``, up to three segments of names and globs (``*``,
``**``, ``?``, sets, ranges, classes, escapes, broken sets), trailing
spaces, tabs and escaped spaces, comments, blank lines and CRLF endings.
It cannot draw: symlinks, files tracked in the index (``--no-index``),
``$GIT_DIR/info/exclude`` or ``core.excludesFile``, ``.gitignore`` files
above the searched directory, a case-insensitive ``core.ignorecase``, or
names outside its set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rewriter.config import Settings
from rewriter.files import expand_paths
from rewriter.patterns import pattern_problem

EXAMPLES = 300
EVERY_FILE = Settings(entry=("*",))
NAMES = [
    "a",
    "b",
    "ab",
    "abc",
    "x.py",
    "index.py",
    "Ab",
    "a.b",
    "a b",
    "a ",
    "!a",
    "#a",
    "[a]",
    "*x",
    "-",
    "z",
    "\u00e9.py",
    os.fsdecode(b"\xff.py"),
]


class Git:
    """One repository whose work tree is replaced for each check; ``git check-ignore`` decides."""

    def __init__(self, root: Path) -> None:
        self.root = root
        home = root.parent / "home"
        home.mkdir(exist_ok=True)
        # No global or system configuration: no core.excludesFile, no ignorecase.
        self.env = {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "PATH": os.environ.get("PATH", ""),
        }
        root.mkdir()
        subprocess.run(["git", "init", "-q", str(root)], env=self.env, check=True)

    def plant(self, files: dict[str, bytes]) -> None:
        for child in self.root.iterdir():
            if child.name != ".git":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        for relpath, data in files.items():
            path = self.root / relpath
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

    def ignored(self, relpaths: list[str]) -> set[str]:
        result = subprocess.run(
            ["git", "check-ignore", "--no-index", "-z", "--stdin"],
            cwd=self.root,
            env=self.env,
            input=b"".join(os.fsencode(path) + b"\0" for path in relpaths),
            capture_output=True,
            check=False,
        )
        assert result.returncode in (0, 1), result.stderr
        return {os.fsdecode(path) for path in result.stdout.split(b"\0") if path}


@pytest.fixture(scope="module")
def git(tmp_path_factory: pytest.TempPathFactory) -> Git:
    if shutil.which("git") is None:
        pytest.skip("git is not installed: the patterns are checked against git itself")
    return Git(tmp_path_factory.mktemp("git") / "repo")


def all_files(root: Path) -> Iterator[str]:
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = [name for name in dirnames if name != ".git"]
        for name in filenames:
            yield Path(directory, name).relative_to(root).as_posix()


def found(root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path in expand_paths([root], EVERY_FILE)}


def agree(git: Git, files: dict[str, bytes]) -> set[str]:
    """Plant ``files``; assert that rewriter finds what git keeps; return what git ignores."""
    git.plant(files)
    paths = sorted(all_files(git.root))
    ignored = git.ignored(paths)
    assert found(git.root) == set(paths) - ignored
    return ignored


TREE = ["x.py", "a/x.py", "a/b/x.py", "a b", "x.py ", "c/z", "tab\t", "abc", "ab/c", "abx/c"]


@pytest.mark.parametrize(
    ("gitignore", "ignored"),
    (
        pytest.param(b"x.py\r\n", {"x.py", "a/x.py", "a/b/x.py"}, id="CRLF line"),
        pytest.param(b"x.py \n", {"x.py", "a/x.py", "a/b/x.py"}, id="trailing space dropped"),
        pytest.param(b"x.py\\ \n", {"x.py "}, id="escaped space kept"),
        pytest.param(b"tab\t\n", {"tab\t"}, id="trailing tab kept"),
        pytest.param(b"\xef\xbb\xbfabc\n", {"abc"}, id="byte order mark"),
        pytest.param(b"[z-a]\n", {"c/z"}, id="backwards range matches its start"),
        pytest.param(b"x.p[y\n", set(), id="unclosed set never matches"),
        pytest.param(b"x.py\\\n", set(), id="trailing backslash never matches"),
        pytest.param(b"x[[:foo:]]py\n", set(), id="unknown class never matches"),
        pytest.param(b"x[[:punct:]]py\n", {"x.py", "a/x.py", "a/b/x.py"}, id="punct class"),
        pytest.param(b"a[/]b\n", set(), id="a set never matches a slash"),
        pytest.param(b"a?b\n", {"a b"}, id="? never matches a slash"),
        pytest.param(b"a/**\n", {"a/x.py", "a/b/x.py"}, id="trailing **"),
        pytest.param(b"**/b\n", {"a/b/x.py"}, id="leading **"),
        pytest.param(b"a/**/x.py\n", {"a/x.py", "a/b/x.py"}, id="middle ** matches no dir"),
        pytest.param(b"ab**/c\n", {"abc", "ab/c", "abx/c"}, id="literal start split off"),
        pytest.param(
            b"*\n!*/\n!x.py\n",
            {"a b", "x.py ", "c/z", "tab\t", "abc", "ab/c", "abx/c", ".gitignore"},
            id="the issue's *, !*/, !x.py: x.py kept everywhere",
        ),
        pytest.param(b"a/\n!a/x.py\n", {"a/x.py", "a/b/x.py"}, id="no way back into a dir"),
        pytest.param(b"/x.py\n", {"x.py"}, id="anchored"),
        pytest.param(b"  x.py\n", set(), id="leading spaces kept"),
        pytest.param(b"#x.py\n\\#x\n", set(), id="comment and escaped hash"),
        pytest.param(b"x.py/\n", set(), id="directories only"),
        pytest.param(b"*\n", set(TREE) | {".gitignore"}, id="everything, itself too"),
    ),
)
def test_like_git(git: Git, gitignore: bytes, ignored: set[str]) -> None:
    files = {path: b"" for path in TREE}
    files[".gitignore"] = gitignore
    assert agree(git, files) == ignored


def test_a_nested_gitignore_wins_over_its_parents(git: Git) -> None:
    files = {
        ".gitignore": b"*.py\n",
        "keep/.gitignore": b"!index.py\n",
        "keep/index.py": b"",
        "drop/index.py": b"",
        "keep/deeper/.gitignore": b"index.py\n",
        "keep/deeper/index.py": b"",
    }
    assert agree(git, files) == {"drop/index.py", "keep/deeper/index.py"}


_SEGMENT_ATOMS = st.sampled_from(
    [
        "a",
        "b",
        "ab",
        "x.py",
        "index.py",
        ".py",
        "*",
        "**",
        "?",
        "[ab]",
        "[!a]",
        "[^b]",
        "[a-c]",
        "[z-a]",
        "[[:alpha:]]",
        "[]a]",
        "[a-]",
        "[",
        "\\*",
        "\\",
        "\\!",
        "\u00e9",
        " ",
    ]
)
_SEGMENTS = st.lists(st.lists(_SEGMENT_ATOMS, min_size=1, max_size=3).map("".join), max_size=3)


@st.composite
def gitignore_lines(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["pattern"] * 8 + ["comment", "blank"]))
    if kind == "comment":
        return b"# a comment"
    if kind == "blank":
        return b""
    line = "/".join(draw(_SEGMENTS)) or "a"
    if draw(st.booleans()):
        line = f"/{line}"
    if draw(st.booleans()):
        line = f"{line}/"
    if draw(st.booleans()):
        line = f"!{line}"
    line += draw(st.sampled_from(["", "", " ", "  ", "\\ ", "\t"]))
    return os.fsencode(line)


@st.composite
def trees(draw: st.DrawFn) -> dict[str, bytes]:
    paths = draw(
        st.lists(
            st.lists(st.sampled_from(NAMES), min_size=1, max_size=3).map(tuple),
            min_size=1,
            max_size=12,
            unique=True,
        )
    )
    directories = {path[:end] for path in paths for end in range(1, len(path))}
    files = {"/".join(path): b"" for path in paths if path not in directories}
    homes = sorted({"", *("/".join(directory) for directory in directories)})
    for home in draw(st.lists(st.sampled_from(homes), min_size=1, max_size=3, unique=True)):
        lines = draw(st.lists(gitignore_lines(), max_size=6))
        ending = draw(st.sampled_from([b"\n", b"\r\n"]))
        files[f"{home}/.gitignore" if home else ".gitignore"] = b"".join(
            line + ending for line in lines
        )
    return files


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(trees())
def test_a_search_finds_exactly_what_git_does_not_ignore(git: Git, files: dict[str, bytes]) -> None:
    agree(git, files)


@pytest.mark.parametrize(
    ("pattern", "problem"),
    (
        pytest.param("**/index.py", None, id="fine"),
        pytest.param("!chunks/**", None, id="negated"),
        pytest.param("[z-a]", "the range 'z-a' runs backwards, so it matches 'z' alone", id="z-a"),
        pytest.param("x[", "a '[' is never closed", id="unclosed"),
        pytest.param("x\\", "it ends with an unescaped backslash", id="trailing backslash"),
        pytest.param("[[:word:]]", "'[:word:]' is not a character class", id="unknown class"),
        pytest.param("# comment", None, id="a comment is no pattern"),
    ),
)
def test_pattern_problem(pattern: str, problem: str | None) -> None:
    assert pattern_problem(pattern) == problem
