"""Reading an ``--env-file``: ``KEY=VALUE`` lines, as Docker's ``--env-file`` and dotenv write them.

The rules (a common subset of python-dotenv's and Docker's; parsed here so
that the result does not depend on what is installed):

- blank lines and lines starting with ``#`` are skipped; ``export KEY=VALUE``
  is accepted;
- ``KEY`` is a name of letters, digits, ``_``, ``.`` and ``-`` that does not
  start with a digit;
- an unquoted value is stripped of surrounding spaces, and a `` #`` starts a
  comment;
- ``'single quotes'`` keep the text as it is; ``"double quotes"`` understand
  ``\\n``, ``\\t``, ``\\r``, ``\\"`` and ``\\\\``; after the closing quote only a
  comment may follow; a value does not span lines;
- ``${VAR}`` is not expanded (Docker does not expand either).
"""

from __future__ import annotations

import os
import re

from rewriter.errors import ConfigError

_LINE = re.compile(r"\s*(?:export\s+)?(?P<key>[A-Za-z_.\-][A-Za-z0-9_.\-]*)\s*=\s*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def read_env_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """The variables that the file at ``path`` sets, in file order (a later line wins).

    Raises ConfigError, positioned at the fault, for an unreadable file or a
    line that is not ``KEY=VALUE``.
    """
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or error
        raise ConfigError(f"cannot read the env file: {reason}") from None
    return parse_env(text)


def parse_env(text: str) -> dict[str, str]:
    """The variables that the env-file ``text`` sets (see the module docstring)."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            column = len(line) - len(line.lstrip()) + 1
            raise ConfigError("expected KEY=VALUE in the env file", number, column)
        values[match["key"]] = _value(line, match.end(), number)
    return values


def _value(line: str, start: int, number: int) -> str:
    rest = line[start:]
    if not rest.startswith(("'", '"')):
        comment = re.search(r"(^|\s)#", rest)
        return (rest[: comment.start()] if comment else rest).strip()
    quote = rest[0]
    value: list[str] = []
    index = 1
    while index < len(rest):
        char = rest[index]
        if char == quote:
            trailing = rest[index + 1 :].strip()
            if trailing and not trailing.startswith("#"):
                column = (
                    start + index + 2 + (len(rest[index + 1 :]) - len(rest[index + 1 :].lstrip()))
                )
                raise ConfigError("unexpected text after the closing quote", number, column)
            return "".join(value)
        if quote == '"' and char == "\\" and index + 1 < len(rest) and rest[index + 1] in _ESCAPES:
            value.append(_ESCAPES[rest[index + 1]])
            index += 2
            continue
        value.append(char)
        index += 1
    raise ConfigError(f"unterminated {quote} quote in the env file", number, start + 1)
