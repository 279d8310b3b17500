"""Loaders: encodings, titles, markup (docx/pdf/html/md) and every kind of bad file."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from core.grammar import normalise
from ingest.chunker import chunk_document
from ingest.loaders import SUPPORTED, LoadedDocument, LoadError, load

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "knowledge" / "冬训动员部署会讲话.txt"

NOTICE = (
    "关于开展2024年度党员冬训工作的通知\n"
    "各基层党组织：\n"
    "为深入学习贯彻党的二十大精神，现就开展2024年度党员冬训工作通知如下。\n"
    "一、总体要求\n"
    "坚持以学铸魂、以学增智，组织党员集中学习不少于3天。\n"
)
HAN_RE = re.compile(r"[\u4e00-\u9fff]")


def _chinese_message(err: pytest.ExceptionInfo, name: str) -> str:
    msg = str(err.value)
    assert name in msg, msg
    assert HAN_RE.search(msg), msg
    assert "Traceback" not in msg
    return msg


# --- text files and encodings -----------------------------------------------------------


def test_seed_txt_title_and_text():
    doc = load(SEED)
    assert isinstance(doc, LoadedDocument)
    assert doc.title == "冬训动员部署会讲话"  # first line "同志们：" ends with a colon, so the stem
    assert doc.source == str(SEED)
    assert doc.file_name == SEED.name
    assert doc.text.startswith("同志们：")
    assert doc.text == normalise(doc.text)
    assert doc.pages == [] and doc.headings == {}


def test_source_argument_and_first_line_title(tmp_path):
    path = tmp_path / "tongzhi.txt"
    path.write_text(NOTICE, encoding="utf-8")
    doc = load(path, source="kb/tongzhi")
    assert doc.source == "kb/tongzhi"
    assert doc.file_name == "tongzhi.txt"
    assert doc.title == "关于开展2024年度党员冬训工作的通知"


def test_long_first_line_is_not_title(tmp_path):
    path = tmp_path / "讲稿.txt"
    path.write_text(
        "今天我们召开会议，主要任务是学习贯彻党的二十大精神，部署今年冬训工作，下面讲三点意见\n正文。", encoding="utf-8"
    )
    assert load(path).title == "讲稿"


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-16"])
def test_encodings_decode_cleanly(tmp_path, encoding):
    text = NOTICE
    if encoding == "gb18030":
        text += "少数民族人名用字：䶮。\n"  # U+4DAE is in GB18030 but not in GBK
        with pytest.raises(UnicodeEncodeError):
            text.encode("gbk")
    path = tmp_path / f"notice_{encoding}.txt"
    path.write_bytes(text.encode(encoding))
    doc = load(path)
    assert doc.text == normalise(text)
    assert "\ufeff" not in doc.text
    assert doc.title == "关于开展2024年度党员冬训工作的通知"


def test_damaged_utf8_is_rejected_not_mojibake(tmp_path):
    data = SEED.read_bytes()
    # Drop one byte in the middle of a Chinese character: strict UTF-8 fails, GB18030 would give mojibake.
    cut = 301
    while data[cut] < 0x80:
        cut += 1
    damaged = data[:cut] + data[cut + 1 :]
    with pytest.raises(UnicodeDecodeError):
        damaged.decode("utf-8")
    path = tmp_path / "damaged.txt"
    path.write_bytes(damaged)
    with pytest.raises(LoadError) as err:
        load(path)
    assert "编码" in _chinese_message(err, "damaged.txt")


def _damaged_but_gb18030_decodable() -> bytes:
    """A seed sentence's UTF-8 bytes with one byte dropped such that strict GB18030 still decodes it."""
    from core.grammar import sentences

    for sentence in sentences(SEED.read_text(encoding="utf-8")):
        raw = sentence.encode("utf-8")
        if len(sentence) < 20:
            continue
        for cut in range(len(raw)):
            damaged = raw[:cut] + raw[cut + 1 :]
            try:
                damaged.decode("utf-8")
                continue
            except UnicodeDecodeError:
                pass
            try:
                damaged.decode("gb18030")
            except UnicodeDecodeError:
                continue
            return damaged
    raise AssertionError("no such sentence in the seed")


def test_damaged_utf8_that_gb18030_accepts_is_rejected(tmp_path):
    damaged = _damaged_but_gb18030_decodable()
    path = tmp_path / "半截.txt"
    path.write_bytes(damaged)
    with pytest.raises(LoadError) as err:
        load(path)
    _chinese_message(err, "半截.txt")


