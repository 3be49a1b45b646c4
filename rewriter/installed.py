"""Code that belongs to an installed distribution inside the build tree.

``pip install --target .`` (the layout of AWS Lambda zips and of vendored
dependencies) puts third-party packages beside the application's own code,
each with a ``*.dist-info`` directory whose ``RECORD`` lists its files
(PEP 376, PEP 627). Such code is third-party, never runtime, however it is
imported. Older ``setup.py install`` layouts leave an ``*.egg-info``
directory with ``installed-files.txt`` or ``top_level.txt`` instead.
"""

from __future__ import annotations

import csv
import posixpath
from collections.abc import Iterable

from rewriter.tree import SourceTree


def installed_paths(tree: SourceTree, roots: Iterable[str]) -> frozenset[str]:
    """The installed files under the import ``roots`` (relative to the entry's directory).

    A directory is given with a trailing ``/`` when the metadata names only
    the top-level package (``top_level.txt``).
    """
    found: set[str] = set()
    for root in roots:
        for name in tree.list_dir(root) or ():
            folder = posixpath.join(root, name)
            if name.endswith(".dist-info"):
                found.update(_record(tree, root, folder))
            elif name.endswith(".egg-info"):
                found.update(_egg_info(tree, root, folder))
    return frozenset(found)


def _record(tree: SourceTree, root: str, folder: str) -> set[str]:
    text = tree.read_text(f"{folder}/RECORD")
    if text is None:
        return set()
    paths = set()
    for row in csv.reader(text.splitlines()):
        if row and row[0]:
            paths.add(posixpath.normpath(posixpath.join(root, row[0])))
    return paths


def _egg_info(tree: SourceTree, root: str, folder: str) -> set[str]:
    files = tree.read_text(f"{folder}/installed-files.txt")
    if files is not None:
        return {
            posixpath.normpath(posixpath.join(folder, line.strip()))
            for line in files.splitlines()
            if line.strip()
        }
    modules = tree.read_text(f"{folder}/top_level.txt") or ""
    paths: set[str] = set()
    for line in modules.splitlines():
        name = line.strip().replace(".", "/")
        if name:
            base = posixpath.normpath(posixpath.join(root, name))
            paths.update((f"{base}/", f"{base}.py"))
    return paths
