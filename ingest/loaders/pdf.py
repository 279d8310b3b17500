"""PDF: the text layer page by page (with page spans for citations), ruled tables as pipe rows under their header,
the title from page 1's first heading; lines the layout wrapped joined again.

pdfplumber (pdfminer) reads the pages, their tables and font sizes; pypdf reads the text layer of a file or a
page that pdfminer cannot parse or decode."""

from __future__ import annotations

import io
import logging
import re
from typing import Any

from ingest.loaders.document import TITLE_MAX_CHARS, LoadError, Parsed, TextBuilder
from ingest.loaders.limits import DEFAULT_LIMITS, Limits
from ingest.loaders.pdf_tables import CJK, OpenTable, page_text

log = logging.getLogger(__name__)

# A PDF line that ends like this closes its sentence or paragraph; any other line was wrapped by the layout.
LINE_END = "。！？；：:!?;”’）)】》"
# A line that opens like this starts a new block even after a wrapped line: a heading or a list item.
# Not built from core.grammar.NUMBERING on purpose: that grammar accepts 〇/两 numerals and at most two digits
# ("1." but not "123."), and wants text after "一是"/"1."; this pattern predates it and the joins it makes
# decide which text a PDF yields, so it stays as it was (the differences are pinned in tests/ingest/loaders).
BLOCK_START = re.compile(
    r"^\s*(第[一二三四五六七八九十百零\d]+[章节条]|[一二三四五六七八九十]+[、是要]|[（(][一二三四五六七八九十\d]+[）)]|\d+[.．、](?!\d)|[#|•·\-])"
)
TABLE_ROW = "|"  # a line that starts so is a table row: never joined to another line
WRAP_MIN = 15  # a shorter line is a title or a label, not a wrapped line of running text
FULL_WIDTH = 0.8  # share of the page's longest line that a wrapped line reaches
# pdfminer writes a glyph it cannot map to a character as "(cid:123)"; on a page with more than this share of
# them (a CJK font named but not embedded, in a file encrypted to restrict printing) pypdf reads the text.
UNMAPPED_GLYPH = "(cid:"
UNMAPPED_RE = re.compile(r"\(cid:\d+\)")
MAX_UNMAPPED_SHARE = 0.1
# The issuing office's banner of a 红头文件 (GB/T 9704-2012 7.2.4: the office's name followed by "文件"), set
# larger than the title beneath it.
BANNER_ENDINGS = ("文件",)
CJK_SPACE_RE = re.compile(rf"(?<=[{CJK}])\s+(?=[{CJK}])")
# Title entries that tools write when the author gave none: reportlab ("(anonymous)", "untitled"), Word and WPS.
PLACEHOLDER_TITLES = frozenset({"(anonymous)", "anonymous", "untitled", "(untitled)", "(unspecified)", "无标题"})


def load_pdf(data: bytes, name: str, *, limits: Limits = DEFAULT_LIMITS) -> Parsed:
    """A PDF's text layer with its ruled tables as pipe rows, pages joined by one line break; `pages` maps each
    page's span to its number; the title is page 1's first heading, else the metadata title."""
    text_layer = TextLayer(data, name)
    layout = open_layout(data, name)
    if layout is None:  # pdfminer cannot parse it: the plain text layer, as pypdf reads it
        return text_layer.parsed(limits)
    builder = TextBuilder(limits.max_chars, name)
    pages: list[tuple[int, int, int]] = []
    last = OpenTable()
    heading = ""
    with layout:
        for number, page in enumerate(layout.pages, start=1):
            try:
                page_text = read_page(page, last, text_layer, number)
            except Exception as e:  # a page pdfminer cannot read: pypdf may, and the other pages count anyway
                log.warning("page %d of %s not readable by pdfminer (%s); reading its text layer", number, name, e)
                page_text = text_layer.page(number)
            if number == 1:
                heading = first_heading(page, name)
            page.close()  # pdfplumber keeps every parsed object of a page until then
            span = builder.add(unwrap_lines(page_text))
            if span:
                pages.append((span[0], span[1], number))
        if not pages:
            raise no_text_layer(name)
        title = heading or clean_title(metadata_title(layout.metadata))
    return Parsed(builder.text, {}, title, pages)


