"""The command line: ``rewriter [OPTIONS] PATH...``; the only place that knows exit codes.

Heavy modules (libcst, jinja2, pathspec) are imported only once the
arguments are parsed, so ``--help`` and ``--version`` stay fast. Every error
is one line starting ``error:``; Ctrl-C and a closed stdout end the run as
``rewriter.interrupts`` says.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from rewriter.config import (
    DEFAULT_ENTRY,
    DEFAULT_HANDLERS,
    DEFAULT_INIT_FILES,
    MODES,
    SETTING_KEYS,
    Settings,
    find_pyproject,
    key_position,
    load_table,
    merge_layers,
)
from rewriter.errors import ConfigError, ConfigFileError, Diagnostic, RewriteError
from rewriter.interrupts import EXIT_INTERRUPTED, INTERRUPTED, Stdout, say, silence_stdout
from rewriter.report import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    EXIT_WOULD_CHANGE,
    BuildReport,
    FileReport,
    file_line,
)

if TYPE_CHECKING:
    from rewriter.cache import VerdictCache

STDIN = "-"

# What each exit code means, as `--help` lists them.
EXIT_CODES = {
    EXIT_OK: "nothing to do, or every entry rewritten and sound",
    EXIT_WOULD_CHANGE: "--check or --diff found an entry to rewrite, or a guarantee is broken",
    EXIT_USAGE: "usage or configuration error",
    EXIT_FAILED: "an entry could not be rewritten (the file is left as it was)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); every file is whole",
}

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

# Options whose errors name the option: the patterns, validated one by one.
_PATTERN_OPTIONS = ("entry", "exclude", "runtime")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    Ctrl-C returns 130 after one line on stderr. A stdout closed by its
    reader drops what would go there and the run keeps its exit code.
    """
    try:
        return _main(argv, Stdout())
    except KeyboardInterrupt:
        say(INTERRUPTED)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Only --help, --version and --list-presets write to stdout without
        # the guard of ``Stdout``, and they earn 0.
        silence_stdout()
        return 0


def _main(argv: Sequence[str] | None, stdout: Stdout) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        if args.list_presets:
            return _list_presets(verbose=args.verbose)
        # PATH is optional to argparse only so that `--list-presets -v` parses.
        if not args.paths:
            parser.error("the following arguments are required: PATH")
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    from rewriter.preload import resolving_once

    # Preload integrations are resolved once per run, before any file.
    with resolving_once():
        return _run(args, stdout)


def _run(args: argparse.Namespace, stdout: Stdout) -> int:
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
        cache, cache_note = _open_cache(no_cache=args.no_cache)
        groups = _settings_by_path(paths, overrides, args.config, verbose=args.verbose, cache=cache)
    except _UsageError as error:
        say(str(error))
        return EXIT_USAGE
    if not args.quiet:
        for message in _skipped_integrations(settings for _, settings, _ in groups):
            say(f"warning: {message}")
    if args.trace:
        return _trace(args, groups, stdout)
    if args.undo:
        return _undo(args, groups, stdout)

    from rewriter.progress import progress_line
    from rewriter.runner import run_entries

    write = not (args.check or args.diff)
    progress = progress_line(
        sum(len(entries) for _, _, entries in groups),
        enabled=not args.quiet and args.format == "text",
    )
    # --diff shows the rewrite, so the guarantee is checked on what it shows.
    verify = {"verify_rewrite": True} if args.diff else {}
    reports: list[FileReport] = []
    for path, settings, entries in groups:
        if path == STDIN:
            report = _rewrite_stdin(settings, stdout, check=args.check, diff=args.diff)
            _emit(report, args, stdout, write=write)
            reports.append(report)
            continue
        reported = run_entries(
            entries, settings, write=write, notify=_note(args), cache=cache, **verify
        )
        for report in progress.track(reported):
            _emit(report, args, stdout, write=write)
            reports.append(report)
    build = BuildReport(tuple(reports))
    if cache is not None:
        cache.save()
    if args.verbose:
        say(_cache_line(cache, cache_note, entries=sum(len(found) for _, _, found in groups)))
    if not args.quiet:
        say(build.summary(write=write))
    code = build.exit_code(check=args.check, diff=args.diff)
    if args.format == "json":
        from rewriter.json_report import build_json, dumps

        document = build_json(build, write=write, exit_code=code, tool_version=_version())
        stdout.write(dumps(document) + "\n")
    return code


