"""The CI quality gate: the full evaluation on the development split must stay above eval/thresholds.json.

The run (extractive answerer, hybrid retrieval, fresh KB over knowledge/ + eval/corpus/ from the
session fixture) writes its report to tests/output/eval/ so CI keeps it as an artefact. The gate's
own rules on hand-made summaries are in test_thresholds.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from eval.dataset import DEFAULT_DATASET, read_items
from eval.gate import DEFAULT_THRESHOLDS, gate, gate_table
from eval.run import run

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
REPORT_DIR = REPO_ROOT / "tests" / "output" / "eval"
SPLIT = "dev"


@pytest.fixture(scope="module")
def dev_run(dev_corpus_kb):
    """summary of the full development-split evaluation (outputs in REPORT_DIR)."""
    return run(
        DEFAULT_DATASET,
        kb=dev_corpus_kb,
        settings=dev_corpus_kb.settings,
        out_dir=REPORT_DIR,
        mode="extractive",
        retriever="hybrid",
        split=SPLIT,
        progress=False,
    )


def test_dev_set_meets_thresholds(dev_run):
    thresholds = json.loads(DEFAULT_THRESHOLDS.read_text(encoding="utf-8"))
    rows = gate(dev_run, thresholds)
    assert {r.metric for r in rows} >= {
        "hit@1",
        "hit@5",
        "keyfact_recall",
        "faithfulness",
        "citation_validity",
        "refusal_recall",
        "false_refusal_rate",
        "answer_len_median",
    }
    failed = [r.metric for r in rows if not r.ok]
    assert not failed, f"quality gate failed on {failed} (report: {REPORT_DIR / 'report.html'})\n{gate_table(rows)}"


def test_run_covers_every_dev_item_and_writes_outputs(dev_run):
    dev_ids = [it.id for it in read_items(DEFAULT_DATASET) if it.split == SPLIT]
    results = [json.loads(line) for line in (REPORT_DIR / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in results] == dev_ids
    assert dev_run["config"]["items"] == len(dev_ids) == dev_run["overall"]["items"]
    for r in results:
        assert {"id", "type", "split", "answer", "refused", "citations", "contexts", "timings_ms", "metrics"} <= set(r)
    assert json.loads((REPORT_DIR / "summary.json").read_text(encoding="utf-8"))["overall"] == dev_run["overall"]
    assert set(dev_run["by_split"]) == {SPLIT}
    assert "total" in dev_run["overall"]["latency_ms"]


def test_report_is_self_contained(dev_run):
    page = (REPORT_DIR / "report.html").read_text(encoding="utf-8")
    # metrics by type + latency histogram + the refusal curve with its operating point
    assert page.count("data:image/png;base64,") == 3 and "拒答曲线" in page
    links = re.findall(r"""(?:src|href)=["']([^"']*)""", page)
    assert links and all(link.startswith(("data:", "#")) for link in links)  # nothing fetched from elsewhere
    assert "<style>" in page
    md = (REPORT_DIR / "report.md").read_text(encoding="utf-8")
    assert "ragas" in md and "DONGXUN_LLM_BASE_URL" in md  # offline: the skip and its reason are stated
    worst = re.findall(r"^### (\S+?)（", md, flags=re.M)
    assert len(worst) == 10 and all(w in page for w in worst)
