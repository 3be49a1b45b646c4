"""Per-file outcomes of a run, the exit code they add up to, and how they read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rewriter.errors import Diagnostic
from rewriter.result import Result

Status = Literal["changed", "unchanged", "failed"]

EXIT_OK = 0
EXIT_WOULD_CHANGE = 1
EXIT_USAGE = 2
EXIT_FAILED = 123


@dataclass(frozen=True)
class FileReport:
    """What happened to one entry.

    ``status`` is ``"changed"`` when the rewrite changed the text (written,
    or with ``write=False`` would be), ``"unchanged"`` when there was nothing
    to do, and ``"failed"`` when the file could not be rewritten; ``error``
    then says why and the file on disk is untouched. ``findings`` are the
    ways the file on disk breaks the guarantee after the run (see
    ``rewriter.verify``).
    """

    path: str
    status: Status
    result: Result | None = None
    error: Diagnostic | None = None
    warnings: tuple[Diagnostic, ...] = ()
    findings: tuple[Diagnostic, ...] = ()
    written: bool = False
    config_error: bool = False
    """The failure is a setting that does not fit this entry (exit code 2)."""

    @classmethod
    def from_result(
        cls, path: str, result: Result, findings: tuple[Diagnostic, ...] = ()
    ) -> FileReport:
        """The report of a rewrite that succeeded."""
        status: Status = "changed" if result.changed else "unchanged"
        return cls(path, status, result, warnings=result.warnings, findings=findings)

    @classmethod
    def from_error(cls, path: str, error: Diagnostic, *, config: bool = False) -> FileReport:
        """The report of a file that could not be rewritten (``config``: a setting's fault)."""
        return cls(path, "failed", error=error, config_error=config)


@dataclass(frozen=True)
class BuildReport:
    """The reports of every entry of a run, in the order they were processed.

    ``errors`` are problems of the run rather than of one entry, one line
    each (``PATH: message``), such as a build directory that yields no entry.
    """

    files: tuple[FileReport, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def rewritten(self) -> tuple[FileReport, ...]:
        """Entries that were (or, in check mode, would be) rewritten."""
        return tuple(report for report in self.files if report.status == "changed")

    @property
    def unchanged(self) -> tuple[FileReport, ...]:
        """Entries that needed no change."""
        return tuple(report for report in self.files if report.status == "unchanged")

    @property
    def failed(self) -> tuple[FileReport, ...]:
        """Entries that could not be rewritten."""
        return tuple(report for report in self.files if report.status == "failed")

    @property
    def warnings(self) -> tuple[tuple[str, Diagnostic], ...]:
        """Every warning, as ``(path, diagnostic)`` pairs."""
        return tuple((report.path, warning) for report in self.files for warning in report.warnings)

    @property
    def findings(self) -> tuple[tuple[str, Diagnostic], ...]:
        """Every broken guarantee, as ``(path, diagnostic)`` pairs."""
        return tuple((report.path, finding) for report in self.files for finding in report.findings)

    def exit_code(self, check: bool = False, diff: bool = False) -> int:
        """0 when all is well; 1 when ``check``/``diff`` found work or a guarantee is
        broken; 2 when the run has ``errors`` or a setting does not fit an
        entry; 123 when a file failed."""
        if self.errors or any(report.config_error for report in self.failed):
            return EXIT_USAGE
        if self.failed:
            return EXIT_FAILED
        if ((check or diff) and self.rewritten) or self.findings:
            return EXIT_WOULD_CHANGE
        return EXIT_OK

    def summary(self, *, write: bool, undo: bool = False) -> str:
        """One line in the style of black: ``1 file rewritten, 2 files left unchanged.``

        A rewrite that went to standard output instead of a file is counted
        as ``rewritten to standard output``; with ``undo``, files are
        ``restored``.
        """
        would = "" if write else "would be "
        done = "restored" if undo else "rewritten"
        parts = []
        on_disk = [report for report in self.rewritten if report.written or not write]
        if on_disk:
            parts.append(f"{_files(len(on_disk))} {would}{done}")
        if len(on_disk) < len(self.rewritten):  # standard input
            printed = len(self.rewritten) - len(on_disk)
            parts.append(f"{_files(printed)} {done} to standard output")
        if self.unchanged:
            parts.append(f"{_files(len(self.unchanged))} {would}left unchanged")
        if self.failed:
            verb = "failed" if write else "would fail"
            parts.append(f"{_files(len(self.failed))} {verb} to rewrite")
        if self.errors:
            parts.append(f"{len(self.errors)} error{'' if len(self.errors) == 1 else 's'}")
        return (", ".join(parts) or "No entries found") + "."


def file_line(report: FileReport, *, write: bool, verbose: bool, undo: bool = False) -> str | None:
    """The progress line for one entry, or None when there is nothing to say.

    A file that would change is always named in check mode; a rewritten (or,
    with ``undo``, restored) or unchanged file only when ``verbose``. Errors
    and warnings are printed separately (``Diagnostic.format``).
    """
    if report.status == "changed":
        if not write:
            return f"would {'restore' if undo else 'rewrite'} {report.path}"
        return f"{'restored' if undo else 'rewrote'} {report.path}" if verbose else None
    if report.status == "unchanged" and verbose:
        return f"unchanged {report.path}"
    return None


def _files(count: int) -> str:
    return f"{count} file{'' if count == 1 else 's'}"
