"""Settings: every option of the tool, validated, as one frozen value.

``Settings`` is what the library API takes. Values that reach generated code
(module names, callables, handler names, integration names) are validated
here, once, when a ``Settings`` is built.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, get_args

from rewriter.errors import ConfigError, ConfigFileError
from rewriter.names import (
    check_dotted_name,
    check_entry_point_name,
    check_identifier,
    check_relative_file,
)

Mode = Literal["dynamic-import", "top-level-import", "preload"]
OnInitError = Literal["warn", "raise"]

MODES: tuple[str, ...] = get_args(Mode)
DEFAULT_HANDLERS: tuple[str, ...] = ("handler", "server", "default")
DEFAULT_ENTRY: tuple[str, ...] = ("**/index.py",)
DEFAULT_INIT_FILES: tuple[str, ...] = (
    "instrument.server.py",
    "instrument_server.py",
    "sentry.server.config.py",
    "sentry_server_config.py",
)
DEFAULT_INSTRUMENTED: tuple[str, ...] = (
    "flask",
    "fastapi",
    "starlette",
    "django",
    "requests",
    "httpx",
    "urllib3",
    "psycopg",
    "psycopg2",
    "sqlalchemy",
    "redis",
    "celery",
    "grpc",
    "botocore",
)
DEFAULT_MAX_SIZE = 8 * 1024 * 1024
MAX_SIZE_LIMIT = 1024**3
"""The largest ``max_size``: LibCST needs about 1.5 KiB of memory per character
of a flat file, so a larger entry could never be rewritten in memory."""


@dataclass(frozen=True)
class InitSpec:
    """Where the instrumentation comes from.

    ``kind`` is ``"module"`` (imported for its side effects), ``"callable"``
    (imported, then ``attribute`` is called) or ``"file"`` (``target`` is a
    path relative to the entry, loaded by path).
    """

    kind: Literal["module", "callable", "file"]
    target: str
    attribute: str | None = None

    @classmethod
    def parse(cls, spec: str) -> InitSpec:
        """Parse ``pkg.module``, ``pkg.module:callable`` or ``./file.py``.

        A spec that contains a ``/`` or ends in ``.py`` is a file path.
        """
        if not isinstance(spec, str) or not spec.strip():
            raise ConfigError(
                f"init must be a module, 'module:callable' or a file path, got {spec!r}"
            )
        if "/" in spec or "\\" in spec or spec.endswith(".py"):
            return cls("file", check_relative_file(spec, "init file"))
        module, colon, attribute = spec.partition(":")
        check_dotted_name(module, "init module")
        if not colon:
            return cls("module", module)
        return cls("callable", module, check_dotted_name(attribute, "init callable"))

    def __str__(self) -> str:
        if self.kind == "callable":
            return f"{self.target}:{self.attribute}"
        return self.target


_LIST_FIELDS = ("entry", "exclude", "runtime", "preload", "prelude", "instrumented", "init_files")


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _check_patterns(settings: Settings) -> None:
    """Raise ConfigError for an ``entry``, ``exclude`` or ``runtime`` pattern that is a mistake.

    A pattern git could never match, or one it reads other than it looks
    (``rewriter.patterns.pattern_problem``); a runtime pattern must also
    compile with pathspec, which matches it.
    """
    from rewriter.patterns import pattern_problem

    for key in ("entry", "exclude", "runtime"):
        for pattern in getattr(settings, key):
            problem = pattern_problem(pattern)
            if problem is None and key == "runtime":
                problem = _pathspec_problem(pattern)
            if problem is not None:
                raise ConfigError(f"{key} pattern {pattern!r} is not valid: {problem}")


def _pathspec_problem(pattern: str) -> str | None:
    import pathspec

    try:
        pathspec.GitIgnoreSpec.from_lines([pattern])
    except Exception as error:  # pathspec raises re.error and its own errors alike
        return f"pathspec cannot read it ({error})"
    return None


def _strings(value: object, key: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ConfigError(f"{key} must be a list of strings, got {value!r}")
    for item in value:
        if not isinstance(item, str):
            raise ConfigError(f"{key} must be a list of strings, got item {item!r}")
    return tuple(value)


@dataclass(frozen=True)
class Settings:
    """All options of a rewrite, validated.

    Build one directly (``Settings(init="instrument:init")``), from a
    pyproject.toml (``Settings.from_pyproject(path)``), or let the CLI build
    it. Field names are the ``[tool.rewriter]`` keys. A field left at its
    default takes the preset's value when a preset is named.
    """

    init: str | None = None
    entry: tuple[str, ...] = DEFAULT_ENTRY
    exclude: tuple[str, ...] = ()
    runtime: tuple[str, ...] = ()
    handler: tuple[str, ...] | None = None
    mode: Mode = "dynamic-import"
    lazy: bool = False
    preload: tuple[str, ...] = ()
    preload_group: str = "opentelemetry_instrumentor"
    prelude: tuple[str, ...] = ()
    on_init_error: OnInitError = "warn"
    guard: bool | Literal["strict"] = True
    instrumented: tuple[str, ...] = DEFAULT_INSTRUMENTED
    init_files: tuple[str, ...] = DEFAULT_INIT_FILES
    preset: str | None = None
    max_size: int = DEFAULT_MAX_SIZE
    jobs: int | None = None

    def __post_init__(self) -> None:
        if self.preset is not None:
            self._apply_preset()
        for name in _LIST_FIELDS:
            object.__setattr__(self, name, _strings(getattr(self, name), name))
        if self.handler is not None:
            handlers = _strings(self.handler, "handler")
            for handler in handlers:
                check_identifier(handler, "handler")
            object.__setattr__(self, "handler", handlers)
        if self.init is not None:
            InitSpec.parse(self.init)
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.on_init_error not in ("warn", "raise"):
            raise ConfigError(
                f"on_init_error must be 'warn' or 'raise', got {self.on_init_error!r}"
            )
        if not isinstance(self.lazy, bool):
            raise ConfigError(f"lazy must be true or false, got {self.lazy!r}")
        if not isinstance(self.guard, bool) and self.guard != "strict":
            raise ConfigError(f"guard must be true, false or 'strict', got {self.guard!r}")
        for name in self.preload:
            # Entry-point names reach generated code only as string literals.
            check_entry_point_name(name, "preload integration")
        for module in self.instrumented:
            check_dotted_name(module, "module name")
        for module in self.prelude:
            # A prelude may be named relative to the entry: `.helpers.early`.
            check_dotted_name(module.lstrip(".") if module.strip(".") else module, "prelude module")
        for init_file in self.init_files:
            check_relative_file(init_file, "init file")
        check_dotted_name(self.preload_group, "preload_group")
        _check_patterns(self)
        if not _positive_int(self.max_size) or self.max_size > MAX_SIZE_LIMIT:
            raise ConfigError(
                f"max_size must be a whole number of bytes from 1 to {MAX_SIZE_LIMIT}"
                f" (1 GiB), got {self.max_size!r}"
            )
        if self.jobs is not None and not _positive_int(self.jobs):
            raise ConfigError(f"jobs must be a positive integer, got {self.jobs!r}")
        _check_options_are_read(self)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, object]) -> Settings:
        """Build Settings from ``{key: value}`` with ``[tool.rewriter]`` keys.

        Keys missing from ``mapping`` keep their defaults. Lists become
        tuples. An unknown key or a bad value raises ConfigError.
        """
        check_keys(mapping)
        values: dict[str, Any] = _lists_to_tuples(mapping)
        return cls(**values)

    @classmethod
    def from_pyproject(cls, path: str | os.PathLike[str]) -> Settings:
        """Build Settings from the ``[tool.rewriter]`` table of a pyproject.toml.

        Errors raise ConfigError positioned at the offending key in the file.
        """
        return cls.from_mapping(load_table(path))

    @property
    def init_spec(self) -> InitSpec | None:
        """The parsed ``init`` option, or None to discover an init file."""
        return None if self.init is None else InitSpec.parse(self.init)

    @property
    def handlers(self) -> tuple[str, ...]:
        """The handler names to re-export (the defaults when none is set)."""
        if self.handler is not None:
            return self.handler
        if self.preset is not None:
            from rewriter.presets import get_preset

            handlers = get_preset(self.preset).settings.get("handler")
            if isinstance(handlers, tuple):
                return handlers
        return DEFAULT_HANDLERS

    def _apply_preset(self) -> None:
        # A field still at its default takes the preset's value. `handler`
        # stays None, so that the preset's names count as defaults: a name the
        # entry does not export is then no warning (see `handlers`).
        from rewriter.presets import get_preset

        if not isinstance(self.preset, str):
            raise ConfigError(f"preset must be a preset name, got {self.preset!r}")
        for key, value in get_preset(self.preset).settings.items():
            if key != "handler" and getattr(self, key) == _FIELD_DEFAULTS[key]:
                object.__setattr__(self, key, value)


SETTING_KEYS: tuple[str, ...] = tuple(f.name for f in fields(Settings))
_FIELD_DEFAULTS: dict[str, object] = {f.name: f.default for f in fields(Settings)}
# Settings under which every option is read, so that one key can be checked
# on its own (the mode may come from another layer, the command line say).
_EVERY_OPTION_READ: dict[str, object] = {"mode": "preload", "lazy": True}


def _check_options_are_read(settings: Settings) -> None:
    """Raise ConfigError (with its ``key``) for an option that the chosen mode ignores.

    An option left unread is one the user believes in: preload names outside
    preload mode, and handler names where runtime imports are not deferred
    (the entry's own imports then bind the handlers; see
    ``rewriter.core.defers_imports``).
    """
    mode = settings.mode
    if mode != "preload":
        if settings.preload:
            names = ", ".join(map(repr, settings.preload))
            raise ConfigError(
                f"preload {names} is read only in preload mode, and the mode is {mode!r}: "
                'add --mode preload (mode = "preload"), or remove preload',
                key="preload",
            )
        if settings.preload_group != _FIELD_DEFAULTS["preload_group"]:
            raise ConfigError(
                f"preload_group {settings.preload_group!r} is read only in preload mode, and "
                f'the mode is {mode!r}: add --mode preload (mode = "preload"), or remove '
                "preload_group",
                key="preload_group",
            )
    if settings.handler is not None and mode != "dynamic-import" and not settings.lazy:
        names = ", ".join(map(repr, settings.handler))
        raise ConfigError(
            f"handler {names} is read only where runtime imports are deferred "
            f"(dynamic-import mode, or --lazy), and in {mode} mode the entry's own imports "
            "bind the handlers: add --lazy (lazy = true), or remove handler",
            key="handler",
        )


TABLE = "[tool.rewriter]"

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*\Z")
_TOML_END = re.compile(r"\s*\(at end of document\)\s*\Z")
_HEADER = re.compile(r"\s*\[\[?\s*([^\[\]#]+?)\s*\]\]?\s*(?:#.*)?\Z")
_PROJECT_ROOT_MARKERS = (".git", ".hg")


def check_keys(mapping: Mapping[str, object], text: str | None = None) -> None:
    """Raise ConfigError for the first key of ``mapping`` that is not a setting.

    The message suggests the closest valid key. With ``text`` (the
    pyproject.toml it came from), the error points at the key in that text.
    """
    for key in mapping:
        if key in SETTING_KEYS:
            continue
        message = f"unknown key {key!r} in {TABLE}"
        underscored = key.replace("-", "_")
        matches = (
            [underscored]
            if underscored in SETTING_KEYS
            else difflib.get_close_matches(key, SETTING_KEYS, n=1)
        )
        if matches:
            message += f"; did you mean {matches[0]!r}?"
        raise ConfigError(message, *_key_position(text, key))


def load_table(pyproject_path: str | os.PathLike[str]) -> dict[str, object]:
    """Read and check the ``[tool.rewriter]`` table of a pyproject.toml.

    Returns ``{}`` when the file has no such table. Raises ConfigFileError
    when the file cannot be read, and ConfigError, with the line and column
    in the file, for a TOML syntax error, an unknown key or a bad value.
    Lists are returned as tuples, ready for ``Settings.from_mapping``.
    """
    import tomllib

    try:
        raw = Path(pyproject_path).read_bytes()
    except OSError as error:
        raise ConfigFileError(f"cannot read it: {error.strerror or error}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        raise ConfigError("config file is not valid UTF-8", line, column) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise _toml_error(str(error), text) from None
    tool = document.get("tool", {})
    table = tool.get("rewriter", {}) if isinstance(tool, dict) else {}
    if not isinstance(table, dict):
        raise ConfigError(f"{TABLE} must be a table", *_key_position(text, None))
    check_keys(table, text)
    values = _lists_to_tuples(table)
    for key, value in values.items():
        try:
            Settings.from_mapping({**_EVERY_OPTION_READ, key: value})
        except ConfigError as error:
            raise ConfigError(error.diagnostic.message, *_key_position(text, key)) from None
    return values


def key_position(pyproject_path: str | os.PathLike[str], key: str) -> tuple[int, int]:
    """LINE, COL of ``key`` in the ``[tool.rewriter]`` table of a pyproject.toml.

    For an error about a setting that came from that file (a ConfigError's
    ``key``). Best effort: the table header, or 1, 1 when the file cannot be
    read.
    """
    try:
        text = Path(pyproject_path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return 1, 1
    return _key_position(text, key)


def merge_layers(*layers: Mapping[str, object]) -> dict[str, object]:
    """Merge option mappings; a key in a later layer replaces the earlier value.

    The order is defaults (implicit) < preset < pyproject < command line. A
    caller passes ``merge_layers(pyproject, cli)``; the Settings built from
    the result takes the named preset's values for what is still at its
    default.
    """
    merged: dict[str, object] = {}
    for layer in layers:
        merged.update(layer)
    return merged


def find_pyproject(start: str | os.PathLike[str]) -> Path | None:
    """The nearest pyproject.toml in ``start`` (a file's directory) or above it.

    The search stops at a project root (a directory holding ``.git`` or
    ``.hg``) so that a file outside the project is never picked up.
    """
    try:
        path = Path(start).resolve()
    except (OSError, RuntimeError):  # a symlink loop; Python 3.11 raises RuntimeError
        path = Path(os.path.abspath(start))
    directory = path if path.is_dir() else path.parent
    for candidate in (directory, *directory.parents):
        if (candidate / "pyproject.toml").is_file():
            return candidate / "pyproject.toml"
        if any((candidate / marker).exists() for marker in _PROJECT_ROOT_MARKERS):
            return None
    return None


def _lists_to_tuples(mapping: Mapping[str, object]) -> dict[str, object]:
    # TOML arrays arrive as lists; Settings holds tuples so that it stays hashable.
    return {
        key: tuple(value) if isinstance(value, list) else value for key, value in mapping.items()
    }


def _toml_error(message: str, text: str) -> ConfigError:
    position = _TOML_POSITION.search(message)
    if position:
        line, column = int(position[1]), int(position[2])
        return ConfigError(f"invalid TOML: {message[: position.start()]}", line, column)
    end = _TOML_END.search(message)
    if end:
        line = text.count("\n") + 1
        column = len(text) - (text.rfind("\n") + 1) + 1
        return ConfigError(f"invalid TOML: {message[: end.start()]} at end of file", line, column)
    return ConfigError(f"invalid TOML: {message}")


def _key_position(text: str | None, key: str | None) -> tuple[int, int]:
    """Best-effort LINE, COL of ``key`` in the ``[tool.rewriter]`` table of ``text``.

    Falls back to the table header, then to 1:1. A regex scan is enough here:
    the file already parsed, and a wrong guess only moves the caret.
    """
    if text is None:
        return 1, 1
    header_position = (1, 1)
    in_table = False
    key_pattern = None if key is None else _key_line_pattern(key)
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            name = re.sub(r"\s+|[\"']", "", header[1])
            in_table = name == "tool.rewriter"
            if in_table:
                header_position = (number, len(line) - len(line.lstrip()) + 1)
            elif key is not None and name == f"tool.rewriter.{key}":
                return number, line.index(key) + 1
            continue
        if in_table and key_pattern is not None:
            match = key_pattern.match(line)
            if match:
                return number, match.start(1) + 1
    return header_position


def _key_line_pattern(key: str) -> re.Pattern[str]:
    quoted = re.escape(key)
    return re.compile(rf"\s*((?:{quoted}|\"{quoted}\"|'{quoted}'))\s*[.=]")
