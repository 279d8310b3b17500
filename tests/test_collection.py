"""Collecting the tests stays cheap: `make test-fast` imports every test module before `-m unit` deselects, so
no module may import a model, store or browser library at its top level (tests/conftest.py records them)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit


def test_collecting_the_tests_imports_no_model_store_or_browser_library(loaded_at_collection):
    assert loaded_at_collection == [], "import these in the fixtures or tests that use them, not at module level"
