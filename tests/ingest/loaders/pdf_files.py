"""PDFs with ruled tables and a heading, drawn by reportlab for the PDF tests."""

from __future__ import annotations

from pathlib import Path

# An embedded TrueType CJK font (as Word and WPS exports carry); reportlab's built-in STSong-Light otherwise.
CJK_TTF = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
CID_FONT = "STSong-Light"
TITLE_SIZE = 18
BODY_SIZE = 11

TIMETABLE_TITLE = "2024年冬训课程安排"
TIMETABLE_INTRO = "为做好今年党员冬训工作，现将课程安排如下，请各支部认真组织党员按时参加学习。"
TIMETABLE_END = "以上课程均在党校报告厅举行。"
TIMETABLE = [
    ["序号", "课程", "授课人", "学时"],
    ["1", "党的二十大精神辅导", "区委党校讲师", "3"],
    ["2", "乡村振兴政策解读", "区农业农村局负责同志", "2"],
    ["3", "基层治理案例分析", "镇党委书记", "2"],
    ["4", "党纪学习教育专题辅导", "区纪委监委 钱某某", "3"],
]


def cjk_font() -> str:
    """The name of a registered CJK font."""
    from reportlab.pdfbase import pdfmetrics

    if CJK_TTF.exists():
        from reportlab.pdfbase.ttfonts import TTFont

        pdfmetrics.registerFont(TTFont("WQY", str(CJK_TTF), subfontIndex=0))
        return "WQY"
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
    return CID_FONT


def build(path: Path, story: list, *, title: str | None = None, footer: bool = False, font: str = "") -> Path:
    """Lay out a reportlab story on A4; title: the metadata title (reportlab writes "(anonymous)" without one);
    footer: a page number ("- 1 -") at the foot of every page."""
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import SimpleDocTemplate

    def number(canvas, doc) -> None:
        if footer:
            canvas.setFont(font, BODY_SIZE - 2)
            canvas.drawString(A4[0] / 2, 30, f"- {doc.page} -")

    doc = SimpleDocTemplate(str(path), pagesize=A4, **({"title": title} if title else {}))
    doc.build(story, onFirstPage=number, onLaterPages=number)
    return path


def paragraph(text: str, font: str, size: int = BODY_SIZE):
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph

    return Paragraph(text, ParagraphStyle(f"s{size}", fontName=font, fontSize=size, leading=size * 1.6))


def ruled_table(rows: list[list[str]], font: str, *, repeat_header: bool = False):
    """A table with every cell ruled (a grid), as timetables are drawn."""
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    table = Table(rows, repeatRows=1 if repeat_header else 0)
    table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), font), ("GRID", (0, 0), (-1, -1), 0.5, colors.black)]))
    return table


def make_timetable_pdf(path: Path, *, title: str | None = None) -> Path:
    """A one-page course timetable: a heading, a sentence, the TIMETABLE grid and a closing sentence."""
    font = cjk_font()
    story = [
        paragraph(TIMETABLE_TITLE, font, TITLE_SIZE),
        paragraph(TIMETABLE_INTRO, font),
        ruled_table(TIMETABLE, font),
        paragraph(TIMETABLE_END, font),
    ]
    return build(path, story, title=title)


def long_rows(n: int) -> list[list[str]]:
    """A header and n course rows, enough to run over a page break."""
    return [TIMETABLE[0]] + [[str(i), f"第{i}讲专题课程", f"讲师{i}", "2"] for i in range(1, n + 1)]


def make_long_table_pdf(path: Path, rows: int, *, repeat_header: bool = False, footer: bool = False) -> Path:
    """A heading and one table of `rows` rows that goes on over the page break."""
    font = cjk_font()
    story = [paragraph("课程表", font, TITLE_SIZE), ruled_table(long_rows(rows), font, repeat_header=repeat_header)]
    return build(path, story, footer=footer, font=font)