def test_high_byte_noise_is_rejected(tmp_path):
    rng = random.Random(7)
    data = bytes(rng.randrange(0x80, 0x100) for _ in range(600))
    path = tmp_path / "noise.txt"
    path.write_bytes(data)
    with pytest.raises(LoadError) as err:
        load(path)
    _chinese_message(err, "noise.txt")


# --- markdown and html ---------------------------------------------------------------------


def test_markdown_title_and_headings(tmp_path):
    md = "# 冬训学习计划\n\n## 学习内容\n\n学习党章。\n\n### 学习方式\n\n集中学习。\n"
    path = tmp_path / "plan.md"
    path.write_text(md, encoding="utf-8")
    doc = load(path)
    assert doc.title == "冬训学习计划"
    found = {
        doc.text[o : doc.text.index("\n", o) if "\n" in doc.text[o:] else None]: lvl for o, lvl in doc.headings.items()
    }
    assert found == {"# 冬训学习计划": 1, "## 学习内容": 2, "### 学习方式": 3}


def test_html_structure(tmp_path):
    html = """<!DOCTYPE html><html><head><title>冬训课程表</title><style>p{color:red}</style></head>
    <body><nav>首页 | 导航栏</nav><script>var x = "脚本内容";</script>
    <h1>冬训课程安排</h1><p>全体党员参加集中学习。</p>
    <h2>第一阶段</h2><div>学习党章党规。<span>重点学习准则。</span></div>
    <ul><li>12月1日 开班动员</li><li>12月2日 专题党课</li></ul>
    <table><tr><th>日期</th><th>内容</th></tr><tr><td>12月1日</td><td>开班</td></tr></table>
    <!-- 注释不要出现 --></body></html>"""
    path = tmp_path / "course.html"
    path.write_text(html, encoding="utf-8")
    doc = load(path)
    assert doc.title == "冬训课程表"
    lines = doc.text.split("\n")
    assert lines == [
        "冬训课程安排",
        "全体党员参加集中学习。",
        "第一阶段",
        "学习党章党规。重点学习准则。",
        "12月1日 开班动员",
        "12月2日 专题党课",
        "| 日期 | 内容 |",
        "|---|---|",
        "| 12月1日 | 开班 |",
    ]
    assert {doc.text[o : o + 6]: lvl for o, lvl in doc.headings.items()} == {"冬训课程安排": 1, "第一阶段\n学": 2}
    sections = {c.metadata["section"] for c in chunk_document(doc)}
    assert "冬训课程安排 > 第一阶段" in sections


# --- docx ------------------------------------------------------------------------------------


def _make_docx(path: Path) -> Path:
    import docx

    d = docx.Document()
    d.core_properties.title = "2024年冬训学习方案"
    d.add_paragraph("为做好今年冬训工作，制定本方案。")
    d.add_heading("一、学习内容", level=1)
    d.add_paragraph("深入学习党的二十大精神。")
    d.add_heading("（一）专题学习", level=2)
    d.add_paragraph("每名党员参加专题学习不少于8学时。")
    table = d.add_table(rows=3, cols=2)
    for r, (a, b) in enumerate([("时间", "内容"), ("12月5日", "开班动员"), ("12月6日", "专题党课")]):
        table.cell(r, 0).text = a
        table.cell(r, 1).text = b
    d.add_heading("二、组织保障", level=1)
    d.add_paragraph("各支部书记是第一责任人。")
    d.save(path)
    return path


def test_docx_headings_tables_and_sections(tmp_path):
    doc = load(_make_docx(tmp_path / "方案.docx"))
    assert doc.title == "2024年冬训学习方案"
    levels = {doc.text[o : doc.text.index("\n", o)]: lvl for o, lvl in doc.headings.items()}
    assert levels == {"一、学习内容": 1, "（一）专题学习": 2, "二、组织保障": 1}
    assert "| 时间 | 内容 |\n|---|---|\n| 12月5日 | 开班动员 |\n| 12月6日 | 专题党课 |" in doc.text
    # Body order: the table sits between the 8-hour sentence and the second heading.
    assert doc.text.index("8学时") < doc.text.index("| 时间") < doc.text.index("二、组织保障")
    by_text = {c.page_content: c.metadata["section"] for c in chunk_document(doc, chunk_size=60)}
    sec_of = lambda needle: next(s for t, s in by_text.items() if needle in t)  # noqa: E731
    assert sec_of("制定本方案") == ""
    assert sec_of("8学时") == "一、学习内容 > （一）专题学习"
    assert sec_of("12月6日") == "一、学习内容 > （一）专题学习"
    assert sec_of("第一责任人") == "二、组织保障"


