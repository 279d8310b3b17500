"""Reciprocal-rank fusion (ingest.fusion), the stage where the dense and BM25 rankings become one."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from ingest.fusion import reciprocal_rank_fusion

pytestmark = pytest.mark.unit


def doc(cid: str) -> Document:
    return Document(page_content=f"passage {cid}", metadata={"id": cid})


def test_rrf_agreement_beats_a_single_top_rank():
    a, b, c, d = doc("a"), doc("b"), doc("c"), doc("d")
    fused = reciprocal_rank_fusion([[(a, 9.0), (b, 8.0), (c, 7.0)], [(d, 0.9), (b, 0.8), (c, 0.7)]], [1.0, 1.0], k=60)
    ids = [x.metadata["id"] for x, _ in fused]
    assert ids[0] == "b"  # second in both lists beats first in one
    assert set(ids) == {"a", "b", "c", "d"} and len(ids) == 4  # matched by id, no duplicates
    scores = [s for _, s in fused]
    assert scores == sorted(scores, reverse=True)
    assert dict((x.metadata["id"], s) for x, s in fused)["b"] == pytest.approx(2 / 62)


def test_rrf_weights_and_k():
    a, d = doc("a"), doc("d")
    fused = reciprocal_rank_fusion([[(a, 1.0)], [(d, 1.0)]], [2.0, 1.0], k=10)
    assert [x.metadata["id"] for x, _ in fused] == ["a", "d"]
    assert fused[0][1] == pytest.approx(2 / 11) and fused[1][1] == pytest.approx(1 / 11)
    # the raw scores of the input lists play no part, only ranks
    fused = reciprocal_rank_fusion([[(a, 100.0), (d, 99.0)], [(d, 0.1), (a, 0.0)]], [1.0, 1.0])
    assert fused[0][1] == pytest.approx(fused[1][1])


def test_rrf_empty():
    assert reciprocal_rank_fusion([], []) == []
    assert reciprocal_rank_fusion([[], []], [1.0, 1.0]) == []


def test_rrf_one_list_keeps_its_order_and_ranks():
    docs = [doc(c) for c in "abc"]
    fused = reciprocal_rank_fusion([[(d, 0.0) for d in docs]], [1.0], k=5)
    assert [x.metadata["id"] for x, _ in fused] == ["a", "b", "c"]
    assert [s for _, s in fused] == pytest.approx([1 / 6, 1 / 7, 1 / 8])


def test_rrf_a_zero_weight_list_adds_nothing():
    a, b = doc("a"), doc("b")
    fused = reciprocal_rank_fusion([[(a, 1.0), (b, 0.5)], [(b, 1.0)]], [1.0, 0.0], k=5)
    assert [x.metadata["id"] for x, _ in fused] == ["a", "b"]
    assert dict((x.metadata["id"], s) for x, s in fused)["b"] == pytest.approx(1 / 7)


def test_rrf_keeps_the_first_lists_copy_of_a_passage():
    dense_copy = Document(page_content="same", metadata={"id": "x", "dense": 0.9})
    bm25_copy = Document(page_content="same", metadata={"id": "x"})
    fused = reciprocal_rank_fusion([[(dense_copy, 0.9)], [(bm25_copy, 3.0)]], [1.0, 1.0])
    assert len(fused) == 1 and fused[0][0] is dense_copy
