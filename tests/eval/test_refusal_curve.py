"""The refusal curve of the evaluation report and of the CMRC suite (eval/report.py, eval/cmrc.py)."""

import pytest

from eval.cmrc import summarise
from eval.report import curve_blocks, refusal_curve

pytestmark = pytest.mark.unit


def _row(p, answerable=True, kind="fact"):
    return {"answerable_probability": p, "answerable": answerable, "type": kind}


def test_refusal_curve_counts_refused_unanswerable_items_as_hits():
    rows = [_row(0.9), _row(0.2), _row(0.05, False), _row(0.4, False), _row(None, False), _row(0.01, kind="outline")]
    low, high = refusal_curve(rows, [0.1, 0.5])
    assert low == {"threshold": 0.1, "precision": 1.0, "recall": 0.5, "false_refusals": 0.0}
    assert high["recall"] == 1.0 and high["false_refusals"] == 0.5 and high["precision"] == pytest.approx(2 / 3)


def test_the_curve_is_the_deployed_deciders_with_the_rule_judges_refusals():
    rows = [
        {**_row(0.9), "rule_ok": True},
        {**_row(0.8), "rule_ok": False},  # the rule judge refuses an answerable item
        {**_row(0.6, False), "rule_ok": False},  # ... and an unanswerable one the gate would answer
        {**_row(0.05, False), "rule_ok": True},
        _row(0.03, False),  # a row from before rule verdicts were recorded: the judge counts as answering
    ]
    (alone,) = refusal_curve(rows, [0.1])
    assert alone["recall"] == pytest.approx(2 / 3) and alone["false_refusals"] == 0.0
    (union,) = refusal_curve(rows, [0.1], "union")
    assert union["recall"] == 1.0 and union["false_refusals"] == 0.5
    (cascade,) = refusal_curve(rows, [0.1], "cascade", answer_above=0.7)  # the gate overrules the judge at 0.8
    assert cascade["recall"] == 1.0 and cascade["false_refusals"] == 0.0


def test_curve_blocks_mark_the_operating_point():
    curve = refusal_curve([_row(0.9), _row(0.05, False)], [0.1, 0.3])
    table = next(b for b in curve_blocks(curve, 0.3, [("recall", "拒答召回")], "x.png") if b[0] == "table")
    assert [row[0] for row in table[2]] == ["0.100", "→ 0.300"]


def test_cmrc_summary_counts_negatives_whose_answer_is_elsewhere_apart():
    rows = [
        {"kind": "answerable", "p": 0.9, "hit": True, "chars": 30},
        {"kind": "answerable", "p": 0.01, "hit": False, "chars": 50},
        {"kind": "hard", "p": 0.01, "present": False},
        {"kind": "hard", "p": 0.9, "present": True},  # another paragraph repeats the fact
    ]
    s = summarise(rows, 0.1)
    assert s["span_recall"] == 0.5 and s["false_refusals"] == 0.5
    assert s["hard_refused"] == 0.5 and s["hard_clean_n"] == 1 and s["hard_clean_refused"] == 1.0
    assert s["hard_precision"] == 0.5
