"""SHA-256 and BLAKE2b from CPython's own implementations, without OpenSSL.

``import hashlib`` loads OpenSSL's libcrypto: 3.6 MiB of resident memory
(measured after ``import libcst``), a sixth of what a first run's peak had
over LibCST's own, and a few milliseconds. CPython ships its own SHA-256
and BLAKE2 as extension modules beside the standard library; they give the
same digests. Their modules are private and named by version (``_sha256``
up to 3.11, ``_sha2`` from 3.12), so an interpreter without them falls
back to ``hashlib``. jinja2 still imports ``hashlib`` when it is first
used, after the LibCST parse of the entry that sets a run's peak.
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


def _builtin_blake2b() -> Callable[..., Hash]:
    try:
        from _blake2 import blake2b
    except ImportError:
        from hashlib import blake2b
    return blake2b


sha256: Callable[..., Hash] = _builtin_sha256()
"""``sha256(data)`` or ``sha256()``: a SHA-256 hash object, as ``hashlib.sha256``."""

blake2b: Callable[..., Hash] = _builtin_blake2b()
"""``blake2b(data, *, digest_size=64)``: a BLAKE2b hash object, as ``hashlib.blake2b``."""

__all__ = ["Hash", "blake2b", "sha256"]
