"""Run the dataset through the assistant (the same path as `python -m bot ask --json`), score it,
write results.jsonl / summary.json / report.md / report.html, and check summaries against
eval/thresholds.json (the CI gate).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Optional

from core.settings import Settings
from eval.dataset import DEFAULT_KNOWLEDGE, REPO_ROOT, Item, load_dataset
from eval.errors import EvalError
from eval.knowledge import build_kb, default_kb_dir, open_kb
from eval.metrics import score_item, summarise
from eval.ragas_judge import run_ragas

log = logging.getLogger(__name__)

DEFAULT_OUT = REPO_ROOT / "eval" / "out"
# What a knowledge-base folder may contain; any other entry means the folder is not ours to delete.
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
    "gate",
    "gate_threshold",
    "gate_answer_above",
    "second_within",
    "length_cost",
    "max_shown_chars",
    "min_related",
)


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


def _ask(assistant, question: str, history: list[dict]) -> tuple[dict, Optional[float], Optional[bool]]:
    """The assistant's result, its refusal gate's answerable probability and the rule judge's verdict (None when
    they did not run)."""
    result: dict = {}
    answerable, rule_ok = None, None
    for event in assistant.ask_stream(question, history):
        if event["type"] == "final":
            result, answerable, rule_ok = event["result"], event.get("answerable"), event.get("rule_ok")
    return result, answerable, rule_ok


def run_item(assistant, item: Item) -> dict:
    """One result row: the assistant's JSON result + id/type/split/reference + "error" (None when it ran)."""
    error, answerable, rule_ok = None, None, None
    try:
        if item.type == "outline":
            result = assistant.outline(item.question)
        else:
            result, answerable, rule_ok = _ask(assistant, item.question, [asdict(t) for t in item.history])
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
        "answerable_probability": answerable,  # the refusal gate's, for the report's refusal curve
        "rule_ok": rule_ok,  # the rule judge's verdict, for the same curve under the deployed decider
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
