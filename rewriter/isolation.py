"""Entries in processes of their own, after a worker of the pool died.

The parse front-end keeps LibCST within limits measured far below where its
native parser crashes, but a worker can still die of what no limit covers
(a bug of a native library, the kernel's out-of-memory killer). When one
does, the pool cannot say which entry it was rewriting, so every entry that
has no report yet is rewritten again, each in a process of its own: the one
that dies again is reported as failed, and every other entry is processed
and reported as usual (one that another worker had rewritten before the
pool broke is then reported unchanged: its file already holds the rewrite).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterator, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from rewriter.config import Settings
from rewriter.errors import Diagnostic
from rewriter.lifeline import stop_workers
from rewriter.report import FileReport


def run_each_alone(
    entries: Sequence[Path], settings: Settings, *, write: bool, jobs: int, **options: Any
) -> Iterator[FileReport]:
    """Rewrite each of ``entries`` in a process of its own, up to ``jobs`` at a time.

    Yields the reports in the order of ``entries``. ``options`` are passed
    on to ``rewrite_file``. An entry whose process dies before it reports is
    reported as failed, with the signal or exit code that ended it.
    """
    context = multiprocessing.get_context()

    def start(index: int) -> tuple[Any, Connection] | OSError:
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(
            target=_rewrite_alone,
            args=(sender, os.getpid(), entries[index], settings, write, options),
            daemon=True,
        )
        try:
            process.start()
        except OSError as error:  # no process can be started (a limit on processes)
            receiver.close()
            return error
        finally:
            sender.close()
        return process, receiver

    started = {index: start(index) for index in range(min(jobs, len(entries)))}
    try:
        for index, entry in enumerate(entries):
            report = _collect(entry, started.pop(index))
            if index + jobs < len(entries):
                started[index + jobs] = start(index + jobs)
            yield report
    finally:
        stop_workers(
            {index: item[0] for index, item in started.items() if not isinstance(item, OSError)}
        )


def _collect(entry: Path, started: tuple[Any, Connection] | OSError) -> FileReport:
    if isinstance(started, OSError):
        reason = started.strerror or started
        message = f"cannot start a process of its own to rewrite it: {reason}"
        return FileReport.from_error(str(entry), Diagnostic(message))
    process, receiver = started
    try:
        report: FileReport = receiver.recv()
    except EOFError:
        process.join()
        return FileReport.from_error(str(entry), Diagnostic(_death(process.exitcode)))
    finally:
        receiver.close()
    process.join()
    return report


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            how = f"signal {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"signal {-exitcode}"
    else:
        how = f"exit code {exitcode}"
    return (
        f"the process rewriting this file died ({how}) before it finished; writes are"
        " atomic, so the file is whole"
    )


def _rewrite_alone(
    sender: Connection,
    run: int,
    entry: Path,
    settings: Settings,
    write: bool,
    options: dict[str, Any],
) -> None:
    from rewriter import runner
    from rewriter.lifeline import bind_to_run

    bind_to_run(run)
    sender.send(runner.rewrite_file(entry, settings, write=write, **options))
    sender.close()


__all__ = ["run_each_alone"]