def _open_cache(*, no_cache: bool) -> tuple[VerdictCache | None, str]:
    """The run's verdict cache, or None and why not (``rewriter.cache``)."""
    if no_cache:
        return None, "off (--no-cache)"
    from rewriter.cache import CacheUnusable, VerdictCache

    try:
        return VerdictCache.open(), ""
    except CacheUnusable as error:
        return None, f"off: {error}"


def _cache_line(cache: VerdictCache | None, note: str, *, entries: int) -> str:
    """The ``-v`` line about the verdict cache: how much it gave, or why it is off."""
    if cache is None:
        return f"cache: {note}"
    from rewriter.runner import VERDICT

    reused = cache.reused.get(VERDICT, 0)
    return f"cache: {reused} of {entries} verdicts reused ({cache.records})"


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
    elif args.undo:
        raise _UsageError("error: --trace cannot be combined with --undo")


def _undo(
    args: argparse.Namespace, groups: list[tuple[str, Settings, list[Path]]], stdout: Stdout
) -> int:
    """``--undo``: the original of every entry back (``-``: from stdin to stdout)."""
    from rewriter.runner import undo_file

    write = not (args.check or args.diff)
    reports: list[FileReport] = []
    for path, _, entries in groups:
        if path == STDIN:
            report = _undo_stdin(stdout, write=write)
            _emit(report, args, stdout, write=write, undo=True)
            reports.append(report)
            continue
        for entry in entries:
            report = undo_file(entry, write=write)
            _emit(report, args, stdout, write=write, undo=True)
            reports.append(report)
    build = BuildReport(tuple(reports))
    if not args.quiet:
        say(build.summary(write=write, undo=True))
    code = build.exit_code(check=args.check, diff=args.diff)
    if args.format == "json":
        from rewriter.json_report import build_json, dumps

        document = build_json(build, write=write, exit_code=code, tool_version=_version())
        stdout.write(dumps(document) + "\n")
    return code


def _undo_stdin(stdout: Stdout, *, write: bool) -> FileReport:
    from rewriter.files import decode_source, encode_source
    from rewriter.runner import undo_text

    try:
        text, encoding = decode_source(sys.stdin.buffer.read())
        report = undo_text(text, path=STDIN)
        if write and report.result is not None:
            stdout.write_bytes(encode_source(report.result.output, encoding))
    except RewriteError as error:
        return FileReport.from_error(STDIN, error.diagnostic)
    return report


def _trace(
    args: argparse.Namespace, groups: list[tuple[str, Settings, list[Path]]], stdout: Stdout
) -> int:
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
                stdout.write(trace_report.text_report(trace))
            for diagnostic in (*([trace.error] if trace.error else []), *trace.findings):
                print(diagnostic.format(trace.path), file=sys.stderr)
            traces.append(trace)
    code = trace_report.exit_code(traces)
    if not args.quiet:
        print(trace_report.summary(traces), file=sys.stderr)
    if args.format == "json":
        from rewriter.json_report import dumps

        report = trace_report.build_trace_json(traces, exit_code=code, tool_version=_version())
        stdout.write(dumps(report) + "\n")
    return code


