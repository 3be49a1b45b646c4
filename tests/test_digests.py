"""``rewriter.digests``: CPython's built-in SHA-256 and BLAKE2b, the digests ``hashlib`` gives.

The marker digests are written into users' files, so they must not change
with the implementation; and the run must not load OpenSSL for them (3.6
MiB of a first run's peak, see the module's docstring).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from rewriter import digests

SAMPLES = [b"", b"abc", "é\u2028\udc80".encode("utf-8", "surrogatepass"), bytes(range(256)) * 300]


@pytest.mark.parametrize("data", SAMPLES, ids=["empty", "abc", "unicode", "large"])
def test_the_digests_are_hashlibs(data: bytes) -> None:
    assert digests.sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()
    assert (
        digests.blake2b(data, digest_size=16).hexdigest()
        == hashlib.blake2b(data, digest_size=16).hexdigest()
    )
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
