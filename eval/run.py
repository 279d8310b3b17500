"""Run the dataset through the assistant (the same path as `python -m bot ask --json`), score it,
write results.jsonl / summary.json / report.md / report.html, and check summaries against
eval/thresholds.json (the CI gate).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Optional

from core.settings import Settings
from eval.dataset import DEFAULT_KNOWLEDGE, REPO_ROOT, Item, load_dataset
from eval.metrics import score_item, summarise

log = logging.getLogger(__name__)

DEFAULT_OUT = REPO_ROOT / "eval" / "out"
DEFAULT_THRESHOLDS = REPO_ROOT / "eval" / "thresholds.json"
KB_ROOT = Path("var")  # default fresh KBs live in var/eval-kb-<hash>, relative to the working directory
KB_PREFIX = "eval-kb-"
KB_HASH_CHARS = 10
EMBED_CACHE = "embed_cache.sqlite"
# What a knowledge-base folder may contain; any other entry means the folder is not ours to delete.
KB_ARTEFACTS = ("chroma", "bm25", EMBED_CACHE, EMBED_CACHE + "-wal", EMBED_CACHE + "-shm")
RETRIEVERS = ("bm25", "dense", "hybrid")
WARMUP_QUESTION = "冬训工作有哪些要求？"  # one untimed question first, so index loading is not billed to item 1
# Settings recorded in summary.json so two runs can be told apart.
RECORDED_SETTINGS = (
    "embedder",
    "chunk_size",
    "chunk_overlap",
    "retrieval_k",
    "dense_k",
    "bm25_k",
    "rrf_k",
    "dense_weight",
    "bm25_weight",
    "rerank_candidates",
    "rerank_sentence_weight",
    "rerank_passage_weight",
    "rerank_dense_weight",
    "rerank_fusion_prior",
    "max_answer_sentences",
    "support_threshold",
    "judge_top",
    "name_min_coverage",
    "min_coverage",
    "off_topic_dense",
    "strong_coverage",
    "weak_coverage",
    "min_dense",
    "min_related",
)
# Gate: metrics that must stay at or above / at or below their threshold.
GATE_MIN = (
    "hit@1",
    "hit@5",
    "mrr",
    "keyfact_recall",
    "keyfact_f",
    "faithfulness",
    "citation_validity",
    "refusal_recall",
)
GATE_MAX = ("false_refusal_rate", "answer_len_median", "errors")
EXACT_MIN = {"citation_validity": 1.0}  # a marker pointing nowhere is a bug, never a tuning trade-off
LENGTH_SLACK = 0.1  # relative head-room of the median-answer-length maximum when thresholds are refreshed


class EvalError(RuntimeError):
    """An evaluation that cannot run; str(e) is a Chinese message saying what to do."""


# --------------------------------------------------------------------------- knowledge base


def default_kb_dir(knowledge_dirs: Sequence[Path]) -> Path:
    """var/eval-kb-<hash of the knowledge folders' absolute paths>."""
    key = "\n".join(sorted(str(Path(d).resolve()) for d in knowledge_dirs))
    return KB_ROOT / (KB_PREFIX + hashlib.sha1(key.encode("utf-8")).hexdigest()[:KB_HASH_CHARS])


def _clear_kb_dir(kb_dir: Path, keep_embed_cache: bool) -> None:
    """Delete a knowledge-base folder, refusing folders holding anything a knowledge base does not write."""
    if not kb_dir.exists():
        return
    foreign = [p.name for p in kb_dir.iterdir() if p.name not in KB_ARTEFACTS]
    if foreign:
        raise EvalError(
            f"{kb_dir} 里有非知识库文件（{', '.join(sorted(foreign)[:3])}），为安全起见不删除。"
            "请用 --kb 指定一个空目录或评测专用目录。"
        )
    for p in kb_dir.iterdir():
        if keep_embed_cache and p.name.startswith(EMBED_CACHE):
            continue  # vectors are keyed by model + text, so reusing them cannot change results
        shutil.rmtree(p) if p.is_dir() else p.unlink()


