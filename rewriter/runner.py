"""Rewrite entries on disk: read, call the pure core, write back atomically.

The functions here never raise for bad input. A file that cannot be
rewritten becomes a failed ``FileReport`` and stays untouched on disk.
"""

from __future__ import annotations

import dataclasses
import gc
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from rewriter import probes
from rewriter.config import Settings
from rewriter.errors import ConfigError, Diagnostic, RewriteError
from rewriter.files import DiskTree, encode_source, read_source
from rewriter.report import BuildReport, FileReport
from rewriter.result import Result
from rewriter.workers import choose_workers
from rewriter.writing import leftover_warnings, stale_temporaries, write_atomic

if TYPE_CHECKING:
    from rewriter.cache import VerdictCache


def rewrite_text(
    text: str, settings: Settings, *, path: str, root: Path, written: bool = True
) -> FileReport:
    """Rewrite source ``text`` whose modules live under ``root``; nothing is written.

    ``path`` names the source in reports and, with ``root``, tells the core
    which package the entry belongs to. Use this for text that is not a
    file, such as standard input. The guarantee is verified on the output
    when it is ``written``, else (``--check``, ``--diff``) on ``text``.
    """
    from rewriter.core import result_of, rewritten_text
    from rewriter.gcpause import cyclic_gc_paused
    from rewriter.parsing import compiler_warnings_ignored
    from rewriter.plan import analyse
    from rewriter.verify import verify_plan

    tree = DiskTree(root, settings.max_size)
    try:
        with cyclic_gc_paused(), compiler_warnings_ignored():
            plan = analyse(text, settings, path=path, tree=tree)
            output = rewritten_text(plan)
            result = result_of(plan, output)
            kept = output if written else text
            if kept is not text:
                plan = analyse(kept, settings, path=path, tree=tree)
            findings = verify_plan(plan)
    except ConfigError as error:
        return FileReport.from_error(path, error.diagnostic, config=True)
    except RewriteError as error:
        return FileReport.from_error(path, error.diagnostic)
    except Exception as error:  # the runner must never take the whole build down
        return FileReport.from_error(path, _internal_error(error))
    return FileReport.from_result(path, result, findings)


def rewrite_file(
    path: str | os.PathLike[str],
    settings: Settings,
    *,
    write: bool = True,
    verify_rewrite: bool | None = None,
    cache: VerdictCache | None = None,
    reuse: bool = True,
) -> FileReport:
    """Rewrite the entry at ``path`` in place (when ``write`` and it changes).

    Modules are resolved relative to the entry's directory. With
    ``write=False`` nothing is written and the report says what would happen.
    The guarantee is verified on what the file holds afterwards, or with
    ``verify_rewrite=True`` (``--diff``) on the rewrite although it is not
    written. A file that already holds the rewrite (another run wrote it
    meanwhile) is reported unchanged. Temporary files that a killed run left
    beside the entry are removed (when ``write``) and named in the warnings.
    With a ``cache``, the verdict of an earlier clean run is reused while it
    holds (unless ``reuse`` is False: the caller has looked it up already),
    and a clean verdict is kept for the next run (``rewriter.cache``).
    """
    entry = Path(path)
    name = str(path)
    verified = write if verify_rewrite is None else verify_rewrite
    leftovers = leftover_warnings(entry, remove=write)
    if cache is not None and reuse and not leftovers:
        reused = reused_report(entry, settings, cache)
        if reused is not None:
            return reused
    try:
        source = read_source(entry, settings.max_size)
        with probes.recording() as asked:
            report = rewrite_text(
                source.text, settings, path=name, root=entry.parent, written=verified
            )
        if cache is not None and _is_clean(report) and report.result is not None:
            payload = [list(report.result.runtime_modules), list(report.result.reexports)]
            cache.store(VERDICT, entry, settings, source.raw, asked, payload)
        if write and report.result is not None and report.result.changed:
            data = encode_source(report.result.output, source.encoding)
            if write_atomic(entry, data, source.raw):
                report = dataclasses.replace(report, written=True)
            else:
                report = dataclasses.replace(report, status="unchanged")
    except RewriteError as error:
        report = FileReport.from_error(name, error.diagnostic)
    except Exception as error:  # the runner must never take the whole build down
        report = FileReport.from_error(name, _internal_error(error))
    if not leftovers:
        return report
    return dataclasses.replace(report, warnings=(*leftovers, *report.warnings))


VERDICT = "verdict"
"""The kind of the cache's records of clean runs: ``[runtime modules, re-exports]``."""


