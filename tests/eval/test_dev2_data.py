"""The second development set (eval/dev2/): its items validate over its own corpus, it is all dev data, it shares
nothing with the other two sets, and the refusal gate's training reads it as a genre set of its own."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from bot.answering.train import CROSS, DEV2, GENRE_GROUPS, GENRE_SETS, genre_items
from eval.dataset import Item, load_dataset
from tests.eval.genre_sets import corpus_documents

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DEV2_DIR = ROOT / "eval" / "dev2"
DATASET = DEV2_DIR / "dataset.jsonl"
CORPUS = DEV2_DIR / "corpus"
OTHER_SETS = {  # dataset -> its corpus folders
    ROOT / "eval" / "dataset.jsonl": [ROOT / "eval" / "corpus", ROOT / "knowledge"],
    ROOT / "eval" / "heldout" / "dataset.jsonl": [ROOT / "eval" / "heldout" / "corpus"],
}
PLACE = "青山街道"
OTHER_PLACES = ("青溪区", "云岭县")
SAMPLE_MARK = "示例材料，仅供开发评测使用"
MIN_CITED = 5  # items citing each document
_HANZI = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def items() -> list[Item]:
    return load_dataset(DATASET, [CORPUS])


def test_dev2_validates_over_its_own_corpus_and_is_all_dev(items):
    assert len(items) >= 70
    assert {it.split for it in items} == {"dev"}
    assert all(it.id.startswith("d2-") for it in items)
    kinds = Counter(it.type for it in items)
    assert kinds["cross"] >= 8 and kinds["paraphrase"] >= 10 and kinds["unanswerable"] >= 10, kinds
    assert 0.12 <= sum(not it.answerable for it in items) / len(items) <= 0.25


def test_every_document_is_cited_and_marked_as_sample(items):
    docs = corpus_documents(CORPUS)
    cited = Counter(src for it in items for src in it.sources)
    assert set(cited) == set(docs)
    assert min(cited.values()) >= MIN_CITED, cited
    for name, doc in docs.items():
        assert SAMPLE_MARK in doc.text[:200], name
        assert PLACE in doc.text, name
        assert not any(other in doc.text for other in OTHER_PLACES), name
        assert len(_HANZI.findall(doc.text)) >= 250, name  # the shortest, the 2025 summary, has 283


def test_dev2_shares_no_question_id_or_file_with_the_other_sets(items):
    for dataset, folders in OTHER_SETS.items():
        rows = [json.loads(line) for line in dataset.read_text(encoding="utf-8").splitlines() if line.strip()]
        assert not {it.question for it in items} & {r["question"] for r in rows}
        assert not {it.id for it in items} & {r["id"] for r in rows}
        names = {p.name for folder in folders for p in folder.iterdir()}
        assert not names & {p.name for p in CORPUS.iterdir()}


def test_the_gate_training_reads_dev2_as_its_own_genre_set():
    assert DEV2 in GENRE_GROUPS
    dev2 = next(gs for gs in GENRE_SETS if gs.name == DEV2)
    assert ROOT / dev2.dataset == DATASET and [ROOT / f for f in dev2.folders] == [CORPUS] and dev2.splits is None
    assert dev2.vocab_from != DEV2 and dev2.cross_on not in (None, DEV2)
    assert {gs.name for gs in GENRE_SETS} | {CROSS} == set(GENRE_GROUPS)
    # Follow-ups and outlines cannot be asked alone; every other item is a training question.
    asked = genre_items(DATASET, None)
    rows = [json.loads(line) for line in DATASET.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert {it["id"] for it in asked} == {r["id"] for r in rows if not r["history"] and r["type"] != "outline"}
