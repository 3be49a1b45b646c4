"""How many worker processes a run starts: no more than asked for, and no more than memory holds.

A rewrite's peak memory grows with the entry it rewrites (LibCST keeps the
whole syntax tree, and the rewrite holds the original and the rewritten
tree at once), so ``-j`` workers rewriting big entries at the same time
can take more memory than the machine has. Before it starts a pool, the
runner asks ``choose_workers`` how many workers fit: each is counted with
the peak of the largest entry of the run, against the memory that is
available now (``MemAvailable`` from ``/proc/meminfo``, or the headroom
left under the process's cgroup memory limit when that is lower).
Where neither can be read (not Linux), only the CPUs bound the count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PEAK_BYTES_PER_SOURCE_BYTE = 800
"""Peak memory (bytes) that a first rewrite adds per byte of the entry.

Measured with ``python -m bench`` (the memory rows), the peak resident set
size of a ``python -m rewriter`` process on the 5,000, 50,000 and
200,000-line benchmark entries (155 KB to 6.4 MB): 125 MiB, 1,028 to
1,154 MiB and 4,126 to 4,177 MiB, a slope of 670 to 679 bytes per byte
(a LibCST parse-and-print alone: 540), and up to 720 bytes per byte over
``WORKER_BASE_BYTES`` at 50,000 lines; CPython 3.11, LibCST 1.9. Rounded
up, so that the count errs towards fewer workers.
"""

WORKER_BASE_BYTES = 64 * 2**20
"""Memory (bytes) a worker needs whatever the entry: the interpreter, LibCST, jinja2.

