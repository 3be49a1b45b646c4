"""SHA-256 and BLAKE2b from CPython's own implementations, without OpenSSL.

``import hashlib`` loads OpenSSL's libcrypto: 3.6 MiB of resident memory
(measured after ``import libcst``), a sixth of what a first run's peak had
over LibCST's own, and a few milliseconds. CPython ships its own SHA-256
and BLAKE2 as extension modules beside the standard library; they give the
same digests. Their modules are private and named by version (``_sha256``
up to 3.11, ``_sha2`` from 3.12), so an interpreter without them falls
back: SHA-256 to ``hashlib`` (OpenSSL's), and the short digest to the first
128 bits of SHA-256, because ``hashlib.blake2b`` is ``_blake2``'s own (a
CPython built with ``--with-builtin-hashlib-hashes`` that leaves out blake2
has neither). jinja2 still imports ``hashlib`` when it is first used, after
the LibCST parse of the entry that sets a run's peak.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, cast


class Hash(Protocol):
    """What rewriter uses of a hash object (``hashlib``'s interface)."""

    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


def _builtin_sha256() -> Callable[..., Hash]:
    for name in ("_sha256", "_sha2"):  # CPython 3.11; 3.12 and later
        try:
            module = __import__(name)
        except ImportError:
            continue
        return cast(Callable[..., Hash], module.sha256)
    from hashlib import sha256

    return sha256


def _builtin_short_hexdigest() -> Callable[[bytes], str]:
    try:
        from _blake2 import blake2b
    except ImportError:

        def first_bits_of_sha256(data: bytes) -> str:
            return sha256(data).hexdigest()[:32]

        return first_bits_of_sha256

    def blake2b_128(data: bytes) -> str:
        return cast(Hash, blake2b(data, digest_size=16)).hexdigest()

    return blake2b_128


sha256: Callable[..., Hash] = _builtin_sha256()
"""``sha256(data)`` or ``sha256()``: a SHA-256 hash object, as ``hashlib.sha256``."""

short_hexdigest: Callable[[bytes], str] = _builtin_short_hexdigest()
"""``short_hexdigest(data)``: 32 hex digits (128 bits) that identify ``data``.

BLAKE2b with a 16-byte digest, as ``hashlib.blake2b(data, digest_size=16)``;
where CPython has no BLAKE2, the first 32 hex digits of SHA-256. The two
give different digests, so a verdict cache written under one is a miss
under the other, not a wrong answer. Only the cache keeps these; nothing
written into users' files uses them.
"""

__all__ = ["Hash", "sha256", "short_hexdigest"]
