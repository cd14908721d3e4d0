"""Shared fixtures: the default knowledge base and its matcher, built once per session."""

from __future__ import annotations

import pytest

from knowledge import KnowledgeBase, Matcher, default_path, load_knowledge_base


@pytest.fixture(scope="session")
def default_kb() -> KnowledgeBase:
    return load_knowledge_base(default_path())


@pytest.fixture(scope="session")
def matcher(default_kb: KnowledgeBase) -> Matcher:
    return Matcher(default_kb)
