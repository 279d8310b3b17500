"""The manifest's generation token: readers fetch one record every REFRESH_SECONDS and re-read the whole
manifest only when some process committed or dropped a document since."""

from __future__ import annotations

import json
from typing import Any, Optional

import pytest

from ingest import manifest as manifest_module
from ingest.manifest import GENERATION_ID, REFRESH_SECONDS, Manifest

pytestmark = pytest.mark.unit


class FakeCollection:
    """The slice of a Chroma collection the manifest uses, shared by several readers like a server is."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, dict[str, Any]]] = {}
        self.full_gets = 0

    def get(self, ids: Optional[list[str]] = None, include=(), limit: Optional[int] = None, offset: int = 0):
        if ids is None:
            self.full_gets += 1
            keys = sorted(self.rows)[offset : offset + (limit or len(self.rows))]
        else:
            keys = [i for i in ids if i in self.rows]
        return {
            "ids": keys,
            "documents": [self.rows[k][0] for k in keys],
            "metadatas": [self.rows[k][1] for k in keys],
        }

    def upsert(self, ids, embeddings, documents, metadatas) -> None:
        for i, d, m in zip(ids, documents, metadatas):
            self.rows[i] = (d, dict(m))

    def delete(self, ids) -> None:
        for i in ids:
            self.rows.pop(i, None)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(manifest_module.time, "monotonic", c)
    return c


def test_unchanged_manifest_is_not_read_again(clock):
    store = FakeCollection()
    writer = Manifest(store, batch=100)
    writer.commit("k/a.txt", ["c1", "c2"], {"sha256": "x"})
    reader = Manifest(store, batch=100)
    assert set(reader.records()) == {"k/a.txt"}
    for _ in range(5):
        clock.now += REFRESH_SECONDS
        assert set(reader.records()) == {"k/a.txt"}
    assert reader.reads == 1


def test_another_process_commit_and_drop_are_seen_after_the_refresh_delay(clock):
    store = FakeCollection()
    reader = Manifest(store, batch=100)
    assert reader.records() == {}
    writer = Manifest(store, batch=100)
    writer.commit("k/a.txt", ["c1"], {"sha256": "x"})
    assert reader.records() == {}  # within the delay: the cached read
    clock.now += REFRESH_SECONDS
    assert set(reader.records()) == {"k/a.txt"}
    assert reader.committed() == frozenset({"c1"})
    writer.drop("k/a.txt")
    clock.now += REFRESH_SECONDS
    assert reader.records() == {}
    assert reader.committed() == frozenset()


def test_the_generation_record_is_not_a_document(clock):
    store = FakeCollection()
    m = Manifest(store, batch=2)  # several pages, the token among them
    for name in ("k/a.txt", "k/b.txt", "k/c.txt"):
        m.commit(name, [name + "#0"], {"sha256": name})
    assert GENERATION_ID in store.rows
    assert json.loads(store.rows[GENERATION_ID][0]) == []  # raw readers see a record listing no chunk
    assert set(m.records(force=True)) == {"k/a.txt", "k/b.txt", "k/c.txt"}


def test_a_store_written_before_the_token_is_read_each_time(clock):
    store = FakeCollection()
    store.upsert(["k/a.txt"], [[1.0]], [json.dumps(["c1"])], [{"sha256": "x"}])  # an older writer: no token
    reader = Manifest(store, batch=100)
    reader.records()
    clock.now += REFRESH_SECONDS
    reader.records()
    assert reader.reads == 2
