"""The command line: ``rewriter [OPTIONS] PATH...``; the only place that knows exit codes.

Heavy modules (libcst, jinja2, pathspec) are imported only once the
arguments are parsed, so ``--help`` and ``--version`` stay fast.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from rewriter.config import MODES, Settings, find_pyproject, load_table, merge_layers
from rewriter.errors import ConfigError, RewriteError
from rewriter.report import BuildReport, FileReport, file_line

EXIT_USAGE = 2
STDIN = "-"

# Options whose values go into Settings, by Settings field name.
_SETTING_OPTIONS = (
    "init",
    "entry",
    "exclude",
    "runtime",
    "handler",
    "mode",
    "preload",
    "lazy",
    "preset",
    "jobs",
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    overrides = {
        name: tuple(value) if isinstance(value, list) else value
        for name in _SETTING_OPTIONS
        if (value := getattr(args, name)) is not None
    }
    paths: list[str] = args.paths
    try:
        if paths.count(STDIN) > 1:
            raise _UsageError("error: '-' (standard input) can be given only once")
        _check_json_usage(args)
        _check_trace_usage(args)
        groups = _settings_by_path(paths, overrides, args.config)
    except _UsageError as error:
        print(error, file=sys.stderr)
        return EXIT_USAGE
    if args.trace:
        return _trace(args, groups)

    from rewriter.runner import run_entries

    write = not (args.check or args.diff)
    reports: list[FileReport] = []
    for path, settings, entries in groups:
        if path == STDIN:
            report = _rewrite_stdin(settings, check=args.check, diff=args.diff)
            _emit(report, args, write=write)
            reports.append(report)
            continue
        for report in run_entries(entries, settings, write=write):
            _emit(report, args, write=write)
            reports.append(report)
    build = BuildReport(tuple(reports))
    if not args.quiet:
        print(build.summary(write=write), file=sys.stderr)
    code = build.exit_code(check=args.check, diff=args.diff)
    if args.format == "json":
        from rewriter.json_report import build_json, dumps

        print(dumps(build_json(build, write=write, exit_code=code, tool_version=_version())))
    return code


class _UsageError(Exception):
    """A usage or config error; the message is the line to print (exit code 2)."""


def _check_json_usage(args: argparse.Namespace) -> None:
    # Standard output carries the JSON object alone, so nothing else may write there.
    if args.format != "json":
        return
    if args.diff:
        raise _UsageError("error: --diff cannot be combined with --format json")
    if STDIN in args.paths and not args.check:
        raise _UsageError(
            "error: '-' writes the rewritten code to stdout; with --format json use --check"
        )


def _check_trace_usage(args: argparse.Namespace) -> None:
    trace_options = {
        "--by-path": args.by_path,
        "--python": args.python,
        "--env-file": args.env_file,
        "--timeout": args.timeout,
    }
    if not args.trace:
        for option, value in trace_options.items():
            if value:
                raise _UsageError(f"error: {option} works only with --trace")
    elif args.check or args.diff:
        raise _UsageError("error: --trace cannot be combined with --check or --diff")
    elif STDIN in args.paths:
        raise _UsageError("error: --trace imports entry files; it cannot trace '-' (stdin)")


def _trace(args: argparse.Namespace, groups: list[tuple[str, Settings, list[Path]]]) -> int:
    """``--trace``: each entry's report to stdout (or one JSON object), findings to stderr."""
    from rewriter import trace_report
    from rewriter.envfile import read_env_file
    from rewriter.trace import DEFAULT_TIMEOUT, TraceOptions, trace_entries

    environment = None
    if args.env_file is not None:
        try:
            environment = {**os.environ, **read_env_file(args.env_file)}
        except ConfigError as error:
            print(error.diagnostic.format(args.env_file), file=sys.stderr)
            return EXIT_USAGE
    options = TraceOptions(
        python=args.python or sys.executable,
        by_path=args.by_path,
        environment=environment,
        timeout=args.timeout or DEFAULT_TIMEOUT,
    )
    traces = []
    for _, settings, entries in groups:
        for trace in trace_entries(entries, settings, options):
            if args.format != "json":
                sys.stdout.write(trace_report.text_report(trace))
                sys.stdout.flush()
            for diagnostic in (*([trace.error] if trace.error else []), *trace.findings):
                print(diagnostic.format(trace.path), file=sys.stderr)
            traces.append(trace)
    code = trace_report.exit_code(traces)
    if not args.quiet:
        print(trace_report.summary(traces), file=sys.stderr)
    if args.format == "json":
        from rewriter.json_report import dumps

        report = trace_report.build_trace_json(traces, exit_code=code, tool_version=_version())
        print(dumps(report))
    return code


def _settings_by_path(
    paths: Sequence[str], overrides: dict[str, object], config: str | None
) -> list[tuple[str, Settings, list[Path]]]:
    """Settings and entries for every PATH, all checked before anything is written."""
    from rewriter.files import expand_paths

    settings_for: dict[Path | None, Settings] = {}
    groups = []
    for path in paths:
        start = Path.cwd() if path == STDIN else Path(path)
        pyproject = Path(config) if config else find_pyproject(start)
        if pyproject not in settings_for:
            try:
                table = load_table(pyproject) if pyproject else {}
            except ConfigError as error:
                raise _UsageError(error.diagnostic.format(str(pyproject))) from None
            try:
                settings_for[pyproject] = Settings.from_mapping(merge_layers(table, overrides))
            except ConfigError as error:
                raise _UsageError(f"error: {error.diagnostic.message}") from None
        settings = settings_for[pyproject]
        try:
            entries = [] if path == STDIN else expand_paths([Path(path)], settings)
        except RewriteError as error:
            raise _UsageError(error.diagnostic.format(path)) from None
        groups.append((path, settings, entries))
    return groups


