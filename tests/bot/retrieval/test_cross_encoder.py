"""Cross-encoder reranking with a tiny but real CrossEncoder built offline (random weights, a
character vocabulary from the seed): load_cross_encoder loads it from the configured path, and
HybridRetriever's reranker mixes its scores into the ranking of the same candidates."""

from __future__ import annotations

import math
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported: nothing may be fetched

from bot.answering.question import analyse
from bot.retrieval.hybrid import HybridRetriever
from bot.retrieval.rerank import load_cross_encoder
from core.settings import Settings

pytestmark = pytest.mark.integration

QUESTION = "去年开展了多少场理论宣讲活动？"
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# initializer_range: with the default 0.02 a random one-layer model scores every pair alike; 0.5 spreads its logits.
TINY = dict(
    hidden_size=32,
    num_hidden_layers=1,
    num_attention_heads=2,
    intermediate_size=37,
    num_labels=1,
    max_position_embeddings=512,
    initializer_range=0.5,
)
SEED = 1234


@pytest.fixture(scope="module")
def tiny_cross_encoder(seed_kb, tmp_path_factory):
    """A BertForSequenceClassification with one output, saved with its tokenizer to a local folder."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("sentence_transformers")

    folder = tmp_path_factory.mktemp("tiny_cross_encoder")
    text = "".join(d.page_content for d in seed_kb.chunks()) + QUESTION
    chars = sorted({c for c in text if not c.isspace()})
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(SPECIAL_TOKENS + chars) + "\n", encoding="utf-8")
    tokenizer = transformers.BertTokenizerFast(vocab=str(vocab))
    assert tokenizer.unk_token_id not in tokenizer(QUESTION)["input_ids"]  # the vocabulary really covers the text

    torch.manual_seed(SEED)
    config = transformers.BertConfig(vocab_size=len(SPECIAL_TOKENS) + len(chars), **TINY)
    model = transformers.BertForSequenceClassification(config)  # random weights: a real model, not a trained one
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def reranker(tiny_cross_encoder):
    ce = load_cross_encoder(
        Settings.load(env_file=None, reranker_model_path=tiny_cross_encoder).retrieval.reranker_model_path
    )
    from sentence_transformers import CrossEncoder

    assert isinstance(ce, CrossEncoder)
    return ce


def test_search_with_cross_encoder_reorders_the_same_candidates(seed_kb, reranker):
    settings = seed_kb.settings
    crossed = HybridRetriever.from_settings(seed_kb, settings, cross_encoder=reranker).search(QUESTION)
    assert settings.retrieval.retrieval_k <= len(crossed) <= settings.retrieval.retrieval_k + 2
    assert all(isinstance(s, float) for _, s in crossed)
    # Same fused candidates are reranked; only their scores and order change.
    wide = settings.replace(retrieval_k=settings.retrieval.rerank_candidates)
    plain_all = HybridRetriever.from_settings(seed_kb, wide).search(QUESTION)
    crossed_all = HybridRetriever.from_settings(seed_kb, wide, cross_encoder=reranker).search(QUESTION)
    assert sorted(d.metadata["id"] for d, _ in plain_all) == sorted(d.metadata["id"] for d, _ in crossed_all)
    plain_scores = {d.metadata["id"]: s for d, s in plain_all}
    crossed_scores = {d.metadata["id"]: s for d, s in crossed_all}
    assert any(abs(plain_scores[i] - crossed_scores[i]) > 1e-6 for i in plain_scores)
    assert [s for _, s in crossed_all] == sorted((s for _, s in crossed_all), reverse=True)
    assert {d.metadata["id"] for d, _ in crossed} <= set(crossed_scores)


def test_cross_score_enters_as_the_models_probability(seed_kb, reranker):
    """The rerank score is (1-share)·evidence + share·P(relevant), with P the CrossEncoder's own sigmoid output
    (CrossEncoder.predict already applies it for a one-label model; squashing again would flatten the scores)."""
    plain = HybridRetriever.from_settings(seed_kb, seed_kb.settings)
    crossed = HybridRetriever.from_settings(seed_kb, seed_kb.settings, cross_encoder=reranker)
    query = analyse(QUESTION, plain.stats())
    candidates = [(d, 1.0 / (i + 1)) for i, d in enumerate(seed_kb.chunks()[:6])]
    base = {d.metadata["id"]: s for d, s in plain.reranker.rerank(query, candidates)}
    mixed = {d.metadata["id"]: s for d, s in crossed.reranker.rerank(query, candidates)}
    probs = reranker.predict([(QUESTION, d.page_content) for d, _ in candidates])
    share = seed_kb.settings.retrieval.cross_encoder_share
    assert max(probs) - min(probs) > 0.05  # the tiny model does tell the passages apart
    for (d, _), p in zip(candidates, probs):
        expected = (1 - share) * base[d.metadata["id"]] + share * float(p)
        assert mixed[d.metadata["id"]] == pytest.approx(expected, abs=1e-4), (
            f"cross part {(mixed[d.metadata['id']] - (1 - share) * base[d.metadata['id']]) / share:.4f}"
            f" vs model probability {float(p):.4f} (sigmoid applied twice gives {1 / (1 + math.exp(-float(p))):.4f})"
        )


def test_assistant_answers_with_a_reranker(seed_kb, tiny_cross_encoder):
    from bot.pipeline import Assistant

    settings = seed_kb.settings.replace(reranker_model_path=tiny_cross_encoder)
    assistant = Assistant(settings, kb=seed_kb)
    assert assistant.retriever.reranker.cross_encoder is not None
    r = assistant.ask(QUESTION)
    assert r["contexts"] and set(r["timings_ms"]) >= {"retrieve", "total"}
    assert r["refused"] or r["citations"]  # a random model may move passages, but the contract holds
    assert r["unsupported"] == []