def _settings_by_path(
    paths: Sequence[str],
    overrides: dict[str, object],
    config: str | None,
    *,
    verbose: bool,
    cache: VerdictCache | None = None,
) -> list[tuple[str, Settings, list[Path]]]:
    """Settings and entries for every PATH, all checked before anything is written.

    A PATH that does not exist, or yields no entry, is a usage error. With
    ``verbose``, what each search skipped is printed, and why. The searches
    use ``cache`` (``rewriter.search``).
    """
    from rewriter.search import search

    for name in _PATTERN_OPTIONS:  # a bad pattern's error names the option it came from
        if name in overrides:
            try:
                Settings.from_mapping({name: overrides[name]})
            except ConfigError as error:
                raise _UsageError(f"error: --{name}: {error.diagnostic.message}") from None
    settings_for: dict[Path | None, Settings] = {}
    groups: list[tuple[str, Settings, list[Path]]] = []
    for path in paths:
        start = Path.cwd() if path == STDIN else Path(path)
        pyproject = Path(config) if config else find_pyproject(start)
        if pyproject not in settings_for:
            settings_for[pyproject] = _settings(pyproject, overrides, given=config is not None)
        settings = settings_for[pyproject]
        if path == STDIN:
            groups.append((path, settings, []))
            continue
        try:
            found = search(Path(path), settings, cache)
        except RewriteError as error:
            raise _UsageError(f"error: {path}: {error.diagnostic.message}") from None
        if verbose:
            for skip in found.skipped:
                say(f"skipped {skip.shown(found.root)}: {skip.reason}")
        if not found.entries:
            raise _UsageError(f"error: {path}: {found.nothing_found()}")
        groups.append((path, settings, sorted(found.entries)))
    return groups


def _settings(pyproject: Path | None, overrides: dict[str, object], *, given: bool) -> Settings:
    """The settings from ``pyproject`` (None: defaults) and the command line's ``overrides``.

    In preload mode the integrations are resolved here too, so that what is
    wrong with the environment is said once, before any file.
    """
    from rewriter.preload import preload_plan

    try:
        table = load_table(pyproject) if pyproject else {}
    except ConfigFileError as error:
        option = "--config " if given else ""
        raise _UsageError(f"error: {option}{pyproject}: {error.diagnostic.message}") from None
    except ConfigError as error:
        raise _UsageError(error.diagnostic.format(str(pyproject))) from None
    try:
        settings = Settings.from_mapping(merge_layers(table, overrides))
        preload_plan(settings)
    except ConfigError as error:
        raise _setting_error(error, pyproject, table, overrides) from None
    return settings


def _setting_error(
    error: ConfigError,
    pyproject: Path | None,
    table: Mapping[str, object],
    overrides: Mapping[str, object],
) -> _UsageError:
    """The line for an error about a setting: at its key when the pyproject.toml set it."""
    key = error.key
    if pyproject is None or key is None or key not in table or key in overrides:
        return _UsageError(f"error: {error.diagnostic.message}")
    line, column = key_position(pyproject, key)
    return _UsageError(Diagnostic(error.diagnostic.message, line, column).format(str(pyproject)))


def _skipped_integrations(settings: Iterable[Settings]) -> list[str]:
    """The warnings about unusable entry points that preload mode skipped, once each."""
    from rewriter.preload import preload_plan

    plans = [plan for plan in map(preload_plan, settings) if plan is not None]
    return list(dict.fromkeys(message for plan in plans for message in plan.skipped))


def _rewrite_stdin(settings: Settings, stdout: Stdout, *, check: bool, diff: bool) -> FileReport:
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
    stdout.write_bytes(data)
    return report


def _note(args: argparse.Namespace) -> Callable[[str], None] | None:
    """Where the runner's notes go: stderr with ``-v``, nowhere otherwise."""
    if not args.verbose:
        return None
    return say


