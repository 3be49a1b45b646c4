"""Benchmarks of rewriter, with the targets they are held to.

Run from the repository root, in the project's environment::

    python -m bench                              # everything (20 to 25 minutes on 2 cores)
    python -m bench --quick                      # tiny sizes, one round: proves it runs
    python -m bench --only single --only tree    # some groups
    python -m bench --results bench/RESULTS.md   # also write the table and the machine

Groups: ``single`` (one entry from the command line, warm, cold and
``--check``), ``big`` (big entries in process), ``memory`` (peak memory and
the ``-j`` memory factor), ``tree`` (500 entries, first and second run),
``import`` (what importing a rewritten entry costs, per mode, and the
generated block's length), ``runtime`` (per-call cost and the guard),
``preload`` (against ``opentelemetry-instrument``). The cold row drops the
kernel's page cache, for the whole machine, when it may (root).

Each comparison runs its sides in the same run, interleaved, over several
rounds, and compares the medians. The table says, per row, what was
measured, the ratio, the target and PASS or MISS (INFO: no target; N/A: the
feature or tool is not available here). See ``bench/RESULTS.md`` for the
latest full run.
"""
