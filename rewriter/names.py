"""Validation of names that end up in generated code.

Nothing from configuration or the command line is spliced into generated code
unless it passed one of these checks: identifiers are checked with
``str.isidentifier()`` and ``keyword``, dotted names part by part.
"""

from __future__ import annotations

import keyword
import re

from rewriter.errors import ConfigError

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
