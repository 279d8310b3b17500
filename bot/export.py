"""Export a (possibly hand-edited) 宣讲提纲 as Markdown or Word, with a 资料来源 section at the end.

The text is the outline markdown as the lecturer left it: `# title`, `## point`, `- sub-point [n]`.
Sources are the outline's citations ({n, source, title, section, ...}); only those still cited in the
edited text are listed (all of them when the edit removed every marker), each by its document's title
and section path.

The Word file takes the form of a Party and government document (GB/T 9704): A4 paper, the title in
方正小标宋简体 二号 centred, headings in 黑体 三号, the body in 仿宋_GB2312 三号 on a fixed 28-point line,
page numbers "— 1 —" in the footer, and the assistant as the file's author.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.verify import CITE
from core.grammar import section_path

SOURCES_HEADING = "资料来源"
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.、)）])\s+")
BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
AUTHOR = "冬训问答助手"

# GB/T 9704 page and type: A4, margins (mm), fonts and sizes (pt: 二号 22, 三号 16, 四号 14).
PAGE_MM = (210, 297)
MARGINS_MM = {"top": 37, "bottom": 35, "left": 28, "right": 26}
TITLE_FONT, TITLE_PT = "方正小标宋简体", 22
HEADING_FONT, HEADING_PT = "黑体", 16
BODY_FONT, BODY_PT = "仿宋_GB2312", 16
PAGE_NUMBER_FONT, PAGE_NUMBER_PT = "宋体", 14
LINE_PT = 28  # fixed line spacing of the body
INDENT_CHARS = 2  # a paragraph's first line is indented by two characters
PAGE_NUMBER_DASH = "— "  # "— 1 —"


def cited_numbers(text: str) -> list[int]:
    """Citation numbers used in the text, in order of first use."""
    seen: list[int] = []
    for m in CITE.finditer(text or ""):
        n = int(m.group(1))
        if n not in seen:
            seen.append(n)
    return seen


def source_lines(text: str, citations: list[dict]) -> list[str]:
    """`[n] document title > section` (the file name when the title is unknown) for each citation the text
    still cites (all when it cites none)."""
    used = set(cited_numbers(text))
    chosen = [c for c in citations or [] if c.get("n") in used] or list(citations or [])
    lines = []
    for c in sorted(chosen, key=lambda c: c.get("n", 0)):
        name = str(c.get("title") or "") or Path(str(c.get("source", ""))).name
        where = section_path([x for x in (name, c.get("section", "")) if x])
        page = f"（第{c['page']}页）" if c.get("page") else ""
        lines.append(f"[{c.get('n')}] {where}{page}")
    return lines


def _has_sources_section(text: str) -> bool:
    return any((m := HEADING.match(line)) and m.group(2).strip() == SOURCES_HEADING for line in text.splitlines())


def outline_markdown(text: str, citations: list[dict]) -> str:
    """The edited outline with a `## 资料来源` list appended (unless the text already has one)."""
    body = (text or "").rstrip()
    if _has_sources_section(body):
        return body + "\n"
    lines = source_lines(body, citations)
    if not lines:
        return body + "\n"
    return body + f"\n\n## {SOURCES_HEADING}\n\n" + "\n".join(f"- {line}" for line in lines) + "\n"


def _plain(text: str) -> str:
    return BOLD.sub(lambda m: m.group(1) or m.group(2), text).strip()


def _fonts(target: Any, name: str, size: float, *, bold: bool = False) -> None:
    """Set a run's or style's font for Latin and East-Asian text alike (python-docx sets only the former)."""
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    font = target.font
    font.name, font.size, font.bold, font.italic = name, Pt(size), bold, False
    font.color.rgb = RGBColor(0, 0, 0)
    rpr = target.element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.insert(0, rfonts)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        rfonts.set(qn(attr), name)
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(theme), None)  # a theme font would win over the named one


def _line(paragraph: Any, *, indent: bool = False) -> None:
    """Fixed 28-point lines, no space around the paragraph, optionally a two-character first-line indent."""
    from docx.enum.text import WD_LINE_SPACING
    from docx.shared import Pt

    fmt = paragraph.paragraph_format
    fmt.line_spacing_rule, fmt.line_spacing = WD_LINE_SPACING.EXACTLY, Pt(LINE_PT)
    fmt.space_before = fmt.space_after = Pt(0)
    if indent:
        fmt.first_line_indent = Pt(BODY_PT * INDENT_CHARS)


def _page(doc: Any) -> None:
    """A4 with the official margins, and the page number as a PAGE field: "— 1 —"."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm

    for section in doc.sections:
        section.page_width, section.page_height = Mm(PAGE_MM[0]), Mm(PAGE_MM[1])
        section.top_margin, section.bottom_margin = Mm(MARGINS_MM["top"]), Mm(MARGINS_MM["bottom"])
        section.left_margin, section.right_margin = Mm(MARGINS_MM["left"]), Mm(MARGINS_MM["right"])
        footer = section.footer.paragraphs[0]
        footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _fonts(footer.add_run(PAGE_NUMBER_DASH), PAGE_NUMBER_FONT, PAGE_NUMBER_PT)
        # A field is begin, its instruction, separate, the last shown value, end: one run each, as Word writes it.
        for kind, text in (("begin", None), ("instr", " PAGE "), ("separate", None), ("text", "1"), ("end", None)):
            field = footer.add_run()
            _fonts(field, PAGE_NUMBER_FONT, PAGE_NUMBER_PT)
            if kind == "instr":
                el = OxmlElement("w:instrText")
                el.set(qn("xml:space"), "preserve")
                el.text = text
            elif kind == "text":
                el = OxmlElement("w:t")
                el.text = text
            else:
                el = OxmlElement("w:fldChar")
                el.set(qn("w:fldCharType"), kind)
            field._r.append(el)
        _fonts(footer.add_run(PAGE_NUMBER_DASH[::-1]), PAGE_NUMBER_FONT, PAGE_NUMBER_PT)


