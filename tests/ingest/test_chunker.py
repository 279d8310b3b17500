"""Chunker: sentence-aligned chunks, section paths on the seed and on typical document shapes, tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.grammar import normalise, split_sentences
from ingest.chunker import chunk_document, heading_at, sections_of
from ingest.loaders import LoadedDocument, load

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "knowledge" / "冬训动员部署会讲话.txt"
SOFT_BREAKS = "，、,：:"

pytestmark = pytest.mark.unit

SEED_SECTION_6 = "二、要“抓得准、做得新”，着力推动冬训工作上接天线、下接地气 > 三是用好讲的队伍，注重品牌建设"


@pytest.fixture(scope="module")
def seed():
    return load(SEED)


def _doc(text: str, name: str = "doc.txt", title: str = "测试文档", headings=None) -> LoadedDocument:
    return LoadedDocument(source=name, title=title, text=normalise(text), headings=headings or {})


def _only(chunks, needle):
    hits = [c for c in chunks if needle in c.page_content]
    assert hits, needle
    return hits[0]


def assert_sentence_aligned(doc: LoadedDocument, chunks, chunk_size: int) -> None:
    """Every chunk is exactly doc.text[start:end], starts/ends on sentence bounds and respects the size."""
    spans = split_sentences(doc.text)
    starts = {s for s, _ in spans}
    ends = {e for _, e in spans}
    long_spans = [(s, e) for s, e in spans if e - s > chunk_size]

    def inside_long(pos: int) -> bool:
        return any(s < pos < e for s, e in long_spans)

    assert [c.metadata["chunk_index"] for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        m = c.metadata
        start, end = m["start"], m["end"]
        assert doc.text[start:end] == c.page_content
        assert len(c.page_content) <= chunk_size, (len(c.page_content), c.page_content[:30])
        if start not in starts:
            # Only a piece of an over-long sentence may start mid-sentence, right after a comma.
            assert inside_long(start), doc.text[start - 5 : start + 5]
            assert doc.text[start - 1] in SOFT_BREAKS or not doc.text[start - 1 : start + 1].isdigit()
        if end not in ends:
            assert inside_long(end), doc.text[end - 5 : end + 5]
            assert not doc.text[end - 1 : end + 1].isdigit()
        for key, value in m.items():
            assert isinstance(value, (str, int, float, bool)), (key, value)
    # Nothing is lost: every sentence lies within some chunk.
    covered = [(c.metadata["start"], c.metadata["end"]) for c in chunks]
    for s, e in spans:
        assert any(a <= s and e <= b for a, b in covered) or (e - s > chunk_size), doc.text[s:e]


# --- seed ------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [300, 120, 60])
def test_seed_chunks_are_sentence_aligned(seed, chunk_size):
    chunks = chunk_document(seed, chunk_size=chunk_size)
    assert len(chunks) >= len(seed.text) // chunk_size
    assert_sentence_aligned(seed, chunks, chunk_size)
    for c in chunks:
        assert c.metadata["source"] == str(SEED)
        assert c.metadata["file_name"] == SEED.name
        assert c.metadata["title"] == "冬训动员部署会讲话"
        assert c.metadata["page"] == 0


def test_seed_section_paths(seed):
    chunks = chunk_document(seed)
    assert _only(chunks, "215场").metadata["section"] == ""
    assert _only(chunks, "6类“飞燕”").metadata["section"] == SEED_SECTION_6
    # The seed has "一、\xa0要…": the whitespace after the 、 is dropped from the title.
    assert "一、\xa0要" in seed.text
    assert _only(chunks, "金字招牌").metadata["section"].startswith("一、要“站得高、悟得透”")


def test_seed_chunks_never_span_sections(seed):
    ranges = sections_of(seed)
    assert ranges[0][2] == "" and ranges[0][0] == 0
    assert [r[1] for r in ranges[:-1]] == [r[0] for r in ranges[1:]]  # contiguous
    assert ranges[-1][1] == len(seed.text)
    for c in chunk_document(seed, chunk_size=200):
        m = c.metadata
        (sec,) = [r for r in ranges if r[0] <= m["start"] < r[1]]
        assert m["end"] <= sec[1]
        assert m["section"] == sec[2]
    # A heading line starts the first chunk of its section.
    heading = seed.text.index("三是用好讲的队伍")
    assert any(c.metadata["start"] == heading for c in chunk_document(seed))


def test_overlap_repeats_one_sentence(seed):
    with_overlap = chunk_document(seed, chunk_size=150, overlap=1)
    without = chunk_document(seed, chunk_size=150, overlap=0)

    def pairs(cs):
        return [(a.metadata, b.metadata) for a, b in zip(cs, cs[1:]) if a.metadata["section"] == b.metadata["section"]]

    overlapping = [(a, b) for a, b in pairs(with_overlap) if b["start"] < a["end"]]
    assert overlapping
    for a, b in overlapping:
        # Exactly the last sentence (or piece) of the previous chunk is repeated.
        repeated = seed.text[b["start"] : a["end"]]
        assert seed.text[a["start"] : a["end"]].endswith(repeated)
        assert len(split_sentences(repeated)) == 1
    assert all(b["start"] >= a["end"] for a, b in pairs(without))
    assert len(without) < len(with_overlap)


# --- synthetic documents ---------------------------------------------------------------------

NOTICE = """关于开展2024年度党员冬训工作的通知
各基层党组织：
现将有关事项通知如下。
一、总体要求
坚持以学铸魂。突出政治教育。
二、主要内容
（一）理论学习
1. 学习党的二十大精神。组织专题辅导。
2. 学习党章党规。
1.5万名党员参加线上学习。
2024.1.5召开推进会。
（二）实践活动
开展志愿服务。
三、工作要求
各单位于12月31日前报送总结。
"""


def test_notice_sections():
    doc = _doc(NOTICE)
    chunks = chunk_document(doc, chunk_size=40, overlap=0)
    sec = lambda needle: _only(chunks, needle).metadata["section"]  # noqa: E731
    assert sec("各基层党组织") == ""
    assert sec("突出政治教育") == "一、总体要求"
    assert sec("组织专题辅导") == "二、主要内容 > （一）理论学习 > 1. 学习党的二十大精神"
    assert sec("学习党章党规") == "二、主要内容 > （一）理论学习 > 2. 学习党章党规"
    # A decimal and a date at the start of a line are not headings.
    assert sec("1.5万名") == "二、主要内容 > （一）理论学习 > 2. 学习党章党规"
    assert sec("2024.1.5") == "二、主要内容 > （一）理论学习 > 2. 学习党章党规"
    assert sec("志愿服务") == "二、主要内容 > （二）实践活动"
    assert sec("12月31日") == "三、工作要求"
    assert_sentence_aligned(doc, chunks, 40)


REGULATION = """中国共产党党员教育管理工作条例（节选）
第一章 总则
第一条 为了加强和改进党员教育管理工作，制定本条例。
第二条 本条例适用于全体党员。
第二章 党员教育
第三条 党员教育应当坚持以下原则：
（一）坚持用习近平新时代中国特色社会主义思想武装头脑；
（二）坚持全面从严治党。
第四条 党员每年集中学习培训时间一般不少于32学时。
"""


def test_regulation_articles_are_sections():
    doc = _doc(REGULATION)
    chunks = chunk_document(doc, chunk_size=80, overlap=0)
    sec = lambda needle: _only(chunks, needle).metadata["section"]  # noqa: E731
    assert sec("制定本条例") == "第一章 总则 > 第一条 为了加强和改进党员教育管理工作，制定本条例"
    assert sec("适用于全体党员") == "第一章 总则 > 第二条 本条例适用于全体党员"
    assert sec("全面从严治党") == "第二章 党员教育 > 第三条 党员教育应当坚持以下原则： > （二）坚持全面从严治党"
    assert sec("32学时") == "第二章 党员教育 > 第四条 党员每年集中学习培训时间一般不少于32学时"
    assert_sentence_aligned(doc, chunks, 80)


def _markdown_with_table(rows: int) -> str:
    lines = [
        "# 冬训课程表",
        "",
        "## 第一周",
        "",
        "各支部按下表安排学习。",
        "",
        "| 日期 | 课程 | 主讲 |",
        "|---|---|---|",
    ]
    lines += [f"| 12月{d}日 | 专题党课第{d}讲 | 书记{d} |" for d in range(1, rows + 1)]
    lines += ["", "## 第二周", "", "开展讨论交流。"]
    return "\n".join(lines)


def test_markdown_table_split_repeats_header(tmp_path):
    path = tmp_path / "课程.md"
    path.write_text(_markdown_with_table(12), encoding="utf-8")
    doc = load(path)
    header = "| 日期 | 课程 | 主讲 |\n|---|---|---|"
    chunks = chunk_document(doc, chunk_size=100, overlap=1)
    table_chunks = [c for c in chunks if "| 12月" in c.page_content]
    assert len(table_chunks) >= 3
    rows_seen = []
    for i, c in enumerate(table_chunks):
        m = c.metadata
        assert m["section"] == "冬训课程表 > 第一周"
        body = c.page_content
        if i > 0:
            assert body.startswith(header + "\n| 12月")
            body = body[len(header) + 1 :]
        assert body == doc.text[m["start"] : m["end"]]
        for line in body.split("\n"):
            assert line.startswith("|") and line.endswith("|") or not line.startswith("|")
            if line.startswith("| 12月"):
                rows_seen.append(line)
    # Every row exactly once (rows are not carried as overlap), in order, never cut.
    assert rows_seen == [f"| 12月{d}日 | 专题党课第{d}讲 | 书记{d} |" for d in range(1, 13)]
    assert _only(chunks, "讨论交流").metadata["section"] == "冬训课程表 > 第二周"
    assert _only(chunks, "按下表安排").metadata["section"] == "冬训课程表 > 第一周"


def test_markup_headings_from_loader_define_levels():
    text = "学习安排\n具体要求\n各支部认真落实。\n附则\n本方案自印发之日起施行。"
    doc = _doc(text, headings={0: 1, text.index("具体要求"): 2, text.index("附则"): 2})
    chunks = chunk_document(doc, chunk_size=50, overlap=0)
    assert _only(chunks, "认真落实").metadata["section"] == "学习安排 > 具体要求"
    assert _only(chunks, "施行").metadata["section"] == "学习安排 > 附则"


@pytest.mark.parametrize(
    "text, sections",
    [
        (
            "一、提高认识\n一要把握大局。\n二是狠抓落实，确保实效。\n二、强化保障\n一是加强领导。",
            {"确保实效": "一、提高认识 > 二是狠抓落实，确保实效", "加强领导": "二、强化保障 > 一是加强领导"},
        ),
        # an inline enumeration (一是…；二是… on one line) is a paragraph of its section, not a heading
        (
            "二、存在的问题\n一是形式单一，互动不够；二是线上学习存在“挂机”现象。\n三、下一步打算\n一是扩大覆盖面。",
            {"挂机": "二、存在的问题", "扩大覆盖面": "三、下一步打算 > 一是扩大覆盖面"},
        ),
    ],
    ids=["lead-ins-replace-each-other", "inline-enumeration"],
)
def test_speech_lead_ins(text, sections):
    chunks = chunk_document(_doc(text), chunk_size=30, overlap=0)
    assert {needle: _only(chunks, needle).metadata["section"] for needle in sections} == sections


def test_what_is_no_lead_in_heading():
    assert heading_at("一些同志认识不到位。") is None
    assert heading_at("| 一、 | 表格 |") is None
    assert heading_at("一是形式单一，二是互动不够。") is None  # runs on to the next item
    # a lead-in whose later sentences name another item is still a heading
    assert heading_at("一要抓学习，突出重点。二要抓落实。") == (("lead", 0), "一要抓学习，突出重点")


def test_long_sentence_split_at_commas_and_never_in_numbers():
    clause = "各级党组织要把冬训工作摆上重要议事日程"
    long_sentence = "，".join([clause] * 12) + "。"
    # No comma at all, and the size limit falls inside the digit run.
    digits = "甲" * 50 + "1234567890" * 2 + "乙" * 50 + "。"
    doc = _doc(f"一、要求\n{long_sentence}\n{digits}\n短句收尾。")
    size = 60
    chunks = chunk_document(doc, chunk_size=size, overlap=0)
    assert_sentence_aligned(doc, chunks, size)
    pieces = [c.page_content for c in chunks if clause in c.page_content]
    assert len(pieces) >= 4
    assert all(p.endswith(("，", "。")) for p in pieces)
    # Hard cuts never fall between two digits.
    assert any("甲" in c.page_content and "1" not in c.page_content for c in chunks)
    for c in chunks:
        s, e = c.metadata["start"], c.metadata["end"]
        assert not (doc.text[s - 1 : s].isdigit() and doc.text[s : s + 1].isdigit())
        assert not (doc.text[e - 1 : e].isdigit() and doc.text[e : e + 1].isdigit())


def test_empty_document_gives_no_chunks():
    assert chunk_document(_doc("")) == []


def test_table_header_never_ends_a_chunk():
    header = "| 日期 | 课程 | 主讲 |\n|---|---|---|"
    intro = "各支部按下表安排学习并做好记录。" * 3 + "各支部按下表安排学习。"
    rows = "\n".join(f"| 12月{d}日 | 专题党课第{d}讲 | 书记{d} |" for d in range(1, 6))
    doc = _doc(f"## 第一周\n{intro}\n{header}\n{rows}")
    size = 100
    # Precondition: the header alone would still fit after the intro, its first row would not.
    first = doc.text.index("## 第一周")
    assert doc.text.index(header) + len(header) - first <= size < doc.text.index("| 12月1日") + 20 - first
    chunks = chunk_document(doc, chunk_size=size, overlap=0)
    assert not any(c.page_content.endswith("|---|---|---|") for c in chunks)
    table_chunk = _only(chunks, "| 12月1日")
    assert table_chunk.page_content.startswith(header + "\n| 12月1日")
    assert table_chunk.page_content == doc.text[table_chunk.metadata["start"] : table_chunk.metadata["end"]]


def test_metadata_of_every_chunk():
    doc = LoadedDocument(
        source="corpus/sub/安排.pdf",
        title="冬训安排",
        text="全体党员参加集中学习三天。\n各支部要认真组织。\n第二阶段开展专题研讨。",
        pages=[(0, 23, 1), (24, 35, 2)],
    )
    chunks = chunk_document(doc, chunk_size=20, overlap=0)
    assert [c.metadata["page"] for c in chunks] == [1, 1, 2]
    for i, c in enumerate(chunks):
        m = c.metadata
        assert (m["source"], m["file_name"], m["title"], m["section"], m["chunk_index"]) == (
            "corpus/sub/安排.pdf",
            "安排.pdf",
            "冬训安排",
            "",
            i,
        )
        assert doc.text[m["start"] : m["end"]] == c.page_content


def test_overlap_zero_never_repeats_text():
    doc = _doc("。".join(f"第{i}句话写得稍长一些" for i in range(30)) + "。")
    chunks = chunk_document(doc, chunk_size=60, overlap=0)
    assert len(chunks) > 3
    assert all(b.metadata["start"] >= a.metadata["end"] for a, b in zip(chunks, chunks[1:]))
    assert "".join(c.page_content for c in chunks) == doc.text


@pytest.mark.parametrize(
    "line, expected",
    [
        ("一、总体要求", (("cn", 0), "一、总体要求")),
        ("（二）学习内容。具体如下", (("paren_cn", 0), "（二）学习内容")),
        ("## 二级标题 ##", (("h", 2), "二级标题")),
        ("第三条 适用范围", (("article", 0), "第三条 适用范围")),
        ("| 表格 | 行 |", None),
        ("普通的一句话。", None),
        ("   ", None),
    ],
)
def test_heading_at(line, expected):
    assert heading_at(line) == expected
