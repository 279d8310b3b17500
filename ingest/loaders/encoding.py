"""Decode the bytes of a text file (txt, md, html): UTF-8 with or without BOM, UTF-16 with BOM, GB18030/GBK,
then a guess -- and refuse rather than return mojibake."""

from __future__ import annotations

import codecs
import logging
import unicodedata

from ingest.loaders.document import LoadError

log = logging.getLogger(__name__)

# Broken UTF-8: when at least this share of the non-ASCII characters decode as UTF-8, the file
# is damaged UTF-8 and any other decoding would be mojibake.
BROKEN_UTF8_SHARE = 0.9
# Real Chinese text is almost all GB2312 level-1 (common) characters; GBK-decoded mojibake is not.
MIN_COMMON_HANZI_SHARE = 0.6
MIN_HANZI_FOR_SHARE_CHECK = 20
# charset-normalizer's own "mess" score above which its guess is not trusted.
MAX_CHAOS = 0.1
# GB2312 level-1 (the 3755 most common characters) has lead bytes in this range.
GB2312_LEVEL1_LEAD = (0xB0, 0xD7)


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
    low, high = GB2312_LEVEL1_LEAD
    common = 0
    for ch in hanzi:
        try:
            code = ch.encode("gb2312")
        except UnicodeEncodeError:
            continue
        if low <= code[0] <= high:
            common += 1
    return common / len(hanzi) >= MIN_COMMON_HANZI_SHARE