def build_kb(
    settings: Settings, knowledge_dirs: Sequence[Path], *, keep_embed_cache: bool = True, progress: bool = True
):
    """A fresh KnowledgeBase in settings.store.kb_dir built from the folders (the embedding cache is kept unless told)."""
    from ingest.index import KnowledgeBase

    kb_dir = Path(settings.store.kb_dir)
    _clear_kb_dir(kb_dir, keep_embed_cache)
    kb = KnowledgeBase(settings)
    report = kb.ingest([Path(d) for d in knowledge_dirs], progress=progress)
    if report.errors:
        details = "；".join(f"{src}：{msg}" for src, msg in report.errors[:3])
        raise EvalError(f"构建评测知识库时有 {len(report.errors)} 个文件出错：{details}。请修正这些文件后重试。")
    if progress:
        print(report.summary(), file=sys.stderr)
    return kb


def open_kb(settings: Settings):
    """The existing KnowledgeBase in settings.store.kb_dir; EvalError when it is empty."""
    from ingest.index import KnowledgeBase

    kb = KnowledgeBase(settings)
    if not kb.documents():
        raise EvalError(
            f"知识库为空（{settings.store.kb_dir}）。请用 --knowledge 指定材料文件夹重新构建，或先运行 python -m ingest。"
        )
    return kb


# --------------------------------------------------------------------------- running


def _empty_result(item: Item) -> dict:
    return {
        "question": item.question,
        "rewritten_question": item.question,
        "answer": "",
        "refused": False,
        "citations": [],
        "contexts": [],
        "unsupported": [],
        "timings_ms": {},
    }


def run_item(assistant, item: Item) -> dict:
    """One result row: the assistant's JSON result + id/type/split/reference + "error" (None when it ran)."""
    error = None
    try:
        if item.type == "outline":
            result = assistant.outline(item.question)
        else:
            result = assistant.ask(item.question, [asdict(t) for t in item.history])
    except Exception as e:  # one failing item is recorded, not fatal
        log.exception("item %s failed", item.id)
        result, error = _empty_result(item), f"{type(e).__name__}: {e}"
    row = {
        "id": item.id,
        "type": item.type,
        "split": item.split,
        **result,
        "reference_answer": item.answer,
        "answerable": item.answerable,
        "evidence": [asdict(e) for e in item.evidence],
        "history": [asdict(t) for t in item.history],
        "error": error,
    }
    row["metrics"] = score_item(item.to_dict(), result, assistant.settings.answering.support_threshold)
    return row


def evaluate(assistant, items: Sequence[Item], *, progress: bool = True, warmup: bool = True) -> list[dict]:
    """Result rows for the items, in order, with a tqdm bar."""
    from tqdm import tqdm

    if warmup:
        try:
            assistant.ask(WARMUP_QUESTION)
        except Exception:  # the warm-up only moves index loading out of the timings
            log.warning("warm-up question failed", exc_info=True)
    return [
        run_item(assistant, it) for it in tqdm(items, desc="评测", unit="题", disable=not progress, file=sys.stderr)
    ]


def make_settings(
    base: Optional[Settings] = None,
    *,
    kb_dir: Optional[Path] = None,
    mode: Optional[str] = None,
    retriever: Optional[str] = None,
) -> Settings:
    """base (default: Settings.load() from the environment) with the evaluation's overrides."""
    base = base if base is not None else Settings.load()
    update = {k: v for k, v in (("kb_dir", kb_dir), ("mode", mode), ("retriever", retriever)) if v is not None}
    settings = base.replace(**update)
    if settings.answering.mode == "llm" and not settings.llm.base_url:
        raise EvalError(
            "选择了 llm 回答方式，但没有配置大模型地址。请设置 DONGXUN_LLM_BASE_URL，或改用 --mode extractive。"
        )
    return settings


