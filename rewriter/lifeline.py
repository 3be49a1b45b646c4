"""Worker processes die with the run that started them, and never write after it.

A worker of ``-j N`` that outlived its run (after SIGTERM or SIGKILL to the
run's process only, which is what ``subprocess.run(timeout=...)`` and
supervisors send) kept rewriting files nobody would report, and held the
caller's stdout and stderr open forever. Now:

- on Linux the kernel sends the worker SIGTERM when the run's process ends,
  however it ends (``PR_SET_PDEATHSIG``);
- a worker removes its temporary file and exits on SIGTERM, and ignores
  SIGINT (Ctrl-C reaches the whole process group; the run stops its workers
  itself);
- right before each rename, a worker checks that its run is still its
  parent (``check_run_alive``), which also covers the platforms without
  ``PR_SET_PDEATHSIG`` and the moment before the signal arrives.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from types import FrameType
from typing import NoReturn

from rewriter.errors import RewriteError

# The process ID of the run, in a worker process; None in the run itself.
_run: int | None = None

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def bind_to_run(run: int) -> None:
    """Make this worker process die with ``run``, its parent; call it first thing in a worker."""
    global _run
    _run = run
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _end)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != run:  # it ended before the signal was asked for
        _end(signal.SIGTERM, None)


def check_run_alive() -> None:
    """Raise RewriteError in a worker whose run has ended; call it right before a write."""
    if _run is not None and os.getppid() != _run:
        raise RewriteError("the run that started this worker has ended; not written")


def stop_workers(processes: object) -> None:
    """Send SIGTERM to the worker processes ``processes`` (``{pid: Process}``, or anything else).

    ``ProcessPoolExecutor`` has no public way to stop the tasks it is
    running, so the run passes its ``_processes`` here when it must end now
    (Ctrl-C, an error, a consumer that stopped reading).
    """
    if not isinstance(processes, dict):
        return
    for process in list(processes.values()):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.terminate()


def _end(signum: int, frame: FrameType | None) -> NoReturn:
    from rewriter.writing import discard_in_flight

    discard_in_flight()
    os._exit(128 + signum)


__all__ = ["bind_to_run", "check_run_alive", "stop_workers"]
