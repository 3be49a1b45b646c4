"""Reading ``--env-file`` lines: the values each form gives, and the position of each fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from rewriter.envfile import parse_env, read_env_file
from rewriter.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("A=1\n", {"A": "1"}, id="plain"),
        pytest.param("  A = 1  \n", {"A": "1"}, id="spaces around"),
        pytest.param("export A=1", {"A": "1"}, id="export"),
        pytest.param("# comment\n\nA=1\n", {"A": "1"}, id="comments and blank lines"),
        pytest.param("A=1 # the first\n", {"A": "1"}, id="trailing comment"),
        pytest.param("A=a#b\n", {"A": "a#b"}, id="hash inside a word"),
        pytest.param("A=\n", {"A": ""}, id="empty"),
        pytest.param("A='x # y \\n'\n", {"A": "x # y \\n"}, id="single quotes are literal"),
        pytest.param('A="x\\ny\\t\\"z\\"\\\\"\n', {"A": 'x\ny\t"z"\\'}, id="double quote escapes"),
        pytest.param('A="a b"  # note\n', {"A": "a b"}, id="comment after quotes"),
        pytest.param("A=${HOME}\n", {"A": "${HOME}"}, id="no expansion"),
        pytest.param("A=1\nA=2\n", {"A": "2"}, id="later wins"),
        pytest.param("app.name-x=1\n", {"app.name-x": "1"}, id="dots and dashes"),
        pytest.param("A=1\r\nB=2\r\n", {"A": "1", "B": "2"}, id="crlf"),
    ],
)
def test_values(text: str, expected: dict[str, str]) -> None:
    assert parse_env(text) == expected


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        pytest.param("A=1\n  nope\n", "expected KEY=VALUE in the env file", 2, 3, id="no equals"),
        pytest.param("1A=1\n", "expected KEY=VALUE in the env file", 1, 1, id="digit first"),
        pytest.param("A='open\n", "unterminated ' quote in the env file", 1, 3, id="unterminated"),
        pytest.param(
            'A="x" y\n', "unexpected text after the closing quote", 1, 7, id="text after quote"
        ),
    ],
)
def test_faults_are_positioned(text: str, message: str, line: int, column: int) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_env(text)
    assert (caught.value.diagnostic.message, caught.value.diagnostic.line) == (message, line)
    assert caught.value.diagnostic.column == column


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the env file: No such file or directory"):
        read_env_file(tmp_path / "missing.env")