def ragas_status(settings: Settings) -> dict:
    """Whether ragas faithfulness/context_recall can run (needs an LLM judge and the ragas package), and why not."""
    if not settings.llm.base_url:
        return {
            "enabled": False,
            "reason": "未配置 LLM 评审（DONGXUN_LLM_BASE_URL 未设置），离线运行时跳过 ragas 指标。",
        }
    try:
        import ragas  # noqa: F401
    except ImportError:
        return {"enabled": False, "reason": "未安装 ragas，跳过 ragas 指标；如需计算请安装 ragas 并重新运行。"}
    return {"enabled": True, "reason": ""}


def run_ragas(rows: Sequence[dict], settings: Settings) -> dict:
    """ragas faithfulness and context_recall with the configured LLM as judge; skipped (with the reason) offline."""
    status = ragas_status(settings)
    if not status["enabled"]:
        return status
    try:  # pragma: no cover - needs ragas and a live LLM endpoint
        from langchain_openai import ChatOpenAI
        from ragas import EvaluationDataset
        from ragas import evaluate as ragas_evaluate
        from ragas.llms import LangchainLLMWrapper
        from ragas.metrics import Faithfulness, LLMContextRecall

        samples = [
            {
                "user_input": r["question"],
                "response": r["answer"],
                "retrieved_contexts": [c["text"] for c in r["contexts"]],
                "reference": r["reference_answer"],
            }
            for r in rows
            if r["answerable"] and r["reference_answer"] and not r["error"]
        ]
        judge = LangchainLLMWrapper(
            ChatOpenAI(
                base_url=settings.llm.base_url,
                api_key=settings.llm.api_key,
                model=settings.llm.model,
                temperature=0,
                timeout=settings.llm.timeout,
            )
        )
        scores = ragas_evaluate(
            EvaluationDataset.from_list(samples), metrics=[Faithfulness(), LLMContextRecall()], llm=judge
        ).to_pandas()
        return {
            "enabled": True,
            "reason": "",
            "items": len(samples),
            "faithfulness": float(scores["faithfulness"].mean()),
            "context_recall": float(scores["context_recall"].mean()),
        }
    except Exception as e:  # pragma: no cover
        return {"enabled": False, "reason": f"ragas 运行失败（{type(e).__name__}: {e}），已跳过。"}


def _git_commit() -> Optional[str]:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _config(
    settings: Settings, dataset: Path, knowledge_dirs: Sequence[Path], split: Optional[str], items: int, seconds: float
) -> dict:
    return {
        "dataset": str(dataset),
        "knowledge": [str(d) for d in knowledge_dirs],
        "kb": str(settings.store.kb_dir),
        "mode": settings.answering.mode,
        "retriever": settings.retrieval.retriever,
        "split": split or "all",
        "items": items,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "commit": _git_commit(),
        "settings": {k: settings.flat()[k] for k in RECORDED_SETTINGS},
    }


def _round_floats(obj, nd: int = 4):
    if isinstance(obj, float):
        return round(obj, nd)
    if isinstance(obj, dict):
        return {k: _round_floats(v, nd) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_round_floats(v, nd) for v in obj]
    return obj


def score_run(rows: Sequence[dict], settings: Settings, config: dict) -> dict:
    """summary.json content: config, overall / by_split / by_type metrics, ragas status."""
    return {"config": config, **_round_floats(summarise(rows)), "ragas": run_ragas(rows, settings)}


