"""Framework presets: named defaults for where entries are and what they export.

A preset fills in the settings a user leaves at their defaults: the ``entry``
and ``exclude`` patterns that find the server entries inside a build
directory, the ``runtime`` patterns, the ``handler`` names and the
``init_files`` to look for beside an entry. Use one with ``--preset NAME``,
``preset = "NAME"`` in ``[tool.rewriter]`` or ``Settings(preset="NAME")``.

The built-in presets are ``nitro``, ``wsgi``, ``asgi``, ``django`` and
``lambda``. A framework ships its own by pointing an entry point in the
``rewriter.presets`` group at a ``Preset``::

    [project.entry-points."rewriter.presets"]
    myframework = "myframework.rewriter_preset:PRESET"

A built-in name cannot be taken over by a plugin.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from types import MappingProxyType

from rewriter.config import DEFAULT_INIT_FILES, Settings, check_keys
from rewriter.errors import ConfigError

GROUP = "rewriter.presets"

# Directories that hold installed code rather than the application's own.
_THIRD_PARTY_DIRS = ("venv/", ".venv/", "site-packages/", "node_modules/", "__pycache__/")
_APP_INIT_FILES = (*DEFAULT_INIT_FILES, "instrument.py", "instrumentation.py")


@dataclass(frozen=True)
class Preset:
    """Defaults for one framework, as ``[tool.rewriter]`` keys and values.

    ``description`` is the one line ``rewriter --list-presets`` shows.
    ``settings`` may hold any ``[tool.rewriter]`` key except ``preset``; the
    values must pass the same validation as the user's own settings. A
    ``handler`` list from a preset counts as default names: a name the entry
    does not export is no warning, as long as one of them is exported.
    """

    description: str
    settings: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.description, str) or not self.description.strip():
            raise ConfigError("a preset needs a one-line description")
        if "preset" in self.settings:
            raise ConfigError("a preset cannot name another preset")
        check_keys(self.settings)
        values = {
            key: tuple(value) if isinstance(value, list) else value
            for key, value in self.settings.items()
        }
        # Settings validates every value the way it validates the user's own.
        Settings.from_mapping(values)
        object.__setattr__(self, "description", " ".join(self.description.split()))
        object.__setattr__(self, "settings", MappingProxyType(values))


BUILTIN: Mapping[str, Preset] = MappingProxyType(
    {
        "nitro": Preset(
            "Nitro-style build output: server/index.py importing chunks/nitro/nitro.py",
            {
                "entry": ("/index.py", "**/server/index.py"),
                "exclude": ("chunks/",),
                "runtime": ("chunks/**",),
                "handler": ("handler", "server", "default"),
                "init_files": DEFAULT_INIT_FILES,
            },
        ),
        "wsgi": Preset(
            "WSGI apps (Flask and others): wsgi.py or app.py exporting app or application",
            {
                "entry": ("**/wsgi.py", "**/app.py"),
                "exclude": _THIRD_PARTY_DIRS,
                "handler": ("app", "application"),
                "init_files": _APP_INIT_FILES,
            },
        ),
        "asgi": Preset(
            "ASGI apps (FastAPI, Starlette): asgi.py or main.py exporting app, or Mangum's handler",
            {
                "entry": ("**/asgi.py", "**/main.py"),
                "exclude": _THIRD_PARTY_DIRS,
                "handler": ("app", "handler"),
                "init_files": _APP_INIT_FILES,
            },
        ),
        "django": Preset(
            "Django projects: the application of wsgi.py and asgi.py",
            {
                "entry": ("**/wsgi.py", "**/asgi.py"),
                "exclude": _THIRD_PARTY_DIRS,
                "handler": ("application",),
                "init_files": _APP_INIT_FILES,
            },
        ),
        "lambda": Preset(
            "AWS Lambda functions: lambda_function.py exporting lambda_handler or handler",
            {
                "entry": ("**/lambda_function.py",),
                "exclude": _THIRD_PARTY_DIRS,
                "handler": ("lambda_handler", "handler"),
                "init_files": _APP_INIT_FILES,
            },
        ),
    }
)


def get_preset(name: str) -> Preset:
    """The preset called ``name``: a built-in one, else a ``rewriter.presets`` plugin.

    Raises ConfigError for an unknown name (the message lists the known
    presets) and for a plugin that cannot be loaded or is not a Preset.
    """
    if name in BUILTIN:
        return BUILTIN[name]
    return _load_plugin(name)


def available_presets() -> dict[str, Preset | str]:
    """Every preset by name, built-in ones first; a plugin that cannot be used maps to why."""
    found: dict[str, Preset | str] = dict(BUILTIN)
    for name in sorted(_plugin_entry_points()):
        found[name] = _try_plugin(name)
    return found


def describe_presets(*, verbose: bool = False) -> str:
    """The ``rewriter --list-presets`` text: one line per preset, name and description.

    With ``verbose``, each usable preset's line is followed by what a run with
    it uses, one ``[tool.rewriter]`` key a line: ``entry``, ``exclude``,
    ``runtime``, ``handler`` and ``init_files``, then any other key the
    preset sets.
    """
    presets = available_presets()
    width = max(len(name) for name in presets)
    lines = []
    for name, preset in presets.items():
        text = f"(unusable: {preset})" if isinstance(preset, str) else preset.description
        if name not in BUILTIN:
            text += f" [plugin: {_origin(_plugin_entry_points()[name])}]"
        lines.append(f"{name:<{width}}  {text}")
        if verbose and isinstance(preset, Preset):
            indent = " " * (width + 2)
            details = _effective_values(name, preset)
            key_width = max(len(key) for key in details) + 1
            lines += [
                f"{indent}{key + ':':<{key_width}}  {value}" for key, value in details.items()
            ]
    return "\n".join(lines) + "\n"


def _effective_values(name: str, preset: Preset) -> dict[str, str]:
    # What a run with the preset and no settings of its own uses, so that a
    # key the preset leaves alone shows the built-in default.
    settings = Settings(preset=name)
    values: dict[str, str] = {
        "entry": ", ".join(settings.entry),
        "exclude": ", ".join(settings.exclude) or "(nothing)",
        "runtime": ", ".join(settings.runtime) or "(every first-party module)",
        "handler": ", ".join(settings.handlers),
        "init_files": ", ".join(settings.init_files),
    }
    for key in preset.settings:
        if key not in values:
            values[key] = _shown(getattr(settings, key))
    return values


def _shown(value: object) -> str:
    if isinstance(value, tuple):
        return ", ".join(value)
    if isinstance(value, bool):  # as [tool.rewriter] spells it
        return "true" if value else "false"
    return str(value)


@functools.cache
def _plugin_entry_points() -> dict[str, metadata.EntryPoint]:
    # The first distribution on sys.path wins a duplicated name, as with
    # console scripts; built-in names cannot be replaced.
    found: dict[str, metadata.EntryPoint] = {}
    for entry_point in metadata.entry_points(group=GROUP):
        if entry_point.name not in BUILTIN:
            found.setdefault(entry_point.name, entry_point)
    return found


def _load_plugin(name: str) -> Preset:
    entry_point = _plugin_entry_points().get(name)
    if entry_point is None:
        known = ", ".join([*BUILTIN, *sorted(_plugin_entry_points())])
        raise ConfigError(f"unknown preset {name!r}; known presets: {known}")
    preset = _try_plugin(name)
    if isinstance(preset, str):
        raise ConfigError(f"preset {name!r} ({entry_point.value}) {preset}")
    return preset


@functools.cache
def _try_plugin(name: str) -> Preset | str:
    """The plugin preset ``name``, or why it cannot be used."""
    try:
        preset = _plugin_entry_points()[name].load()
    except Exception as error:  # a plugin's import may fail in any way
        message = error.diagnostic.message if isinstance(error, ConfigError) else str(error)
        return f"cannot be loaded: {type(error).__name__}: {message}"
    if not isinstance(preset, Preset):
        return f"is a {type(preset).__name__}, not a rewriter.presets.Preset"
    return preset


def _origin(entry_point: metadata.EntryPoint) -> str:
    dist = entry_point.dist
    return entry_point.value if dist is None else f"{dist.name} {dist.version}"
