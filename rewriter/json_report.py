"""The ``--format json`` report: one JSON object per run, for CI tooling.

The object has this shape (``version`` changes when a field is removed or
changes meaning; new fields may appear at any time)::

    {
      "version": 1,
      "tool": {"name": "rewriter", "version": "0.2.0.dev0"},
      "write": true,                 # false under --check
      "exit_code": 0,
      "summary": {"files": 1, "changed": 1, "unchanged": 0, "failed": 0,
                  "warnings": 0, "findings": 0},
      "files": [
        {
          "path": "build/server/index.py",
          "status": "changed",       # "changed", "unchanged" or "failed"
          "written": true,           # the file on disk was replaced
          "reexports": ["handler"],
          "runtime_modules": [".chunks.nitro.nitro"],
          "warnings": [DIAGNOSTIC, ...],
          "errors": [DIAGNOSTIC],    # empty unless status is "failed"
          "findings": [DIAGNOSTIC, ...]
        }
      ]
    }

where a DIAGNOSTIC is ``{"path": ..., "line": 1, "column": 1, "message":
...}``. Its ``path`` is the file the message is about: the entry, or a file
beside it that the verify step followed (e.g. the init module).

The output is strict JSON in ASCII (so valid UTF-8). A path that is not
valid UTF-8 (a name with byte ``0xff``) cannot be a JSON string as it is:
its ``path`` then shows each such byte as U+FFFD, and ``path_bytes`` holds
the exact bytes in base64, which is lossless (a field present only then).
In messages, such bytes are written ``\xff``.
"""

from __future__ import annotations

import base64
import json
import os

from rewriter.errors import Diagnostic
from rewriter.interrupts import printable
from rewriter.report import BuildReport, FileReport

FORMAT_VERSION = 1


def build_json(
    build: BuildReport, *, write: bool, exit_code: int, tool_version: str
) -> dict[str, object]:
    """The JSON-ready report of a run: ``write`` is False under ``--check``."""
    return {
        "version": FORMAT_VERSION,
        "tool": {"name": "rewriter", "version": tool_version},
        "write": write,
        "exit_code": exit_code,
        "summary": {
            "files": len(build.files),
            "changed": len(build.rewritten),
            "unchanged": len(build.unchanged),
            "failed": len(build.failed),
            "warnings": len(build.warnings),
            "findings": len(build.findings),
        },
        "files": [file_json(report, write=write) for report in build.files],
    }


def file_json(report: FileReport, *, write: bool) -> dict[str, object]:
    """The JSON-ready report of one entry."""
    result = report.result
    return {
        **path_json(report.path),
        "status": report.status,
        "written": report.written,
        "reexports": list(result.reexports) if result is not None else [],
        "runtime_modules": list(result.runtime_modules) if result is not None else [],
        "warnings": [diagnostic_json(item, report.path) for item in report.warnings],
        "errors": [] if report.error is None else [diagnostic_json(report.error, report.path)],
        "findings": [diagnostic_json(item, report.path) for item in report.findings],
    }


def diagnostic_json(diagnostic: Diagnostic, entry_path: str) -> dict[str, object]:
    """A diagnostic with the path of the file it is about (as ``Diagnostic.format`` shows it)."""
    return {
        **path_json(diagnostic.file(entry_path)),
        "line": diagnostic.line,
        "column": diagnostic.column,
        "message": printable(" ".join(diagnostic.message.split())),
    }


def path_json(path: str) -> dict[str, str]:
    """``{"path": path}``, with ``path_bytes`` (base64) when the path is not valid UTF-8."""
    raw = _bytes(path)
    try:
        return {"path": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {
            "path": raw.decode("utf-8", errors="replace"),
            "path_bytes": base64.b64encode(raw).decode("ascii"),
        }


def _bytes(text: str) -> bytes:
    # A name from the file system holds its undecodable bytes as surrogates.
    try:
        return os.fsencode(text)
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="surrogatepass")


def dumps(report: dict[str, object]) -> str:
    """The report as one line of strict JSON (ASCII only, so any console can carry it)."""
    return json.dumps(report, ensure_ascii=True, separators=(",", ":"))