def open_layout(data: bytes, name: str) -> Any | None:
    """The PDF opened by pdfplumber; None when pdfminer cannot parse it; LoadError when a password locks it."""
    import pdfplumber
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect

    try:
        pdf = pdfplumber.open(io.BytesIO(data))
    except Exception as e:  # pdfplumber wraps pdfminer's many error types in one
        cause = e.args[0] if e.args else e
        if isinstance(cause, (PDFPasswordIncorrect, PDFEncryptionError)):
            raise encrypted(name) from e
        log.info("pdfminer cannot parse %s (%s); reading its text layer with pypdf", name, cause)
        return None
    try:
        len(pdf.pages)  # a damaged page tree fails here
    except Exception as e:
        pdf.close()
        log.info("pdfminer cannot read the pages of %s (%s); reading its text layer with pypdf", name, e)
        return None
    return pdf


def read_page(page: Any, last: OpenTable, text_layer: TextLayer, number: int) -> str:
    """One page's text with its tables; pypdf's text of the page instead when pdfminer cannot map its glyphs."""
    chars = page.chars
    unmapped = sum(1 for c in chars if c["text"].startswith(UNMAPPED_GLYPH))
    if chars and unmapped / len(chars) > MAX_UNMAPPED_SHARE:
        return text_layer.page(number)
    return UNMAPPED_RE.sub("", page_text(page, last))


def first_heading(page: Any, name: str) -> str:
    """The title that page 1 shows as its first heading (see heading_title), or ""."""
    try:
        lines = [line for line in page.extract_text_lines() if UNMAPPED_GLYPH not in line["text"]]
    except Exception as e:  # the page's text was read; only its title is lost
        log.warning("lines of page 1 of %s not readable: %s", name, e)
        return ""
    sizes = sorted(c["size"] for line in lines for c in line["chars"])
    if not sizes:
        return ""
    return heading_title([(line["text"], line_size(line["chars"])) for line in lines], body_size=median(sizes))


def line_size(chars: list[dict[str, Any]]) -> float:
    """The font size most of a line is set in."""
    return median(sorted(c["size"] for c in chars))


