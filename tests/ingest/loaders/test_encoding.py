"""Decoding text bytes: UTF-8 with or without BOM, UTF-16, GBK/GB18030; damaged or binary bytes refused."""

from __future__ import annotations

import codecs
import random

import pytest

from core.grammar import normalise
from ingest.loaders import LoadError, decode_bytes, load
from tests.ingest.loaders.files import NOTICE, SEED, chinese_message

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-16"])
def test_encodings_decode_cleanly(tmp_path, encoding):
    text = NOTICE
    if encoding == "gb18030":
        text += "少数民族人名用字：䶮。\n"  # U+4DAE is in GB18030 but not in GBK
        with pytest.raises(UnicodeEncodeError):
            text.encode("gbk")
    path = tmp_path / f"notice_{encoding}.txt"
    path.write_bytes(text.encode(encoding))
    doc = load(path)
    assert doc.text == normalise(text)
    assert "\ufeff" not in doc.text
    assert doc.title == "关于开展2024年度党员冬训工作的通知"


@pytest.mark.parametrize(
    "data",
    [
        NOTICE.encode("utf-8"),
        codecs.BOM_UTF8 + NOTICE.encode("utf-8"),
        codecs.BOM_UTF16_LE + NOTICE.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + NOTICE.encode("utf-16-be"),
        NOTICE.encode("gbk"),
    ],
)
def test_decode_bytes(data):
    assert decode_bytes(data).replace("\ufeff", "") == NOTICE


def test_decode_bytes_short_ascii_and_default_name():
    assert decode_bytes(b"plain text") == "plain text"
    with pytest.raises(LoadError) as err:
        decode_bytes(b"a\x00b")
    assert "文件" in str(err.value) and "二进制" in str(err.value)


def test_damaged_utf8_is_rejected_not_mojibake(tmp_path):
    data = SEED.read_bytes()
    # Drop one byte in the middle of a Chinese character: strict UTF-8 fails, GB18030 would give mojibake.
    cut = 301
    while data[cut] < 0x80:
        cut += 1
    damaged = data[:cut] + data[cut + 1 :]
    with pytest.raises(UnicodeDecodeError):
        damaged.decode("utf-8")
    path = tmp_path / "damaged.txt"
    path.write_bytes(damaged)
    with pytest.raises(LoadError) as err:
        load(path)
    assert "编码" in chinese_message(err, "damaged.txt")


def _damaged_but_gb18030_decodable() -> bytes:
    """A seed sentence's UTF-8 bytes with one byte dropped such that strict GB18030 still decodes it."""
    from core.grammar import sentences

    for sentence in sentences(SEED.read_text(encoding="utf-8")):
        raw = sentence.encode("utf-8")
        if len(sentence) < 20:
            continue
        for cut in range(len(raw)):
            damaged = raw[:cut] + raw[cut + 1 :]
            try:
                damaged.decode("utf-8")
                continue
            except UnicodeDecodeError:
                pass
            try:
                damaged.decode("gb18030")
            except UnicodeDecodeError:
                continue
            return damaged
    raise AssertionError("no such sentence in the seed")


def test_damaged_utf8_that_gb18030_accepts_is_rejected(tmp_path):
    damaged = _damaged_but_gb18030_decodable()
    path = tmp_path / "半截.txt"
    path.write_bytes(damaged)
    with pytest.raises(LoadError) as err:
        load(path)
    chinese_message(err, "半截.txt")
    with pytest.raises(LoadError):
        decode_bytes(damaged, "半截.txt")


def test_high_byte_noise_is_rejected(tmp_path):
    rng = random.Random(7)
    data = bytes(rng.randrange(0x80, 0x100) for _ in range(600))
    path = tmp_path / "noise.txt"
    path.write_bytes(data)
    with pytest.raises(LoadError) as err:
        load(path)
    chinese_message(err, "noise.txt")
