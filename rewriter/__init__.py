"""rewriter: make instrumentation initialise before a Python server's runtime.

The public API::

    from rewriter import Settings, rewrite_source, rewrite_file, rewrite_build

``rewrite_source`` is pure (text in, ``Result`` out); ``rewrite_file`` and
``rewrite_build`` read and write files atomically and never raise for a bad
file: they return reports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.2.0.dev0"

__all__ = [
    "BuildReport",
    "ConfigError",
    "Diagnostic",
    "FileReport",
    "Result",
    "RewriteError",
    "Settings",
    "__version__",
    "rewrite_build",
    "rewrite_file",
    "rewrite_source",
]

if TYPE_CHECKING:
    from rewriter.config import Settings
    from rewriter.core import rewrite_source
    from rewriter.errors import ConfigError, Diagnostic, RewriteError
    from rewriter.report import BuildReport, FileReport
    from rewriter.result import Result
    from rewriter.runner import rewrite_build, rewrite_file

# Loaded on first use, so that `rewriter --version` does not import LibCST.
_LOCATIONS = {
    "Settings": "rewriter.config",
    "rewrite_source": "rewriter.core",
    "ConfigError": "rewriter.errors",
    "Diagnostic": "rewriter.errors",
    "RewriteError": "rewriter.errors",
    "BuildReport": "rewriter.report",
    "FileReport": "rewriter.report",
    "Result": "rewriter.result",
    "rewrite_build": "rewriter.runner",
    "rewrite_file": "rewriter.runner",
}


def __getattr__(name: str) -> Any:
    if name not in _LOCATIONS:
        raise AttributeError(f"module 'rewriter' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_LOCATIONS[name]), name)
    globals()[name] = value
    return value
