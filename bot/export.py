"""Export a (possibly hand-edited) 宣讲提纲 as Markdown or Word, with a 资料来源 section at the end.

The text is the outline markdown as the lecturer left it: `# title`, `## point`, `- sub-point [n]`.
Sources are the outline's citations ({n, source, section, ...}); only those still cited in the
edited text are listed (all of them when the edit removed every marker).
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.verify import CITE
from core.grammar import section_path

SOURCES_HEADING = "资料来源"
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.、)）])\s+")
BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
# Word heading levels: the document title uses level 0 (style "Title"), `##` points level 1, deeper ones follow.
TITLE_LEVEL = 0
MAX_WORD_HEADING = 9


def cited_numbers(text: str) -> list[int]:
    """Citation numbers used in the text, in order of first use."""
    seen: list[int] = []
    for m in CITE.finditer(text or ""):
        n = int(m.group(1))
        if n not in seen:
            seen.append(n)
    return seen


def source_lines(text: str, citations: list[dict]) -> list[str]:
    """`[n] file > section` for each citation the text still cites (all when it cites none)."""
    used = set(cited_numbers(text))
    chosen = [c for c in citations or [] if c.get("n") in used] or list(citations or [])
    lines = []
    for c in sorted(chosen, key=lambda c: c.get("n", 0)):
        where = section_path([x for x in (Path(str(c.get("source", ""))).name, c.get("section", "")) if x])
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


def outline_docx(text: str, citations: list[dict], path: Path) -> Path:
    """Write the edited outline to a .docx: title heading, point headings, bulleted sub-points, 资料来源."""
    from docx import Document

    doc = Document()
    title_done = False
    in_sources = False  # a hand-written 资料来源 section is replaced by ours, built from the citations
    for raw in (text or "").splitlines():
        line = raw.rstrip()
        if not line.strip():
            continue
        m = HEADING.match(line)
        if m:
            level = len(m.group(1))
            heading = _plain(m.group(2))
            in_sources = heading == SOURCES_HEADING
            if in_sources:
                continue
            if level == 1 and not title_done:
                doc.add_heading(heading, level=TITLE_LEVEL)
                title_done = True
            else:
                doc.add_heading(heading, level=min(max(level - 1, 1), MAX_WORD_HEADING))
        elif in_sources:
            continue
        elif BULLET.match(line):
            doc.add_paragraph(_plain(BULLET.sub("", line, count=1)), style="List Bullet")
        else:
            doc.add_paragraph(_plain(line))
    lines = source_lines(text, citations)
    if lines:
        doc.add_heading(SOURCES_HEADING, level=1)
        for line in lines:
            doc.add_paragraph(line)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path))
    return path
