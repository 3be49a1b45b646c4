"""Validation of names that end up in generated code.

Nothing from configuration or the command line is spliced into generated code
unless it passed one of these checks: identifiers are checked with
``str.isidentifier()`` and ``keyword``, dotted names part by part. Entry-point
names are not identifiers (``aws-lambda``): they reach generated code only as
string literals, and ``identifier_for`` derives a name for code from them.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Collection

from rewriter.errors import ConfigError

_NOT_IDENTIFIER = re.compile(r"[^A-Za-z0-9_]")
# A file-path init spec may only use these characters, so that it can be
# embedded in a string literal without any escaping.
_SAFE_PATH_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*\Z")


def is_identifier(name: str) -> bool:
    """True for a plain Python identifier that is not a keyword."""
    return name.isidentifier() and not keyword.iskeyword(name) and name.isascii()


def is_dotted_name(name: str) -> bool:
    """True for ``a``, ``a.b.c``: identifiers joined by single dots."""
    return bool(name) and all(is_identifier(part) for part in name.split("."))


def check_identifier(name: str, what: str) -> str:
    """Return ``name`` if it is an identifier, else raise ConfigError."""
    if not isinstance(name, str) or not is_identifier(name):
        raise ConfigError(f"{what} must be a Python identifier, got {name!r}")
    return name


def check_dotted_name(name: str, what: str) -> str:
    """Return ``name`` if it is a dotted module name, else raise ConfigError."""
    if not isinstance(name, str) or not is_dotted_name(name):
        raise ConfigError(f"{what} must be a dotted Python name like 'pkg.module', got {name!r}")
    return name


def is_entry_point_name(name: str) -> bool:
    """True for a name that an entry point may have.

    The packaging spec's rule (https://packaging.python.org/en/latest/
    specifications/entry-points/): any characters but ``=``, not starting or
    ending with whitespace, not starting with ``[``. ``entry_points.txt`` is
    an INI file, so a name is one printable line as well.
    """
    return (
        bool(name)
        and "=" not in name
        and name == name.strip()
        and not name.startswith("[")
        and name.isprintable()
    )


def check_entry_point_name(name: str, what: str) -> str:
    """Return ``name`` if an entry point may have it (``is_entry_point_name``), else raise."""
    if not isinstance(name, str) or not is_entry_point_name(name):
        raise ConfigError(
            f"{what} must be an entry point name (no '=', no leading '[' or surrounding "
            f"whitespace, one printable line), got {name!r}"
        )
    return name


def identifier_for(name: str, prefix: str, taken: Collection[str] = ()) -> str:
    """A plain ASCII identifier for ``name``: ``prefix`` + ``name`` with every character
    outside ``[A-Za-z0-9_]`` replaced by ``_``, then ``_2``, ``_3``... until it is not
    in ``taken``. ``prefix`` must start an identifier (``"instrument_"``).
    """
    stem = prefix + _NOT_IDENTIFIER.sub("_", name)
    candidate, number = stem, 1
    while candidate in taken:
        number += 1
        candidate = f"{stem}_{number}"
    return candidate


def check_relative_file(path: str, what: str) -> str:
    """Return a normalised ``a/b.py`` path relative to the entry, else raise ConfigError.

    Only ``[A-Za-z0-9_.-]`` characters and ``..`` parts are allowed, so the
    path can be placed in generated code as a literal without escaping.
    """
    if not isinstance(path, str):
        raise ConfigError(f"{what} must be a string, got {path!r}")
    parts = [part for part in path.replace("\\", "/").split("/") if part not in ("", ".")]
    if path.startswith("/") or not parts or not parts[-1].endswith(".py"):
        raise ConfigError(f"{what} must be a relative path to a .py file, got {path!r}")
    for part in parts:
        if part != ".." and not _SAFE_PATH_PART.match(part):
            raise ConfigError(
                f"{what} has an unsafe path part {part!r} (use letters, digits, '_', '-', '.')"
            )
    return "/".join(parts)
