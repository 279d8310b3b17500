"""Read one file (txt, md, docx, pdf, html) into a LoadedDocument: normalised text plus markup hints.

CONTRACT:

    class LoadError(Exception): str(e) is a Chinese message naming the file and what to do.

    @dataclass
    class LoadedDocument:
        source: str                 # stable id of the file (see ingest.store.source_id)
        title: str                  # document title
        text: str                   # core.grammar.normalise()d full text; every offset refers to it
        pages: list[tuple[int, int, int]]  # (start, end, page number from 1); pdf only, else []
        headings: dict[int, int]    # offset of a heading line's first char -> level 1..6, from markup
        file_name: str              # (added) base name of the file, for citations

    SUPPORTED: frozenset of lower-case suffixes
    def load(path: Path, source: str | None = None) -> LoadedDocument
"""

from __future__ import annotations

import codecs
import io
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from core.grammar import normalise

log = logging.getLogger(__name__)

SUPPORTED = frozenset({".txt", ".md", ".markdown", ".docx", ".pdf", ".html", ".htm"})
SUPPORTED_HINT = "txt、md、docx、pdf、html"

# A first line this short (no sentence end, no trailing colon) is taken as the document title.
TITLE_MAX_CHARS = 40
TITLE_BAD_CHARS = "。！？；"
TITLE_BAD_ENDINGS = ("：", ":")

# Broken UTF-8: when at least this share of the non-ASCII characters decode as UTF-8, the file
# is damaged UTF-8 and any other decoding would be mojibake.
BROKEN_UTF8_SHARE = 0.9
# Real Chinese text is almost all GB2312 level-1 (common) characters; GBK-decoded mojibake is not.
MIN_COMMON_HANZI_SHARE = 0.6
MIN_HANZI_FOR_SHARE_CHECK = 20
# charset-normalizer's own "mess" score above which its guess is not trusted.
MAX_CHAOS = 0.1

_HEADING_STYLE_RE = re.compile(r"^(?:heading|标题)\s*(\d)$", re.IGNORECASE)
_MD_HEADING_RE = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_SPACE_RE = re.compile(r"\s+")


class LoadError(Exception):
    """A file that cannot be read; str(e) is a Chinese message naming the file and what to do."""


@dataclass
class LoadedDocument:
    source: str
    title: str
    text: str
    pages: list[tuple[int, int, int]] = field(default_factory=list)
    headings: dict[int, int] = field(default_factory=dict)
    file_name: str = ""

    def __post_init__(self) -> None:
        if not self.file_name:
            self.file_name = Path(self.source).name


