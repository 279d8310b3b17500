"""`python -m eval gate-folds`: the gate's out-of-fold union curve on CMRC's training rows of a training cache,
folds grouped by paragraph, columns and row groups left out on request."""

from __future__ import annotations

import numpy as np
import pytest

from eval.__main__ import main
from eval.gate_folds import curves, paragraph_of, union_curve

KINDS = ("answerable", "hard", "swapped", "removed")


def test_a_question_id_names_its_paragraph():
    assert paragraph_of("DEV_1056_QUERY_2") == "DEV_1056"
    assert paragraph_of("TRIAL_7_QUERY_11") == "TRIAL_7"
    assert paragraph_of("seed-list-04") == "seed-list-04"  # the project's ids are their own item


def test_the_union_curve_stops_at_the_budget_and_counts_the_rule_judge():
    p = np.array([0.9, 0.8, 0.7, 0.05, 0.5, 0.02, 0.01, 0.6])
    rule_ok = np.array([True, True, True, True, True, True, True, False])
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    kind = np.array(["answerable"] * 4 + ["hard", "hard", "swapped", "removed"])
    none = union_curve(p, rule_ok, y, kind, 0.0)  # threshold 0.05: the answerable 0.05 is kept
    assert none == {"false_refusals": 0.0, "hard": 0.5, "swapped": 1.0, "removed": 1.0}
    quarter = union_curve(p, rule_ok, y, kind, 0.25)  # one answerable may go: threshold 0.7
    assert quarter == {"false_refusals": 0.25, "hard": 1.0, "swapped": 1.0, "removed": 1.0}


def _cache(tmp_path, rng):
    """CMRC rows whose `signal` column tells answerable from hard negatives; a few genre rows."""
    rows = []
    for para in range(80):
        for q in range(2):
            for k in KINDS:
                rows.append((f"DEV_{para}_QUERY_{q}", k, "cmrc"))
    rows += [(f"seed-{i}", KINDS[i % 4], "served") for i in range(40)]
    y = np.array([int(k == "answerable") for _, k, _ in rows])
    signal = np.where(y == 1, 1.0, np.array([0.0 if k == "hard" else 1.0 for _, k, _ in rows]))
    G = np.column_stack([signal + rng.normal(0, 0.3, len(rows)), rng.normal(0, 1, len(rows)), np.ones(len(rows))])
    path = tmp_path / "cache.npz"
    np.savez_compressed(
        path,
        G=G,
        y=y,
        w=np.ones(len(rows)),
        qid=np.array([q for q, _, _ in rows]),
        kind=np.array([k for _, k, _ in rows]),
        group=np.array([g for _, _, g in rows]),
        names=np.array(["signal", "noise", "rule_ok"]),
    )
    return path


def test_a_column_that_tells_hard_negatives_apart_shows_and_leaving_it_out_loses_it(tmp_path):
    path = _cache(tmp_path, np.random.default_rng(0))
    full = curves(path, assignments=1, budgets=(0.05,))[0.05]
    blind = curves(path, drop=["signal"], assignments=1, budgets=(0.05,))[0.05]
    assert full["false_refusals"] <= 0.05 and blind["false_refusals"] <= 0.05
    assert full["hard"] > 0.8
    assert blind["hard"] < 0.3
    assert full["swapped"] < 0.5  # swapped rows look answerable on both columns
    without = curves(path, without=["served"], assignments=1, budgets=(0.05,))[0.05]
    assert without["hard"] > 0.8


def test_unknown_columns_and_a_missing_cache_get_a_chinese_message(tmp_path, capsys):
    path = _cache(tmp_path, np.random.default_rng(1))
    with pytest.raises(ValueError, match="unknown gate inputs: nope"):
        curves(path, drop=["nope"], assignments=1)
    assert main(["gate-folds", "--cache", str(path), "--drop", "nope"]) == 2
    assert "无法计算" in capsys.readouterr().out
    assert main(["gate-folds", "--cache", str(tmp_path / "missing.npz")]) == 2
    assert "找不到训练缓存" in capsys.readouterr().out
