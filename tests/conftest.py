"""Fixtures shared by the real-entry corpus and the launcher tests."""

from __future__ import annotations

import pytest
from _corpus import Bases


@pytest.fixture(scope="session")
def corpus_bases(tmp_path_factory: pytest.TempPathFactory) -> Bases:
    """The generated Django project and Lambda task root, made once per session."""
    return Bases(tmp_path_factory.mktemp("corpus-bases"))


@pytest.fixture(autouse=True)
def private_verdict_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test starts with an empty verdict cache of its own, as a fresh CI machine does.

    The cache lives outside the test's ``tmp_path``, so that tests that list
    what a run wrote there see only the run's files (``rewriter.cache``).
    """
    monkeypatch.setenv("REWRITER_CACHE_DIR", str(tmp_path_factory.mktemp("verdict-cache")))
