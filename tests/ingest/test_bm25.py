"""BM25 over the committed chunks: build, search, persistence and reuse; the chunk cache built with it."""

from __future__ import annotations

import json

import pytest
from langchain_core.documents import Document

from ingest import bm25
from ingest.bm25 import (
    BM25_NAME_CHARS,
    Bm25Index,
    ChunkCache,
    fingerprint,
    indexed_text,
    load_or_build,
    ordered_ids,
)
from tests.ingest.samples import BOOKS, CLEANUP, TREES, write


def _chunk(source: str, index: int, text: str, section: str = "", title: str = "通知") -> Document:
    cid = f"{source}#{index}"
    meta = {"id": cid, "source": source, "chunk_index": index, "section": section, "title": title}
    return Document(page_content=text, metadata=meta, id=cid)


DOCS = [
    _chunk("knowledge/a.txt", 0, "党工委决定组织春季植树活动。"),
    _chunk("knowledge/a.txt", 1, "每名党员种植两棵银杏树。", section="一、安排"),
    _chunk("knowledge/b.txt", 0, "冬季读书分享会在社区文化中心举办。"),
    _chunk("knowledge/b.txt", 1, "第二十二条 本办法自发布之日起施行。", section="第二十二条", title="管理办法"),
]
RECORDS = {
    "knowledge/b.txt": {"sha256": "bb", "ids": ["knowledge/b.txt#0", "knowledge/b.txt#1"]},
    "knowledge/a.txt": {"sha256": "aa", "ids": ["knowledge/a.txt#0", "knowledge/a.txt#1"]},
}


def _fetch(ids):
    by_id = {d.metadata["id"]: d for d in DOCS}
    return {c: by_id[c] for c in ids if c in by_id}


# ------------------------------------------------------------------ pure parts
@pytest.mark.unit
def test_fingerprint_follows_sources_hashes_and_chunks_only():
    fp = fingerprint(RECORDS)
    assert fp == fingerprint(dict(reversed(list(RECORDS.items()))))
    assert fp != fingerprint({**RECORDS, "knowledge/a.txt": {**RECORDS["knowledge/a.txt"], "sha256": "a2"}})
    assert fp != fingerprint({"corpus/a.txt" if k == "knowledge/a.txt" else k: v for k, v in RECORDS.items()})
    assert fp == fingerprint({k: {**v, "title": "别的标题"} for k, v in RECORDS.items()})
    # re-chunked under other settings: the file's hash is the same, its chunks are not
    rechunked = {**RECORDS, "knowledge/a.txt": {**RECORDS["knowledge/a.txt"], "ids": ["knowledge/a.txt#9"]}}
    assert fp != fingerprint(rechunked)


@pytest.mark.unit
@pytest.mark.parametrize("k", [1, 3, 10, 50, 200])
def test_top_positive_is_the_head_of_a_stable_sort(k):
    import numpy as np

    rng = np.random.default_rng(k)
    for _ in range(50):
        n = int(rng.integers(1, 120))
        scores = rng.integers(0, 4, n).astype(np.float32) * rng.choice([0.5, 1.0], n)  # many ties and zeros
        expected = [i for i in np.argsort(-scores, kind="stable")[:k] if scores[i] > 0]
        assert bm25.top_positive(scores, k).tolist() == expected


@pytest.mark.unit
def test_ordered_ids_by_source_then_chunk_order():
    assert ordered_ids(RECORDS) == ["knowledge/a.txt#0", "knowledge/a.txt#1", "knowledge/b.txt#0", "knowledge/b.txt#1"]


@pytest.mark.unit
def test_indexed_text_puts_title_and_section_first():
    assert indexed_text(DOCS[3]) == "管理办法 第二十二条\n第二十二条 本办法自发布之日起施行。"


@pytest.mark.unit
def test_chunk_cache_lookups_hand_out_copies():
    shuffled = [DOCS[1], DOCS[0], DOCS[2]]
    cache = ChunkCache(shuffled)
    assert [d.page_content for d in cache.all()] == [d.page_content for d in shuffled]
    assert [d.metadata["chunk_index"] for d in cache.of_document("knowledge/a.txt")] == [0, 1]
    assert cache.of_document("knowledge/无.txt") == []
    assert cache.at("knowledge/b.txt", 0).page_content == DOCS[2].page_content
    assert cache.at("knowledge/b.txt", 5) is None
    hit = cache.at("knowledge/a.txt", 1)
    hit.metadata["score"] = 3.0
    assert "score" not in cache.at("knowledge/a.txt", 1).metadata and "score" not in DOCS[1].metadata


