"""PDF: the text layer page by page (with page spans for citations), lines the layout wrapped joined again."""

from __future__ import annotations

import io
import logging
import re

from ingest.loaders.document import LoadError, Parsed, TextBuilder
from ingest.loaders.limits import DEFAULT_LIMITS, Limits

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
WRAP_MIN = 15  # a shorter line is a title or a label, not a wrapped line of running text
FULL_WIDTH = 0.8  # share of the page's longest line that a wrapped line reaches


def load_pdf(data: bytes, name: str, *, limits: Limits = DEFAULT_LIMITS) -> Parsed:
    """A PDF's text layer, pages joined by one line break; `pages` maps each page's span to its number."""
    try:
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # Many PDFs are "encrypted" only to restrict printing and open with an empty password.
            try:
                opened = bool(reader.decrypt(""))
            except Exception:
                opened = False
            if not opened:
                raise LoadError(f"文件 {name} 是加密的 PDF，无法读取。请去除密码保护（或另存为不加密的 PDF）后再上传。")
        n_pages = len(reader.pages)
    except LoadError:
        raise
    except Exception as e:  # pypdf raises many types for damaged files
        raise LoadError(f"文件 {name} 无法打开，可能已损坏或不是真正的 PDF 文件。请重新导出 PDF 后再上传。") from e
    builder = TextBuilder(limits.max_chars, name)
    pages: list[tuple[int, int, int]] = []
    for number in range(1, n_pages + 1):
        try:
            page_text = reader.pages[number - 1].extract_text() or ""
        except Exception as e:
            log.warning("page %d of %s not readable: %s", number, name, e)
            continue
        span = builder.add(unwrap_lines(page_text))
        if span:
            pages.append((span[0], span[1], number))
    if not pages:
        raise LoadError(f"文件 {name} 没有可提取的文字层，可能是扫描件，请先做文字识别（OCR）后再上传。")
    title = ""
    try:
        meta = reader.metadata
        title = clean_title((meta.title or "") if meta else "")
    except Exception:
        title = ""
    return Parsed(builder.text, {}, title, pages)


def unwrap_lines(text: str) -> str:
    """Join the lines a PDF layout wrapped inside a sentence ("由村党组织指定专人负责签" + "到。")."""
    lines = [line.strip() for line in text.split("\n")]
    # A wrapped line runs (nearly) the full width of the page's text column.
    full = max((len(line) for line in lines), default=0) * FULL_WIDTH
    out: list[str] = []
    for stripped in lines:
        if (
            out
            and out[-1]
            and stripped
            and out[-1][-1] not in LINE_END
            and not BLOCK_START.match(stripped)
            and len(out[-1]) >= max(full, WRAP_MIN)
        ):
            out[-1] += stripped
        else:
            out.append(stripped)
    return "\n".join(out)


def clean_title(title: str) -> str:
    """A PDF's metadata title without the "Microsoft Word - …docx" dress that Word exports leave on it."""
    title = re.sub(r"^Microsoft Word\s*-\s*", "", title.strip())
    return re.sub(r"\.(docx?|wps|pdf)$", "", title, flags=re.IGNORECASE).strip()