def _styles(doc: Any) -> None:
    """Body text in 仿宋_GB2312 三号; the title in 方正小标宋简体 二号, centred, without the template's rule
    under it; headings in 黑体 三号; all black and upright."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn

    _fonts(doc.styles["Normal"], BODY_FONT, BODY_PT)
    title = doc.styles["Title"]
    _fonts(title, TITLE_FONT, TITLE_PT)
    title.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    ppr = title.element.get_or_add_pPr()
    for border in ppr.findall(qn("w:pBdr")):
        ppr.remove(border)
    for level in range(1, 4):
        style = doc.styles[f"Heading {level}"]
        _fonts(style, HEADING_FONT, HEADING_PT)
        fmt = style.paragraph_format
        fmt.keep_with_next = True


def _properties(doc: Any, title: str) -> None:
    core = doc.core_properties
    core.author = core.last_modified_by = AUTHOR
    core.title = title
    core.comments = core.subject = core.keywords = core.category = ""
    core.created = core.modified = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    core.revision = 1


def outline_docx(text: str, citations: list[dict], path: Path) -> Path:
    """Write the edited outline to a .docx in official-document form: the title, point headings, the
    sub-points as indented paragraphs, and 资料来源 numbered as the citations are."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    doc = Document()
    _page(doc)
    _styles(doc)
    title = ""
    in_sources = False  # a hand-written 资料来源 section is replaced by ours, built from the citations

    def heading(words: str) -> None:
        p = doc.add_heading(level=1)
        _fonts(p.add_run(words), HEADING_FONT, HEADING_PT)
        _line(p)

    def body(words: str) -> None:
        p = doc.add_paragraph()
        _fonts(p.add_run(words), BODY_FONT, BODY_PT)
        _line(p, indent=True)

    for raw in (text or "").splitlines():
        line = raw.rstrip()
        if not line.strip():
            continue
        m = HEADING.match(line)
        if m:
            words = _plain(m.group(2))
            in_sources = words == SOURCES_HEADING
            if in_sources:
                continue
            if len(m.group(1)) == 1 and not title:
                title = words
                p = doc.add_paragraph(style="Title")
                p.alignment = WD_ALIGN_PARAGRAPH.CENTER
                _fonts(p.add_run(title), TITLE_FONT, TITLE_PT)
                _line(p)
                doc.add_paragraph()  # the blank line between a document's title and its body
            else:
                heading(words)
        elif not in_sources:
            body(_plain(BULLET.sub("", line, count=1)))
    lines = source_lines(text, citations)
    if lines:
        heading(SOURCES_HEADING)
        for entry in lines:
            body(entry)
    _properties(doc, title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path))
    return path