def median(values: list[float]) -> float:
    return values[len(values) // 2] if values else 0.0


def heading_title(
    lines: list[tuple[str, float]],
    *,
    body_size: float,
    first_lines: int = 6,
    min_ratio: float = 1.2,
    max_chars: int = TITLE_MAX_CHARS,
    banner_endings: tuple[str, ...] = BANNER_ENDINGS,
) -> str:
    """The first heading among a page's lines (text, font size): the line in the largest font among the first
    `first_lines`, with the lines right after it in that font (a title wrapped in two), or "".

    body_size: the font size of the page's running text; min_ratio: a heading's font is at least this many
    times larger; max_chars: a longer "heading" is a paragraph set large, not a title; banner_endings: a line
    ending so is the issuing office's banner of a 红头文件, not the title."""
    candidates = [(text.strip(), size) for text, size in lines if text.strip()][:first_lines]
    candidates = [(text, size) for text, size in candidates if not text.endswith(banner_endings)]
    if not candidates:
        return ""
    largest = max(size for _, size in candidates)
    if largest < body_size * min_ratio:
        return ""
    i = next(i for i, (_, size) in enumerate(candidates) if size == largest)
    parts = []
    for text, size in candidates[i:]:
        if size != largest:
            break
        parts.append(text)
    title = CJK_SPACE_RE.sub("", " ".join(parts))  # a title wrapped in two lines, or set letter-spaced (通　知)
    return title if len(title) <= max_chars else ""


def metadata_title(metadata: dict[str, Any]) -> str:
    """The Title entry of a PDF's document information, "" when missing or not text."""
    title = metadata.get("Title")
    return title if isinstance(title, str) else ""


def encrypted(name: str) -> LoadError:
    return LoadError(f"文件 {name} 是加密的 PDF，无法读取。请去除密码保护（或另存为不加密的 PDF）后再上传。")


def no_text_layer(name: str) -> LoadError:
    return LoadError(
        f"文件 {name} 没有可提取的文字层，可能是扫描件或图片。请先做文字识别（OCR），或找到它的文字版本后再上传。"
    )


class TextLayer:
    """The plain text layer of a PDF as pypdf reads it (opened on first use): the whole file when pdfminer
    cannot parse it, or a page whose glyphs pdfminer cannot map to characters."""

    def __init__(self, data: bytes, name: str) -> None:
        self.data, self.name = data, name
        self._reader: Any = None

    @property
    def reader(self) -> Any:
        """The opened pypdf reader; LoadError when the file is locked by a password or not a readable PDF."""
        if self._reader is None:
            self._reader = self._open()
        return self._reader

    def _open(self) -> Any:
        try:
            from pypdf import PdfReader

            reader = PdfReader(io.BytesIO(self.data))
            if reader.is_encrypted:
                # Many PDFs are "encrypted" only to restrict printing and open with an empty password.
                try:
                    opened = bool(reader.decrypt(""))
                except Exception:
                    opened = False
                if not opened:
                    raise encrypted(self.name)
            len(reader.pages)  # a damaged page tree fails here
        except LoadError:
            raise
        except Exception as e:  # pypdf raises many types for damaged files
            raise LoadError(
                f"文件 {self.name} 无法打开，可能已损坏或不是真正的 PDF 文件。请重新导出 PDF 后再上传。"
            ) from e
        return reader

    def page(self, number: int) -> str:
        """Page `number` (from 1) as text; "" when it cannot be read."""
        try:
            return str(self.reader.pages[number - 1].extract_text() or "")
        except Exception as e:
            log.warning("page %d of %s not readable: %s", number, self.name, e)
            return ""

    def parsed(self, limits: Limits) -> Parsed:
        """The whole file's text layer, page by page, titled by its metadata."""
        builder = TextBuilder(limits.max_chars, self.name)
        pages: list[tuple[int, int, int]] = []
        for number in range(1, len(self.reader.pages) + 1):
            span = builder.add(unwrap_lines(self.page(number)))
            if span:
                pages.append((span[0], span[1], number))
        if not pages:
            raise no_text_layer(self.name)
        try:
            meta = self.reader.metadata
            title = clean_title((meta.title or "") if meta else "")
        except Exception:
            title = ""
        return Parsed(builder.text, {}, title, pages)


def unwrap_lines(text: str) -> str:
    """Join the lines a PDF layout wrapped inside a sentence ("由村党组织指定专人负责签" + "到。")."""
    lines = [line.strip() for line in text.split("\n")]
    # A wrapped line runs (nearly) the full width of the page's text column (table rows are not in the column).
    full = max((len(line) for line in lines if not line.startswith(TABLE_ROW)), default=0) * FULL_WIDTH
    out: list[str] = []
    for stripped in lines:
        if (
            out
            and out[-1]
            and stripped
            and out[-1][-1] not in LINE_END
            and not out[-1].startswith(TABLE_ROW)
            and not BLOCK_START.match(stripped)
            and len(out[-1]) >= max(full, WRAP_MIN)
        ):
            out[-1] += stripped
        else:
            out.append(stripped)
    return "\n".join(out)


def clean_title(title: str) -> str:
    """A PDF's metadata title without the "Microsoft Word - …docx" dress that Word exports leave on it, and ""
    for a tool's placeholder ("(anonymous)")."""
    title = re.sub(r"^Microsoft Word\s*-\s*", "", title.strip())
    title = re.sub(r"\.(docx?|wps|pdf)$", "", title, flags=re.IGNORECASE).strip()
    return "" if title.lower() in PLACEHOLDER_TITLES else title