def reused_report(path: Path, settings: Settings, cache: VerdictCache) -> FileReport | None:
    """The report of an earlier clean run of the entry at ``path``, if its verdict still holds.

    None when there is no such verdict, when it no longer holds (the entry
    or a file its analysis read has changed), or when a killed run left
    temporary files beside the entry (a run reports and removes them).
    """
    if any(stale_temporaries(path)):
        return None
    try:
        source = read_source(path, settings.max_size)
    except RewriteError:
        return None
    payload = cache.lookup(VERDICT, path, settings, source.raw)
    if not _is_verdict(payload):
        return None
    runtime_modules, reexports = payload
    result = Result(source.text, source.text, tuple(runtime_modules), tuple(reexports))
    return FileReport.from_result(str(path), result)


def _is_clean(report: FileReport) -> bool:
    return report.status == "unchanged" and not report.warnings and not report.findings


def _is_verdict(payload: object) -> TypeGuard[list[list[str]]]:
    return (
        isinstance(payload, list)
        and len(payload) == 2
        and all(isinstance(part, list) for part in payload)
        and all(isinstance(name, str) for part in payload for name in part)
    )


NOTHING_TO_UNDO = "nothing to undo: the entry holds no code rewriter generated"


def undo_text(text: str, *, path: str) -> FileReport:
    """Undo the rewrite of source ``text`` (named ``path`` in reports); nothing is written.

    The report's result holds the original text (``rewriter.undo``); an
    entry that was never rewritten is unchanged, with a warning that says so.
    """
    from rewriter.undo import undo_source

    try:
        undone = undo_source(text)
    except RewriteError as error:
        return FileReport.from_error(path, error.diagnostic)
    except Exception as error:  # the runner must never take the whole build down
        return FileReport.from_error(path, _internal_error(error))
    result = Result(source=text, output=undone.output)
    warnings = () if undone.changed else (Diagnostic(NOTHING_TO_UNDO),)
    report = FileReport.from_result(path, result)
    return dataclasses.replace(report, warnings=warnings)


def undo_file(path: str | os.PathLike[str], *, write: bool = True) -> FileReport:
    """Put the original entry back at ``path`` (when ``write`` and it was rewritten).

    The write keeps everything the file has, as a rewrite's does.
    """
    entry = Path(path)
    name = str(path)
    try:
        source = read_source(entry)
        report = undo_text(source.text, path=name)
        if write and report.result is not None and report.result.changed:
            data = encode_source(report.result.output, source.encoding)
            written = write_atomic(entry, data, source.raw)
            report = dataclasses.replace(report, written=written)
    except RewriteError as error:
        report = FileReport.from_error(name, error.diagnostic)
    except Exception as error:  # the runner must never take the whole build down
        report = FileReport.from_error(name, _internal_error(error))
    return report


def rewrite_build(
    build_dir: str | os.PathLike[str],
    settings: Settings,
    *,
    write: bool = True,
    jobs: int | None = None,
) -> BuildReport:
    """Rewrite every entry that ``settings.entry`` finds under ``build_dir``.

    This is the hook a framework's build calls after it writes its output.
    Entries are rewritten by up to ``jobs`` processes (see ``run_entries``);
    the reports are in the sorted order of the entries. A file that cannot
    be rewritten is reported as failed, and a ``build_dir`` that yields no
    entry is an error of the report (``errors``, exit code 2) that says
    which patterns and rules left nothing. Raises, before any file is read:

    - ``ConfigError`` (a ``RewriteError``) in preload mode when the
      environment cannot preload what ``settings`` asks for: a named
      integration that is not installed, whose entry point cannot be used,
      or whose library is missing or at a version it does not instrument;
      or, with no names, no usable integration at all (see
      ``rewriter.preload.plan_preload``). Entry points that were not named
      and cannot be used are skipped with a ``RuntimeWarning`` each.
    - ``RewriteError`` when ``build_dir`` does not exist.
    """
    import warnings

    from rewriter.preload import preload_plan, resolving_once
    from rewriter.search import search

    with resolving_once():
        plan = preload_plan(settings)
        for message in plan.skipped if plan else ():
            warnings.warn(f"rewriter: {message}", RuntimeWarning, stacklevel=2)
        found = search(Path(build_dir), settings)
        if not found.entries:
            return BuildReport(errors=(f"{build_dir}: {found.nothing_found()}",))
        entries = sorted(found.entries)
        return BuildReport(tuple(run_entries(entries, settings, write=write, jobs=jobs)))


