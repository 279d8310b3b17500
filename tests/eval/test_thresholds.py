"""The gate and its thresholds on hand-made summaries (no KB): thresholds from a measured summary pass it
and fail a drop, a missing metric fails, the thresholds' split is read, and the CLI's exit codes."""

from __future__ import annotations

import copy
import json

import pytest

from eval.__main__ import main as eval_main
from eval.gate import gate, thresholds_from

pytestmark = pytest.mark.unit


def _summary(**overrides) -> dict:
    dev = {
        "items": 10,
        "errors": 0,
        "hit@1": 0.7,
        "hit@5": 0.9,
        "mrr": 0.8,
        "keyfact_recall": 0.6,
        "keyfact_f": 0.55,
        "faithfulness": 0.98,
        "citation_validity": 1.0,
        "refusal_recall": 0.8,
        "false_refusal_rate": 0.1,
        "answer_len_median": 40,
    }
    dev.update(overrides)
    return {
        "config": {"mode": "extractive", "retriever": "hybrid", "commit": "abc"},
        "overall": dict(dev),
        "by_split": {"dev": dev},
        "by_type": {},
    }


def test_thresholds_from_a_summary_pass_that_summary_and_fail_a_drop():
    base = _summary()
    thresholds = thresholds_from(base, margin=0.03)
    assert thresholds["min"]["hit@1"] == pytest.approx(0.67)
    assert thresholds["min"]["citation_validity"] == 1.0  # exact, no margin
    assert thresholds["max"]["false_refusal_rate"] == pytest.approx(0.13)
    assert thresholds["max"]["answer_len_median"] == 44
    assert "_comment" in thresholds and thresholds["split"] == "dev"
    assert all(r.ok for r in gate(base, thresholds))

    for metric, value in (
        ("hit@5", 0.85),
        ("false_refusal_rate", 0.2),
        ("answer_len_median", 60),
        ("citation_validity", 0.99),
        ("errors", 1),
    ):
        dropped = _summary(**{metric: value})
        assert [r.metric for r in gate(dropped, thresholds) if not r.ok] == [metric]


def test_missing_metric_fails_the_gate():
    thresholds = thresholds_from(_summary())
    summary = _summary(refusal_recall=None)
    assert [r.metric for r in gate(summary, thresholds) if not r.ok] == ["refusal_recall"]


def test_gate_reads_the_thresholds_split_not_the_overall_block():
    thresholds = thresholds_from(_summary())
    summary = _summary()
    summary["overall"]["hit@1"] = 0.1  # a weak test split must not fail a gate set on dev
    assert all(r.ok for r in gate(summary, thresholds))


def test_gate_cli_exit_codes(tmp_path, capsys):
    good = _summary()
    (tmp_path / "thresholds.json").write_text(json.dumps(thresholds_from(good)), encoding="utf-8")
    (tmp_path / "good.json").write_text(json.dumps(good), encoding="utf-8")
    bad = copy.deepcopy(good)
    bad["by_split"]["dev"]["keyfact_recall"] = 0.4
    (tmp_path / "bad.json").write_text(json.dumps(bad), encoding="utf-8")
    args = ["gate", "--thresholds", str(tmp_path / "thresholds.json"), "--summary"]
    assert eval_main(args + [str(tmp_path / "good.json")]) == 0
    assert eval_main(args + [str(tmp_path / "bad.json")]) == 1
    out = capsys.readouterr()
    assert "keyfact_recall" in out.out and "未通过" in out.out and "质量门槛未通过" in out.err
    assert eval_main(args + [str(tmp_path / "missing.json")]) == 2


def test_thresholds_cli_writes_a_file_the_gate_accepts(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps(_summary()), encoding="utf-8")
    out = tmp_path / "thresholds.json"
    assert (
        eval_main(["thresholds", "--from", str(tmp_path / "summary.json"), "--margin", "0.05", "--out", str(out)]) == 0
    )
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["min"]["hit@1"] == pytest.approx(0.65)
    assert eval_main(["gate", "--summary", str(tmp_path / "summary.json"), "--thresholds", str(out)]) == 0
