"""The second blind genre set (eval/blind2/): its items validate over its own corpus, all of them are test items,
and it shares no document, place or id with the project's other sets (all of which have been tuned on)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.dataset import load_dataset
from ingest.loaders import load
from tests.eval.genre_sets import corpus_documents

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
BLIND2 = ROOT / "eval" / "blind2"
OTHER_SETS = {  # dataset -> its corpus folders
    ROOT / "eval" / "dataset.jsonl": [ROOT / "eval" / "corpus", ROOT / "knowledge"],
    ROOT / "eval" / "heldout" / "dataset.jsonl": [ROOT / "eval" / "heldout" / "corpus"],
    ROOT / "eval" / "dev2" / "dataset.jsonl": [ROOT / "eval" / "dev2" / "corpus"],
    ROOT / "eval" / "blind" / "dataset.jsonl": [ROOT / "eval" / "blind" / "corpus"],
}
PLACE = "石桥镇"
SAMPLE_MARK = "示例材料，仅供评测使用"


def test_blind2_set_validates_is_all_test_and_cites_every_document():
    items = load_dataset(BLIND2 / "dataset.jsonl", [BLIND2 / "corpus"])
    assert len(items) >= 50
    assert {it.split for it in items} == {"test"}
    assert all(it.id.startswith("b2-") for it in items)
    assert sum(not it.answerable for it in items) >= 10
    docs = corpus_documents(BLIND2 / "corpus")
    assert {src for it in items for src in it.sources} == set(docs)
    for name, doc in docs.items():
        assert SAMPLE_MARK in doc.text[:200], name
    # The speech says 全镇 only; the place is named by the others.
    assert sum(PLACE in doc.text for doc in docs.values()) >= len(docs) - 1


def test_blind2_set_shares_nothing_with_the_other_sets():
    # Compared by ids, file names and the place only, so a failure prints nothing of the set's items.
    rows = [json.loads(line) for line in (BLIND2 / "dataset.jsonl").read_text(encoding="utf-8").splitlines() if line]
    ids = {r["id"] for r in rows}
    files = {p.name for p in (BLIND2 / "corpus").iterdir()}
    for dataset, folders in OTHER_SETS.items():
        other = [json.loads(line) for line in dataset.read_text(encoding="utf-8").splitlines() if line.strip()]
        assert len(ids & {o["id"] for o in other}) == 0, dataset
        assert len(files & {p.name for folder in folders for p in folder.iterdir()}) == 0, dataset
        for folder in folders:
            for p in folder.iterdir():
                if p.is_file():
                    assert PLACE not in load(p).text, p.name
