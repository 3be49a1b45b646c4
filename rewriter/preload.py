"""Build-time resolution of the integrations that ``preload`` mode instruments.

Instrumentors are found in an entry-point group (``opentelemetry_instrumentor``
by default) when the entry is rewritten, so the generated code imports the
instrumentor classes directly and cold start never scans entry points.

The dependency check that ``opentelemetry-instrument`` runs at start-up is
done here too, from the same metadata (the ``instruments`` and
``instruments-any`` extras of the instrumentor's distribution): an integration
whose library is missing, or installed at a version outside that range, is
left out, and the others skip the check at run time. The modules that
importing each instrumented library runs first are recorded as well, so the
generated code can start an instrumentor right after its library's first
import, and an application does not import a library only to instrument it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from importlib import machinery, metadata
from typing import TYPE_CHECKING

from rewriter.errors import ConfigError
from rewriter.names import check_dotted_name, check_identifier, is_identifier

if TYPE_CHECKING:
    from packaging.requirements import Requirement

_EXTRAS = ("instruments", "instruments-any")


@dataclass(frozen=True)
class Integration:
    """One instrumentor: ``from <module> import <attribute>`` under ``name``.

    ``checked``: its library's version was checked at build time, so the
    generated code skips the check at run time. ``watch``: the modules whose
    first import starts it (empty: it starts with the preload block).
    ``conflict``: why it cannot instrument anything in this environment.
    """

    name: str
    module: str
    attribute: str
    checked: bool = False
    watch: tuple[str, ...] = ()
    conflict: str | None = None


@dataclass(frozen=True)
class _Requirements:
    """The instrumented libraries: all of ``required``, and one of ``any_of`` if given."""

    required: tuple[Requirement, ...]
    any_of: tuple[Requirement, ...]


def installed_integrations(group: str) -> dict[str, Integration]:
    """The integrations installed in entry-point ``group``, by lower-case name."""
    found: dict[str, Integration] = {}
    for point in metadata.entry_points(group=group):
        module, _, attribute = point.value.partition(":")
        name = point.name.lower()
        # Names and targets come from installed metadata and end up in code.
        found[name] = _checked(
            Integration(
                check_identifier(name, f"entry point name in {group}"),
                check_dotted_name(module.strip(), f"entry point module of {point.name}"),
                check_identifier(attribute.strip(), f"entry point attribute of {point.name}"),
            ),
            point.dist,
        )
    return dict(sorted(found.items()))


def resolve_integrations(names: tuple[str, ...], group: str) -> tuple[Integration, ...]:
    """The integrations for ``names`` (all usable installed ones when empty).

    A name that is not installed is a ``ConfigError`` listing those that are;
    so is a named integration whose library is missing or at a version it
    does not instrument. Without names, such integrations are left out, as
    ``opentelemetry-instrument`` skips them.
    """
    installed = installed_integrations(group)
    if not names:
        return tuple(integration for integration in installed.values() if not integration.conflict)
    missing = [name for name in names if name.lower() not in installed]
    if missing:
        listed = ", ".join(installed) or "none"
        raise ConfigError(
            f"preload integration {missing[0]!r} is not installed in entry-point group "
            f"{group!r}; installed: {listed}"
        )
    chosen = tuple(installed[name.lower()] for name in dict.fromkeys(names))
    for integration in chosen:
        if integration.conflict:
            raise ConfigError(
                f"preload integration {integration.name!r} cannot instrument anything here: "
                f"{integration.conflict}"
            )
    return chosen


def _checked(integration: Integration, dist: metadata.Distribution | None) -> Integration:
    """``integration`` with the outcome of its build-time dependency check."""
    requirements = _instrumented(dist) if dist is not None else None
    if requirements is None:
        return integration  # nothing to check here: the run-time check stays
    conflict = _conflict(requirements)
    if conflict:
        return replace(integration, conflict=conflict)
    libraries = [
        *requirements.required,
        *(requirement for requirement in requirements.any_of if _satisfied(requirement)),
    ]
    return replace(integration, checked=True, watch=_watched_modules(libraries))


def _instrumented(dist: metadata.Distribution) -> _Requirements | None:
    """The libraries ``dist`` instruments, by its extras; None when it names none.

    The same selection as opentelemetry-instrumentation's
    ``get_dist_dependency_conflicts``, which ``opentelemetry-instrument`` runs.
    """
    try:
        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:  # pragma: no cover - installed with every instrumentor
        return None
    by_extra: dict[str, list[Requirement]] = {extra: [] for extra in _EXTRAS}
    for line in dist.requires or ():
        if "extra" not in line or "instruments" not in line:
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            return None  # the run-time check reports it
        for extra, listed in by_extra.items():
            if requirement.marker is not None and requirement.marker.evaluate({"extra": extra}):
                listed.append(requirement)
    if not any(by_extra.values()):
        return None
    return _Requirements(tuple(by_extra["instruments"]), tuple(by_extra["instruments-any"]))


def _installed(requirement: Requirement) -> metadata.Distribution | None:
    try:
        return metadata.distribution(requirement.name)
    except metadata.PackageNotFoundError:
        return None


def _satisfied(requirement: Requirement) -> bool:
    dist = _installed(requirement)
    return dist is not None and requirement.specifier.contains(dist.version)


def _conflict(requirements: _Requirements) -> str | None:
    """Why the instrumented libraries do not match ``requirements``; None when they do."""
    for requirement in requirements.required:
        if not _satisfied(requirement):
            dist = _installed(requirement)
            found = f"{dist.version} is installed" if dist else "it is not installed"
            return f"it instruments {_wanted(requirement)}, but {found}"
    if requirements.any_of and not any(map(_satisfied, requirements.any_of)):
        listed = ", ".join(map(_wanted, requirements.any_of))
        return f"it instruments one of {listed}, but none is installed at such a version"
    return None


def _wanted(requirement: Requirement) -> str:
    """``'flask<1'``: the library and versions, without the ``extra`` marker."""
    return repr(f"{requirement.name}{requirement.specifier}")


def _watched_modules(libraries: Iterable[Requirement]) -> tuple[str, ...]:
    """The modules whose first import starts the instrumentor; empty: start it at once.

    Any one of them is imported before the libraries can be used, so the
    instrumentor starts before the application binds anything from them.
    When the modules of one library are unknown, nothing is watched.
    """
    watched: set[str] = set()
    for requirement in libraries:
        dist = _installed(requirement)
        roots = _import_roots(dist) if dist is not None else ()
        if not roots:
            return ()
        watched.update(roots)
    # Module names come from installed metadata and end up in code.
    return tuple(sorted(check_dotted_name(name, "instrumented module") for name in watched))


def _import_roots(dist: metadata.Distribution) -> tuple[str, ...]:
    """The first module executed when importing anything that ``dist`` installed.

    That is the top-level regular package (``flask``), the first regular
    package inside namespace packages (``google.genai``), or a module.
    Empty when the installed files do not tell: no RECORD, or a ``.pth``
    file (an editable install or a path hook) that may add modules.
    """
    paths = {file.as_posix() for file in dist.files or ()}
    if any(path.endswith(".pth") for path in paths):
        return ()
    roots = set()
    for path in paths:
        module = _module_parts(path)
        if module is None:
            continue
        for depth in range(1, len(module) + 1):
            if "/".join(module[:depth]) + "/__init__.py" in paths:
                module = module[:depth]
                break
        roots.add(".".join(module))
    return tuple(sorted(roots))


def _module_parts(path: str) -> list[str] | None:
    """``a/b/c.py`` -> ``[a, b, c]``; ``a/__init__.py`` -> ``[a]``; None if not a module."""
    *folders, filename = path.split("/")
    for suffix in (".py", *machinery.EXTENSION_SUFFIXES):
        if filename.endswith(suffix):
            stem = filename.removesuffix(suffix)
            break
    else:
        return None
    parts = [*folders] if stem == "__init__" else [*folders, stem]
    if not parts or not all(is_identifier(part) for part in parts):
        return None  # scripts outside site-packages (../bin), metadata folders, odd names
    return parts
