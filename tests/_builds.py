"""Build trees for the tests: an app directory with an entry, its runtime and its init file."""

from __future__ import annotations

from pathlib import Path

ENTRY = '"""Server entry."""\nfrom .chunks.app import handler\n'
RUNTIME = "def handler(event, context):\n    return 'served'\n"


def make_app(directory: Path, entry: str = ENTRY, *, package: bool = False) -> Path:
    """``directory/index.py``, with ``chunks/app.py`` and ``instrument.server.py`` beside it.

    ``package`` makes ``directory`` a package too (``import server.index``).
    Returns the entry.
    """
    (directory / "chunks").mkdir(parents=True)
    if package:
        (directory / "__init__.py").write_text("")
    (directory / "chunks" / "__init__.py").write_text("")
    (directory / "chunks" / "app.py").write_text(RUNTIME)
    (directory / "instrument.server.py").write_text("")
    path = directory / "index.py"
    path.write_text(entry)
    return path
