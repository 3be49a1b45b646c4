"""Run a Python module or script in this process; when it ends, write its peak memory.

Usage: python peak_memory.py OUTPUT -m MODULE [ARG]...
       python peak_memory.py OUTPUT -c CODE [ARG]...
       python peak_memory.py OUTPUT SCRIPT [ARG]...

Writes the peak resident set size of this process, in bytes, to OUTPUT:
``VmHWM`` from ``/proc/self/status``, the high-water mark of the address
space that ``exec`` gave this process. The ``ru_maxrss`` that ``wait4``
returns for a child is no measure of the child alone on Linux: ``exec``
folds in the size of the address space it replaces, the copy of the
parent that ``fork`` made, so a child of a big parent reads big. The exit
status is the program's own.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path


def high_water_mark() -> int:
    """This process's peak resident set size in bytes (Linux)."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        key, _, value = line.partition(":")
        if key == "VmHWM":
            number, unit = value.split()
            if unit != "kB":
                raise SystemExit(f"peak_memory.py: VmHWM in {unit!r}, not kB")
            return int(number) * 1024
    raise SystemExit("peak_memory.py: no VmHWM in /proc/self/status")


def main() -> None:
    output, *program = sys.argv[1:]
    try:
        if program[0] == "-m":
            sys.argv = [program[1], *program[2:]]
            sys.path[0] = os.getcwd()  # as `python -m` puts it
            runpy.run_module(program[1], run_name="__main__", alter_sys=True)
        elif program[0] == "-c":
            sys.argv = ["-c", *program[2:]]
            exec(compile(program[1], "<string>", "exec"), {"__name__": "__main__"})
        else:
            sys.argv = program
            sys.path[0] = str(Path(program[0]).resolve().parent)
            runpy.run_path(program[0], run_name="__main__")
    finally:
        Path(output).write_text(str(high_water_mark()), encoding="ascii")


if __name__ == "__main__":
    main()
