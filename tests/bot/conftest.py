"""Assistants over the session's knowledge bases (tests/conftest.py), shared by the answering tests.
The ask functions are cached: a question asked by two tests is answered once."""

from __future__ import annotations

import functools

import pytest


@pytest.fixture(scope="module")
def seed_assistant(seed_kb):
    from bot.pipeline import Assistant

    return Assistant(seed_kb.settings, kb=seed_kb)


@pytest.fixture(scope="module")
def dev_assistant(dev_corpus_kb):
    from bot.pipeline import Assistant

    return Assistant(dev_corpus_kb.settings, kb=dev_corpus_kb)


@pytest.fixture(scope="module")
def seed_ask(seed_assistant):
    return functools.lru_cache(maxsize=None)(seed_assistant.ask)


@pytest.fixture(scope="module")
def dev_ask(dev_assistant):
    return functools.lru_cache(maxsize=None)(dev_assistant.ask)
