"""Sample files for the loader tests: a notice, a docx and a two-page CJK pdf, and the check of a Chinese error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SEED = ROOT / "knowledge" / "冬训动员部署会讲话.txt"

NOTICE = (
    "关于开展2024年度党员冬训工作的通知\n"
    "各基层党组织：\n"
    "为深入学习贯彻党的二十大精神，现就开展2024年度党员冬训工作通知如下。\n"
    "一、总体要求\n"
    "坚持以学铸魂、以学增智，组织党员集中学习不少于3天。\n"
)
HAN_RE = re.compile(r"[\u4e00-\u9fff]")

PDF_PAGES = [
    ["党员冬训工作安排", "全体党员参加集中学习三天。", "各支部要认真组织。"],
    ["第二阶段开展专题研讨。", "每名党员撰写学习心得一篇。"],
]


def chinese_message(err: pytest.ExceptionInfo, name: str) -> str:
    """The error's text, checked to name the file, be Chinese and carry no traceback."""
    msg = str(err.value)
    assert name in msg, msg
    assert HAN_RE.search(msg), msg
    assert "Traceback" not in msg
    return msg


def make_docx(path: Path) -> Path:
    """A docx with a core title, two heading levels, a table between paragraphs and a second chapter."""
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


def cjk_canvas(path: Path, **kwargs):
    """A reportlab canvas with a CJK font registered."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return canvas.Canvas(str(path), **kwargs)


def make_pdf(path: Path, **kwargs) -> Path:
    """A two-page pdf titled 冬训安排 with the lines of PDF_PAGES (kwargs go to the canvas, e.g. encrypt=)."""
    c = cjk_canvas(path, **kwargs)
    c.setTitle("冬训安排")
    for lines in PDF_PAGES:
        c.setFont("STSong-Light", 12)
        for i, line in enumerate(lines):
            c.drawString(72, 760 - 20 * i, line)
        c.showPage()
    c.save()
    return path
