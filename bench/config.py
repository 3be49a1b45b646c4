"""How much work each benchmark does: the full run, and ``--quick`` for the smoke test."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    """Sizes and numbers of rounds (each round runs every side once)."""

    single_lines: int = 200
    single_rounds: int = 21
    cold_rounds: int = 7
    big_sizes: tuple[int, ...] = (5_000, 50_000)
    big_rounds: tuple[int, ...] = (11, 7)  # 3 rounds of 50k lines swung by ±0.2x
    memory_sizes: tuple[int, ...] = (5_000, 50_000, 200_000)
    memory_rounds: tuple[int, ...] = (3, 3, 1)  # the 200k-line entry: ~100 s a round
    tree_entries: int = 500
    tree_lines: int = 100
    second_run_rounds: int = 5
    first_run_rounds: int = 3
    import_rounds: int = 60
    preload_rounds: int = 10
    call_repeats: int = 31
    warm_up: bool = True
    """Run every side once, untimed, first (bytecode caches, file system caches)."""


FULL = Config()
QUICK = Config(
    single_rounds=1,
    cold_rounds=1,
    big_sizes=(150, 600),
    big_rounds=(1, 1),
    memory_sizes=(300, 1_500),
    memory_rounds=(1, 1),
    tree_entries=4,
    second_run_rounds=1,
    first_run_rounds=1,
    import_rounds=1,
    preload_rounds=1,
    call_repeats=3,
    warm_up=False,
)
