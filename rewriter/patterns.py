"""Gitignore patterns, matched exactly as git matches them.

Used for ``.gitignore`` files and for the ``entry`` and ``exclude`` settings,
which are gitignore-style too. The rules follow git's ``dir.c`` and
``wildmatch.c`` (and ``gitignore(5)``), checked against ``git check-ignore``
by ``tests/test_patterns.py``:

- A line is read as bytes: a UTF-8 byte order mark at the start of a file
  and a carriage return before the line feed are dropped. Blank lines and
  lines starting with ``#`` hold no pattern; trailing spaces are dropped
  unless escaped (``\\ ``), tabs are kept. ``!`` negates, ``\\!`` and
  ``\\#`` are literal.
- A trailing ``/`` makes the pattern match directories only. A pattern with
  no other ``/`` matches the name at any depth below its base; otherwise it
  matches the path relative to its base (a leading ``/`` only anchors).
- ``*`` and ``?`` do not match ``/``; ``**`` as a whole component matches
  any number of directories (``**/`` also none); ``[...]`` is a set, never
  matching ``/``, in which a range runs from its first character to its
  last, and the first is a member even when the range is empty (so
  ``[z-a]`` matches ``z``). git compares the literal start of a pattern
  (up to its first ``*?[\\``) on its own, which decides where a ``**``
  starts: ``ab**/c`` matches ``abc``. Matching is on bytes, case-sensitive.
- A pattern git can never match (an unclosed ``[``, a trailing ``\\``, an
  unknown ``[:class:]``) is kept and never matches, as in git;
  ``pattern_problem`` names the problem, for settings that must be valid.
- The last matching pattern decides; deeper ``.gitignore`` files before
  shallower ones; a path inside an excluded directory is excluded whatever
  follows, and the ``.gitignore`` files inside it are never read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

_BOM = b"\xef\xbb\xbf"
_GLOB_SPECIAL = b"*?[\\"
# POSIX character classes, as git's wildmatch reads them (ASCII ctype).
_CLASSES: dict[bytes, tuple[tuple[int, int], ...]] = {
    b"alnum": ((0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)),
    b"alpha": ((0x41, 0x5A), (0x61, 0x7A)),
    b"blank": ((0x09, 0x09), (0x20, 0x20)),
    b"cntrl": ((0x00, 0x1F), (0x7F, 0x7F)),
    b"digit": ((0x30, 0x39),),
    b"graph": ((0x21, 0x7E),),
    b"lower": ((0x61, 0x7A),),
    b"print": ((0x20, 0x7E),),
    b"punct": ((0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)),
    b"space": ((0x09, 0x0D), (0x20, 0x20)),
    b"upper": ((0x41, 0x5A),),
    b"xdigit": ((0x30, 0x39), (0x41, 0x46), (0x61, 0x66)),
}
_SLASH = ord("/")


class _NeverMatches(Exception):
    """git's wildmatch gives up on this pattern (WM_ABORT_ALL): it matches nothing."""


@dataclass(frozen=True)
class Pattern:
    """One gitignore pattern, parsed as git parses it.

    ``text`` is the pattern as written (trailing spaces dropped), ``origin``
    where it comes from (``build/.gitignore:3``, ``--exclude``...), for
    messages. ``base`` is the directory it is relative to (POSIX, ``""`` for
    the top of the search).
    """

    text: str
    origin: str
    negated: bool
    directory_only: bool
    basename_only: bool
    base: str = ""
    problem: str | None = None
    """Why git can never match it, or None."""
    oddity: str | None = None
    """What git reads other than it looks (a range that runs backwards), or None."""
    _regex: re.Pattern[bytes] | None = None

    def matches(self, relpath: str, is_dir: bool) -> bool:
        """True if the pattern matches ``relpath`` (POSIX, relative to the top of the search)."""
        if self._regex is None or (self.directory_only and not is_dir):
            return False
        if self.base:
            if not relpath.startswith(f"{self.base}/"):
                return False
            relpath = relpath[len(self.base) + 1 :]
        name = relpath.rpartition("/")[2] if self.basename_only else relpath
        return self._regex.fullmatch(os.fsencode(name)) is not None

    def describe(self) -> str:
        """``ORIGIN 'TEXT'``, for messages."""
        return f"{self.origin} {self.text!r}"


def parse_pattern(line: str | bytes, origin: str, base: str = "") -> Pattern | None:
    """The pattern on one line (no line break), or None for a blank line or a comment."""
    raw = os.fsencode(line) if isinstance(line, str) else line
    if not raw or raw.startswith(b"#"):
        return None
    raw = _trim_trailing_spaces(raw)
    if not raw:
        return None
    text = os.fsdecode(raw)
    negated = raw.startswith(b"!")
    body = raw[1:] if negated else raw
    directory_only = body.endswith(b"/")
    if directory_only:
        body = body[:-1]
    basename_only = b"/" not in body
    if body.startswith(b"/"):
        body = body[1:]
    oddities: list[str] = []
    try:
        translated = _translate(body, oddities, split_prefix=not basename_only)
        regex: re.Pattern[bytes] | None = re.compile(translated)
        problem = None
    except _NeverMatches as never:
        regex, problem = None, str(never)
    oddity = oddities[0] if oddities else None
    return Pattern(
        text, origin, negated, directory_only, basename_only, base, problem, oddity, regex
    )


def pattern_problem(text: str) -> str | None:
    """What is wrong with the pattern ``text`` as a setting, or None.

    A pattern git could never match, or one git reads other than it looks
    (``[z-a]`` matches ``z`` alone). For settings, where such a pattern is a
    mistake to report; in a ``.gitignore`` it is kept and means what it
    means to git.
    """
    pattern = parse_pattern(text, "")
    return None if pattern is None else pattern.problem or pattern.oddity


