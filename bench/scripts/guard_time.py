"""Time the late-import guard of a rewritten entry, with none of its modules loaded.

Usage: python guard_time.py ENTRY_FILE PACKAGE
The ``_rewriter_guard`` function is taken from the entry's init block as
generated, and called as the entry calls it. Any warning is an error: with
nothing loaded, the guard must find nothing.
"""

from __future__ import annotations

import ast
import json
import sys
import timeit
import types
import warnings


def main() -> None:
    path, package = sys.argv[1:]
    with open(path, encoding="utf-8") as stream:
        module = ast.parse(stream.read())
    guard = next(
        node
        for node in ast.walk(module)
        if isinstance(node, ast.FunctionDef) and node.name == "_rewriter_guard"
    )
    names = next(
        [element.value for element in node.iter.elts]  # type: ignore[attr-defined]
        for node in ast.walk(guard)
        if isinstance(node, ast.For)
    )
    namespace: dict[str, object] = {
        "_rewriter_sys": sys,
        "_rewriter_state": types.ModuleType("_rewriter_state"),
    }
    exec(compile(ast.Module(body=[guard], type_ignores=[]), path, "exec"), namespace)
    function = namespace["_rewriter_guard"]
    warnings.simplefilter("error")
    number = 20_000
    timer = timeit.Timer(lambda: function(package))  # type: ignore[operator]
    best = min(timer.repeat(repeat=7, number=number)) / number
    print(json.dumps({"seconds": best, "modules": len(names)}))


if __name__ == "__main__":
    main()
