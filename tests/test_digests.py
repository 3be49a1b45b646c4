"""``rewriter.digests``: CPython's built-in SHA-256 and BLAKE2b, the digests ``hashlib`` gives.

The marker digests are written into users' files, so they must not change
with the implementation; and the run must not load OpenSSL for them (3.6
MiB of a first run's peak, see the module's docstring).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from rewriter import digests

SAMPLES = [b"", b"abc", "é\u2028\udc80".encode("utf-8", "surrogatepass"), bytes(range(256)) * 300]


@pytest.mark.parametrize("data", SAMPLES, ids=["empty", "abc", "unicode", "large"])
def test_the_digests_are_hashlibs(data: bytes) -> None:
    assert digests.sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()
    assert digests.short_hexdigest(data) == hashlib.blake2b(data, digest_size=16).hexdigest()
    incremental = digests.sha256()
    for start in range(0, len(data), 1000):
        incremental.update(data[start : start + 1000])
    assert incremental.hexdigest() == hashlib.sha256(data).hexdigest()


def test_a_run_loads_neither_openssl_nor_tempfile_before_it_writes() -> None:
    # tempfile (with shutil, random, bz2, lzma) is imported when a file is
    # written, after the LibCST parse that sets the run's peak memory.
    code = (
        "import sys\n"
        "import rewriter.cli, rewriter.runner, rewriter.core, rewriter.plan\n"
        "import rewriter.cache, rewriter.verify, rewriter.transforms.assemble\n"
        "print(sorted({'_hashlib', 'hashlib', 'tempfile'} & set(sys.modules)))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert completed.stdout.split("\n")[0] == "[]"


_WITHOUT = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None  # as in a CPython built without it
sys.argv[1:] = sys.argv[2:]
from rewriter import digests
data = b"entry"
print(digests.sha256(data).hexdigest(), digests.short_hexdigest(data))
from rewriter.cli import main
sys.exit(main())
"""


@pytest.mark.parametrize("missing", ["_blake2", "_sha256,_sha2", "_sha256,_sha2,_blake2"])
def test_a_python_without_the_builtin_hashes_still_rewrites_and_undoes(
    tmp_path: Path, missing: str
) -> None:
    # Found by a hostile review: without _blake2 (hashlib.blake2b is
    # _blake2's own), importing rewriter.digests failed, and every rewrite
    # and undo ended in a traceback.
    original = "from app import handler\n"
    (tmp_path / "index.py").write_text(original)
    (tmp_path / "app.py").write_text("def handler(): pass\n")
    (tmp_path / "instrument.server.py").write_text("")

    def run(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", _WITHOUT, missing, "--no-cache", *arguments, "index.py"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    rewritten = run("-q")
    assert rewritten.returncode == 0, rewritten.stderr
    sha, short = rewritten.stdout.split()
    assert sha == hashlib.sha256(b"entry").hexdigest()
    expected = hashlib.blake2b(b"entry", digest_size=16).hexdigest()
    if "_blake2" in missing:
        expected = sha[:32]
    assert short == expected
    assert "# rewriter:init" in (tmp_path / "index.py").read_text()
    assert run("-q", "--check").returncode == 0
    assert run("-q", "--undo").returncode == 0
    assert (tmp_path / "index.py").read_text() == original