def read_patterns(data: bytes, origin: str, base: str = "") -> list[Pattern]:
    """The patterns in the bytes of a ``.gitignore``; ``origin`` names it (``:LINE`` is added)."""
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    patterns = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.endswith(b"\r"):
            line = line[:-1]
        pattern = parse_pattern(line, f"{origin}:{number}", base)
        if pattern is not None:
            patterns.append(pattern)
    return patterns


def last_match(patterns: Iterable[Pattern], relpath: str, is_dir: bool) -> Pattern | None:
    """The last of ``patterns`` that matches ``relpath``: it decides (negated: not excluded)."""
    found = None
    for pattern in patterns:
        if pattern.matches(relpath, is_dir):
            found = pattern
    return found


def _trim_trailing_spaces(raw: bytes) -> bytes:
    # Spaces only (not tabs), and not a space escaped by a backslash.
    end = len(raw)
    while end and raw[end - 1 : end] == b" ":
        backslashes = len(raw[: end - 1]) - len(raw[: end - 1].rstrip(b"\\"))
        if backslashes % 2:
            break
        end -= 1
    return raw[:end]


def _translate(body: bytes, oddities: list[str], *, split_prefix: bool) -> bytes:
    """A regular expression (bytes) that matches what git's wildmatch matches.

    With ``split_prefix`` (a pattern with a slash), the literal start is
    taken off first, as git's ``match_pathname`` does, so that the glob that
    follows starts afresh.
    """
    start = 0
    if split_prefix:
        while start < len(body) and body[start] not in _GLOB_SPECIAL:
            start += 1
    parts = [re.escape(body[:start])]
    glob = body[start:]
    index = 0
    while index < len(glob):
        char = glob[index]
        if char == ord("\\"):
            if index + 1 >= len(glob):
                raise _NeverMatches("it ends with an unescaped backslash")
            parts.append(re.escape(glob[index + 1 : index + 2]))
            index += 2
        elif char == ord("?"):
            parts.append(b"[^/]")
            index += 1
        elif char == ord("*"):
            index = _translate_stars(glob, index, parts)
        elif char == ord("["):
            index = _translate_set(glob, index, parts, oddities)
        else:
            parts.append(re.escape(glob[index : index + 1]))
            index += 1
    return b"".join(parts)


def _translate_stars(glob: bytes, index: int, parts: list[bytes]) -> int:
    end = index
    while end < len(glob) and glob[end] == ord("*"):
        end += 1
    after = glob[end:]
    whole = end - index >= 2 and (index == 0 or glob[index - 1] == _SLASH)
    if whole and after.startswith((b"/", b"\\/")):
        # ``**/``: any number of directories, none included.
        parts.append(b"(?:.*/)?")
        return end + (1 if after.startswith(b"/") else 2)
    parts.append(b".*" if whole and not after else b"[^/]*")
    return end


def _translate_set(glob: bytes, index: int, parts: list[bytes], oddities: list[str]) -> int:
    """``[...]`` at ``index``: its members as a regex set that never matches ``/``."""
    position = index + 1
    negated = position < len(glob) and glob[position] in b"!^"
    if negated:
        position += 1
    ranges: list[tuple[int, int]] = []
    previous: int | None = None
    first = True
    while True:
        if position >= len(glob):
            raise _NeverMatches("a '[' is never closed")
        char = glob[position]
        if char == ord("]") and not first:
            break
        first = False
        if char == ord("\\"):
            position += 1
            if position >= len(glob):
                raise _NeverMatches("a '[' is never closed")
            char = glob[position]
            ranges.append((char, char))
            previous = char
        elif (
            char == ord("-")
            and previous is not None
            and position + 1 < len(glob)
            and glob[position + 1] != ord("]")
        ):
            position += 1
            last = glob[position]
            if last == ord("\\"):
                position += 1
                if position >= len(glob):
                    raise _NeverMatches("a '[' is never closed")
                last = glob[position]
            if previous <= last:
                ranges.append((previous, last))
            else:
                span = os.fsdecode(bytes([previous, ord("-"), last]))
                oddities.append(
                    f"the range {span!r} runs backwards, so it matches"
                    f" {os.fsdecode(bytes([previous]))!r} alone"
                )
            previous = None
        elif char == ord("[") and glob[position + 1 : position + 2] == b":":
            close = glob.find(b":]", position + 2)
            if close < 0:  # not a class after all: a literal '['
                ranges.append((char, char))
                previous = char
            else:
                name = glob[position + 2 : close]
                if name not in _CLASSES:
                    raise _NeverMatches(f"'[:{os.fsdecode(name)}:]' is not a character class")
                ranges.extend(_CLASSES[name])
                position = close + 1
                previous = None
        else:
            ranges.append((char, char))
            previous = char
        position += 1
    members = b"".join(
        re.escape(bytes([low]))
        if low == high
        else re.escape(bytes([low])) + b"-" + re.escape(bytes([high]))
        for low, high in ranges
    )
    if negated:
        parts.append(b"[^/" + members + b"]")
    elif not any(low <= _SLASH <= high for low, high in ranges):
        parts.append(b"[" + members + b"]" if members else b"(?!)")
    else:  # '/' is a member, but never matches
        parts.append(b"(?!/)[" + members + b"]")
    return position + 1


__all__ = ["Pattern", "last_match", "parse_pattern", "pattern_problem", "read_patterns"]