def write_outputs(out_dir: Path, rows: Sequence[dict], summary: dict, *, report: bool = True) -> None:
    """results.jsonl, summary.json and (unless report=False) report.md + report.html in out_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "results.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    (out_dir / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    if report:
        from eval.report import write_report

        comparison = out_dir / "compare.json"
        write_report(
            out_dir,
            summary,
            rows,
            comparison=json.loads(comparison.read_text(encoding="utf-8")) if comparison.exists() else None,
        )


def prepare(
    dataset: Path,
    knowledge_dirs: Optional[Sequence[Path]],
    *,
    split: Optional[str],
    settings: Optional[Settings] = None,
    kb_dir: Optional[Path] = None,
    mode: Optional[str] = None,
    retriever: Optional[str] = None,
    kb=None,
    progress: bool = True,
    keep_embed_cache: bool = True,
):
    """(settings, items, kb, knowledge folders used) for a run: the evaluation's settings (see make_settings;
    kb_dir defaults to the given KB's folder, else var/eval-kb-<hash> when knowledge_dirs is given), the
    validated dataset, and a KB (the given one; else fresh when knowledge_dirs is given; else the existing
    one in kb_dir)."""
    if kb is not None:
        kb_dir = Path(kb.settings.store.kb_dir)
    elif kb_dir is None and knowledge_dirs:
        kb_dir = default_kb_dir(knowledge_dirs)
    settings = make_settings(settings, kb_dir=kb_dir, mode=mode, retriever=retriever)
    dirs = [Path(d) for d in (knowledge_dirs or DEFAULT_KNOWLEDGE)]
    items = load_dataset(Path(dataset), dirs, split=split)
    if kb is not None:
        pass
    elif knowledge_dirs:
        kb = build_kb(settings, dirs, keep_embed_cache=keep_embed_cache, progress=progress)
    else:
        kb = open_kb(settings)
    return settings, items, kb, dirs


def run(
    dataset: Path,
    knowledge_dirs: Optional[Sequence[Path]] = None,
    *,
    kb_dir: Optional[Path] = None,
    out_dir: Path = DEFAULT_OUT,
    mode: str = "extractive",
    retriever: str = "hybrid",
    split: Optional[str] = None,
    settings: Optional[Settings] = None,
    kb=None,
    progress: bool = True,
    report: bool = True,
    keep_embed_cache: bool = True,
) -> dict:
    """Evaluate the dataset end to end and write the outputs; returns the summary.

    knowledge_dirs: build a fresh KB from them in kb_dir (default var/eval-kb-<hash>); None: use the existing kb_dir.
    split: "dev", "test" or None for all items.
    kb: an already built KnowledgeBase to use as is (then knowledge_dirs only locate the evidence files).
    """
    t0 = time.perf_counter()
    settings, items, kb, dirs = prepare(
        dataset,
        knowledge_dirs,
        split=split,
        settings=settings,
        kb_dir=kb_dir,
        mode=mode,
        retriever=retriever,
        kb=kb,
        progress=progress,
        keep_embed_cache=keep_embed_cache,
    )
    from bot.pipeline import Assistant

    rows = evaluate(Assistant(settings, kb=kb), items, progress=progress)
    summary = score_run(rows, settings, _config(settings, dataset, dirs, split, len(items), time.perf_counter() - t0))
    write_outputs(out_dir, rows, summary, report=report)
    return summary


def compare(
    dataset: Path,
    knowledge_dirs: Optional[Sequence[Path]] = None,
    *,
    kb_dir: Optional[Path] = None,
    out_dir: Path = DEFAULT_OUT,
    mode: str = "extractive",
    split: Optional[str] = None,
    settings: Optional[Settings] = None,
    kb=None,
    retrievers: Sequence[str] = RETRIEVERS,
    progress: bool = True,
    keep_embed_cache: bool = True,
) -> dict:
    """Ablation: the same items with each retriever over one KB (built once); writes compare.json and,
    for the last retriever (hybrid), the usual outputs with the ablation table in the report."""
    t0 = time.perf_counter()
    settings, items, kb, dirs = prepare(
        dataset,
        knowledge_dirs,
        split=split,
        settings=settings,
        kb_dir=kb_dir,
        mode=mode,
        kb=kb,
        progress=progress,
        keep_embed_cache=keep_embed_cache,
    )
    from bot.pipeline import Assistant

    runs: dict[str, dict] = {}
    rows: list[dict] = []
    summary: dict = {}
    for name in retrievers:
        s = settings.replace(retriever=name)
        t1 = time.perf_counter()
        rows = evaluate(Assistant(s, kb=kb), items, progress=progress)
        summary = score_run(rows, s, _config(s, dataset, dirs, split, len(items), time.perf_counter() - t1))
        runs[name] = {k: summary[k] for k in ("overall", "by_split")}
    comparison = {
        "config": {
            **_config(settings, dataset, dirs, split, len(items), time.perf_counter() - t0),
            "retriever": list(retrievers),
        },
        "runs": runs,
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "compare.json").write_text(json.dumps(comparison, ensure_ascii=False, indent=2), encoding="utf-8")
    write_outputs(out_dir, rows, summary)
    return comparison


# --------------------------------------------------------------------------- gate


@dataclass
class GateRow:
    metric: str
    kind: str  # "min" or "max"
    threshold: float
    value: Optional[float]

    @property
    def ok(self) -> bool:
        if self.value is None:
            return False
        return self.value >= self.threshold if self.kind == "min" else self.value <= self.threshold


def headline(summary: dict, split: Optional[str]) -> dict:
    """The metrics the gate reads: the split's block when the summary has it, else the overall block."""
    if split and split in summary.get("by_split", {}):
        return summary["by_split"][split]
    return summary["overall"]