def _rewrite_stdin(settings: Settings, *, check: bool, diff: bool) -> FileReport:
    """Rewrite standard input to stdout; on failure nothing is written (like black)."""
    from rewriter.files import decode_source, encode_source
    from rewriter.runner import rewrite_text

    raw = sys.stdin.buffer.read()
    try:
        text, encoding = decode_source(raw)
    except RewriteError as error:
        return FileReport.from_error(STDIN, error.diagnostic)
    report = rewrite_text(text, settings, path=STDIN, root=Path.cwd(), written=not (check or diff))
    if check or diff or report.result is None:
        return report
    try:
        data = encode_source(report.result.output, encoding)
    except RewriteError as error:
        return FileReport.from_error(STDIN, error.diagnostic)
    _write_bytes(sys.stdout, data)
    return report


def _emit(report: FileReport, args: argparse.Namespace, *, write: bool) -> None:
    """Print what one file's report says: error, warnings, progress line, diff."""
    if report.error is not None:
        print(report.error.format(report.path), file=sys.stderr)
    for finding in report.findings:
        print(finding.format(report.path), file=sys.stderr)
    if not args.quiet:
        for warning in report.warnings:
            print(warning.format(report.path, "warning"), file=sys.stderr)
        line = file_line(report, write=write, verbose=args.verbose)
        if line is not None:
            print(line, file=sys.stderr)
    if args.diff and report.result is not None and report.result.changed:
        sys.stdout.write(unified_diff(report.result.source, report.result.output, report.path))
        sys.stdout.flush()


def unified_diff(before: str, after: str, path: str) -> str:
    """A unified diff of two texts with ``a/PATH`` and ``b/PATH`` headers."""
    name = Path(path).as_posix().lstrip("/")
    lines = difflib.unified_diff(
        _lines(before), _lines(after), fromfile=f"a/{name}", tofile=f"b/{name}"
    )
    return "".join(
        line if line.endswith("\n") else f"{line}\n\\ No newline at end of file\n" for line in lines
    )


def _lines(text: str) -> list[str]:
    # str.splitlines() would also split on form feeds and other separators.
    lines = [f"{line}\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def _write_bytes(stream: IO[str], data: bytes) -> None:
    stream.flush()
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        stream.write(data.decode("utf-8", errors="replace"))
    else:
        buffer.write(data)
        buffer.flush()


def _version() -> str:
    # pyproject.toml reads the version from here too, so no metadata lookup
    # (importlib.metadata costs more than the rest of `--version`).
    from rewriter import __version__

    return __version__


class _VersionAction(argparse.Action):
    """``--version``: print the version and exit."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        print(f"rewriter {_version()}")
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rewriter",
        description=(
            "Rewrite a generated server entry so that instrumentation is "
            "initialised before the application's runtime is imported."
        ),
    )
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="an entry file or a build directory; '-' reads standard input and writes stdout",
    )
    add = parser.add_argument
    add("--init", metavar="SPEC", help="init module, 'module:callable', or a file path")
    add("--entry", action="append", metavar="PATTERN", help="entry file pattern (repeatable)")
    add("--exclude", action="append", metavar="PATTERN", help="files to skip (repeatable)")
    add("--runtime", action="append", metavar="PATTERN", help="runtime module pattern (repeatable)")
    add("--handler", action="append", metavar="NAME", help="handler name to re-export (repeatable)")
    add("--mode", choices=MODES, help="how the entry is rewritten (default: dynamic-import)")
    add("--preload", action="append", metavar="NAME", help="integration to preload (repeatable)")
    add(
        "--lazy",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="defer the runtime import to first use",
    )
    add("--preset", metavar="NAME", help="framework defaults (see --list-presets)")
    add("--list-presets", action=_ListPresets, help="list the presets and exit")
    add(
        "--format",
        choices=("text", "json"),
        default="text",
        help="json: print one JSON report to stdout (not with --diff)",
    )
    add("--check", action="store_true", help="write nothing; exit 1 if a file would change")
    add("--diff", action="store_true", help="write nothing; print a unified diff to stdout")
    add("--config", metavar="FILE", help="pyproject.toml to read (default: nearest one upward)")
    add("-j", "--jobs", type=_positive_int, metavar="N", help="number of parallel jobs")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    verbosity.add_argument("-v", "--verbose", action="store_true", help="name every file")
    add("--version", action=_VersionAction, nargs=0, help="show the version and exit")
    trace = parser.add_argument_group("run-time proof", "The options after --trace go with it.")
    trace.add_argument(
        "--trace",
        action="store_true",
        help="write nothing; import each entry in a fresh interpreter as a server would and "
        "report what ran before init; exit 1 if that breaks the guarantee",
    )
    trace.add_argument("--by-path", action="store_true", help="load entries by file path")
    trace.add_argument("--python", metavar="EXE", help="interpreter (default: this one)")
    trace.add_argument("--env-file", metavar="FILE", help="KEY=VALUE lines for the environment")
    trace.add_argument(
        "--timeout", type=_positive_int, metavar="SECONDS", help="per entry (default: 30)"
    )
    return parser


class _ListPresets(argparse.Action):
    """Print the presets, one line each, and exit (like ``--version``)."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        from rewriter.presets import describe_presets

        sys.stdout.write(describe_presets())
        parser.exit()


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value
