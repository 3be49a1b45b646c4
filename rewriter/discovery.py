"""Entries that another entry imports as its runtime are not entries.

A directory search selects files by their names (``**/index.py`` by
default), and a build often holds a runtime module with an entry's name: a
Nitro chunk ``server/chunks/pages/index.py`` that ``server/index.py``
imports. Such a file is part of another entry's runtime; rewriting it as an
entry would give it an init block of its own, and report ``no init found``
for it. ``runtime_of_other_entries`` finds them, reading each entry's
imports with ``ast`` and the same classification as the rewrite.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rewriter import probes
from rewriter.analysis import EntryLocation, ModuleLocator, RuntimeClassifier, module_level
from rewriter.bindings import ImportStatement
from rewriter.config import Settings
from rewriter.errors import RewriteError
from rewriter.files import DiskTree, read_source
from rewriter.parsing import compiler_warnings_ignored, python_tree

if TYPE_CHECKING:
    from rewriter.cache import VerdictCache


def runtime_of_other_entries(
    entries: Sequence[Path], settings: Settings, cache: VerdictCache | None = None
) -> dict[Path, Path]:
    """Each entry of ``entries`` that another one imports as runtime, with that importer.

    With a ``cache``, an entry's runtime files are read from it while they
    hold, and kept there for the next run (``rewriter.cache``).
    """
    resolved = {_real(entry): entry for entry in entries}
    found: dict[Path, Path] = {}
    for importer in entries:
        for module in _runtime_files(importer, settings, cache):
            target = resolved.get(_real(module))
            if target is not None and target != importer and target not in found:
                found[target] = importer
    return found


def _runtime_files(entry: Path, settings: Settings, cache: VerdictCache | None) -> list[Path]:
    try:
        source = read_source(entry, settings.max_size)
    except Exception:  # an unreadable entry is reported when it is rewritten
        return []
    known = None if cache is None else cache.lookup(_KIND, entry, settings, source.raw)
    if isinstance(known, list) and all(isinstance(relpath, str) for relpath in known):
        return [entry.parent / relpath for relpath in known]
    with probes.recording() as asked:
        relpaths = _runtime_relpaths(entry, source.text, settings)
    if cache is not None and relpaths is not None:
        cache.store(_KIND, entry, settings, source.raw, asked, relpaths)
    return [entry.parent / relpath for relpath in relpaths or ()]


_KIND = "runtime-files"
"""The kind of the cache's records of ``_runtime_relpaths``."""


def _runtime_relpaths(entry: Path, text: str, settings: Settings) -> list[str] | None:
    """The runtime files that ``entry`` imports, relative to its directory; None: unparsable."""
    try:
        # Within the parser's bounds: CPython's own parse of some text
        # (a dotted name of 20,000 parts) takes minutes.
        with compiler_warnings_ignored():
            module = python_tree(text)
    except RewriteError:  # reported when the entry is rewritten
        return None
    tree = DiskTree(entry.parent, settings.max_size)
    location = EntryLocation.detect(str(entry), tree)
    locator = ModuleLocator(tree, location)
    classifier = RuntimeClassifier(locator, settings.runtime, entry=location)
    relpaths: list[str] = []
    for node in module_level(module.body):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            relpaths.extend(classifier.runtime_files(ImportStatement.from_ast(node)))
    return relpaths


def _real(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()