def _emit(
    report: FileReport,
    args: argparse.Namespace,
    stdout: Stdout,
    *,
    write: bool,
    undo: bool = False,
) -> None:
    """Print what one file's report says: error, warnings, progress line, diff."""
    if report.error is not None:
        say(report.error.format(report.path))
    for finding in report.findings:
        say(finding.format(report.path))
    if not args.quiet:
        for warning in report.warnings:
            say(warning.format(report.path, "warning"))
        line = file_line(report, write=write, verbose=args.verbose, undo=undo)
        if line is not None:
            say(line)
    if args.diff and report.result is not None and report.result.changed:
        stdout.write(unified_diff(report.result.source, report.result.output, report.path))


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


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors in the one form of every error (``error: ...``),
    and the end of the help (exit codes, config-only keys) written only when it is shown."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {message} (see rewriter --help)\n")

    def format_help(self) -> str:
        from rewriter.helptext import epilog

        config_only = [key for key in SETTING_KEYS if key not in _SETTING_OPTIONS]
        self.epilog = epilog(EXIT_CODES, config_only)
        return super().format_help()


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rewriter",
        usage="%(prog)s [OPTIONS] PATH...\n       %(prog)s --list-presets [-v]",
        description=(
            "Rewrite a generated server entry so that instrumentation is initialised\n"
            "before the application's runtime is imported.\n\n"
            "The defaults below apply unless a --preset or [tool.rewriter] sets the\n"
            "option; the command line overrides both."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="an entry file or a build directory; '-' reads standard input and writes stdout",
    )
    add = parser.add_argument
    add(
        "--init",
        metavar="SPEC",
        help="init module, 'module:callable', or a file path (default: the first init_files "
        f"name found beside the entry: {', '.join(DEFAULT_INIT_FILES)})",
    )
    add(
        "--entry",
        action="append",
        metavar="PATTERN",
        help="entry files in a directory PATH, gitignore-style (repeatable; default: "
        f"{', '.join(DEFAULT_ENTRY)})",
    )
    add(
        "--exclude",
        action="append",
        metavar="PATTERN",
        help="files to skip in a directory PATH (repeatable; default: none besides "
        ".gitignored files)",
    )
    add(
        "--runtime",
        action="append",
        metavar="PATTERN",
        help="runtime module pattern, gitignore-style, relative to the entry (repeatable; "
        "default: every first-party module)",
    )
    add(
        "--handler",
        action="append",
        metavar="NAME",
        help=f"handler name to re-export (repeatable; default: {', '.join(DEFAULT_HANDLERS)})",
    )
    add("--mode", choices=MODES, help="how the entry is rewritten (default: dynamic-import)")
    add(
        "--preload",
        action="append",
        metavar="NAME",
        help="integration to preload in preload mode (repeatable; default: every installed "
        "instrumentor)",
    )
    add(
        "--lazy",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="defer the runtime import to first use (default: off)",
    )
    add("--preset", metavar="NAME", help="framework defaults (default: none; see --list-presets)")
    add(
        "--list-presets",
        action="store_true",
        help="list the presets and exit; with -v, their patterns, handlers and init files",
    )
    add(
        "--format",
        choices=("text", "json"),
        default="text",
        help="json: print one JSON report to stdout, not with --diff (default: text)",
    )
    add("--check", action="store_true", help="write nothing; exit 1 if a file would change")
    add("--diff", action="store_true", help="write nothing; print a unified diff to stdout")
    add(
        "--undo",
        action="store_true",
        help="put the original entries back, byte for byte (with --check or --diff: say what "
        "it would put back)",
    )
    add("--config", metavar="FILE", help="pyproject.toml to read (default: nearest one upward)")
    add(
        "-j",
        "--jobs",
        type=_positive_int,
        metavar="N",
        help="number of parallel jobs (default: jobs in [tool.rewriter], else one per usable CPU)",
    )
    add(
        "--no-cache",
        action="store_true",
        help="analyse every entry again: neither use nor keep the verdicts of earlier runs "
        "(kept in $REWRITER_CACHE_DIR, else $XDG_CACHE_HOME/rewriter, else ~/.cache/rewriter; "
        "-v says how many were reused)",
    )
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


def _list_presets(*, verbose: bool) -> int:
    from rewriter.presets import describe_presets

    sys.stdout.write(describe_presets(verbose=verbose))
    return EXIT_OK


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value
