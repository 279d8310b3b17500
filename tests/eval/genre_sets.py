"""Reading the genre's question sets (eval/heldout, eval/dev2, eval/blind, eval/blind2) in their tests."""

from __future__ import annotations

import json
from pathlib import Path

from eval.dataset import load_dataset
from ingest.loaders import LoadedDocument, load

ROOT = Path(__file__).resolve().parents[2]
SETS = {  # every question set of the project: dataset -> its corpus folders
    ROOT / "eval" / "dataset.jsonl": [ROOT / "eval" / "corpus", ROOT / "knowledge"],
    ROOT / "eval" / "heldout" / "dataset.jsonl": [ROOT / "eval" / "heldout" / "corpus"],
    ROOT / "eval" / "dev2" / "dataset.jsonl": [ROOT / "eval" / "dev2" / "corpus"],
    ROOT / "eval" / "blind" / "dataset.jsonl": [ROOT / "eval" / "blind" / "corpus"],
    ROOT / "eval" / "blind2" / "dataset.jsonl": [ROOT / "eval" / "blind2" / "corpus"],
}
SAMPLE_MARK = "示例材料，仅供评测使用"


def corpus_documents(folder: Path) -> dict[str, LoadedDocument]:
    """File name -> the document as the system reads it, for every file of a set's corpus folder."""
    return {p.name: load(p) for p in sorted(folder.iterdir()) if p.is_file()}


def check_blind_set(folder: Path, id_prefix: str, place: str) -> None:
    """A blind set written from its own documents: it validates over them, every item is a test item with the set's
    id prefix, at least 10 are unanswerable, every document is cited and marked as sample material, and the place
    is named (a speech may say only 全镇: all documents but one)."""
    items = load_dataset(folder / "dataset.jsonl", [folder / "corpus"])
    assert len(items) >= 50
    assert {it.split for it in items} == {"test"}
    assert all(it.id.startswith(id_prefix) for it in items)
    assert sum(not it.answerable for it in items) >= 10
    docs = corpus_documents(folder / "corpus")
    assert {src for it in items for src in it.sources} == set(docs)
    for name, doc in docs.items():
        assert SAMPLE_MARK in doc.text[:200], name
    assert sum(place in doc.text for doc in docs.values()) >= len(docs) - 1


def check_shares_nothing(folder: Path, place: str) -> None:
    """A set shares no item id, document file or place with the project's other sets. Compared by ids, file names
    and the place only, so a failure prints nothing of the set's items. (Questions may coincide: 2026年度冬训分成哪几个
    阶段？ is asked of two towns.)"""
    dataset = folder / "dataset.jsonl"
    ids = {json.loads(line)["id"] for line in dataset.read_text(encoding="utf-8").splitlines() if line.strip()}
    files = {p.name for p in (folder / "corpus").iterdir()}
    for other, folders in SETS.items():
        if other == dataset:
            continue
        rows = [json.loads(line) for line in other.read_text(encoding="utf-8").splitlines() if line.strip()]
        assert len(ids & {r["id"] for r in rows}) == 0, other
        assert len(files & {p.name for f in folders for p in f.iterdir()}) == 0, other
        for f in folders:
            for p in f.iterdir():
                if p.is_file():
                    assert place not in load(p).text, p.name
