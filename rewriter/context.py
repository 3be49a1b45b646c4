"""The entry's surroundings: its init module, its imports' files, its runtime."""

from __future__ import annotations

from dataclasses import dataclass

from rewriter.analysis import EntryLocation, ExportReader, ModuleLocator, RuntimeClassifier
from rewriter.config import InitSpec, Settings
from rewriter.errors import ConfigError
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
