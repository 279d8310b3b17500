"""The blind genre set (eval/blind/): its items validate over its own corpus, all of them are test items, and it
shares no document, place or id with the sets the gate trains on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.dataset import load_dataset
from ingest.loaders import load
from tests.eval.genre_sets import corpus_documents

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
BLIND = ROOT / "eval" / "blind"
TRAINED_ON = {  # dataset -> its corpus folders
    ROOT / "eval" / "dataset.jsonl": [ROOT / "eval" / "corpus", ROOT / "knowledge"],
    ROOT / "eval" / "heldout" / "dataset.jsonl": [ROOT / "eval" / "heldout" / "corpus"],
    ROOT / "eval" / "dev2" / "dataset.jsonl": [ROOT / "eval" / "dev2" / "corpus"],
}
PLACE = "柳河镇"
SAMPLE_MARK = "示例材料，仅供评测使用"


def test_blind_set_validates_is_all_test_and_cites_every_document():
    items = load_dataset(BLIND / "dataset.jsonl", [BLIND / "corpus"])
    assert len(items) >= 50
    assert {it.split for it in items} == {"test"}
    assert all(it.id.startswith("bl-") for it in items)
    assert sum(not it.answerable for it in items) >= 10
    docs = corpus_documents(BLIND / "corpus")
    assert {src for it in items for src in it.sources} == set(docs)
    for name, doc in docs.items():
        assert SAMPLE_MARK in doc.text[:200] and PLACE in doc.text, name


def test_blind_set_shares_nothing_with_the_sets_the_gate_trains_on():
    rows = [json.loads(line) for line in (BLIND / "dataset.jsonl").read_text(encoding="utf-8").splitlines() if line]
    files = {p.name for p in (BLIND / "corpus").iterdir()}
    for dataset, folders in TRAINED_ON.items():
        other = [json.loads(line) for line in dataset.read_text(encoding="utf-8").splitlines() if line.strip()]
        # Questions may coincide (2026年度冬训分成哪几个阶段？ is asked of two towns); ids and documents may not.
        assert not {r["id"] for r in rows} & {o["id"] for o in other}
        assert not files & {p.name for folder in folders for p in folder.iterdir()}
        for folder in folders:
            for p in folder.iterdir():
                if p.is_file():
                    assert PLACE not in load(p).text, p.name
