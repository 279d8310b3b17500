"""The ingest package's place in the layout: it sits below bot and imports nothing from it."""

from __future__ import annotations

import ast

import pytest

from tests.ingest.samples import REPO

pytestmark = pytest.mark.unit


def test_ingest_imports_nothing_from_bot():
    """ingest sits below bot: no module of it imports bot (fusion lives in ingest.fusion for that reason)."""
    offenders = []
    for path in sorted((REPO / "ingest").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(REPO)}: {n}" for n in names if n == "bot" or n.startswith("bot.")]
    assert offenders == []
