"""The admin table shows a document's warnings (issue 10 item 4: instruction-like sentences are flagged)."""

from __future__ import annotations

import pytest

from bot.web.admin import DOCUMENT_COLUMNS, document_rows

pytestmark = pytest.mark.unit

DOC = {
    "source": "knowledge/通知.txt",
    "title": "通知",
    "chunks": 3,
    "chars": 900,
    "ingested_at": "2026-12-01T10:00:00.123",
    "sha256": "ab" * 32,
}


def test_warnings_fill_their_column():
    (row,) = document_rows([{**DOC, "warnings": ["含有1句对助手下指令的文字（回答时不会采用）"]}])
    assert len(row) == len(DOCUMENT_COLUMNS)
    assert row[[h for h, _ in DOCUMENT_COLUMNS].index("提醒")].startswith("含有1句")


def test_a_document_without_warnings_has_an_empty_cell():
    (row,) = document_rows([DOC])
    assert row[-1] == "" and row[0] == "通知.txt"