@pytest.mark.unit
def test_build_and_search():
    index = Bm25Index.build("fp", DOCS)
    hits = index.search("银杏树", 5)
    assert [d.metadata["id"] for d, _ in hits] == ["knowledge/a.txt#1"] and hits[0][1] > 0
    # the heading is indexed: an article is found by the words of its title
    assert index.search("管理办法", 1)[0][0].metadata["id"] == "knowledge/b.txt#1"
    assert index.search("读书分享会 植树", 5)[0][0].metadata["source"] in {"knowledge/a.txt", "knowledge/b.txt"}
    assert index.search("银杏树", 0) == []
    assert index.search("完全无关的词语", 5) == []
    assert Bm25Index.build("fp", []).search("银杏树", 5) == []


@pytest.mark.unit
def test_save_then_load_gives_the_same_results(tmp_path):
    fp = fingerprint(RECORDS)
    built = Bm25Index.build(fp, [DOCS[i] for i in (0, 1, 2, 3)])
    built.save(tmp_path)
    (tmp_path / ("0" * BM25_NAME_CHARS)).mkdir()  # an older index
    built.save(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [fp[:BM25_NAME_CHARS]]
    loaded = Bm25Index.load(tmp_path, fp, _fetch)
    assert loaded is not None
    for query in ("银杏树", "读书 分享会", "本办法 施行"):
        assert [(d.metadata["id"], s) for d, s in loaded.search(query, 3)] == [
            (d.metadata["id"], s) for d, s in built.search(query, 3)
        ]
    assert Bm25Index.load(tmp_path, "f" * 64, _fetch) is None  # another content
    # the chunks kept beside the index: opening asks Chroma for nothing
    beside = Bm25Index.load(tmp_path, fp, lambda ids: {})
    assert beside is not None and [d.metadata for d in beside.chunks.all()] == [d.metadata for d in loaded.chunks.all()]
    (tmp_path / fp[:BM25_NAME_CHARS] / bm25.CHUNKS_FILE).write_text("[", encoding="utf-8")  # damaged: from Chroma
    assert Bm25Index.load(tmp_path, fp, _fetch) is not None
    assert Bm25Index.load(tmp_path, fp, lambda ids: {}) is None  # and chunks gone from Chroma
    (tmp_path / fp[:BM25_NAME_CHARS] / "ids.json").write_text("{", encoding="utf-8")
    assert Bm25Index.load(tmp_path, fp, _fetch) is None  # damaged: rebuilt by the caller


@pytest.mark.unit
def test_load_or_build_persists_only_a_complete_index(tmp_path):
    built = load_or_build(tmp_path, RECORDS, _fetch)
    assert [d.metadata["id"] for d in built.chunks.docs] == ordered_ids(RECORDS)
    ids_file = tmp_path / fingerprint(RECORDS)[:BM25_NAME_CHARS] / "ids.json"
    assert json.loads(ids_file.read_text(encoding="utf-8"))["ids"] == ordered_ids(RECORDS)

    partial = {**RECORDS, "knowledge/c.txt": {"sha256": "cc", "ids": ["knowledge/c.txt#0"]}}
    other = tmp_path / "other"
    index = load_or_build(other, partial, _fetch)  # a writer's race: a listed chunk is not in Chroma yet
    assert len(index.chunks.docs) == 4 and not other.exists()


class CountingTokenize:
    """bm25.tokenize, recording the texts it is asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.real = bm25.tokenize

    def __call__(self, text: str, *args, **kwargs):
        self.asked.append(text)
        return self.real(text, *args, **kwargs)

    def chunk_texts(self, docs: list[Document]) -> list[str]:
        """The texts of `docs` among those asked for (questions and headings are tokenized too), sorted."""
        texts = {d.page_content for d in docs}
        return sorted(t for t in self.asked if t in texts)


@pytest.mark.unit
def test_a_rebuild_tokenizes_only_the_chunks_it_has_not_seen(tmp_path, monkeypatch):
    first = {"knowledge/a.txt": RECORDS["knowledge/a.txt"]}
    load_or_build(tmp_path, first, _fetch)
    counting = CountingTokenize()
    monkeypatch.setattr(bm25, "tokenize", counting)
    grown = load_or_build(tmp_path, RECORDS, _fetch)  # b.txt added: a new fingerprint, a rebuild
    assert counting.chunk_texts(DOCS) == sorted(
        d.page_content for d in DOCS if d.metadata["source"] == "knowledge/b.txt"
    )
    monkeypatch.undo()
    fresh = Bm25Index.build(fingerprint(RECORDS), [DOCS[i] for i in (0, 1, 2, 3)])
    for query in ("银杏树", "管理办法", "读书 分享会"):
        assert [(d.metadata["id"], s) for d, s in grown.search(query, 3)] == [
            (d.metadata["id"], s) for d, s in fresh.search(query, 3)
        ]
    assert grown.tokens is None  # not kept in memory once saved


# Headings and texts whose edges are not Chinese: the line break between them must still be a cut.
EDGES = [
    _chunk("k/c.txt", 0, "（一）坚持正面宣传为主。", section="一、总体要求", title="2024年冬训方案"),
    _chunk("k/c.txt", 1, "GDP增长5%，CPI上涨0.2%。", section="", title="Report v2"),
    _chunk("k/c.txt", 2, "—— 完 ——", section="附件：名单（第3批）", title=""),
]


@pytest.mark.unit
@pytest.mark.parametrize("doc", DOCS + EDGES, ids=lambda d: d.metadata["id"])
def test_heading_then_text_tokens_are_those_of_the_indexed_text(doc):
    heading, tokens = bm25.tokenized(doc)
    assert tokens == bm25.tokenize(indexed_text(doc))
    assert tokens[heading:] == bm25.tokenize(doc.page_content)


@pytest.mark.unit
def test_text_frequencies_are_the_answerers_and_are_kept_with_the_index(tmp_path):
    from bot.answering.corpus_stats import CorpusStats

    expected = CorpusStats.from_texts(d.page_content for d in DOCS + EDGES).df
    built = Bm25Index.build("fp", DOCS + EDGES)
    assert built.text_df == expected
    records = {**RECORDS, "k/c.txt": {"sha256": "cc", "ids": [d.metadata["id"] for d in EDGES]}}
    by_id = {d.metadata["id"]: d for d in DOCS + EDGES}

    def fetch(ids):
        return {c: by_id[c] for c in ids if c in by_id}

    load_or_build(tmp_path, records, fetch)
    loaded = load_or_build(tmp_path, records, fetch)  # from disk this time
    assert loaded.text_df == expected
    (folder,) = list(tmp_path.iterdir())
    (folder / bm25.TEXT_DF_FILE).unlink()  # an index saved before they were kept: counted once, then kept
    older = load_or_build(tmp_path, records, fetch)
    assert older.text_df is None
    assert older.counted_text_df(tmp_path) == expected
    assert load_or_build(tmp_path, records, fetch).text_df == expected


@pytest.mark.unit
def test_tokens_of_another_tokenizer_or_damaged_are_made_again(tmp_path, monkeypatch):
    load_or_build(tmp_path, RECORDS, _fetch)
    (folder,) = list(tmp_path.iterdir())
    kept = json.loads((folder / bm25.TOKENS_FILE).read_text(encoding="utf-8"))
    assert kept["version"] == bm25.tokens_version() and len(kept["tokens"]) == len(DOCS)
    assert bm25.read_tokens(tmp_path) == {key: (heading, tokens) for key, (heading, tokens) in kept["tokens"].items()}
    (folder / bm25.TOKENS_FILE).write_text(json.dumps(kept | {"version": "another"}), encoding="utf-8")
    assert bm25.read_tokens(tmp_path) == {}
    (folder / bm25.TOKENS_FILE).write_text("{", encoding="utf-8")
    assert bm25.read_tokens(tmp_path) == {}
    assert bm25.read_tokens(tmp_path / "absent") == {}


@pytest.mark.integration
def test_a_second_process_loads_the_persisted_index(make_kb, monkeypatch):
    kb = make_kb()
    folder = kb.settings.store.knowledge_dir
    write(folder / "植树.txt", TREES)
    write(folder / "读书.txt", BOOKS)
    write(folder / "河道.txt", CLEANUP)
    kb.ingest([folder], progress=False)
    expected = [(d.metadata["id"], s) for d, s in kb.bm25_search("读书 分享会 植树", 5)]
    assert expected

    def no_build(*args, **kwargs):
        raise AssertionError("the index was rebuilt instead of loaded")

    monkeypatch.setattr(bm25.Bm25Index, "build", no_build)
    again = type(kb)(kb.settings, embeddings=kb.embeddings)
    assert [(d.metadata["id"], s) for d, s in again.bm25_search("读书 分享会 植树", 5)] == expected
    assert [d.metadata["id"] for d in again.chunks()] == [d.metadata["id"] for d in kb.chunks()]


@pytest.mark.integration
def test_after_an_upload_only_the_new_document_is_read_and_tokenized(make_kb, monkeypatch):
    kb = make_kb()
    folder = kb.settings.store.knowledge_dir
    write(folder / "植树.txt", TREES)
    kb.ingest([folder], progress=False)
    assert kb.bm25_search("植树", 3)
    counting = CountingTokenize()
    monkeypatch.setattr(bm25, "tokenize", counting)
    asked: list[str] = []
    real_fetch = kb.fetch

    def recording_fetch(ids):
        asked.extend(ids)
        return real_fetch(ids)

    monkeypatch.setattr(kb, "fetch", recording_fetch)
    write(folder / "读书.txt", BOOKS)
    kb.ingest([folder], progress=False)  # ends by bringing BM25 up to date
    kb.chunks()
    new = [d for d in kb.chunks() if d.metadata["source"].endswith("读书.txt")]
    assert new and counting.chunk_texts(kb.chunks()) == sorted(d.page_content for d in new)
    # the chunks the index already held come from memory: Chroma is asked for the new document's only
    assert sorted(asked) == sorted(d.metadata["id"] for d in new)
    monkeypatch.undo()
    assert kb.bm25_search("读书 分享会", 3)[0][0].metadata["source"].endswith("读书.txt")


# ------------------------------------------------------------------ tokens shared through a store
class MemoryTokens:
    """A bm25.TokenStore in memory, recording what was asked and published."""

    def __init__(self) -> None:
        self.kept: dict[tuple[str, str], dict[str, bm25.Tokens]] = {}
        self.asked: list[list[str]] = []

    def get(self, sources: list[str]) -> dict[str, bm25.Tokens]:
        self.asked.append(sources)
        return {k: v for (src, _), entries in self.kept.items() if src in sources for k, v in entries.items()}

    def put(self, docs: list[Document], tokens: dict[str, bm25.Tokens]) -> None:
        for doc, entries in bm25.by_document(docs, tokens).items():
            self.kept.setdefault(doc, {}).update(entries)


@pytest.mark.unit
def test_packed_tokens_read_back_the_same_and_are_ascii():
    tokens = dict(tokens for tokens in bm25.tokens_of(DOCS + EDGES)[1].items())
    packed = bm25.pack_tokens(tokens)
    assert packed.isascii()
    assert bm25.unpack_tokens(packed) == tokens
    with pytest.raises(ValueError):
        bm25.unpack_tokens(packed[: len(packed) // 2])


@pytest.mark.unit
def test_by_document_groups_entries_by_source_and_hash():
    docs = [_chunk("a", 0, "甲"), _chunk("a", 1, "乙"), _chunk("b", 0, "丙")]
    docs[0].metadata["doc_sha"] = docs[1].metadata["doc_sha"] = "s1"
    keys = [bm25.text_key(indexed_text(d)) for d in docs]
    tokens = {keys[0]: (1, ["通知", "甲"]), keys[2]: (1, ["通知", "丙"])}
    assert bm25.by_document(docs, tokens) == {
        ("a", "s1"): {keys[0]: tokens[keys[0]]},
        ("b", ""): {keys[2]: tokens[keys[2]]},
    }


@pytest.mark.unit
def test_a_fresh_folder_reads_published_tokens_instead_of_tokenizing(tmp_path, monkeypatch):
    store = MemoryTokens()
    first = load_or_build(tmp_path / "first", RECORDS, _fetch, store)  # tokenizes and publishes every chunk
    assert sorted(k for entries in store.kept.values() for k in entries) == sorted(
        bm25.text_key(indexed_text(d)) for d in DOCS
    )
    counting = CountingTokenize()
    monkeypatch.setattr(bm25, "tokenize", counting)
    second = load_or_build(tmp_path / "second", RECORDS, _fetch, store)  # another process, an empty kb_dir
    assert counting.chunk_texts(DOCS) == []
    assert store.asked[-1] == sorted(RECORDS)
    monkeypatch.undo()
    assert second.text_df == first.text_df
    for query in ("银杏树", "管理办法", "读书 分享会"):
        assert [(d.metadata["id"], s) for d, s in second.search(query, 3)] == [
            (d.metadata["id"], s) for d, s in first.search(query, 3)
        ]
    # the folder keeps them too: the next rebuild there asks the store for nothing
    store.asked.clear()
    load_or_build(
        tmp_path / "second",
        {**RECORDS, "knowledge/b.txt": RECORDS["knowledge/b.txt"] | {"sha256": "b2"}},
        _fetch,
        store,
    )
    assert store.asked == []


@pytest.mark.unit
def test_only_what_was_tokenized_is_published(tmp_path):
    load_or_build(tmp_path, {"knowledge/a.txt": RECORDS["knowledge/a.txt"]}, _fetch)  # kept in the folder only
    store = MemoryTokens()
    load_or_build(tmp_path, RECORDS, _fetch, store)
    assert [src for src, _ in store.kept] == ["knowledge/b.txt"]
    assert store.asked == [["knowledge/b.txt"]]  # a.txt's tokens were in the folder


@pytest.fixture
def two_documents(make_kb):
    """A knowledge base with the tree-planting and reading notices ingested."""
    kb = make_kb()
    folder = kb.settings.store.knowledge_dir
    write(folder / "植树.txt", TREES)
    write(folder / "读书.txt", BOOKS)
    kb.ingest([folder], progress=False)
    return kb


@pytest.mark.integration
def test_a_fresh_kb_dir_on_the_same_chroma_rebuilds_the_same_index_without_tokenizing(two_documents, monkeypatch):
    import shutil

    from ingest import index as ingest_index

    kb = two_documents
    folder = kb.settings.store.knowledge_dir
    queries = ("读书 分享会 植树", "银杏树", "社区文化中心")
    expected = {q: [(d.metadata["id"], s) for d, s in kb.bm25_search(q, 5)] for q in queries}
    frequencies = kb.text_frequencies()
    shutil.rmtree(kb.kb_dir / bm25.BM25_DIR)  # what a new app process on a shared Chroma server starts with
    counting = CountingTokenize()
    monkeypatch.setattr(bm25, "tokenize", counting)
    again = type(kb)(kb.settings, embeddings=kb.embeddings)
    chunks = again.chunks()
    assert counting.chunk_texts(chunks) == []  # every chunk's tokens came from Chroma
    monkeypatch.undo()
    assert {q: [(d.metadata["id"], s) for d, s in again.bm25_search(q, 5)] for q in queries} == expected
    assert again.text_frequencies() == frequencies

    # a changed document: its old version's tokens are dropped at the next ingest, the new ones published
    before = set(kb.tokens_collection.get(include=[])["ids"])
    write(folder / "读书.txt", BOOKS + "\n读书会每月举办一次。")
    again.ingest([folder], progress=False)
    again.ingest([folder], progress=False)  # reconcile at its start drops the stale record
    after = set(kb.tokens_collection.get(include=[])["ids"])
    sha = again.manifest.records(force=True)
    assert all(
        rid.rsplit(":", 1)[0] in {ingest_index.tokens_record_prefix(s, r["sha256"]) for s, r in sha.items()}
        for rid in after
    )
    assert after - before and before - after


@pytest.mark.unit
def test_unpacked_tokens_share_one_string_per_token():
    packed = [bm25.pack_tokens({"k1": (0, ["党员", "冬训"])}), bm25.pack_tokens({"k2": (1, ["冬训", "党员"])})]
    vocabulary: dict[str, str] = {}
    first, second = (bm25.unpack_tokens(p, vocabulary) for p in packed)
    assert first == {"k1": (0, ["党员", "冬训"])} and second == {"k2": (1, ["冬训", "党员"])}
    assert first["k1"][1][0] is second["k2"][1][1] and first["k1"][1][1] is second["k2"][1][0]


@pytest.mark.integration
def test_a_damaged_tokens_record_costs_only_its_documents_tokens(two_documents, monkeypatch):
    import shutil

    kb = two_documents
    expected = [(d.metadata["id"], s) for d, s in kb.bm25_search("读书 分享会 植树", 5)]
    got = kb.tokens_collection.get(include=["metadatas"])
    (damaged,) = [rid for rid, meta in zip(got["ids"], got["metadatas"]) if meta["source"].endswith("读书.txt")]
    meta = dict(got["metadatas"][got["ids"].index(damaged)]) | {"tokens": "不是分词"}
    kb.tokens_collection.update(ids=[damaged], metadatas=[meta])
    shutil.rmtree(kb.kb_dir / bm25.BM25_DIR)
    counting = CountingTokenize()
    monkeypatch.setattr(bm25, "tokenize", counting)
    again = type(kb)(kb.settings, embeddings=kb.embeddings)
    chunks = again.chunks()
    assert counting.chunk_texts(chunks) == sorted(
        d.page_content for d in chunks if d.metadata["source"].endswith("读书.txt")
    )
    monkeypatch.undo()
    assert [(d.metadata["id"], s) for d, s in again.bm25_search("读书 分享会 植树", 5)] == expected
