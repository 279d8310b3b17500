"""Issue 10, item 12: a change of the chunking settings is applied to files that did not change, reusing the
cached vectors of every chunk whose text stays the same; records from before chunking was recorded are adopted."""

from __future__ import annotations

import shutil

import pytest

from ingest.chunker import CHUNKER_VERSION
from ingest.index import KnowledgeBase
from ingest.pipeline import chunking_of, same_chunking
from tests.ingest.samples import SEED, assert_consistent

SMALL_CHUNKS = 120


@pytest.mark.unit
def test_same_chunking_adopts_records_without_it():
    from core.settings import Settings

    now = chunking_of(Settings.load(env_file=None).store)
    assert now == {"chunk_size": 300, "chunk_overlap": 1, "chunker_version": CHUNKER_VERSION}
    assert same_chunking({"sha256": "x"}, now)  # recorded before this existed
    assert same_chunking(dict(now), now)
    assert not same_chunking(now | {"chunk_size": 200}, now)
    assert not same_chunking(now | {"chunker_version": CHUNKER_VERSION - 1}, now)


@pytest.fixture
def seeded(make_kb):
    kb = make_kb()
    folder = kb.settings.store.knowledge_dir
    shutil.copy(SEED, folder / SEED.name)
    report = kb.ingest([folder], progress=False)
    assert report.errors == [] and report.added > 0
    return kb


def _reopen(kb: KnowledgeBase, **changes) -> KnowledgeBase:
    return KnowledgeBase(kb.settings.replace(**changes))


@pytest.mark.integration
def test_changed_chunk_size_rechunks_an_unchanged_file(seeded):
    folder = seeded.settings.store.knowledge_dir
    before = seeded.documents()[0]["chunks"]
    seeded.embeddings.close()

    small = _reopen(seeded, chunk_size=SMALL_CHUNKS)
    report = small.ingest([folder], progress=False)
    assert report.rechunked == 1 and report.skipped == 0 and "重新分段" in report.summary()
    after = small.documents()[0]["chunks"]
    assert after > before
    assert all(len(d.page_content) <= 2 * SMALL_CHUNKS for d in small.chunks())
    record = small.manifest.records(force=True)[small.documents()[0]["source"]]
    assert record["chunk_size"] == SMALL_CHUNKS and record["chunker_version"] == CHUNKER_VERSION
    assert_consistent(small)

    again = small.ingest([folder], progress=False)  # settled: nothing more to do
    assert again.skipped == 1 and again.rechunked == 0 and again.added == 0
    small.embeddings.close()

    back = _reopen(seeded, chunk_size=seeded.settings.store.chunk_size)
    report = back.ingest([folder], progress=False)
    assert report.rechunked == 1 and back.documents()[0]["chunks"] == before
    assert back.embeddings.inner_texts == 0, "texts chunked before were embedded again instead of read from the cache"


@pytest.mark.integration
def test_changed_overlap_rechunks(seeded):
    seeded.embeddings.close()
    wider = _reopen(seeded, chunk_overlap=seeded.settings.store.chunk_overlap + 1)
    report = wider.ingest([seeded.settings.store.knowledge_dir], progress=False)
    assert report.rechunked == 1
    assert_consistent(wider)


@pytest.mark.integration
def test_records_without_chunking_are_adopted(seeded):
    """An old knowledge base is not re-chunked (nor re-embedded) just because it never recorded its chunking."""
    source = seeded.documents()[0]["source"]
    record = seeded.manifest.records(force=True)[source]
    old = {k: v for k, v in record.items() if k not in ("ids", "source", *chunking_of(seeded.settings.store))}
    seeded.manifest.drop(source)  # an upsert would merge the old keys back: write the record anew
    seeded.manifest.commit(source, record["ids"], old)
    assert "chunk_size" not in seeded.manifest.records(force=True)[source]
    report = seeded.ingest([seeded.settings.store.knowledge_dir], progress=False)
    assert report.skipped == 1 and report.rechunked == 0 and report.added == 0