def gate(summary: dict, thresholds: dict) -> list[GateRow]:
    """One GateRow per threshold; a row whose metric is missing from the summary fails."""
    metrics = headline(summary, thresholds.get("split"))
    rows = [GateRow(k, "min", float(v), metrics.get(k)) for k, v in thresholds.get("min", {}).items()]
    rows += [GateRow(k, "max", float(v), metrics.get(k)) for k, v in thresholds.get("max", {}).items()]
    return rows


def gate_table(rows: Sequence[GateRow]) -> str:
    """The gate result as a fixed-width table (Chinese status words)."""
    lines = [f"{'指标':<22}{'实测':>10}{'阈值':>12}  结果"]
    for r in rows:
        value = "缺失" if r.value is None else f"{r.value:.4g}"
        bound = ("≥ " if r.kind == "min" else "≤ ") + f"{r.threshold:.4g}"
        lines.append(f"{r.metric:<22}{value:>10}{bound:>12}  {'通过' if r.ok else '未通过'}")
    return "\n".join(lines)


def thresholds_from(
    summary: dict, *, margin: float = 0.03, split: str = "dev", length_slack: float = LENGTH_SLACK
) -> dict:
    """Thresholds from a measured summary: minimums = value - margin (rounded down), false-refusal maximum =
    value + margin, median-length maximum = value x (1 + length_slack) rounded up, no errors, citations exact."""
    m = headline(summary, split)
    used = split if split in summary.get("by_split", {}) else "overall"

    def floor3(x: float) -> float:
        return max(0.0, math.floor(round(x * 1000, 6)) / 1000)  # round first: 0.7 - 0.03 is 0.66999...

    def ceil3(x: float) -> float:
        return min(1.0, math.ceil(round(x * 1000, 6)) / 1000)

    mins = {}
    for k in GATE_MIN:
        if m.get(k) is not None:
            mins[k] = EXACT_MIN.get(k, floor3(m[k] - margin))
    maxs: dict[str, float] = {"errors": 0}
    if m.get("false_refusal_rate") is not None:
        maxs["false_refusal_rate"] = ceil3(m["false_refusal_rate"] + margin)
    if m.get("answer_len_median") is not None:
        maxs["answer_len_median"] = math.ceil(round(m["answer_len_median"] * (1 + length_slack), 6))
    cfg = summary.get("config", {})
    comment = (
        f"Set {datetime.now(UTC).date().isoformat()} by `python -m eval thresholds --margin {margin}` "
        f"from the {used} split of a {cfg.get('mode', '?')}/{cfg.get('retriever', '?')} run "
        f"(commit {cfg.get('commit') or '?'}): minimums = measured - {margin}, false_refusal_rate max = "
        f"measured + {margin}, answer_len_median max = measured x {1 + length_slack:g}, "
        "citation_validity must be 1.0, errors must be 0."
    )
    return {
        "_comment": comment,
        "split": split,
        "measured": {k: m.get(k) for k in (*GATE_MIN, *GATE_MAX)},
        "min": mins,
        "max": maxs,
    }