class _Builder:
    """Joins normalised pieces with single line breaks, keeping exact offsets of headings and pages."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0
        self.headings: dict[int, int] = {}

    def add(self, text: str, level: int | None = None) -> tuple[int, int] | None:
        if level:
            # A heading is one line.
            text = _SPACE_RE.sub(" ", text).strip()
        piece = normalise(text)
        if not piece.strip():
            return None
        if self.parts:
            self.parts.append("\n")
            self.pos += 1
        start = self.pos
        if level:
            self.headings[start] = max(1, min(6, level))
        self.parts.append(piece)
        self.pos += len(piece)
        return start, self.pos

    @property
    def text(self) -> str:
        return "".join(self.parts)


def load(path: Path, source: str | None = None) -> LoadedDocument:
    """Read a supported file into a LoadedDocument; raise LoadError with a Chinese message otherwise."""
    path = Path(path)
    name = path.name
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise LoadError(f"不支持的文件类型：{name}。目前支持 {SUPPORTED_HINT} 格式，请另存为其中一种后再上传。")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise LoadError(f"无法读取文件 {name}（{e.strerror or e}），请确认文件存在且有读取权限。") from e
    if not data.strip():
        raise LoadError(f"文件 {name} 是空的，没有可读取的文字，请检查文件内容后再上传。")

    if suffix in (".txt", ".md", ".markdown"):
        text, headings, title, pages = _load_text(data, name, markdown=suffix != ".txt")
    elif suffix == ".docx":
        text, headings, title, pages = _load_docx(data, name)
    elif suffix == ".pdf":
        text, headings, title, pages = _load_pdf(data, name)
    else:
        text, headings, title, pages = _load_html(data, name)

    if not text.strip():
        raise LoadError(f"文件 {name} 中没有可读取的文字，请检查文件内容后再上传。")
    if normalise(text) != text:  # pieces are normalised one by one; this should never trigger
        log.warning("text of %s was not stable under normalise(); markup offsets dropped", name)
        text, headings, pages = normalise(text), {}, []
    title = (title or "").strip() or _title_from_text(text) or path.stem
    return LoadedDocument(
        source=source if source is not None else str(path),
        title=title,
        text=text,
        pages=pages,
        headings=headings,
        file_name=name,
    )


# --- plain text and markdown --------------------------------------------------------------


def _load_text(data: bytes, name: str, markdown: bool):
    raw = decode_bytes(data, name)
    text = normalise(raw)
    headings: dict[int, int] = {}
    title = ""
    if markdown:
        offset = 0
        for line in text.split("\n"):
            m = _MD_HEADING_RE.match(line)
            if m:
                headings[offset] = len(m.group(1))
                if not title and len(m.group(1)) == 1:
                    title = m.group(2).strip()
            offset += len(line) + 1
    return text, headings, title, []


def decode_bytes(data: bytes, name: str = "文件") -> str:
    """Decode text bytes: UTF-8 (with or without BOM), UTF-16 with BOM, GB18030/GBK, then a guess.

    Raises LoadError rather than return mojibake.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return _checked(data.decode("utf-16"), name)
        except UnicodeDecodeError as e:
            raise _garbled(name) from e
    if b"\x00" in data:
        raise LoadError(
            f"文件 {name} 看起来不是文本文件（含有二进制内容），请确认文件类型正确，或另存为 txt/docx 后再上传。"
        )
    try:
        return _checked(data.decode("utf-8-sig"), name)
    except UnicodeDecodeError:
        pass
    if _is_broken_utf8(data):
        raise LoadError(
            f"文件 {name} 的 UTF-8 编码已损坏（部分字节无效），直接读取会出现乱码。"
            "请用文本编辑器打开后重新另存为 UTF-8 编码再上传。"
        )
    try:
        text = data.decode("gb18030")
        if _is_clean(text) and _looks_chinese(text):
            return text
    except UnicodeDecodeError:
        pass
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
    except Exception:  # the guesser is a last resort; any failure means "unknown encoding"
        best = None
    if best is not None and best.chaos <= MAX_CHAOS:
        text = str(best)
        if _is_clean(text) and _looks_chinese(text):
            log.info("decoded %s as %s", name, best.encoding)
            return text
    raise _garbled(name)


def _garbled(name: str) -> LoadError:
    return LoadError(
        f"无法识别文件 {name} 的文字编码（不是 UTF-8 或 GBK 文本，或者文件已损坏），"
        "请用文本编辑器打开后另存为 UTF-8 编码再上传。"
    )


def _checked(text: str, name: str) -> str:
    if not _is_clean(text):
        raise LoadError(
            f"文件 {name} 看起来不是文本文件（含有二进制内容），请确认文件类型正确，或另存为 txt/docx 后再上传。"
        )
    return text


def _is_clean(text: str) -> bool:
    """No control characters (other than line breaks and tabs), private-use, unassigned or replacement characters."""
    for ch in text:
        if ch in "\n\r\t\f\ufeff":
            continue
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Co", "Cn", "Cs") or ch == "\ufffd":
            return False
    return True


def _is_broken_utf8(data: bytes) -> bool:
    decoded = data.decode("utf-8", errors="replace")
    bad = decoded.count("\ufffd")
    good = sum(1 for ch in decoded if ord(ch) > 0x7F and ch != "\ufffd")
    return good > 0 and good / (good + bad) >= BROKEN_UTF8_SHARE


def _looks_chinese(text: str) -> bool:
    """True unless the text has many Hanzi and few of them are common ones (typical of mojibake)."""
    hanzi = [ch for ch in text if "\u4e00" <= ch <= "\u9fff"]
    if len(hanzi) < MIN_HANZI_FOR_SHARE_CHECK:
        return True
    common = 0
    for ch in hanzi:
        try:
            code = ch.encode("gb2312")
        except UnicodeEncodeError:
            continue
        # GB2312 level-1 (the 3755 most common characters) has lead bytes 0xB0..0xD7.
        if 0xB0 <= code[0] <= 0xD7:
            common += 1
    return common / len(hanzi) >= MIN_COMMON_HANZI_SHARE


