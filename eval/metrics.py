"""Metrics of the evaluation, computed from the JSON contract of `python -m bot ask --json`.

Every function here is pure: it takes a dataset item (as a dict: type, answer, answerable,
evidence) and the assistant's result dict, and returns numbers. eval/README.md ("Metrics")
defines each one; the constants below are the knobs named there.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath, PureWindowsPath
from statistics import median
from typing import Optional

from bot.verify import MARKER, claims, numbers_supported, support
from core.grammar import char_ngrams, compact

HIT_KS = (1, 5)  # cut-offs of evidence hit@k
KEYFACT_FUZZY_SHARE = 0.8  # share of a fact's bigrams that must occur in the answer when it is not found verbatim
KEYFACT_FUZZY_MIN_CHARS = 4  # shorter facts must occur verbatim (a 2-3 char fact has too few bigrams to judge)
LENGTH_BUDGET = 80  # answer characters beyond which keyfact_f is scaled down by LENGTH_BUDGET / length
DEFAULT_SUPPORT_THRESHOLD = 0.6  # same default as Settings.support_threshold
LATENCY_PERCENTILES = (50, 95)

# Reference answers are split into key facts at these separators (longest alternatives first).
FACT_SEPARATORS = re.compile(r"以及|[；;，,、。和及]")
NO_RETRIEVAL_TYPES = frozenset({"outline"})  # outlines draw on many passages; evidence rank is not meaningful


# --------------------------------------------------------------------------- small helpers


def strip_markers(text: str) -> str:
    """The answer text without its [n] / 【n】 citation markers."""
    return MARKER.sub("", text or "")


def answer_length(answer: str) -> int:
    """Characters of the answer without [n] markers and without whitespace."""
    return len(re.sub(r"\s+", "", strip_markers(answer)))


def file_name(source: str) -> str:
    """File name of a stored source id (posix or Windows path)."""
    return PureWindowsPath(PurePosixPath(source or "").name).name


def percentile(values: Sequence[float], q: float) -> Optional[float]:
    """q-th percentile with linear interpolation between closest ranks (numpy's default); None when empty."""
    xs = sorted(values)
    if not xs:
        return None
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _mean(values: Iterable[float]) -> Optional[float]:
    xs = [float(v) for v in values]
    return sum(xs) / len(xs) if xs else None


# --------------------------------------------------------------------------- retrieval


def join_adjacent(first: str, second: str) -> str:
    """first + second with the longest suffix of first that is also a prefix of second written once.

    Chunks repeat a sentence at their edge (chunk_overlap), so plain concatenation would
    duplicate it and break a quote running across the edge.
    """
    for m in range(min(len(first), len(second)), 0, -1):
        if first.endswith(second[:m]):
            return first + second[m:]
    return first + second


def quote_rank(source: str, quote: str, contexts: Sequence[dict]) -> Optional[int]:
    """1-based rank at which the quote is first fully covered by the contexts, or None.

    Covered at rank i: the compact quote occurs in the compact text of context i, or in the
    join of context i with an earlier-ranked context j < i of the same file (either order,
    overlap written once) -- a quote split over a chunk edge counts at the rank of its later half.
    Only contexts from the quote's file (matched by file name) count.
    """
    q = compact(quote)
    if not q:
        return None
    seen: list[str] = []
    for i, ctx in enumerate(contexts, 1):
        if file_name(ctx.get("source", "")) != source:
            continue
        text = compact(ctx.get("text", ""))
        if q in text:
            return i
        if any(q in join_adjacent(prev, text) or q in join_adjacent(text, prev) for prev in seen):
            return i
        seen.append(text)
    return None


def retrieval_scores(evidence: Sequence[dict], contexts: Sequence[dict]) -> dict:
    """Evidence ranks and hit@k / reciprocal rank for one item ("all quotes" and "any quote" variants)."""
    ranks = [quote_rank(ev["source"], ev["quote"], contexts) for ev in evidence]
    found = [r for r in ranks if r is not None]
    rank_all = max(found) if ranks and len(found) == len(ranks) else None
    rank_any = min(found) if found else None
    # Headline: the rank of the first context holding an evidence quote ("a quote is found");
    # the stricter "all quotes" variant is kept beside it for cross-document and list items.
    out: dict = {
        "quote_ranks": ranks,
        "rank": rank_any,
        "rank_all": rank_all,
        "rr": 1.0 / rank_any if rank_any else 0.0,
    }
    for k in HIT_KS:
        out[f"hit@{k}"] = float(rank_any is not None and rank_any <= k)
        out[f"hit_all@{k}"] = float(rank_all is not None and rank_all <= k)
    return out


# --------------------------------------------------------------------------- key facts


def key_facts(reference: str) -> list[str]:
    """The reference answer split into key facts at ；;，,、。 and the conjunctions 和/及/以及 (empty pieces dropped)."""
    return [p.strip() for p in FACT_SEPARATORS.split(reference or "") if compact(p)]


def fact_present(fact: str, answer: str) -> bool:
    """The fact's compact form occurs in the compact answer, or (facts of >= 4 compact chars)
    at least 80% of its character bigrams occur among the answer's bigrams."""
    f, a = compact(fact), compact(strip_markers(answer))
    if not f:
        return True
    if f in a:
        return True
    if len(f) < KEYFACT_FUZZY_MIN_CHARS:
        return False
    grams = char_ngrams(f)
    return len(grams & char_ngrams(a)) / len(grams) >= KEYFACT_FUZZY_SHARE


def keyfact_scores(reference: str, answer: str, refused: bool = False) -> dict:
    """Key-fact recall, its length-penalised form keyfact_f, and the facts missed.

    A refusal scores 0 with every fact missed: the related passage shown under it is not an answer."""
    facts = key_facts(reference)
    missing = facts if refused else [f for f in facts if not fact_present(f, answer)]
    recall = 1.0 - len(missing) / len(facts) if facts else 0.0
    length = answer_length(answer)
    return {
        "facts": len(facts),
        "missing_facts": missing,
        "keyfact_recall": recall,
        "keyfact_f": keyfact_f(recall, length),
    }


def keyfact_f(recall: float, length: int) -> float:
    """recall x min(1, LENGTH_BUDGET / length): an answer that pastes a whole chunk scores less than a short exact one."""
    return recall * min(1.0, LENGTH_BUDGET / length) if length > 0 else 0.0


# --------------------------------------------------------------------------- faithfulness & citations


def marker_numbers(answer: str) -> list[int]:
    """Every citation number in the answer, one per marker entry ([1,2] gives 1 and 2)."""
    out: list[int] = []
    for m in MARKER.finditer(answer or ""):
        raw = m.group(1) or m.group(2)
        out.extend(int(p) for p in re.split(r"\s*[,，、]\s*", raw) if p.strip().isdigit())
    return out


def citation_scores(answer: str, citations: Sequence[dict]) -> dict:
    """Markers in the answer and how many point to an entry of citations."""
    valid = {int(c["n"]) for c in citations}
    nums = marker_numbers(answer)
    bad = [n for n in nums if n not in valid]
    return {"markers": len(nums), "valid_markers": len(nums) - len(bad), "invalid_markers": bad}


def sentence_support(answer: str, citations: Sequence[dict], threshold: float = DEFAULT_SUPPORT_THRESHOLD) -> dict:
    """Claim sentences of the answer and those not supported by the passages they cite.

    Same rule as bot.verify, recomputed from the output alone: the claims are bot.verify.claims
    (frame sentences skipped, a table row's labelled pairs one claim); a claim is supported when it
    cites at least one valid [n], >= threshold of its bigrams occur in the cited passages, and every
    number in it occurs there as a whole number (bot.verify.numbers_supported).
    """
    by_n = {int(c["n"]): c.get("text", "") for c in citations}
    count, unsupported = 0, []
    for sentence, body in claims(answer or ""):
        count += 1
        texts = [by_n[n] for n in marker_numbers(sentence) if n in by_n]
        if not texts or support(body, texts) < threshold or not numbers_supported(body, texts):
            unsupported.append(body)
    return {"sentences": count, "unsupported_sentences": unsupported}


# --------------------------------------------------------------------------- one item


def score_item(item: dict, result: dict, threshold: float = DEFAULT_SUPPORT_THRESHOLD) -> dict:
    """All per-item metrics; keys that do not apply to the item's type are None.

    item: the dataset item as a dict (type, answer, answerable, evidence).
    result: the assistant's JSON result (may be {} when the item failed).
    """
    answer = result.get("answer", "") or ""
    refused = bool(result.get("refused", False))
    contexts = result.get("contexts", []) or []
    citations = result.get("citations", []) or []
    typ = item["type"]
    m: dict = {"refused": refused, "answerable": bool(item["answerable"]), "answer_len": answer_length(answer)}

    retrieval = item["answerable"] and typ not in NO_RETRIEVAL_TYPES and item.get("evidence")
    m.update(
        retrieval_scores(item["evidence"], contexts)
        if retrieval
        else {
            "quote_ranks": None,
            "rank": None,
            "rank_all": None,
            "rr": None,
            **{f"hit@{k}": None for k in HIT_KS},
            **{f"hit_all@{k}": None for k in HIT_KS},
        }
    )

    if item["answerable"] and (item.get("answer") or "").strip():
        m.update(keyfact_scores(item["answer"], answer, refused))
    else:
        m.update({"facts": None, "missing_facts": None, "keyfact_recall": None, "keyfact_f": None})

    m.update(citation_scores(answer, citations))
    if refused or not answer.strip():
        m.update({"sentences": 0, "unsupported_sentences": [], "faithfulness": None})
    else:
        s = sentence_support(answer, citations, threshold)
        m.update(s)
        m["faithfulness"] = 1 - len(s["unsupported_sentences"]) / s["sentences"] if s["sentences"] else None
    m["pipeline_unsupported"] = len(result.get("unsupported", []) or [])
    return m


# --------------------------------------------------------------------------- aggregates


def aggregate(rows: Sequence[dict]) -> dict:
    """Headline metrics over result rows (each row: "metrics", "timings_ms", "answerable", "error")."""
    ms = [r["metrics"] for r in rows]
    ret = [m for m in ms if m.get(f"hit@{HIT_KS[0]}") is not None]
    kf = [m for m in ms if m.get("keyfact_recall") is not None]
    answered = [m for m in ms if not m["refused"]]
    unans = [m for m in ms if not m["answerable"]]
    ans = [m for m in ms if m["answerable"]]
    sentences = sum(m["sentences"] for m in answered)
    unsupported = sum(len(m["unsupported_sentences"]) for m in answered)
    pipeline_unsupported = sum(m.get("pipeline_unsupported", 0) for m in answered)
    markers = sum(m["markers"] for m in ms)
    valid = sum(m["valid_markers"] for m in ms)

    out: dict = {"items": len(rows), "errors": sum(1 for r in rows if r.get("error")), "retrieval_items": len(ret)}
    for k in HIT_KS:
        out[f"hit@{k}"] = _mean(m[f"hit@{k}"] for m in ret)
    for k in HIT_KS:
        out[f"hit_all@{k}"] = _mean(m[f"hit_all@{k}"] for m in ret)
    out["mrr"] = _mean(m["rr"] for m in ret)
    out["keyfact_items"] = len(kf)
    out["keyfact_recall"] = _mean(m["keyfact_recall"] for m in kf)
    out["keyfact_f"] = _mean(m["keyfact_f"] for m in kf)
    lengths = [m["answer_len"] for m in kf if not m["refused"]]
    out["answer_len_median"] = median(lengths) if lengths else None
    out["sentences"] = sentences
    out["faithfulness"] = 1 - unsupported / sentences if sentences else None
    out["faithfulness_pipeline"] = 1 - pipeline_unsupported / sentences if sentences else None
    out["markers"] = markers
    out["citation_validity"] = valid / markers if markers else None
    out["unanswerable_items"] = len(unans)
    out["refusal_recall"] = _mean(float(m["refused"]) for m in unans)
    out["false_refusal_rate"] = _mean(float(m["refused"]) for m in ans)
    out["latency_ms"] = latency(r.get("timings_ms") or {} for r in rows if not r.get("error"))
    return out


def latency(timings: Iterable[dict]) -> dict:
    """{stage: {"p50": ms, "p95": ms}} over the timings_ms dicts of the items, "total" included."""
    by_stage: dict[str, list[float]] = {}
    for t in timings:
        for stage, ms in t.items():
            by_stage.setdefault(stage, []).append(float(ms))
    return {
        stage: {f"p{q}": _round(percentile(v, q), 1) for q in LATENCY_PERCENTILES}
        for stage, v in sorted(by_stage.items(), key=lambda kv: (kv[0] == "total", kv[0]))
    }


def _round(x: Optional[float], nd: int = 4) -> Optional[float]:
    return None if x is None else round(x, nd)


def summarise(rows: Sequence[dict]) -> dict:
    """aggregate() overall, per split and per type."""

    def group(key: str) -> dict:
        keys = sorted({r[key] for r in rows})
        return {k: aggregate([r for r in rows if r[key] == k]) for k in keys}

    return {"overall": aggregate(rows), "by_split": group("split"), "by_type": group("type")}


# --------------------------------------------------------------------------- diagnosis


def item_score(m: dict) -> float:
    """One number per item for ranking the worst: mean of the metrics that apply to it (0 = all wrong)."""
    parts = []
    if not m["answerable"]:
        parts.append(float(m["refused"]))
    else:
        parts.append(1.0 - float(m["refused"]))
        if m.get("rr") is not None:
            parts.append(m["rr"])
        if m.get("keyfact_recall") is not None:
            parts.append(m["keyfact_recall"])
    if m.get("faithfulness") is not None:
        parts.append(m["faithfulness"])
    if m["markers"]:
        parts.append(m["valid_markers"] / m["markers"])
    return sum(parts) / len(parts)


def diagnose(row: dict, k: int = max(HIT_KS)) -> list[str]:
    """Why an item scored low, in short Chinese phrases (shown in the report)."""
    m, why = row["metrics"], []
    if row.get("error"):
        why.append(f"运行出错：{row['error']}")
    if m["answerable"] and m["refused"]:
        why.append("误拒答：资料中有答案却拒绝回答")
    if not m["answerable"] and not m["refused"]:
        why.append("漏拒答：资料中没有答案却给出了回答")
    ranks = m.get("quote_ranks")
    if ranks:
        missed = [ev["quote"] for ev, r in zip(row.get("evidence", []), ranks) if r is None or r > k]
        if missed:
            why.append(f"证据未检索到（前{k}条中没有）：" + "；".join(q[:40] for q in missed))
        elif m.get("rank") and m["rank"] > 1:
            why.append(f"证据排在第{m['rank']}位")
    if m.get("missing_facts"):
        why.append("缺少要点：" + "；".join(m["missing_facts"]))
    if m.get("keyfact_recall") and m.get("keyfact_f") is not None and m["keyfact_f"] < m["keyfact_recall"]:
        why.append(f"回答偏长（{m['answer_len']}字）")
    if m.get("unsupported_sentences"):
        why.append("无依据的句子：" + "；".join(s[:40] for s in m["unsupported_sentences"]))
    if m.get("invalid_markers"):
        why.append("无效引用编号：" + "、".join(f"[{n}]" for n in m["invalid_markers"]))
    return why