# --- pdf -------------------------------------------------------------------------------------


def _cjk_canvas(path: Path, **kwargs):
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return canvas.Canvas(str(path), **kwargs)


PDF_PAGES = [
    ["党员冬训工作安排", "全体党员参加集中学习三天。", "各支部要认真组织。"],
    ["第二阶段开展专题研讨。", "每名党员撰写学习心得一篇。"],
]


def _make_pdf(path: Path, **kwargs) -> Path:
    c = _cjk_canvas(path, **kwargs)
    c.setTitle("冬训安排")
    for lines in PDF_PAGES:
        c.setFont("STSong-Light", 12)
        for i, line in enumerate(lines):
            c.drawString(72, 760 - 20 * i, line)
        c.showPage()
    c.save()
    return path


def test_pdf_pages_and_page_numbers_in_chunks(tmp_path):
    doc = load(_make_pdf(tmp_path / "安排.pdf"))
    assert doc.title == "冬训安排"
    assert [p[2] for p in doc.pages] == [1, 2]
    for (start, end, number), lines in zip(doc.pages, PDF_PAGES):
        assert doc.text[start:end].split("\n") == lines
    assert doc.pages[1][0] == doc.pages[0][1] + 1  # pages joined with one line break
    chunks = chunk_document(doc, chunk_size=20, overlap=0)
    pages = {c.page_content: c.metadata["page"] for c in chunks}
    assert pages["全体党员参加集中学习三天。"] == 1
    assert pages["第二阶段开展专题研讨。"] == 2
    assert pages["每名党员撰写学习心得一篇。"] == 2


# --- bad files -------------------------------------------------------------------------------


def _empty(p: Path) -> Path:
    p = p / "空文件.txt"
    p.write_bytes(b"")
    return p


def _blank(p: Path) -> Path:
    p = p / "空白.md"
    p.write_text("  \n\n \t\n", encoding="utf-8")
    return p


def _binary(p: Path) -> Path:
    p = p / "乱码.txt"
    p.write_bytes(bytes(range(256)) * 4)
    return p


def _corrupt_docx(p: Path) -> Path:
    p = p / "损坏.docx"
    p.write_bytes(b"PK\x03\x04 this is not really a zip archive" * 10)
    return p


def _corrupt_pdf(p: Path) -> Path:
    p = p / "损坏.pdf"
    p.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\n garbage garbage \x8f\x01")
    return p


def _scanned_pdf(p: Path) -> Path:
    from reportlab.pdfgen import canvas

    p = p / "扫描件.pdf"
    c = canvas.Canvas(str(p))
    c.rect(100, 100, 300, 400, fill=1)
    c.showPage()
    c.save()
    return p


def _encrypted_pdf(p: Path) -> Path:
    return _make_pdf(p / "加密.pdf", encrypt="secret")


def _xls(p: Path) -> Path:
    p = p / "名单.xls"
    p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    return p


@pytest.mark.parametrize(
    "make, hint",
    [
        (_empty, "空"),
        (_blank, "没有可读取的文字"),
        (_binary, "二进制"),
        (_corrupt_docx, "损坏"),
        (_corrupt_pdf, "损坏"),
        (_scanned_pdf, "OCR"),
        (_encrypted_pdf, "加密"),
        (_xls, "docx"),
    ],
)
def test_bad_files_raise_load_error(tmp_path, make, hint):
    path = make(tmp_path)
    with pytest.raises(LoadError) as err:
        load(path)
    msg = _chinese_message(err, path.name)
    assert hint in msg, msg


def test_unsupported_extension_lists_supported(tmp_path):
    with pytest.raises(LoadError) as err:
        load(_xls(tmp_path))
    msg = str(err.value)
    for ext in ("txt", "md", "docx", "pdf", "html"):
        assert ext in msg
    assert ".xls" not in SUPPORTED


def test_docx_title_style_when_no_core_title(tmp_path):
    import docx

    d = docx.Document()
    d.add_heading("冬训工作方案", level=0)  # level 0 is the "Title" style, not a section heading
    d.add_paragraph("正文内容。")
    path = tmp_path / "x.docx"
    d.save(path)
    doc = load(path)
    assert doc.title == "冬训工作方案"
    assert doc.headings == {}
    assert doc.text == "冬训工作方案\n正文内容。"
