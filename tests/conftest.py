"""Fixtures shared by the real-entry corpus and the launcher tests."""

from __future__ import annotations

import pytest
from _corpus import Bases


@pytest.fixture(scope="session")
def corpus_bases(tmp_path_factory: pytest.TempPathFactory) -> Bases:
    """The generated Django project and Lambda task root, made once per session."""
    return Bases(tmp_path_factory.mktemp("corpus-bases"))
