"""Running code in a fresh interpreter, as a server would import a rewritten entry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any


def run_python(
    root: Path, code: str, *, path: tuple[Path, ...] = (), **env: str
) -> subprocess.CompletedProcess[str]:
    """Run the (dedented) ``code`` in ``root`` with ``root`` and ``path`` on ``PYTHONPATH``."""
    search = os.pathsep.join(str(directory) for directory in (root, *path))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": search, **env},
        timeout=120,
        check=False,
    )


def last_json(result: subprocess.CompletedProcess[str]) -> Any:
    """The JSON value on the last line of a run that succeeded."""
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])