def run_entries(
    entries: Sequence[Path],
    settings: Settings,
    *,
    write: bool = True,
    jobs: int | None = None,
    verify_rewrite: bool | None = None,
    notify: Callable[[str], object] | None = None,
    cache: VerdictCache | None = None,
) -> Iterator[FileReport]:
    """Rewrite ``entries`` like ``rewrite_file``; yield the reports in the order of ``entries``.

    ``jobs`` (default: ``settings.jobs``, else the number of usable CPUs)
    is the most worker processes to start; fewer start when memory would
    not hold them (``rewriter.workers``), and ``notify`` is then called with
    a line that says why. Entries go to the workers in small
    chunks, and each report is yielded as soon as it and all before it are
    done, so the output does not depend on which worker finishes first. With
    one job or one entry, or where no process pool can be started, everything
    runs in this process. Workers die with the run (``rewriter.lifeline``);
    if one dies during the run, every entry without a report yet is
    rewritten in a process of its own (``rewriter.isolation``). With a
    ``cache``, entries whose clean verdict still holds are reported from it
    here, and only the others go to the workers, which keep their clean
    verdicts; call ``cache.save()`` when the run is over (``rewriter.cache``).
    """
    options: dict[str, Any] = {"write": write}
    if verify_rewrite is not None:
        options["verify_rewrite"] = verify_rewrite
    if cache is None:
        yield from _run_all(entries, settings, options, jobs, notify)
        return
    # Verdicts that still hold are read here, so that a run with nothing
    # new to look at starts no worker. Files may have changed since the
    # cache last asked (an earlier group of entries was written).
    cache.forget_answers()
    reused = [reused_report(entry, settings, cache) for entry in entries]
    missing = [entry for entry, report in zip(entries, reused, strict=True) if report is None]
    options.update(cache=cache, reuse=False)
    # Each None of `reused` stands for the next report of the computed ones,
    # which run to their end (so that the workers are shut down).
    waiting = iter(reused)
    for computed in _run_all(missing, settings, options, jobs, notify) if missing else ():
        for report in waiting:
            if report is None:
                break
            yield report
        yield computed
    yield from (report for report in waiting if report is not None)


def _run_all(
    entries: Sequence[Path],
    settings: Settings,
    options: dict[str, Any],
    jobs: int | None,
    notify: Callable[[str], object] | None,
) -> Iterator[FileReport]:
    wanted = min(jobs or settings.jobs or _usable_cpus(), len(entries))
    plan = choose_workers(wanted, entries, settings.max_size)
    if plan.note is not None and notify is not None:
        notify(plan.note)
    workers = plan.workers
    done = 0
    if workers > 1:
        from concurrent.futures.process import BrokenProcessPool

        try:
            for report in _run_in_pool(entries, settings, options, workers):
                done += 1
                yield report
        except BrokenProcessPool:
            from rewriter.isolation import run_each_alone

            yield from run_each_alone(entries[done:], settings, jobs=workers, **options)
            return
        except (OSError, NotImplementedError):
            # No pool on this platform (AWS Lambda has no shared memory for
            # its locks): finish here, one by one.
            pass
    for entry in entries[done:]:
        yield rewrite_file(entry, settings, **options)


def _run_in_pool(
    entries: Sequence[Path], settings: Settings, options: dict[str, Any], workers: int
) -> Iterator[FileReport]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    method = multiprocessing.get_start_method(allow_none=True)
    if (method or multiprocessing.get_all_start_methods()[0]) == "fork":
        # Forked workers share what is imported here. A run that writes
        # rewrites, so each worker would import LibCST again; a check is
        # mostly of rewritten entries, which the fast path reads without it.
        import rewriter.core
        import rewriter.verify

        if options.get("write", True):
            import rewriter.transforms.assemble  # noqa: F401
    from rewriter.lifeline import stop_workers

    pool = ProcessPoolExecutor(
        max_workers=workers, initializer=_start_worker, initargs=(os.getpid(), settings, options)
    )
    try:
        yield from pool.map(_rewrite_entry, entries, chunksize=chunk_size(len(entries), workers))
    except BaseException:
        # Ctrl-C, a dead worker, or a consumer that stopped reading: the
        # workers stop now (removing their temporary files), not after
        # every entry queued.
        stop_workers(getattr(pool, "_processes", None))
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def chunk_size(entries: int, workers: int) -> int:
    """How many entries a worker of ``run_entries`` takes at a time."""
    # Big enough that sending a chunk costs little next to rewriting it,
    # small enough that when the entries run out, the last chunk keeps one
    # worker busy only briefly while the others wait.
    return max(1, min(_MAX_CHUNK, entries // (workers * 4)))


_MAX_CHUNK = 4

# What every task of a worker process shares, set once when it starts.
_worker_job: tuple[Settings, dict[str, Any]] | None = None


def _start_worker(run: int, settings: Settings, options: dict[str, Any]) -> None:
    from rewriter.lifeline import bind_to_run

    bind_to_run(run)
    global _worker_job
    _worker_job = (settings, options)
    # The modules imported before the fork never become garbage: leave them
    # out of the collector's full passes, which would otherwise walk (and,
    # by writing to their headers, copy) every one of them again.
    gc.freeze()


def _rewrite_entry(entry: Path) -> FileReport:
    if _worker_job is None:
        raise RuntimeError("not a worker process started by run_entries")
    settings, options = _worker_job
    return rewrite_file(entry, settings, **options)


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _internal_error(error: Exception) -> Diagnostic:
    return Diagnostic(f"internal error: {type(error).__name__}: {error}")
