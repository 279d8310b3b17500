"""Issue 10, item 1: one bad file never stops an ingest, and a failed upload never blocks a later one."""

from __future__ import annotations

import pytest

import ingest.loaders
from ingest.admin import AdminError, reindex, save_upload
from ingest.loaders import load
from tests.reliability.ingest_hostile import GOOD_NOTICE, HTML_DEPTH, deep_html


@pytest.mark.unit
def test_deeply_nested_html_loads_without_recursion(tmp_path):
    page = deep_html(tmp_path)
    assert 10_000 < page.stat().st_size < 12_000  # the 11 KB page of the issue
    doc = load(page)
    assert doc.text == "深层嵌套的通知正文：冬训学习在周三下午进行。" and doc.title == "深层网页"
    much_deeper = deep_html(tmp_path, depth=HTML_DEPTH * 20, name="deeper.html")
    assert load(much_deeper).text == doc.text


@pytest.mark.integration
def test_deep_html_and_its_neighbours_all_load(make_kb):
    kb = make_kb()
    folder = kb.settings.store.knowledge_dir
    (folder / "good.txt").write_text(GOOD_NOTICE, encoding="utf-8")
    deep_html(folder)
    report = kb.ingest([folder], progress=False)
    assert report.errors == []
    assert {d["source"] for d in kb.documents()} == {"knowledge/good.txt", "knowledge/deep.html"}


def _explode(data: bytes, name: str, **_: object):
    raise RecursionError("maximum recursion depth exceeded")


@pytest.mark.integration
def test_any_exception_in_a_reader_is_that_files_chinese_error(make_kb, monkeypatch):
    kb = make_kb()
    folder = kb.settings.store.knowledge_dir
    (folder / "good.txt").write_text(GOOD_NOTICE, encoding="utf-8")
    (folder / "broken.html").write_text("<p>任意内容</p>", encoding="utf-8")
    monkeypatch.setitem(ingest.loaders.READERS, ".html", _explode)
    report = kb.ingest([folder], progress=False)
    assert [d["source"] for d in kb.documents()] == ["knowledge/good.txt"]
    [(source, message)] = report.errors
    assert source == "knowledge/broken.html"
    assert "broken.html" in message and "RecursionError" in message and "请检查文件内容" in message


@pytest.mark.integration
def test_failed_upload_is_removed_and_blocks_nothing(make_kb, monkeypatch, tmp_path):
    kb = make_kb()
    settings = kb.settings
    (settings.store.knowledge_dir / "good.txt").write_text(GOOD_NOTICE, encoding="utf-8")
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    page = deep_html(incoming)
    monkeypatch.setitem(ingest.loaders.READERS, ".html", _explode)
    with pytest.raises(AdminError, match="RecursionError"):
        save_upload(kb, settings, page, "deep.html")
    uploads = settings.store.knowledge_dir / "uploads"
    assert list(uploads.iterdir()) == []  # not kept, so no later re-index trips over it

    report = reindex(kb, settings)  # what the app's start-up does on an empty knowledge base
    assert report.errors == [] and [d["source"] for d in kb.documents()] == ["knowledge/good.txt"]

    monkeypatch.undo()  # the reader works again: the same page uploads fine
    upload = save_upload(kb, settings, page, "deep.html")
    assert upload.source == "knowledge/uploads/deep.html" and upload.chunks == 1


@pytest.mark.integration
def test_upload_removed_when_the_ingest_itself_raises(make_kb, monkeypatch, tmp_path):
    kb = make_kb()
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    notice = incoming / "通知.txt"
    notice.write_text(GOOD_NOTICE, encoding="utf-8")

    def store_down(*args, **kwargs):
        raise ConnectionError("store down")

    monkeypatch.setattr(kb, "ingest", store_down)
    with pytest.raises(ConnectionError):
        save_upload(kb, kb.settings, notice, "通知.txt")
    assert list((kb.settings.store.knowledge_dir / "uploads").iterdir()) == []
