"""Word (.docx): paragraphs in order, Heading/标题 styles as heading levels, tables as pipe rows.

The zip container's declared sizes are checked before python-docx parses anything (see loaders.limits)."""

from __future__ import annotations

import io
import re
from typing import Any

from core.settings import StoreSettings, env_name
from ingest.loaders.document import LoadError, Parsed, TextBuilder, collapse_spaces, table_rows
from ingest.loaders.limits import DEFAULT_LIMITS, Limits, check_zip

_HEADING_STYLE_RE = re.compile(r"^(?:heading|标题)\s*(\d)$", re.IGNORECASE)
_TITLE_STYLE = "title"
_WORD_NS = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
# Paragraphs and table rows allowed per character of max_file_chars: a written document averages dozens of
# characters per paragraph, while a flood of empty paragraphs (which add no text) took minutes to walk.
MIN_CHARS_PER_BLOCK = 5


def load_docx(data: bytes, name: str, *, limits: Limits = DEFAULT_LIMITS) -> Parsed:
    """A .docx package: body paragraphs and tables in document order; title from core properties or the Title style."""
    check_zip(data, name, limits)
    try:
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        document = docx.Document(io.BytesIO(data))
    except Exception as e:  # python-docx raises several types for a damaged package
        raise LoadError(
            f"文件 {name} 无法打开，可能已损坏或不是真正的 Word（docx）文件。请用 Word 打开后重新另存为 .docx 再上传。"
        ) from e
    _check_blocks(document.element.body, name, limits)
    builder = TextBuilder(limits.max_chars, name)
    style_title = ""
    styles = _StyleNames()
    try:
        for el in document.element.body.iterchildren():
            tag = el.tag.rsplit("}", 1)[-1]
            if tag == "p":
                para = Paragraph(el, document)
                style = styles.of(para)
                if not style_title and style.lower() == _TITLE_STYLE and para.text.strip():
                    style_title = collapse_spaces(para.text)
                builder.add(para.text, _heading_level(style))
            elif tag == "tbl":
                for row in table_rows([[c.text for c in _unique_cells(r)] for r in Table(el, document).rows]):
                    builder.add(row)
        title = (document.core_properties.title or "").strip() or style_title
    except LoadError:  # the text limit
        raise
    except Exception as e:
        raise LoadError(f"文件 {name} 的内容无法解析，可能已损坏。请用 Word 打开后重新另存为 .docx 再上传。") from e
    return Parsed(builder.text, builder.headings, title, [])


def _check_blocks(body: Any, name: str, limits: Limits) -> None:
    """LoadError when the body holds more paragraphs and table rows than the character cap allows for."""
    blocks = len(body) + sum(len(table.findall(f"{_WORD_NS}tr")) for table in body.iterchildren(f"{_WORD_NS}tbl"))
    allowed = limits.max_chars // MIN_CHARS_PER_BLOCK
    if blocks > allowed:
        var = env_name(StoreSettings, "max_file_chars")
        raise LoadError(
            f"文件 {name} 有 {blocks} 个段落和表格行，超过上限 {allowed} 个（单个文件 {limits.max_chars} 字，"
            f"设置项 {var}），可能是异常文件，没有导入。请用 Word 打开后另存为新的 .docx 再上传。"
        )


class _StyleNames:
    """A paragraph's style name, looked up once per style id: python-docx scans every style of the document
    for each lookup, which made a 10 MB document take minutes."""

    def __init__(self) -> None:
        self.names: dict[str | None, str] = {}

    def of(self, para: Any) -> str:
        style_id = para._p.style  # the pStyle id, None for the default paragraph style
        if style_id not in self.names:
            self.names[style_id] = _style(para)
        return self.names[style_id]


def _style(para: Any) -> str:
    try:
        return ((para.style.name if para.style is not None else "") or "").strip()
    except Exception:  # a style id missing from styles.xml
        return ""


def _heading_level(style: str) -> int | None:
    m = _HEADING_STYLE_RE.match(style)
    return int(m.group(1)) if m else None


def _unique_cells(row: Any) -> list[Any]:
    # Merged cells come back once per grid column; keep each cell once.
    seen, out = set(), []
    for cell in row.cells:
        key = id(cell._tc)
        if key not in seen:
            seen.add(key)
            out.append(cell)
    return out
