"""Rewrite entries on disk: read, call the pure core, write back atomically.

The functions here never raise for bad input. A file that cannot be
rewritten becomes a failed ``FileReport`` and stays untouched on disk.
"""

from __future__ import annotations

import os
from pathlib import Path

from rewriter.config import Settings
from rewriter.errors import Diagnostic, RewriteError
from rewriter.files import DiskTree, expand_paths, read_source, write_atomic
from rewriter.report import BuildReport, FileReport


def rewrite_text(
    text: str, settings: Settings, *, path: str, root: Path, written: bool = True
) -> FileReport:
    """Rewrite source ``text`` whose modules live under ``root``; nothing is written.

    ``path`` names the source in reports and, with ``root``, tells the core
    which package the entry belongs to. Use this for text that is not a
    file, such as standard input. The guarantee is verified on the output
    when it is ``written``, else (``--check``, ``--diff``) on ``text``.
    """
    from rewriter.core import rewrite_source
    from rewriter.verify import verify_source

    tree = DiskTree(root, settings.max_size)
    try:
        result = rewrite_source(text, settings, path=path, tree=tree)
        kept = result.output if written else text
        findings = verify_source(kept, settings, path=path, tree=tree)
    except RewriteError as error:
        return FileReport.from_error(path, error.diagnostic)
    except Exception as error:  # the runner must never take the whole build down
        return FileReport.from_error(path, _internal_error(error))
    return FileReport.from_result(path, result, findings)


def rewrite_file(
    path: str | os.PathLike[str], settings: Settings, *, write: bool = True
) -> FileReport:
    """Rewrite the entry at ``path`` in place (when ``write`` and it changes).

    Modules are resolved relative to the entry's directory. With
    ``write=False`` nothing is written and the report says what would happen.
    """
    entry = Path(path)
    name = str(path)
    try:
        source = read_source(entry, settings.max_size)
        report = rewrite_text(source.text, settings, path=name, root=entry.parent, written=write)
        if write and report.result is not None and report.result.changed:
            write_atomic(entry, report.result.output, source)
    except RewriteError as error:
        return FileReport.from_error(name, error.diagnostic)
    except Exception as error:  # the runner must never take the whole build down
        return FileReport.from_error(name, _internal_error(error))
    return report


def rewrite_build(
    build_dir: str | os.PathLike[str], settings: Settings, *, write: bool = True
) -> BuildReport:
    """Rewrite every entry that ``settings.entry`` finds under ``build_dir``.

    This is the hook a framework's build calls after it writes its output.
    Raises RewriteError only when ``build_dir`` does not exist; a file that
    cannot be rewritten is reported as failed.
    """
    entries = expand_paths([Path(build_dir)], settings)
    return BuildReport(tuple(rewrite_file(entry, settings, write=write) for entry in entries))


def _internal_error(error: Exception) -> Diagnostic:
    return Diagnostic(f"internal error: {type(error).__name__}: {error}")
