"""Memory-aware ``-j``: how many workers fit, from given memory figures (no timing here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rewriter.workers import (
    PEAK_BYTES_PER_SOURCE_BYTE,
    WORKER_BASE_BYTES,
    Memory,
    WorkerPlan,
    cgroup_headroom,
    choose_workers,
    largest_entry,
    meminfo_available,
    plan_workers,
    worker_need,
)

MIB = 2**20
ENTRY = 4 * MIB  # a 200,000-line entry is about 4 MiB
NEED = WORKER_BASE_BYTES + PEAK_BYTES_PER_SOURCE_BYTE * ENTRY


def test_a_worker_needs_its_base_and_the_peak_per_byte_of_the_entry() -> None:
    assert worker_need(0) == WORKER_BASE_BYTES
    assert worker_need(ENTRY) == NEED
    assert worker_need(2 * ENTRY) - worker_need(ENTRY) == PEAK_BYTES_PER_SOURCE_BYTE * ENTRY


@pytest.mark.parametrize(
    ("wanted", "available", "workers"),
    [
        pytest.param(4, 4 * NEED, 4, id="exactly-enough"),
        pytest.param(4, 100 * NEED, 4, id="plenty"),
        pytest.param(8, 3 * NEED, 3, id="three-fit"),
        pytest.param(8, 3 * NEED - 1, 2, id="one-byte-short-of-three"),
        pytest.param(8, NEED // 2, 1, id="not-even-one-runs-in-process"),
        pytest.param(2, 0, 1, id="nothing-available"),
    ],
)
def test_workers_are_capped_by_what_memory_holds(wanted: int, available: int, workers: int) -> None:
    plan = plan_workers(wanted, ENTRY, Memory(available, "MemAvailable"))
    assert plan.workers == workers
    assert (plan.note is None) == (workers == wanted)


def test_the_note_says_how_many_instead_of_how_many_and_why() -> None:
    plan = plan_workers(8, ENTRY, Memory(3 * NEED, "cgroup limit"))
    assert plan.note is not None
    assert plan.note.startswith("jobs: 3 instead of 8: ")
    assert f"{3 * NEED / MIB:,.0f} MiB of memory is available (cgroup limit)" in plan.note
    assert f"a worker may need {NEED / MIB:,.0f} MiB for the largest entry (4 MiB)" in plan.note


@pytest.mark.parametrize(
    ("wanted", "memory"),
    [
        pytest.param(1, Memory(0, "MemAvailable"), id="one-job-whatever-the-memory"),
        pytest.param(0, Memory(0, "MemAvailable"), id="no-entries"),
        pytest.param(16, None, id="memory-unknown"),
    ],
)
def test_nothing_to_lower(wanted: int, memory: Memory | None) -> None:
    assert plan_workers(wanted, ENTRY, memory) == WorkerPlan(wanted)


MEMINFO = """\
MemTotal:       24684096 kB
MemFree:        21193172 kB
MemAvailable:   24154532 kB
Buffers:          168896 kB
"""


def test_meminfo_available_is_read_in_bytes() -> None:
    assert meminfo_available(MEMINFO) == 24154532 * 1024
    assert meminfo_available("MemTotal: 1 kB\n") is None
    assert meminfo_available("MemAvailable: many kB\n") is None


def _cgroup(directory: Path, files: dict[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)


def test_cgroup_v2_headroom_counts_inactive_file_pages_as_free(tmp_path: Path) -> None:
    _cgroup(
        tmp_path / "v2" / "app.slice" / "build",
        {
            "memory.max": f"{2048 * MIB}\n",
            "memory.current": f"{1500 * MIB}\n",
            "memory.stat": f"anon {900 * MIB}\ninactive_file {500 * MIB}\nactive_file 1\n",
        },
    )
    headroom = cgroup_headroom("0::/app.slice/build\n", tmp_path / "v2", tmp_path / "v1")
    assert headroom == (2048 - 1000) * MIB


def test_the_tightest_limit_of_the_cgroup_and_its_ancestors_wins(tmp_path: Path) -> None:
    root = tmp_path / "v2"
    _cgroup(root / "outer", {"memory.max": f"{1000 * MIB}\n", "memory.current": f"{800 * MIB}\n"})
    _cgroup(root / "outer" / "inner", {"memory.max": "max\n", "memory.current": f"{700 * MIB}\n"})
    assert cgroup_headroom("0::/outer/inner\n", root, tmp_path / "v1") == 200 * MIB


def test_cgroup_v1_memory_controller_and_a_container_that_sees_its_cgroup_as_root(
    tmp_path: Path,
) -> None:
    # Without a cgroup namespace the path names the host's cgroup, which the
    # container mounts as its own root: only the root exists to read.
    memory = tmp_path / "v1"
    _cgroup(
        memory,
        {
            "memory.limit_in_bytes": f"{512 * MIB}\n",
            "memory.usage_in_bytes": f"{300 * MIB}\n",
            "memory.stat": f"cache {10 * MIB}\ntotal_inactive_file {100 * MIB}\n",
        },
    )
    text = "5:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n0::/\n"
    assert cgroup_headroom(text, tmp_path / "v2", memory) == (512 - 200) * MIB


def test_no_limit_means_no_cgroup_figure(tmp_path: Path) -> None:
    _cgroup(tmp_path / "v2", {"memory.max": "max\n", "memory.current": "1000\n"})
    assert cgroup_headroom("0::/\n", tmp_path / "v2", tmp_path / "v1") is None
    assert cgroup_headroom("", tmp_path / "v2", tmp_path / "v1") is None


def test_the_largest_entry_ignores_files_the_run_refuses_and_missing_files(tmp_path: Path) -> None:
    small, big, huge = tmp_path / "small.py", tmp_path / "big.py", tmp_path / "huge.py"
    small.write_bytes(b"x" * 10)
    big.write_bytes(b"x" * 300)
    huge.write_bytes(b"x" * 5000)  # above max_size: refused unread
    assert largest_entry([small, big, huge, tmp_path / "gone.py"], max_size=1000) == 300
    assert largest_entry([], max_size=1000) == 0


def test_one_job_reads_nothing(tmp_path: Path) -> None:
    assert choose_workers(1, [tmp_path / "missing.py"], 1000) == WorkerPlan(1)
