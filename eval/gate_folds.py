"""Out-of-fold refusal curves of the gate on CMRC's training rows, from a training cache (`python -m
bot.answering.train --cache X.npz`): the instrument for comparing gate features or training rows without a retrain.

A single calib curve at 2% false refusals rests on 9 of calib's 450 answerable questions, so one fit moves it by
several points. Here every CMRC training row gets its probability from a gate (the training's own trees and
weights) fitted without its paragraph: folds are grouped by paragraph, because grouping by question leaks a
paragraph's other questions and flatters features read off the paragraph. The union's curve (a refusal of the
gate or of the rule judge) is read at each false-refusal budget and averaged over several fold assignments.
Columns of the gate's inputs (`--drop`) or groups of rows (`--without`, e.g. `served`) can be left out."""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

FOLDS = 5
ASSIGNMENTS = 3  # fold assignments averaged
BUDGETS = (0.02, 0.05)  # the false-refusal budgets
NEGATIVE_KINDS = ("hard", "swapped", "removed")
RULE_INPUT = "rule_ok"  # the rule judge's verdict among the gate's inputs (bot.answering.model.RULE_VERDICT)
QUESTION_SUFFIX = re.compile(r"_QUERY_\d+$")  # CMRC question ids: <paragraph id>_QUERY_<n>


def paragraph_of(qid: str) -> str:
    """The CMRC paragraph a question id belongs to (DEV_1056_QUERY_2 -> DEV_1056)."""
    return QUESTION_SUFFIX.sub("", qid)


def union_curve(p: np.ndarray, rule_ok: np.ndarray, y: np.ndarray, kind: np.ndarray, budget: float) -> dict:
    """Refused share of each negative kind at the highest gate threshold whose union (p below it, or the rule
    judge refusing) refuses at most `budget` of the answerable rows (y == 1), chosen as training chooses its
    operating point (train.decider_threshold). Answerable rows with y == 0 (no candidate holds the answer) count
    on neither side."""
    from bot.answering.model import UNION, refused
    from bot.answering.train import ANSWERABLE, decider_threshold

    rows = [
        {"kind": str(k), "present": bool(label), "p": float(x), "rule_ok": bool(ok)}
        for x, ok, label, k in zip(p, rule_ok, y, kind)
    ]
    answerable = [r for r in rows if r["kind"] == ANSWERABLE and r["present"]]
    t = decider_threshold(rows, UNION, 1.0, int(budget * len(answerable)))

    def share(part: list[dict]) -> float:
        return float(np.mean([refused(UNION, r["p"], r["rule_ok"], t, 1.0) for r in part])) if part else float("nan")

    out = {"false_refusals": share(answerable)}
    for k in NEGATIVE_KINDS:
        out[k] = share([r for r in rows if r["kind"] == k])
    return out


def curves(
    cache: Path,
    *,
    drop: Sequence[str] = (),
    without: Sequence[str] = (),
    folds: int = FOLDS,
    assignments: int = ASSIGNMENTS,
    budgets: Sequence[float] = BUDGETS,
) -> dict[float, dict]:
    """Budget -> the CMRC training rows' out-of-fold union curve (averaged over fold assignments)."""
    from bot.answering.train import CMRC, fit_gate, hash_fold

    d = np.load(cache)
    names = tuple(str(n) for n in d["names"])  # the cache's own inputs: a branch's cache reads as well as main's
    if RULE_INPUT not in names:
        raise ValueError(f"{cache}: the cache has no {RULE_INPUT} column")
    unknown = sorted(set(drop) - set(names))
    if unknown:
        raise ValueError(f"unknown gate inputs: {', '.join(unknown)}")
    keep_rows = ~np.isin(d["group"], list(without))
    G, y, w = d["G"][keep_rows], d["y"][keep_rows], d["w"][keep_rows]
    group, kind = d["group"][keep_rows], d["kind"][keep_rows]
    paragraph = np.array([paragraph_of(str(q)) for q in d["qid"][keep_rows]])
    rule_ok = G[:, names.index(RULE_INPUT)] > 0.5  # before any column is dropped
    cols = [i for i, n in enumerate(names) if n not in drop]
    cmrc = group == CMRC
    found: dict[float, list[dict]] = {b: [] for b in budgets}
    for salt in range(assignments):
        fold = np.array([hash_fold(x, folds, salt) for x in paragraph])
        p = np.zeros(len(y))
        for f in range(folds):
            held = fold == f
            gate = fit_gate(G[~held][:, cols], y[~held], w[~held], names=tuple(names[i] for i in cols))
            p[held] = gate.prob(G[held][:, cols])
        for b in budgets:
            found[b].append(union_curve(p[cmrc], rule_ok[cmrc], y[cmrc], kind[cmrc], b))
    return {b: {k: float(np.mean([r[k] for r in rs])) for k in rs[0]} for b, rs in found.items()}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--cache", type=Path, required=True, help="训练缓存（python -m bot.answering.train --cache 写出的 npz）"
    )
    p.add_argument("--drop", default="", help="不用的门控输入列（逗号分隔，如 drop_gain,subject_missing）")
    p.add_argument("--without", default="", help="不用的训练行组（逗号分隔，如 served,heldout）")


def _listed(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def run(args: argparse.Namespace) -> int:
    if not args.cache.is_file():
        print(f"找不到训练缓存 {args.cache}，请先运行 python -m bot.answering.train --cache {args.cache}。")
        return 2
    try:
        result = curves(args.cache, drop=_listed(args.drop), without=_listed(args.without))
    except ValueError as e:
        print(f"无法计算：{e}")
        return 2
    for budget, r in result.items():
        print(
            f"误拒 ≤ {budget:.0%}（实际 {r['false_refusals']:.2%}）：hard {r['hard']:.3f}  swapped {r['swapped']:.3f}  "
            f"removed {r['removed']:.3f}"
        )
    return 0
