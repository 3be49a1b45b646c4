"""Build-time resolution of the integrations that ``preload`` mode instruments.

Instrumentors are found in an entry-point group (``opentelemetry_instrumentor``
by default) when the entry is rewritten, so the generated code imports the
instrumentor classes directly and cold start never scans entry points.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata

from rewriter.errors import ConfigError
from rewriter.names import check_dotted_name, check_identifier


@dataclass(frozen=True)
class Integration:
    """One instrumentor: ``from <module> import <attribute>`` under ``name``."""

    name: str
    module: str
    attribute: str


def installed_integrations(group: str) -> dict[str, Integration]:
    """The integrations installed in entry-point ``group``, by lower-case name."""
    found: dict[str, Integration] = {}
    for point in metadata.entry_points(group=group):
        module, _, attribute = point.value.partition(":")
        name = point.name.lower()
        # Names and targets come from installed metadata and end up in code.
        found[name] = Integration(
            check_identifier(name, f"entry point name in {group}"),
            check_dotted_name(module.strip(), f"entry point module of {point.name}"),
            check_identifier(attribute.strip(), f"entry point attribute of {point.name}"),
        )
    return dict(sorted(found.items()))


def resolve_integrations(names: tuple[str, ...], group: str) -> tuple[Integration, ...]:
    """The integrations for ``names`` (all installed ones when empty).

    A name that is not installed is a ``ConfigError`` listing those that are.
    """
    installed = installed_integrations(group)
    if not names:
        return tuple(installed.values())
    missing = [name for name in names if name.lower() not in installed]
    if missing:
        listed = ", ".join(installed) or "none"
        raise ConfigError(
            f"preload integration {missing[0]!r} is not installed in entry-point group "
            f"{group!r}; installed: {listed}"
        )
    return tuple(installed[name.lower()] for name in dict.fromkeys(names))
