"""The jinja2 environment for injected code, and rendering to LibCST nodes.

Templates render text; the text is parsed with LibCST using the target
module's newline style and inserted as nodes. Blocks are parsed with four-space
indentation, which LibCST stores as "the module's default", so inserted code
takes the indentation of the file it goes into. A template that renders code
that does not parse is an error, never a broken output file.
"""

from __future__ import annotations

import contextlib
import json
import os
from functools import cache
from typing import TYPE_CHECKING, Any, TypeAlias

from rewriter.errors import RewriteError

if TYPE_CHECKING:
    import jinja2
    import libcst as cst

    Statement: TypeAlias = cst.SimpleStatementLine | cst.BaseCompoundStatement
    """A statement that can stand in a module or block body."""

_TEMPLATE_INDENT = "    "


def _load(name: str) -> str:
    # Through the package's own loader: files on disk or inside a zip alike,
    # without importlib.resources (which imports zipfile and more).
    import importlib

    package = importlib.import_module("rewriter._templates")
    loader = package.__spec__.loader if package.__spec__ is not None else None
    location = os.path.join(os.path.dirname(package.__file__ or ""), name)
    data: bytes = loader.get_data(location)  # type: ignore[union-attr]
    return data.decode("utf-8")


@cache
def engine_fingerprint() -> str | None:
    """What decides a template's text besides its variables, as a hex digest; None if unknown.

    Every template's source and this module's source (its filters and the
    environment's options), read without importing jinja2, so that a second
    run can tell that a block was rendered by the same templates without
    rendering it (the stamp of ``rewriter.generated.seal``). None when any
    of it cannot be read (templates inside a zip archive, no source for
    this module): blocks are then always rendered to be compared.
    """
    import importlib

    from rewriter import digests

    package = importlib.import_module("rewriter._templates")
    directory = os.path.dirname(package.__file__ or "")
    try:
        names = sorted(name for name in os.listdir(directory) if name.endswith(".py.j2"))
        parts = [_read_bytes(__file__)]
        for name in names:
            parts.extend([name.encode(), _read_bytes(os.path.join(directory, name))])
    except OSError:
        return None
    digest = digests.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def _python_literal(value: object) -> str:
    # JSON string syntax is valid Python string syntax, and double quotes are
    # what black and ruff format would choose, so they leave the block alone.
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, (tuple, list)):
        items = [_python_literal(item) for item in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    raise TypeError(f"pyrepr takes strings, ints and sequences of them, got {type(value).__name__}")


def _python_list(values: object) -> str:
    assert isinstance(values, (tuple, list))
    return "[" + ", ".join(_python_literal(value) for value in values) + "]"


def _python_set(values: object) -> str:
    assert isinstance(values, (tuple, list)) and values
    return "{" + ", ".join(_python_literal(value) for value in values) + "}"


def _fstring_body(message: str, arguments: list[str]) -> str:
    # "preload of %s failed" with ["name"] -> "preload of {name} failed".
    parts = message.split("%s")
    assert len(parts) == len(arguments) + 1, "one argument per %s"
    return parts[0] + "".join(
        f"{{{name}}}{part}" for name, part in zip(arguments, parts[1:], strict=True)
    )


@cache
def _compiled_templates() -> type[jinja2.FileSystemBytecodeCache]:
    # A class made when first needed: importing jinja2 is left to the runs
    # that render (a second run recognises its blocks without rendering).
    import jinja2
    from jinja2.bccache import Bucket

    class CompiledTemplates(jinja2.FileSystemBytecodeCache):
        """Compiled templates kept between runs, in the user's private jinja2 cache directory.

        Compiling the templates costs about as much as the rest of a one-entry
        run. An entry is used only for the very same template text (jinja2
        checks a checksum); a cache that cannot be read or written is not used.
        """

        def load_bytecode(self, bucket: Bucket) -> None:
            try:
                super().load_bytecode(bucket)
            except Exception:  # a damaged entry: compile again
                bucket.reset()

        def dump_bytecode(self, bucket: Bucket) -> None:
            with contextlib.suppress(OSError):
                super().dump_bytecode(bucket)

    return CompiledTemplates


def _bytecode_cache(newline: str) -> jinja2.BytecodeCache | None:
    # The compiled code also depends on the newline style and on the versions
    # of jinja2 and of this package, which jinja2's own cache key leaves out.
    import jinja2

    from rewriter import __version__

    style = {"\n": "lf", "\r\n": "crlf", "\r": "cr"}.get(newline, "other")
    pattern = f"__rewriter_{__version__}_jinja2_{jinja2.__version__}_{style}_%s.cache"
    try:
        return _compiled_templates()(pattern=pattern)
    except (OSError, RuntimeError):  # no private temporary directory here
        return None


@cache
def environment(newline: str = "\n") -> jinja2.Environment:
    """The shared jinja2 environment for one newline style (StrictUndefined)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        newline_sequence=newline,  # type: ignore[arg-type]
        autoescape=False,
        bytecode_cache=_bytecode_cache(newline),
    )
    env.filters["pyrepr"] = _python_literal
    env.filters["pylist"] = _python_list
    env.filters["pyset"] = _python_set
    env.filters["fstring"] = _fstring_body
    env.filters["bound_pair"] = lambda pair: f"{_python_literal(pair[0])}: {pair[1]}"
    return env


def render_text(template: str, newline: str = "\n", **context: Any) -> str:
    """Render ``template`` to source text."""
    return environment(newline).get_template(template).render(**context)


def render_statements(template: str, newline: str = "\n", **context: Any) -> list[Statement]:
    """Render ``template`` and parse it into LibCST statements.

    Comments above the first statement are kept as its leading lines.
    """
    import libcst as cst

    text = render_text(template, newline, **context)
    config = cst.PartialParserConfig(default_indent=_TEMPLATE_INDENT, default_newline=newline)
    try:
        module = cst.parse_module(text, config=config)
    except cst.ParserSyntaxError as error:
        raise RewriteError(
            f"template {template} rendered code that does not parse: {error.message}"
        ) from error
    body = list(module.body)
    if body and module.header:
        body[0] = body[0].with_changes(leading_lines=[*module.header, *body[0].leading_lines])
    return body
