"""Benchmarks of rewriter, with the targets they are held to.

Run from the repository root, in the project's environment::

    python -m bench                              # everything (about half an hour on 2 cores)
    python -m bench --quick                      # tiny sizes, one round: proves it runs
    python -m bench --only single --only tree    # some groups
    python -m bench --results bench/RESULTS.md   # also write the table and the machine

Each comparison runs its sides in the same run, interleaved, over several
rounds, and compares the medians. The table says, per row, what was
measured, the ratio, the target and PASS or MISS (INFO: no target; N/A: the
feature or tool is not available here). See ``bench/RESULTS.md`` for the
latest full run.
"""