def _title_from_text(text: str) -> str:
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        if (
            len(line) <= TITLE_MAX_CHARS
            and not any(ch in line for ch in TITLE_BAD_CHARS)
            and not line.endswith(TITLE_BAD_ENDINGS)
        ):
            return line.lstrip("#").strip()
        return ""
    return ""


# --- docx ---------------------------------------------------------------------------------


def _load_docx(data: bytes, name: str):
    try:
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        document = docx.Document(io.BytesIO(data))
    except Exception as e:  # python-docx raises several types for a damaged package
        raise LoadError(
            f"文件 {name} 无法打开，可能已损坏或不是真正的 Word（docx）文件。请用 Word 打开后重新另存为 .docx 再上传。"
        ) from e
    builder = _Builder()
    style_title = ""
    try:
        for el in document.element.body.iterchildren():
            tag = el.tag.rsplit("}", 1)[-1]
            if tag == "p":
                para = Paragraph(el, document)
                if not style_title and _docx_style(para).lower() == "title" and para.text.strip():
                    style_title = _SPACE_RE.sub(" ", para.text).strip()
                builder.add(para.text, _docx_heading_level(para))
            elif tag == "tbl":
                for row in _table_rows([[c.text for c in _unique_cells(r)] for r in Table(el, document).rows]):
                    builder.add(row)
        title = (document.core_properties.title or "").strip() or style_title
    except Exception as e:
        raise LoadError(f"文件 {name} 的内容无法解析，可能已损坏。请用 Word 打开后重新另存为 .docx 再上传。") from e
    return builder.text, builder.headings, title, []


def _docx_style(para) -> str:
    try:
        return ((para.style.name if para.style is not None else "") or "").strip()
    except Exception:  # a style id missing from styles.xml
        return ""


def _docx_heading_level(para) -> int | None:
    m = _HEADING_STYLE_RE.match(_docx_style(para))
    return int(m.group(1)) if m else None


def _unique_cells(row):
    # Merged cells come back once per grid column; keep each cell once.
    seen, out = set(), []
    for cell in row.cells:
        key = id(cell._tc)
        if key not in seen:
            seen.add(key)
            out.append(cell)
    return out


def _table_rows(rows: list[list[str]]) -> list[str]:
    """Markdown pipe rows, one per line, with a separator after the header row."""
    out: list[str] = []
    for cells in rows:
        cells = [_SPACE_RE.sub(" ", c).strip().replace("|", "｜") for c in cells]
        if not any(cells):
            continue
        out.append("| " + " | ".join(cells) + " |")
        if len(out) == 1:
            out.append("|" + "---|" * len(cells))
    return out


# --- pdf ----------------------------------------------------------------------------------


def _load_pdf(data: bytes, name: str):
    try:
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # Many PDFs are "encrypted" only to restrict printing and open with an empty password.
            try:
                ok = reader.decrypt("")
            except Exception:
                ok = 0
            if not ok:
                raise LoadError(f"文件 {name} 是加密的 PDF，无法读取。请去除密码保护（或另存为不加密的 PDF）后再上传。")
        n_pages = len(reader.pages)
    except LoadError:
        raise
    except Exception as e:  # pypdf raises many types for damaged files
        raise LoadError(f"文件 {name} 无法打开，可能已损坏或不是真正的 PDF 文件。请重新导出 PDF 后再上传。") from e
    builder = _Builder()
    pages: list[tuple[int, int, int]] = []
    for number in range(1, n_pages + 1):
        try:
            page_text = reader.pages[number - 1].extract_text() or ""
        except Exception as e:
            log.warning("page %d of %s not readable: %s", number, name, e)
            continue
        span = builder.add(_unwrap_pdf_lines(page_text))
        if span:
            pages.append((span[0], span[1], number))
    if not pages:
        raise LoadError(f"文件 {name} 没有可提取的文字层，可能是扫描件，请先做文字识别（OCR）后再上传。")
    title = ""
    try:
        meta = reader.metadata
        title = _clean_pdf_title((meta.title or "") if meta else "")
    except Exception:
        title = ""
    return builder.text, {}, title, pages


# A PDF line that ends like this closes its sentence or paragraph; any other line was wrapped by the layout.
_PDF_LINE_END = "。！？；：:!?;”’）)】》"
# A line that opens like this starts a new block even after a wrapped line: a heading or a list item.
_PDF_BLOCK_START = re.compile(
    r"^\s*(第[一二三四五六七八九十百零\d]+[章节条]|[一二三四五六七八九十]+[、是要]|[（(][一二三四五六七八九十\d]+[）)]|\d+[.．、](?!\d)|[#|•·\-])"
)


