"""The CI gate: a summary's headline metrics against eval/thresholds.json, and thresholds refreshed from a run."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Optional

from eval.dataset import REPO_ROOT

DEFAULT_THRESHOLDS = REPO_ROOT / "eval" / "thresholds.json"
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
