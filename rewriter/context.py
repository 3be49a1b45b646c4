"""The entry's surroundings: its init module, its imports' files, its runtime."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rewriter.analysis import EntryLocation, ExportReader, ModuleLocator, RuntimeClassifier
from rewriter.bindings import ImportStatement
from rewriter.config import InitSpec, Settings
from rewriter.errors import ConfigError, Diagnostic
from rewriter.tree import SourceTree


@dataclass(frozen=True)
class Context:
    """What the rewrite (or the check) of one entry knows about its surroundings.

    ``init`` is None only in preload mode without an init spec: the
    application initialises itself later.
    """

    init: InitSpec | None
    entry: EntryLocation
    tree: SourceTree | None
    locator: ModuleLocator
    classifier: RuntimeClassifier
    exports: ExportReader

    @classmethod
    def create(cls, settings: Settings, path: str | None, tree: SourceTree | None) -> Context:
        """Locate the entry, its init module and its runtime."""
        entry = EntryLocation.detect(path, tree)
        locator = ModuleLocator(tree, entry)
        optional = settings.mode == "preload" and settings.init is None
        init = None if optional else find_init(settings, tree)
        init_path = init_location(init, locator)
        classifier = RuntimeClassifier(locator, settings.runtime, entry=entry, init_path=init_path)
        return cls(init, entry, tree, locator, classifier, ExportReader(tree, locator))


def init_location(init: InitSpec | None, locator: ModuleLocator) -> str | None:
    """The init module's file relative to the entry, when it is in the tree."""
    if init is None:
        return None
    return init.target if init.kind == "file" else locator.resolve(init.target)


def find_init(settings: Settings, tree: SourceTree | None) -> InitSpec:
    """The configured init spec, or the first default init file beside the entry."""
    spec = settings.init_spec
    if spec is not None:
        if spec.kind == "file" and tree is not None and not tree.is_file(spec.target):
            raise ConfigError(f"init file {spec.target} does not exist beside the entry")
        return spec
    for candidate in settings.init_files:
        if tree is not None and tree.is_file(candidate):
            return InitSpec("file", candidate)
    raise ConfigError(
        "no init found: pass --init MODULE, MODULE:CALLABLE or a file path, or create one of "
        + ", ".join(settings.init_files)
        + " beside the entry"
    )


def unmatched_runtime_patterns(
    patterns: Iterable[str], statements: Iterable[ImportStatement], locator: ModuleLocator
) -> list[Diagnostic]:
    """A warning (at 1:1) for each ``runtime`` pattern that no import of the entry matches.

    Such a pattern is usually a typo (``chunk/**`` for ``chunks/**``); it
    selects nothing, so the runtime it was meant to name stays static.
    """
    if not patterns:
        return []  # and pathspec, slow to import, is not needed
    import pathspec

    files = {
        path
        for statement in statements
        for module in statement.candidate_modules()
        if (path := locator.resolve(module)) is not None
    }
    warnings = []
    for pattern in patterns:
        if not pattern.strip() or pattern.lstrip().startswith(("#", "!")):
            continue
        spec = pathspec.GitIgnoreSpec.from_lines([pattern])
        if not any(spec.match_file(path) for path in files):
            message = f"runtime pattern {pattern!r} matches no module the entry imports"
            warnings.append(Diagnostic(message))
    return warnings