A whole ``python -m rewriter`` process on a 200-line entry peaks at 36 MiB;
a forked worker shares most of that with its parent. Rounded up like the
factor above.
"""

_MEMINFO = Path("/proc/meminfo")
_SELF_CGROUP = Path("/proc/self/cgroup")
_CGROUP_V2 = Path("/sys/fs/cgroup")
_CGROUP_V1_MEMORY = Path("/sys/fs/cgroup/memory")


@dataclass(frozen=True)
class Memory:
    """Memory a run may use: ``available`` bytes, and where the figure comes from."""

    available: int
    source: str
    """``"MemAvailable"`` or ``"cgroup limit"``, for the ``-v`` note."""


@dataclass(frozen=True)
class WorkerPlan:
    """The number of workers to start, and why it is lower than asked (None when it is not)."""

    workers: int
    note: str | None = None


def worker_need(entry_bytes: int) -> int:
    """Bytes one worker may need at its peak to rewrite an entry of ``entry_bytes`` bytes."""
    return WORKER_BASE_BYTES + PEAK_BYTES_PER_SOURCE_BYTE * entry_bytes


def plan_workers(wanted: int, largest_entry: int, memory: Memory | None) -> WorkerPlan:
    """At most ``wanted`` workers, each holding the peak of the ``largest_entry`` (bytes).

    With ``memory`` None (unknown) or one worker wanted, the plan is
    ``wanted``. Otherwise the count is lowered to what ``memory.available``
    holds, ``worker_need(largest_entry)`` bytes each, but never below 1: a
    single worker runs in the calling process, which starts no process.
    """
    if wanted <= 1 or memory is None:
        return WorkerPlan(wanted)
    need = worker_need(largest_entry)
    fits = memory.available // need
    if fits >= wanted:
        return WorkerPlan(wanted)
    workers = max(1, fits)
    note = (
        f"jobs: {workers} instead of {wanted}: {_mib(memory.available)} of memory is available"
        f" ({memory.source}), and a worker may need {_mib(need)} for the largest entry"
        f" ({_mib(largest_entry)})"
    )
    return WorkerPlan(workers, note)


def choose_workers(wanted: int, entries: Sequence[Path], max_size: int) -> WorkerPlan:
    """``plan_workers`` for ``entries`` with the memory available to this process now.

    Files larger than ``max_size`` bytes are left out of the largest entry:
    the run refuses them without parsing them.
    """
    if wanted <= 1:
        return WorkerPlan(wanted)
    return plan_workers(wanted, largest_entry(entries, max_size), read_memory())


def largest_entry(entries: Sequence[Path], max_size: int) -> int:
    """The size in bytes of the largest of ``entries`` that is at most ``max_size``; 0 if none."""
    largest = 0
    for entry in entries:
        try:
            size = entry.stat().st_size
        except OSError:
            continue  # reported when the run reads it
        if size <= max_size:
            largest = max(largest, size)
    return largest


def read_memory() -> Memory | None:
    """The memory available to this process now, or None where it cannot be read."""
    try:
        meminfo = _MEMINFO.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return None
    available = meminfo_available(meminfo)
    if available is None:
        return None
    memory = Memory(available, "MemAvailable")
    headroom = cgroup_headroom(_read_or_empty(_SELF_CGROUP), _CGROUP_V2, _CGROUP_V1_MEMORY)
    if headroom is not None and headroom < available:
        memory = Memory(headroom, "cgroup limit")
    return memory


def meminfo_available(text: str) -> int | None:
    """``MemAvailable`` in bytes from the text of ``/proc/meminfo`` (None if it has none)."""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key == "MemAvailable":
            number, _, unit = value.strip().partition(" ")
            if number.isdigit() and unit in ("kB", ""):
                return int(number) * (1024 if unit == "kB" else 1)
    return None


def cgroup_headroom(self_cgroup: str, v2_root: Path, v1_memory_root: Path) -> int | None:
    """Bytes left under the tightest memory limit of this process's cgroup and its ancestors.

    ``self_cgroup`` is the text of ``/proc/self/cgroup``; the roots are
    where the cgroup v2 hierarchy and the v1 ``memory`` controller are
    mounted. Usage counts as ``docker stats`` counts it: the page cache
    that can be dropped (inactive file pages) is not used memory. None
    when no limit is set or none can be read.
    """
    tightest: int | None = None
    for line in self_cgroup.splitlines():
        fields = line.split(":", 2)
        if len(fields) != 3:
            continue
        _, controllers, path = fields
        if controllers == "":
            files = ("memory.max", "memory.current", "inactive_file")
            directories = _ancestors(v2_root, path)
        elif "memory" in controllers.split(","):
            files = ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
            directories = _ancestors(v1_memory_root, path)
        else:
            continue
        for directory in directories:
            headroom = _headroom(directory, *files)
            if headroom is not None and (tightest is None or headroom < tightest):
                tightest = headroom
    return tightest


def _ancestors(root: Path, path: str) -> list[Path]:
    # Inside a container the process's cgroup path may not exist under the
    # mount point (the container sees its own cgroup as the root), so every
    # existing level from the cgroup up to the root is read.
    parts = [part for part in path.split("/") if part]
    candidates = [root.joinpath(*parts[:depth]) for depth in range(len(parts), -1, -1)]
    return [directory for directory in candidates if directory.is_dir()]


def _headroom(directory: Path, limit_file: str, usage_file: str, inactive_key: str) -> int | None:
    limit = _read_or_empty(directory / limit_file).strip()
    usage = _read_or_empty(directory / usage_file).strip()
    if not (limit.isdigit() and usage.isdigit()):
        return None  # "max" (no limit), or not readable
    inactive = 0
    for line in _read_or_empty(directory / "memory.stat").splitlines():
        key, _, value = line.partition(" ")
        if key == inactive_key and value.strip().isdigit():
            inactive = int(value)
    return max(0, int(limit) - max(0, int(usage) - inactive))


def _read_or_empty(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return ""


def _mib(size: int) -> str:
    return f"{size / 2**20:,.0f} MiB" if size >= 2**20 else f"{size / 1024:,.0f} KiB"
