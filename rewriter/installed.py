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
from collections.abc import Hashable, Iterable

from rewriter import probes
from rewriter.probes import Probe
from rewriter.tree import SourceTree

# Reading every RECORD of a site-packages is slow, and a build (or a test
# corpus) asks about the same directory for many entries: the files of a
# directory are kept for as long as the directory does not change (its
# identity, from the tree, includes its modification time). The probes of
# the reads are kept too, and noted again for a rewrite that uses the files
# (rewriter.probes), as if it had read them itself.
_CACHE: dict[Hashable, tuple[frozenset[str], tuple[Probe, ...]]] = {}
_CACHE_SIZE = 64


class InstalledCode:
    """Answers whether a module file of the tree belongs to an installed distribution.

    ``roots`` are the import roots (relative to the entry's directory) whose
    distribution metadata counts. Nothing is read until a path is asked about.
    """

    def __init__(self, tree: SourceTree, roots: Iterable[str]) -> None:
        self._tree = tree
        self._roots = tuple(roots)
        self._files: dict[str, frozenset[str]] = {}

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, str):
            return False
        for root in self._roots:
            files = self._installed(root)
            if path in files or any(path.startswith(item) for item in files if item.endswith("/")):
                return True
        return False

    def _installed(self, root: str) -> frozenset[str]:
        if root not in self._files:
            key = self._tree.identity(root)
            cached = _CACHE.get(key) if key is not None else None
            if cached is None:
                with probes.recording() as reads:
                    cached = (_read(self._tree, root), tuple(reads))
                if key is not None:
                    if len(_CACHE) >= _CACHE_SIZE:
                        _CACHE.pop(next(iter(_CACHE)))
                    _CACHE[key] = cached
            else:
                for kind, subject, answer in cached[1]:
                    probes.note(kind, subject, answer)
            self._files[root] = cached[0]
        return self._files[root]


def _read(tree: SourceTree, root: str) -> frozenset[str]:
    found: set[str] = set()
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
    prefix = "" if root in ("", ".") else root.rstrip("/") + "/"
    return {
        posixpath.normpath(prefix + row[0])
        for row in csv.reader(text.splitlines())
        if row and row[0].endswith(".py")
    }


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
