"""Small documents written together: the chunks of several files in one Chroma write and their records in one
commit, within the chunk budget, and still safe when a write fails or the process dies between the steps."""

from __future__ import annotations

import pytest

import ingest.pipeline as pipeline
from tests.ingest.samples import assert_consistent, raw_chunks, sources_hit, write

pytestmark = pytest.mark.integration

# Small files of one chunk each: more than one group at the budget the tests set.
FILES = 12
BUDGET = 5


def small_files(folder, n: int = FILES) -> list[str]:
    """n one-chunk notices, each with its own place name; their document ids."""
    ids = []
    for i in range(n):
        write(folder / f"通知{i:02d}.txt", f"第{i}号通知\n本周六上午在第{i}号广场集合，参加植树活动，请带好铁锹。\n")
        ids.append(f"knowledge/通知{i:02d}.txt")
    return ids


class Writes:
    """Records the chunk ids of each chunk write and the sources of each manifest commit of a knowledge base."""

    def __init__(self, kb, monkeypatch, *, fail_chunk_write_of: str = "", die_at_commit: int = 0):
        self.chunk_writes: list[list[str]] = []
        self.commits: list[list[str]] = []
        write_chunks, commit_many = kb.write_chunks, kb.manifest.commit_many

        def counted_write(ids, texts, metadatas, vectors):
            self.chunk_writes.append(list(ids))
            if fail_chunk_write_of and any(m["source"] == fail_chunk_write_of for m in metadatas):
                raise ValueError("the store refused this write")
            write_chunks(ids, texts, metadatas, vectors)

        def counted_commit(entries):
            self.commits.append([source for source, _, _ in entries])
            if die_at_commit and len(self.commits) == die_at_commit:
                raise KeyboardInterrupt  # not caught by the pipeline: the process dies here
            commit_many(entries)

        monkeypatch.setattr(kb, "write_chunks", counted_write)
        monkeypatch.setattr(kb.manifest, "commit_many", counted_commit)


@pytest.fixture
def kb(make_kb, monkeypatch):
    """A knowledge base whose ingest writes at most BUDGET chunks at a time."""
    monkeypatch.setattr(pipeline, "GROUP_CHUNKS", BUDGET)
    return make_kb()


def test_small_documents_share_writes_within_the_budget(kb, monkeypatch):
    folder = kb.settings.store.knowledge_dir
    sources = small_files(folder)
    writes = Writes(kb, monkeypatch)
    report = kb.ingest([folder], progress=False)
    assert not report.errors and report.added == FILES
    assert all(len(ids) <= BUDGET for ids in writes.chunk_writes)
    assert len(writes.chunk_writes) == len(writes.commits) == -(-FILES // BUDGET)
    assert sorted(s for group in writes.commits for s in group) == sorted(sources)
    assert_consistent(kb)
    assert "knowledge/通知07.txt" in sources_hit(kb.bm25_search("第7号广场", 3))


def test_small_documents_share_embedding_batches(kb, monkeypatch):
    # One-chunk files embedded one by one would leave the worker processes (ingest.embed_pool) idle.
    folder = kb.settings.store.knowledge_dir
    small_files(folder)
    batches: list[int] = []
    embed = kb.embeddings.embed_documents
    monkeypatch.setattr(kb.embeddings, "embed_documents", lambda texts: batches.append(len(texts)) or embed(texts))
    report = kb.ingest([folder], progress=False)
    assert not report.errors and report.added == FILES
    assert batches == [BUDGET, BUDGET, FILES - 2 * BUDGET]  # a group's chunks, not a file's


def test_a_document_the_embedder_fails_on_fails_alone(kb, monkeypatch):
    folder = kb.settings.store.knowledge_dir
    small_files(folder)
    embed = kb.embeddings.embed_documents

    def failing(texts):
        if any("第3号广场" in t for t in texts):
            raise ValueError("the model failed on this text")
        return embed(texts)

    monkeypatch.setattr(kb.embeddings, "embed_documents", failing)
    report = kb.ingest([folder], progress=False)
    assert [source for source, _ in report.errors] == ["knowledge/通知03.txt"]
    assert report.added == FILES - 1
    assert_consistent(kb)


def test_a_large_document_is_written_in_slices_and_committed_on_its_own(kb, monkeypatch):
    folder = kb.settings.store.knowledge_dir
    small_files(folder, 2)
    long_text = "".join(f"第{i}段：冬训期间各支部组织学习，第{i}次集中讨论。\n" * 8 for i in range(60))
    write(folder / "长文.txt", long_text)
    writes = Writes(kb, monkeypatch)
    report = kb.ingest([folder], progress=False)
    assert not report.errors
    assert ["knowledge/长文.txt"] in writes.commits, writes.commits
    assert len(kb.document_chunks("knowledge/长文.txt")) > BUDGET
    assert all(len(ids) <= BUDGET for ids in writes.chunk_writes)
    assert_consistent(kb)


def test_a_failed_group_write_fails_only_its_bad_file(kb, monkeypatch):
    folder = kb.settings.store.knowledge_dir
    sources = small_files(folder)
    bad = sources[3]
    Writes(kb, monkeypatch, fail_chunk_write_of=bad)
    report = kb.ingest([folder], progress=False)
    assert [source for source, _ in report.errors] == [bad]
    assert {d["source"] for d in kb.documents()} == set(sources) - {bad}
    assert_consistent(kb)


def test_death_between_a_group_write_and_its_commit(kb, monkeypatch):
    folder = kb.settings.store.knowledge_dir
    sources = small_files(folder)
    writes = Writes(kb, monkeypatch, die_at_commit=2)
    with pytest.raises(KeyboardInterrupt):
        kb.ingest([folder], progress=False)
    monkeypatch.undo()

    committed = {d["source"] for d in kb.documents()}
    assert committed == set(writes.commits[0]), "only the first group was committed"
    on_disk = {r["meta"]["source"] for r in raw_chunks(kb).values()}
    assert set(writes.commits[1]) <= on_disk - committed, "the second group's chunks were stored before the commit"
    kb.refresh()
    assert all(d.metadata["source"] in committed for d, _ in kb.bm25_search("广场 集合 植树", 20))
    assert all(d.metadata["source"] in committed for d, _ in kb.dense_search("在哪个广场集合", 20))

    again = kb.ingest([folder], progress=False)
    assert not again.errors and again.skipped == len(committed)
    assert {d["source"] for d in kb.documents()} == set(sources)
    assert_consistent(kb)
