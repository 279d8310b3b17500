"""CMRC 2018 as paragraphs and questions, split by paragraph into train / calib / report, and its knowledge base.

The split hashes each paragraph id, so it never changes with the file order or the run; the report part is
never used for training or for choosing thresholds.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

CMRC_DIR = Path("/work/shared/data/cmrc2018")
CMRC_FILES = ("trial.json", "dev.json")
KB_DIR = Path("/tmp/cmrc-kb")
SEARCH_CACHE = "search_cache.jsonl"  # retrieval results kept beside the store
# The code a search result depends on, besides the knowledge base, the retrieval settings and the embedder: a
# change to any of these files makes cached results stale (paths from the project's root). The retriever analyses
# the question and re-ranks passages by their best sentence, so the question analysis, the evidence score and the
# tables they read count too (until 2026-12-02 they were missing, and a change to them kept stale results;
# tests/eval/test_cmrc.py checks the list against the retriever's imports).
RETRIEVAL_CODE = (
    "bot/retrieval/hybrid.py",
    "bot/retrieval/rerank.py",
    "bot/retrieval/neighbours.py",
    "bot/answering/question.py",
    "bot/answering/evidence.py",
    "bot/answering/numbering.py",
    "bot/answering/corpus_stats.py",
    "bot/answering/data/colloquial.tsv",
    "bot/answering/data/noun_words.tsv",
    "core/grammar.py",
    "core/data_tables.py",
    "ingest/bm25.py",
    "ingest/embedders.py",
    "ingest/index.py",
    "ingest/fusion.py",
)
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Share of paragraphs (in percent of the hash) per part: train [0, 60), calib [60, 75), report [75, 100).
SPLIT_BOUNDS = (("train", 60), ("calib", 75), ("report", 100))


@dataclass
class Paragraph:
    pid: str
    title: str
    context: str
    questions: list[dict] = field(default_factory=list)  # {"id", "question", "answers": [str]}


def split_of(pid: str) -> str:
    """The part (train, calib or report) a paragraph belongs to, from a hash of its id."""
    bucket = int(hashlib.sha256(pid.encode("utf-8")).hexdigest()[:8], 16) % 100
    return next(name for name, bound in SPLIT_BOUNDS if bucket < bound)


def load_paragraphs(cmrc_dir: Path = CMRC_DIR) -> list[Paragraph]:
    """Every paragraph of trial.json and dev.json with its questions and gold answer texts."""
    out: list[Paragraph] = []
    for name in CMRC_FILES:
        data = json.loads((Path(cmrc_dir) / name).read_text(encoding="utf-8"))["data"]
        for article in data:
            for para in article["paragraphs"]:
                p = Paragraph(para["id"], article.get("title", ""), para["context"])
                for qa in para["qas"]:
                    answers = list(dict.fromkeys(a["text"].strip() for a in qa["answers"] if a["text"].strip()))
                    if answers:
                        p.questions.append({"id": qa["id"], "question": qa["question"].strip(), "answers": answers})
                out.append(p)
    return out


def split_paragraphs(paragraphs: list[Paragraph]) -> dict[str, list[Paragraph]]:
    """Paragraphs grouped by their part, in file order."""
    parts: dict[str, list[Paragraph]] = {name: [] for name, _ in SPLIT_BOUNDS}
    for p in paragraphs:
        parts[split_of(p.pid)].append(p)
    return parts


def paragraph_file(pid: str) -> str:
    """The file name a paragraph is written to (its id is the stem, so a retrieved chunk names its paragraph)."""
    return f"{pid}.txt"


def pid_of_source(source: str) -> str:
    """The paragraph id of a retrieved chunk's source path."""
    return Path(source).stem


def write_corpus(paragraphs: list[Paragraph], folder: Path) -> Path:
    """Write each paragraph as folder/<id>.txt (title on the first line); unchanged files are left alone."""
    folder.mkdir(parents=True, exist_ok=True)
    for p in paragraphs:
        path = folder / paragraph_file(p.pid)
        text = f"{p.title}\n{p.context}\n"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return folder


def open_kb(kb_dir: Path = KB_DIR, cmrc_dir: Path = CMRC_DIR, progress: bool = False):
    """(settings, KnowledgeBase) over every CMRC paragraph, ingested once under kb_dir and reused."""
    from core.settings import Settings
    from ingest.index import KnowledgeBase

    corpus = write_corpus(load_paragraphs(cmrc_dir), Path(kb_dir) / "docs")
    settings = Settings.load(env_file=None, kb_dir=Path(kb_dir) / "store", knowledge_dir=corpus)
    kb = KnowledgeBase(settings)
    kb.ingest([corpus], progress=progress)
    return settings, kb


def _engine_name(embeddings) -> str:
    """The embedding engine behind a (possibly cache-wrapped) embedder: "native <file>", "wheel", or ""."""
    while embeddings is not None:
        name = getattr(embeddings, "engine_name", None)
        if callable(name):
            return str(name())
        embeddings = getattr(embeddings, "inner", None)
    return ""


def search_signature(kb, settings, *, root: Path = PROJECT_ROOT) -> str:
    """What a search result depends on besides the question and k: the knowledge base's content, the retrieval
    settings, the embedder and its engine (a native build's file name carries its kernel's hash), and the
    retrieval code. Until 2026-12-02 the cache was keyed by the content alone, and served results made by
    older code and an older engine."""
    h = hashlib.sha256()
    h.update(kb.fingerprint().encode())
    h.update(settings.retrieval.model_dump_json().encode())
    embeddings = getattr(kb, "embeddings", None)
    h.update(f"{getattr(kb, 'embedder', '')}\n{_engine_name(embeddings)}\n".encode())
    for name in RETRIEVAL_CODE:
        h.update(name.encode())
        h.update((root / name).read_bytes())
    return h.hexdigest()


class CachedSearch:
    """A retriever's search results kept on disk by (search_signature, question, k), so training and
    evaluation re-runs do not retrieve again; results are the retriever's own (Document, score) lists. Results
    under another signature are dropped from the file when it is opened."""

    def __init__(self, retriever, path: Path, settings):
        self.retriever = retriever
        self.path = Path(path)
        self.fingerprint = search_signature(retriever.kb, settings)
        self.cache: dict[str, list] = {}
        stale = 0
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                rec = json.loads(line)
                if json.loads(rec["key"])[0] == self.fingerprint:
                    self.cache[rec["key"]] = rec["hits"]
                else:
                    stale += 1
        if stale:
            kept = self.path.with_suffix(".tmp")
            kept.write_text(
                "".join(json.dumps({"key": k, "hits": v}, ensure_ascii=False) + "\n" for k, v in self.cache.items()),
                encoding="utf-8",
            )
            kept.replace(self.path)

    def search(self, question: str, k: int = 5) -> list:
        from langchain_core.documents import Document

        key = json.dumps([self.fingerprint, question, k], ensure_ascii=False)
        if key not in self.cache:
            hits = [[d.page_content, d.metadata, float(s)] for d, s in self.retriever.search(question, k=k)]
            self.cache[key] = hits
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"key": key, "hits": hits}, ensure_ascii=False) + "\n")
        return [(Document(page_content=t, metadata=dict(m)), s) for t, m, s in self.cache[key]]
