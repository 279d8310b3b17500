"""Query vectors kept in memory by ingest.embedders.CachedEmbeddings (the search and the refusal gate's drop
gain embed the same question)."""

from langchain_core.embeddings import Embeddings

from ingest.embedders import RECENT_QUERIES, CachedEmbeddings


class _Counting(Embeddings):
    def __init__(self):
        self.queries: list[str] = []

    def embed_documents(self, texts):
        return [[float(len(t)), 1.0] for t in texts]

    def embed_query(self, text):
        self.queries.append(text)
        return [float(len(text)), 0.0]


def test_a_recent_query_is_not_embedded_again(tmp_path):
    inner = _Counting()
    cached = CachedEmbeddings(inner, tmp_path / "cache.sqlite")
    first = cached.embed_query("冬训什么时候开始？")
    first.append(99.0)  # a caller's change to its copy does not reach the kept vector
    assert cached.embed_query("冬训什么时候开始？") == [9.0, 0.0]
    assert inner.queries == ["冬训什么时候开始？"]


def test_only_the_last_queries_are_kept(tmp_path):
    inner = _Counting()
    cached = CachedEmbeddings(inner, tmp_path / "cache.sqlite")
    questions = [f"问题{i}" for i in range(RECENT_QUERIES + 1)]
    for q in questions:
        cached.embed_query(q)
    cached.embed_query(questions[-1])  # still kept
    cached.embed_query(questions[0])  # pushed out by the newer ones
    assert inner.queries == questions + [questions[0]]
