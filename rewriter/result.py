"""What a rewrite of one source text produced."""

from __future__ import annotations

from dataclasses import dataclass

from rewriter.errors import Diagnostic


@dataclass(frozen=True)
class Result:
    """The outcome of ``rewrite_source``.

    ``output`` equals ``source`` when nothing had to change. ``runtime_modules``
    names the modules whose imports are deferred (as written in the entry, for
    example ``.chunks.nitro.nitro``), ``reexports`` the handler names the entry
    exports, and ``warnings`` what the user should look at.
    """

    source: str
    output: str
    runtime_modules: tuple[str, ...] = ()
    reexports: tuple[str, ...] = ()
    warnings: tuple[Diagnostic, ...] = ()

    @property
    def changed(self) -> bool:
        """True if the rewrite changed the text."""
        return self.output != self.source
