"""The end of ``rewriter --help``: what the exit codes mean, and the settings
that only ``[tool.rewriter]`` can set.

The keys and their defaults come from ``Settings`` itself; this module only
holds the one-line descriptions of the keys that have no command-line option.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import fields

from rewriter.config import Settings

_WIDTH = 79
CONFIG_ONLY_TITLE = "keys of [tool.rewriter] without an option"
_INDENT = "  "

# One line each for the [tool.rewriter] keys without an option (the README's
# "Configuration" table says more).
_CONFIG_ONLY_HELP = {
    "preload_group": "entry-point group that preload mode takes instrumentors from",
    "prelude": "modules whose imports and calls stay above the init block",
    "on_init_error": '"warn" logs a failing init and starts the app; "raise" stops it',
    "guard": "warn at run time about runtime modules imported before init; "
    '"strict": also about instrumented libraries; false: off',
    "instrumented": 'the libraries that guard = "strict" looks for',
    "init_files": "init files looked for beside an entry when init is not set",
    "max_size": "largest file read (an entry, a module it imports), in bytes",
}


def epilog(exit_codes: Mapping[int, str], config_only: Iterable[str]) -> str:
    """The text after the options: ``exit_codes`` (code -> meaning) and the
    ``config_only`` keys (``[tool.rewriter]`` keys without an option), each
    with its description and its default."""
    width = max(len(str(code)) for code in exit_codes) + 2
    lines = ["exit codes:"]
    lines += [f"{_INDENT}{code:<{width}}{meaning}" for code, meaning in exit_codes.items()]
    lines += ["", f"{CONFIG_ONLY_TITLE}:"]
    defaults = {field.name: field.default for field in fields(Settings)}
    keys = list(config_only)
    key_width = max(map(len, keys), default=0) + 2
    hanging = _INDENT + " " * key_width
    for key in keys:
        text = f"{_CONFIG_ONLY_HELP.get(key, '')} (default: {toml_value(defaults[key])})"
        lines += textwrap.wrap(
            text,
            _WIDTH,
            initial_indent=f"{_INDENT}{key:<{key_width}}",
            subsequent_indent=hanging,
            break_on_hyphens=False,
        )
    lines += [
        "",
        *textwrap.wrap(
            "[tool.rewriter] in the nearest pyproject.toml (or --config FILE) also sets "
            "every option above, by its long name with _ for -; the command line wins.",
            _WIDTH,
        ),
    ]
    return "\n".join(lines)


def toml_value(value: object) -> str:
    """``value`` as it would be written in ``[tool.rewriter]``: ``true``, ``"warn"``,
    ``["a", "b"]``; ``None`` (a key that is not set) reads ``unset``."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    return str(value)
