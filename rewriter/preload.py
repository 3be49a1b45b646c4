"""Build-time resolution of the integrations that ``preload`` mode instruments.

Instrumentors are found in an entry-point group (``opentelemetry_instrumentor``
by default) when the entry is rewritten, so the generated code imports the
instrumentor classes directly and cold start never scans entry points.

Entry-point names are strings, not identifiers (``aws-lambda``,
``aiohttp-client``): a name is selected as it is and reaches generated code
only as a string literal, and the generated function for it gets an
identifier derived from it. Only what was asked for can fail a run: an entry
point that was not named and cannot be used (a target that is not
``module:Class``, a name another distribution has first) is skipped with a
warning.

The dependency check that ``opentelemetry-instrument`` runs at start-up is
done here too, from the same metadata (the ``instruments`` and
``instruments-any`` extras of the instrumentor's distribution): an integration
whose library is missing, or installed at a version outside that range, is
left out, and the others skip the check at run time. The modules that
importing each instrumented library runs first are recorded as well, so the
generated code can start an instrumentor right after its library's first
import, and an application does not import a library only to instrument it.

A run resolves its integrations once, before any file is processed
(``resolving_once``), so that what is wrong with the environment is reported
once, as a configuration error, and not pinned on an entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from importlib import machinery
from typing import TYPE_CHECKING

from rewriter.errors import ConfigError
from rewriter.names import (
    check_dotted_name,
    check_entry_point_name,
    check_identifier,
    identifier_for,
    is_identifier,
)

if TYPE_CHECKING:
    from importlib import metadata

    from packaging.requirements import Requirement

    from rewriter.config import Settings

_EXTRAS = ("instruments", "instruments-any")
FUNCTION_PREFIX = "instrument_"


@dataclass(frozen=True)
class Integration:
    """One instrumentor: ``from <module> import <attribute>``, then ``<attribute>().instrument()``.

    ``name`` is its entry point's name, lower-cased (``aws-lambda``): what
    ``--preload``, ``preload = [...]`` and ``REWRITER_PRELOAD_INTEGRATIONS``
    select, case-insensitively. It may be any entry-point name
    (``rewriter.names.is_entry_point_name``), so generated code holds it only
    as a string literal. ``function`` is the name of the generated function
    that instruments it: ``instrument_`` + ``name`` with every character
    outside ``[A-Za-z0-9_]`` replaced by ``_``, then ``_2``, ``_3``... when an
    integration before it in the same plan has it already
    (``rewriter.names.identifier_for``). ``module`` is a dotted module name
    and ``attribute`` an identifier, both from the entry point's value.
    ``checked``: its library's version was checked at build time, so the
    generated code skips the check at run time. ``watch``: the modules whose
    first import starts it (empty: it starts with the preload block).
    """

    name: str
    function: str
    module: str
    attribute: str
    checked: bool = False
    watch: tuple[str, ...] = ()


@dataclass(frozen=True)
class PreloadPlan:
    """What a run preloads.

    ``integrations`` in the order they start; ``skipped``: one warning per
    entry point of the group that was not asked for and cannot be used, each
    naming its distribution and entry point (only when no name was given:
    then every usable one is preloaded).
    """

    integrations: tuple[Integration, ...]
    skipped: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Found:
    """One entry point of the group, as installed.

    ``origin`` names it for messages. ``target`` is ``(module, attribute)``,
    None when ``broken`` says why it cannot be used; ``conflict`` says why it
    cannot instrument anything in this environment.
    """

    name: str
    origin: str
    target: tuple[str, str] | None
    broken: str | None = None
    checked: bool = False
    watch: tuple[str, ...] = ()
    conflict: str | None = None


@dataclass(frozen=True)
class _Requirements:
    """The instrumented libraries: all of ``required``, and one of ``any_of`` if given."""

    required: tuple[Requirement, ...]
    any_of: tuple[Requirement, ...]


_resolved: ContextVar[dict[tuple[tuple[str, ...], str], PreloadPlan] | None] = ContextVar(
    "rewriter_preload_resolved", default=None
)


@contextmanager
def resolving_once() -> Iterator[None]:
    """Within this block, each ``(names, group)`` is resolved once and the plan reused.

    A run (the command line, ``rewrite_build``) resolves inside this block
    before it processes any file, and every entry's rewrite then uses that
    plan. Worker processes forked inside the block inherit the plans.
    """
    if _resolved.get() is not None:
        yield
        return
    token = _resolved.set({})
    try:
        yield
    finally:
        _resolved.reset(token)


def preload_plan(settings: Settings) -> PreloadPlan | None:
    """``plan_preload`` for ``settings`` in preload mode; None in the other modes."""
    if settings.mode != "preload":
        return None
    return plan_preload(settings.preload, settings.preload_group)


def plan_preload(names: tuple[str, ...], group: str) -> PreloadPlan:
    """The integrations of entry-point ``group`` named by ``names``, or all usable ones.

    Names match case-insensitively. Raises ConfigError about the ``preload``
    key for a name that is not installed (the message lists the installed
    names) and for a named entry point that cannot be used or cannot
    instrument anything here (its library missing or at a version it does
    not instrument); the message names the distribution and entry point.
    Without names, such entry points are left out, as ``opentelemetry-
    instrument`` leaves them out, and when none is left, that is a
    ConfigError about the ``preload_group`` key.
    """
    plans = _resolved.get()
    key = (names, group)
    if plans is not None and key in plans:
        return plans[key]
    found, duplicates = _scan(group)
    plan = _chosen(names, found, group) if names else _all_usable(found, duplicates, group)
    if plans is not None:
        plans[key] = plan
    return plan


def resolve_integrations(names: tuple[str, ...], group: str) -> tuple[Integration, ...]:
    """The integrations that the preload block instruments: see ``plan_preload``."""
    return plan_preload(names, group).integrations


def _scan(group: str) -> tuple[dict[str, _Found], list[_Found]]:
    """The entry points of ``group`` by lower-case name, and those whose name was taken.

    The first distribution on sys.path keeps a name that several provide,
    as with console scripts.
    """
    from importlib import metadata  # not at the top: only preload mode pays for it

    found: dict[str, _Found] = {}
    duplicates = []
    for point in metadata.entry_points(group=group):
        entry = _read(point)
        if entry.name in found:
            duplicates.append(entry)
        else:
            found[entry.name] = entry
    return dict(sorted(found.items())), duplicates


def _read(point: metadata.EntryPoint) -> _Found:
    """What ``point`` is; one that cannot be used says why instead of raising."""
    name = point.name.lower()
    origin = f"entry point {point.name!r}"
    try:
        if point.dist is not None:
            origin += f" of {point.dist.name} {point.dist.version}"
        check_entry_point_name(point.name, "its name")
        return _checked(_Found(name, origin, _target(point.value)), point.dist)
    except ConfigError as error:
        return _Found(name, origin, None, broken=error.diagnostic.message)
    except Exception as error:  # installed metadata can be malformed in any way
        broken = f"its metadata cannot be read ({type(error).__name__}: {error})"
        return _Found(name, origin, None, broken=broken)


def _checked(entry: _Found, dist: metadata.Distribution | None) -> _Found:
    """``entry`` with the outcome of its build-time dependency check."""
    requirements = _instrumented(dist) if dist is not None else None
    if requirements is None:
        return entry  # nothing to check here: the run-time check stays
    conflict = _conflict(requirements)
    if conflict:
        return replace(entry, conflict=conflict)
    libraries = [
        *requirements.required,
        *(requirement for requirement in requirements.any_of if _satisfied(requirement)),
    ]
    return replace(entry, checked=True, watch=_watched_modules(libraries))


def _target(value: str) -> tuple[str, str]:
    """``(module, class)`` of an entry point's ``module:Class [extras]`` value.

    Extras are ignored, as ``EntryPoint.load()`` ignores them. Module and
    class come from installed metadata and end up in code, so they are
    checked like any name that does.
    """
    module, colon, attribute = value.split("[", 1)[0].partition(":")
    if not colon:
        raise ConfigError(f"its value {value!r} names no class ('module:Class')")
    return (
        check_dotted_name(module.strip(), "its module"),
        check_identifier(attribute.strip(), "its class"),
    )


def _chosen(names: tuple[str, ...], found: dict[str, _Found], group: str) -> PreloadPlan:
    chosen: dict[str, _Found] = {}
    for name in names:
        if name.lower() not in chosen:
            chosen[name.lower()] = _requested(name, found, group)
    return PreloadPlan(_integrations(chosen.values()))


def _requested(name: str, found: dict[str, _Found], group: str) -> _Found:
    """The entry point that ``name`` asks for; ConfigError when it cannot be preloaded."""
    entry = found.get(name.lower())
    if entry is None:
        raise ConfigError(
            f"preload integration {name!r} is not installed in entry-point group {group!r}; "
            f"installed: {', '.join(found) or 'none'}",
            key="preload",
        )
    if entry.broken:
        problem = f"cannot be used: {entry.broken}"
    elif entry.conflict:
        problem = f"cannot instrument anything here: {entry.conflict}"
    else:
        return entry
    raise ConfigError(
        f"preload integration {name!r} ({entry.origin} in group {group!r}) {problem}",
        key="preload",
    )


def _all_usable(found: dict[str, _Found], duplicates: list[_Found], group: str) -> PreloadPlan:
    usable = [entry for entry in found.values() if not (entry.broken or entry.conflict)]
    if not usable:
        left_out = ", ".join(entry.name for entry in found.values() if entry.conflict)
        because = f" ({left_out}: library missing or at another version)" if left_out else ""
        raise ConfigError(
            f"preload mode has nothing to instrument: no instrumentor in entry-point group "
            f"{group!r} is usable here{because}; install one with the library it instruments",
            key="preload_group",
        )
    skipped = [
        f"skipped {entry.origin} in group {group!r}: {entry.broken}"
        for entry in found.values()
        if entry.broken
    ]
    skipped.extend(
        f"skipped {entry.origin} in group {group!r}: {found[entry.name].origin} has the same "
        "name and comes first on sys.path"
        for entry in duplicates
    )
    return PreloadPlan(_integrations(usable), tuple(skipped))


def _integrations(entries: Iterable[_Found]) -> tuple[Integration, ...]:
    """The integrations of ``entries``, each with a function name of its own."""
    integrations: list[Integration] = []
    for entry in entries:
        assert entry.target is not None  # broken entries are never chosen
        function = identifier_for(
            entry.name, FUNCTION_PREFIX, [integration.function for integration in integrations]
        )
        module, attribute = entry.target
        integrations.append(
            Integration(entry.name, function, module, attribute, entry.checked, entry.watch)
        )
    return tuple(integrations)


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
    from importlib import metadata

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
