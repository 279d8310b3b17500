"""load(): the dispatch by suffix, titles, the source argument, and every kind of bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

import ingest.loaders
from core.grammar import normalise
from ingest.loaders import READERS, SUPPORTED, SUPPORTED_HINT, LoadedDocument, LoadError, decode_bytes, load
from tests.ingest.loaders.files import NOTICE, SEED, chinese_message, make_pdf

pytestmark = pytest.mark.unit


def test_public_names():
    for name in ("load", "LoadError", "LoadedDocument", "SUPPORTED", "SUPPORTED_HINT", "decode_bytes"):
        assert hasattr(ingest.loaders, name), name
    assert SUPPORTED == frozenset({".txt", ".md", ".markdown", ".docx", ".pdf", ".html", ".htm"}) == set(READERS)
    assert all(ext.strip(".") in SUPPORTED_HINT for ext in (".txt", ".md", ".docx", ".pdf", ".html"))
    assert decode_bytes("通知".encode()) == "通知"


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


def test_suffix_is_case_insensitive(tmp_path):
    path = tmp_path / "通知.TXT"
    path.write_text(NOTICE, encoding="utf-8")
    assert load(path).text == normalise(NOTICE)


def test_loaded_document_file_name_defaults_to_the_source_name():
    assert LoadedDocument(source="corpus/sub/通知.txt", title="t", text="x").file_name == "通知.txt"


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
    return make_pdf(p / "加密.pdf", encrypt="secret")


def _xls(p: Path) -> Path:
    p = p / "名单.xls"
    p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    return p


def _missing(p: Path) -> Path:
    return p / "不存在.txt"


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
        (_missing, "无法读取"),
    ],
)
def test_bad_files_raise_load_error(tmp_path, make, hint):
    path = make(tmp_path)
    with pytest.raises(LoadError) as err:
        load(path)
    msg = chinese_message(err, path.name)
    assert hint in msg, msg


def test_unsupported_extension_lists_supported(tmp_path):
    with pytest.raises(LoadError) as err:
        load(_xls(tmp_path))
    msg = str(err.value)
    for ext in ("txt", "md", "docx", "pdf", "html"):
        assert ext in msg
    assert ".xls" not in SUPPORTED
