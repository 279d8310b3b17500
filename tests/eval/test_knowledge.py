"""The evaluation's own knowledge base: built anew in the same folder run after run, never over foreign files."""

from __future__ import annotations

import pytest

from core.grammar import DICTIONARY_FILE
from eval.errors import EvalError
from tests.conftest import _kb_settings
from tests.ingest.samples import BOOKS, write

pytestmark = pytest.mark.integration


def test_a_second_evaluation_rebuilds_the_folder_the_first_left(tmp_path):
    from eval.knowledge import build_kb

    write(tmp_path / "knowledge" / "读书.txt", BOOKS)
    settings = _kb_settings(tmp_path)
    kb_dir = tmp_path / "kb"
    build_kb(settings, [tmp_path / "knowledge"], progress=False).close()  # the first evaluation has ended
    # what the app keeps beside the index once it has answered: jieba's dictionary, and a copy being written
    (kb_dir / DICTIONARY_FILE).write_bytes(b"\x80\x05N.")
    (kb_dir / (DICTIONARY_FILE + "abc.tmp")).write_bytes(b"")
    kb = build_kb(settings, [tmp_path / "knowledge"], progress=False)
    assert kb.document_count() == 1 and kb.bm25_search("读书分享会", 1)

    write(kb_dir / "笔记.txt", "不是知识库的文件")
    with pytest.raises(EvalError) as refused:
        build_kb(settings, [tmp_path / "knowledge"], progress=False)
    assert "笔记.txt" in str(refused.value) and "为安全起见不删除" in str(refused.value)
    assert (kb_dir / "笔记.txt").exists() and (kb_dir / "bm25").is_dir()
