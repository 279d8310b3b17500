"""The blind held-out evaluation set (eval/heldout/): its items validate over its own corpus,
the counts are as designed, and every corpus file loads in the format it is meant to exercise."""

from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from eval.dataset import SPLITS, Item, load_dataset
from ingest.loaders import load
from tests.eval.genre_sets import corpus_documents

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
HELDOUT = ROOT / "eval" / "heldout"
DATASET = HELDOUT / "dataset.jsonl"
CORPUS = HELDOUT / "corpus"
DEV_DATASET = ROOT / "eval" / "dataset.jsonl"
DEV_CORPUS = ROOT / "eval" / "corpus"

N_ITEMS = 48
COUNTS = {
    "unanswerable": 8,
    "list": 6,
    "table": 6,
    "paraphrase": 6,
    "multiturn": 4,
    "cross": 3,
    "outline": 2,
    "fact": 13,
}
HELDOUT_SPLIT = "test"  # eval.dataset allows only dev/test; held-out items are never tuned on
SAMPLE_MARK = "示例材料，仅供评测使用"
DOC_HANZI_RANGE = (800, 2000)
MIN_TABLE_ROWS = 12
TABLE_COLUMNS = ["日期", "时间", "课程", "主讲人", "地点"]
DEV_PLACE = "青溪区"
HELDOUT_PLACE = "云岭县"

DOCX = "关于开展2025年度全县农村党员冬训工作的通知.docx"
HTML = "云岭县2025年度乡音宣讲进村入户活动实施方案.html"
MD = "2025年度农村党员冬训示范班课程表.md"
PDF = "云岭县农村党员冬训考勤与学分管理细则.pdf"
GBK_TXT = "云岭县2024年度农村党员冬训工作总结.txt"
SPEECH = "在全县冬训动员部署会上的讲话节选.txt"
ALL_DOCS = {DOCX, HTML, MD, PDF, GBK_TXT, SPEECH}

_HANZI = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def items() -> list[Item]:
    return load_dataset(DATASET, [CORPUS])


@pytest.fixture(scope="module")
def docs():
    return corpus_documents(CORPUS)


def _make_corpus_module():
    spec = importlib.util.spec_from_file_location("heldout_make_corpus", HELDOUT / "make_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- dataset


def test_heldout_dataset_validates_over_its_own_corpus_with_designed_counts(items):
    assert len(items) == N_ITEMS
    assert Counter(it.type for it in items) == COUNTS
    assert HELDOUT_SPLIT in SPLITS
    assert {it.split for it in items} == {HELDOUT_SPLIT}
    # About a sixth unanswerable.
    assert abs(sum(not it.answerable for it in items) / len(items) - 1 / 6) < 0.02


def test_every_document_is_cited_and_only_heldout_documents_are(items):
    cited = Counter(src for it in items for src in it.sources)
    assert set(cited) == ALL_DOCS
    assert min(cited.values()) >= 4, cited


def test_heldout_items_are_independent_of_the_dev_set(items, docs):
    dev = [json.loads(line) for line in DEV_DATASET.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert not {it.question for it in items} & {d["question"] for d in dev}
    assert not {it.id for it in items} & {d["id"] for d in dev}
    assert not ALL_DOCS & {p.name for p in DEV_CORPUS.iterdir()}
    for name, doc in docs.items():
        assert DEV_PLACE not in doc.text, name
        assert HELDOUT_PLACE in doc.text, name


def test_heldout_answers_are_short_key_facts(items):
    for it in items:
        assert len(it.answer) <= 80, it.id
        if it.type == "list":
            assert len(it.answer.split("；")) >= 3, it.id


# --------------------------------------------------------------------------- corpus formats


def test_corpus_has_six_sample_documents_of_the_right_length(docs):
    assert set(docs) == ALL_DOCS
    for name, doc in docs.items():
        assert SAMPLE_MARK in doc.text[:200], name
        hanzi = len(_HANZI.findall(doc.text))
        assert DOC_HANZI_RANGE[0] <= hanzi <= DOC_HANZI_RANGE[1], (name, hanzi)


def test_docx_keeps_word_heading_levels(docs):
    doc = docs[DOCX]
    headings = {doc.text[o:].split("\n", 1)[0]: level for o, level in doc.headings.items()}
    assert headings["一、总体要求"] == 1
    assert headings["（一）冬训时间"] == 2
    assert set(headings.values()) == {1, 2}
    assert doc.title == "关于开展2025年度全县农村党员冬训工作的通知"
    assert "1．“书记讲第一课”" in doc.text


def test_pdf_has_two_pages_split_between_chapters(docs):
    doc = docs[PDF]
    assert [n for _, _, n in doc.pages] == [1, 2]
    (s1, e1, _), (s2, e2, _) = doc.pages
    assert "第一章" in doc.text[s1:e1] and "第四章" not in doc.text[s1:e1]
    assert doc.text[s2:e2].lstrip().startswith("第四章")
    assert "第二十条" in doc.text[s2:e2]


def test_gbk_summary_is_not_utf8_and_decodes_to_chinese(docs):
    raw = (CORPUS / GBK_TXT).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    raw.decode("gbk")  # plain GBK, not only GB18030 four-byte sequences
    text = docs[GBK_TXT].text
    assert text.startswith("云岭县2024年度农村党员冬训工作总结")
    assert "参训率95.7%" in text and "\r" not in text


def test_speech_is_utf8_with_enumerations(docs):
    (CORPUS / SPEECH).read_bytes().decode("utf-8")
    text = docs[SPEECH].text
    for marker in ("一要", "二要", "三要", "一是", "二是", "三是"):
        assert marker in text, marker


def test_html_headings_and_markdown_table(docs):
    html = docs[HTML]
    assert set(html.headings.values()) == {1, 2, 3}
    assert "首页" not in html.text  # <nav> is dropped
    md = docs[MD]
    rows = [line for line in md.text.split("\n") if line.startswith("| 12月")]
    assert len(rows) >= MIN_TABLE_ROWS
    assert all(line.count("|") == len(TABLE_COLUMNS) + 1 for line in rows)
    assert "| " + " | ".join(TABLE_COLUMNS) + " |" in md.text


def test_make_corpus_regenerates_the_same_text(tmp_path, docs):
    module = _make_corpus_module()
    assert module.main(tmp_path) == 0
    generated = {p.name for p in tmp_path.iterdir()}
    assert generated == {DOCX, PDF, GBK_TXT}
    for name in generated:
        fresh = load(tmp_path / name)
        assert fresh.text == docs[name].text, name
        assert [n for _, _, n in fresh.pages] == [n for _, _, n in docs[name].pages]