def _unwrap_pdf_lines(text: str) -> str:
    """Join the lines a PDF layout wrapped inside a sentence ("由村党组织指定专人负责签" + "到。")."""
    lines = [line.strip() for line in text.split("\n")]
    # A wrapped line runs (nearly) the full width of the page's text column.
    full = max((len(line) for line in lines), default=0) * _PDF_FULL_WIDTH
    out: list[str] = []
    for stripped in lines:
        if (
            out
            and out[-1]
            and stripped
            and out[-1][-1] not in _PDF_LINE_END
            and not _PDF_BLOCK_START.match(stripped)
            and len(out[-1]) >= max(full, _PDF_WRAP_MIN)
        ):
            out[-1] += stripped
        else:
            out.append(stripped)
    return "\n".join(out)


_PDF_WRAP_MIN = 15  # a shorter line is a title or a label, not a wrapped line of running text
_PDF_FULL_WIDTH = 0.8  # share of the page's longest line that a wrapped line reaches


def _clean_pdf_title(title: str) -> str:
    # Word exports often leave "Microsoft Word - 文件名.docx" as the PDF title.
    title = re.sub(r"^Microsoft Word\s*-\s*", "", title.strip())
    return re.sub(r"\.(docx?|wps|pdf)$", "", title, flags=re.IGNORECASE).strip()


# --- html ---------------------------------------------------------------------------------

_DROP_TAGS = {"script", "style", "nav", "head", "noscript", "template", "svg", "iframe"}
_HEADING_TAGS = {f"h{i}": i for i in range(1, 7)}
_BLOCK_TAGS = {
    "p",
    "div",
    "li",
    "ul",
    "ol",
    "section",
    "article",
    "main",
    "header",
    "footer",
    "body",
    "html",
    "blockquote",
    "pre",
    "dl",
    "dt",
    "dd",
    "figure",
    "figcaption",
    "form",
    "aside",
    "address",
    "hr",
    "tr",
}


def _load_html(data: bytes, name: str):
    from bs4 import BeautifulSoup

    markup = decode_bytes(data, name)
    try:
        import lxml  # noqa: F401

        parser = "lxml"
    except ImportError:
        parser = "html.parser"
    try:
        soup = BeautifulSoup(markup, parser)
    except Exception as e:
        raise LoadError(f"文件 {name} 无法解析为网页，请确认文件内容后再上传。") from e
    title = ""
    if soup.title and soup.title.get_text(strip=True):
        title = _SPACE_RE.sub(" ", soup.title.get_text()).strip()
    else:
        h1 = soup.find("h1")
        if h1 is not None:
            title = _SPACE_RE.sub(" ", h1.get_text(" ")).strip()
    builder = _Builder()
    _HtmlWalker(builder).walk(soup)
    return builder.text, builder.headings, title, []


class _HtmlWalker:
    def __init__(self, builder: _Builder) -> None:
        self.builder = builder
        self.buf: list[str] = []

    def flush(self) -> None:
        line = _SPACE_RE.sub(" ", "".join(self.buf)).strip()
        self.buf = []
        if line:
            self.builder.add(line)

    def walk(self, node) -> None:
        from bs4 import NavigableString, Tag
        from bs4.element import PreformattedString

        for child in node.children:
            if isinstance(child, NavigableString):
                if not isinstance(child, PreformattedString):  # comments, doctype, CDATA
                    self.buf.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            tag = (child.name or "").lower()
            if tag in _DROP_TAGS:
                continue
            if tag in _HEADING_TAGS:
                self.flush()
                self.builder.add(child.get_text(" "), _HEADING_TAGS[tag])
            elif tag == "table":
                self.flush()
                rows = []
                for tr in child.find_all("tr"):
                    rows.append([cell.get_text(" ") for cell in tr.find_all(["td", "th"])])
                for row in _table_rows(rows):
                    self.builder.add(row)
            elif tag == "br":
                self.flush()
            elif tag in _BLOCK_TAGS:
                self.flush()
                self.walk(child)
                self.flush()
            else:
                self.walk(child)
        if node.parent is None:
            self.flush()
