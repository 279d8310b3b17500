"""KnowledgeBase: search over committed chunks, navigation, documents and their files, a shared Chroma server."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from ingest.manifest import REFRESH_SECONDS
from tests.ingest.samples import BOOKS, CLEANUP, PYTHON, TREES, assert_consistent, sources_hit, write

pytestmark = pytest.mark.integration


# ------------------------------------------------------------------ seed KB (read-only)
def test_seed_kb_searchable(seed_kb):
    dense = seed_kb.dense_search("冬训工作如何加大宣传", 3)
    bm25 = seed_kb.bm25_search("冬训工作如何加大宣传", 3)
    assert len(dense) == 3 and len(bm25) >= 1
    assert dense[0][1] >= dense[-1][1] and -1.0 <= dense[-1][1] <= 1.0
    assert any("宣传" in d.page_content for d, _ in dense)
    assert "宣传" in bm25[0][0].page_content
    meta = dense[0][0].metadata
    for key in ("id", "source", "file_name", "title", "section", "page", "start", "end", "chunk_index"):
        assert key in meta, key
    nb = seed_kb.chunk(meta["source"], meta["chunk_index"] + 1)
    assert nb is None or nb.metadata["chunk_index"] == meta["chunk_index"] + 1
    assert seed_kb.chunk(meta["source"], 10_000) is None
    assert_consistent(seed_kb)


def test_seed_kb_documents_carry_root_relative_id_and_path(seed_kb):
    folder = Path(seed_kb.settings.store.knowledge_dir)
    [doc] = seed_kb.documents()
    assert doc["source"] == "knowledge/冬训动员部署会讲话.txt"
    assert doc["path"] == (folder / "冬训动员部署会讲话.txt").resolve().as_posix()
    assert doc["chunks"] == len(seed_kb.document_chunks(doc["source"])) >= 2
    assert seed_kb.file_path(doc["source"]) == Path(doc["path"])
    assert seed_kb.file_path("knowledge/不存在.txt") is None


def test_returned_chunks_are_copies(seed_kb):
    source = seed_kb.documents()[0]["source"]
    first = seed_kb.chunk(source, 0)
    first.metadata["score"] = 1.0
    first.page_content = "改过"
    again = seed_kb.chunk(source, 0)
    assert "score" not in again.metadata and again.page_content != "改过"
    assert [c.metadata["chunk_index"] for c in seed_kb.document_chunks(source)] == list(
        range(len(seed_kb.document_chunks(source)))
    )
    assert seed_kb.document_chunks("knowledge/不存在.txt") == []


def test_find_source_by_id_or_by_path_from_any_directory(make_kb, tmp_path, monkeypatch):
    kb = make_kb()
    folder = kb.settings.store.knowledge_dir
    books = write(folder / "sub" / "读书.txt", BOOKS)
    kb.ingest([folder], progress=False)
    assert kb.find_source("knowledge/sub/读书.txt") == "knowledge/sub/读书.txt"
    assert kb.find_source(str(books)) == "knowledge/sub/读书.txt"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert kb.find_source("../knowledge/sub/读书.txt") == "knowledge/sub/读书.txt"
    assert kb.find_source("sub/读书.txt") is None
    assert kb.source_id(books) == "knowledge/sub/读书.txt"


def test_source_id_of_a_new_file_under_the_knowledge_folder(make_kb):
    kb = make_kb()
    folder = kb.settings.store.knowledge_dir
    upload = write(folder / "uploads" / "通知.txt", TREES)
    # Before and after ingesting it on its own, the file is named from the knowledge folder, as a re-index would.
    assert kb.source_id(upload) == "knowledge/uploads/通知.txt"
    report = kb.ingest([upload], progress=False)
    assert report.added >= 1 and [d["source"] for d in kb.documents()] == ["knowledge/uploads/通知.txt"]
    again = kb.ingest([folder], progress=False)
    assert (again.files, again.skipped, again.added) == (1, 1, 0)
    assert [d["source"] for d in kb.documents()] == ["knowledge/uploads/通知.txt"]


def test_dense_search_ef_is_set_on_a_new_collection_and_by_the_next_ingest(make_kb):
    from ingest.index import GRAPH_CONSTRUCTION_EF, GRAPH_NEIGHBOURS

    kb = make_kb(search_ef=150)
    assert kb.search_ef() == 150
    graph = kb.client.get_collection(kb.collection.name, embedding_function=None).configuration["hnsw"]
    assert (graph["max_neighbors"], graph["ef_construction"]) == (GRAPH_NEIGHBOURS, GRAPH_CONSTRUCTION_EF)
    folder = kb.settings.store.knowledge_dir
    write(folder / "读书.txt", BOOKS)
    assert kb.ingest([folder], progress=False).added >= 1
    hits = [d.metadata["id"] for d, _ in kb.dense_search("读书分享会在哪里举办", 3)]

    # the same knowledge base under another setting: opening it (as the app does) writes nothing ...
    wider = make_kb(search_ef=400)
    assert wider.search_ef() == 150
    # ... the next ingest, even one with nothing to do, sets it
    assert wider.ingest([folder], progress=False).added == 0
    assert wider.search_ef() == kb.search_ef() == 400
    assert [d.metadata["id"] for d, _ in wider.dense_search("读书分享会在哪里举办", 3)] == hits


def test_dense_search_takes_texts_from_memory_and_only_missing_ones_from_chroma(make_kb, monkeypatch):
    from ingest.bm25 import ChunkCache

    kb = make_kb()
    folder = kb.settings.store.knowledge_dir
    write(folder / "读书.txt", BOOKS)
    write(folder / "植树.txt", TREES)
    assert kb.ingest([folder], progress=False).added >= 2
    asked: list[list[str]] = []
    query = kb.collection.query

    def recording(**kwargs):
        asked.append(list(kwargs["include"]))
        return query(**kwargs)

    monkeypatch.setattr(kb.collection, "query", recording)
    hits = kb.dense_search("读书分享会在哪里举办", 2)
    assert asked == [["distances"]] and len(hits) == 2
    stored = kb.fetch([d.metadata["id"] for d, _ in hits])
    for doc, score in hits:  # the same text and metadata as Chroma holds
        assert (doc.page_content, doc.metadata) == (stored[doc.id].page_content, stored[doc.id].metadata)
        assert -1.0 <= score <= 1.0
    assert hits[0][0].metadata["source"].endswith("读书.txt")

    # a chunk the index in memory does not hold (committed by another process a moment ago) comes from Chroma
    fetched: list[list[str]] = []
    fetch = kb.fetch
    monkeypatch.setattr(kb, "fetch", lambda ids: fetched.append(list(ids)) or fetch(ids))
    kb._refresh_bm25().chunks = ChunkCache([])
    again = kb.dense_search("读书分享会在哪里举办", 2)
    assert [(d.page_content, d.metadata, s) for d, s in again] == [(d.page_content, d.metadata, s) for d, s in hits]
    assert fetched == [[d.id for d, _ in hits]]


# ------------------------------------------------------------------ shared Chroma server
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    chroma = Path(PYTHON).parent / "chroma"
    if not chroma.exists():
        pytest.skip("chroma executable not installed in the virtualenv")
    port = _free_port()
    log = open(tmp_path / "chroma.log", "wb")
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "chroma.log").read_text(errors="replace")
                assert time.monotonic() < deadline, "chroma server did not start"
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_shared_chroma_server(make_kb, chroma_server, tmp_path, monkeypatch):
    from ingest import bm25
    from tests.ingest.test_bm25 import CountingTokenize

    writer = make_kb(chroma_host="127.0.0.1", chroma_port=chroma_server, kb_dir=tmp_path / "kb-writer")
    folder = writer.settings.store.knowledge_dir
    write(folder / "读书.txt", BOOKS)
    books = "knowledge/读书.txt"
    report = writer.ingest([folder], progress=False)
    assert report.added >= 1 and not report.errors
    assert writer.dense_search("读书分享会在哪里举办", 1)[0][0].metadata["source"] == books
    assert writer.search_ef() == writer.settings.store.search_ef  # the server's collection was made with it

    # another process elsewhere: its own kb_dir (BM25 files), the same Chroma server; it reads the tokens the
    # writer published instead of tokenizing, and builds the same index
    counting = CountingTokenize()
    monkeypatch.setattr(bm25, "tokenize", counting)
    reader = make_kb(chroma_host="127.0.0.1", chroma_port=chroma_server, kb_dir=tmp_path / "kb-reader")
    hits = reader.bm25_search("读书 分享会", 3)
    assert counting.chunk_texts(reader.chunks()) == []
    monkeypatch.undo()
    assert [(d.metadata["id"], s) for d, s in hits] == [
        (d.metadata["id"], s) for d, s in writer.bm25_search("读书 分享会", 3)
    ]
    assert books in sources_hit(hits)
    assert reader.bm25_search("青龙河 垃圾", 3) == []

    write(folder / "河道.txt", CLEANUP)
    cleanup = "knowledge/河道.txt"
    writer.ingest([folder], progress=False)
    deadline = time.monotonic() + REFRESH_SECONDS * 3
    while cleanup not in sources_hit(reader.bm25_search("青龙河 垃圾", 3)):
        assert time.monotonic() < deadline, "the second instance never saw the new document in BM25"
        time.sleep(0.2)
    assert reader.dense_search("河道清洁在哪里签到", 1)[0][0].metadata["source"] == cleanup

    writer.remove(books)
    deadline = time.monotonic() + REFRESH_SECONDS * 3
    while books in sources_hit(reader.bm25_search("读书 分享会", 3) + reader.dense_search("读书分享会", 3)):
        assert time.monotonic() < deadline, "the second instance still serves a removed document"
        time.sleep(0.2)
    assert [d["source"] for d in reader.documents()] == [cleanup]
