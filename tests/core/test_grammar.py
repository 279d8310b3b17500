"""The Chinese text grammar: normalising, sentences, list numbering, section paths, compact form, tokens."""

from __future__ import annotations

import pytest

from core.grammar import (
    SECTION_SEP,
    SENTENCE_CACHE_CHARS,
    STOPWORDS,
    char_ngrams,
    compact,
    holds_number,
    normalise,
    numbering_kind,
    section_parts,
    section_path,
    sentences,
    split_sentences,
    tokenize,
)

pytestmark = pytest.mark.unit


# ---------------------------------------------------------------- normalise
def test_normalise_line_ends_blank_lines_bom_and_controls():
    raw = "\ufeff\n第一行  \r\n\r\n\r\n\r\n第二行\x07\t尾\r第三行\n\n"
    assert normalise(raw) == "第一行\n\n第二行\t尾\n第三行"
    assert normalise(normalise(raw)) == normalise(raw)


def test_normalise_is_nfc():
    assert normalise("e\u0301") == "\u00e9"


# ---------------------------------------------------------------- sentences
@pytest.mark.parametrize(
    "text, expected",
    [
        ("第一句。第二句！第三句？", ["第一句。", "第二句！", "第三句？"]),
        ("他说：“要抓落实。”然后散会。", ["他说：“要抓落实。”", "然后散会。"]),
        ("一是学习；二是实践", ["一是学习；", "二是实践"]),
        ("没有句号的一行\n下一行", ["没有句号的一行", "下一行"]),
        ("真的吗？！好。", ["真的吗？！", "好。"]),
        ("  前后有空白。  \n\n  ", ["前后有空白。"]),
        ("。。。\n", []),
        ("", []),
    ],
)
def test_sentences(text, expected):
    assert sentences(text) == expected


def test_split_sentences_spans_within_a_range():
    text = "甲。乙。丙。丁。"
    spans = split_sentences(text, 2, 6)
    assert [text[s:e] for s, e in spans] == ["乙。", "丙。"]
    assert all(2 <= s < e <= 6 for s, e in spans)


def test_a_passage_splits_the_same_from_the_cache_and_a_caller_cannot_change_it():
    passage = "冬训自11月20日开始。\n各村要报送台账！“学习强国”上线了。"
    spans = split_sentences(passage)
    assert [passage[s:e] for s, e in spans] == ["冬训自11月20日开始。", "各村要报送台账！", "“学习强国”上线了。"]
    spans.append((0, 1))
    assert split_sentences(passage) == spans[:-1]
    document = passage * (SENTENCE_CACHE_CHARS // len(passage) + 1)  # past the cache bound: split each time
    assert len(document) > SENTENCE_CACHE_CHARS
    assert split_sentences(document) == split_sentences(document, 0, len(document))
    assert len(split_sentences(document)) == 3 * (SENTENCE_CACHE_CHARS // len(passage) + 1)


# ---------------------------------------------------------------- numbering
@pytest.mark.parametrize(
    "line, kind",
    [
        ("一、总体要求", "cn"),
        ("十二、其他", "cn"),
        ("（一）理论学习", "paren_cn"),
        ("(三)实践活动", "paren_cn"),
        ("（1）报名", "paren_num"),
        ("1. 学习党章", "num"),
        ("2．学习准则", "num"),
        ("3、开展讨论", "num"),
        ("一是加强学习", "lead"),
        ("三要抓好落实", "lead"),
        ("第一章 总则", "chapter"),
        ("第二节 方式", "jie"),
        ("第十二条 本办法自发布之日起施行。", "article"),
        ("第3条 适用范围", "article"),
        ("  一、前有空白", "cn"),
        ("1.5万名党员参加", ""),  # a decimal, not an item
        ("2024.1.5召开推进会", ""),  # a date
        ("1.", ""),  # a marker with nothing after it
        ("一是", ""),
        ("普通的一句话。", ""),
        ("第一次会议", ""),
    ],
)
def test_numbering_kind(line, kind):
    assert numbering_kind(line) == kind


# ---------------------------------------------------------------- section paths
def test_section_paths_round_trip():
    parts = ["一、总体要求", "（一）理论学习", "1. 学习党章"]
    path = section_path(parts)
    assert path == "一、总体要求 > （一）理论学习 > 1. 学习党章"
    assert SECTION_SEP in path and section_parts(path) == parts
    assert section_parts("") == [] and section_path([]) == ""


# ---------------------------------------------------------------- compact, n-grams, tokens
@pytest.mark.parametrize(
    "text, expected",
    [
        ("开展各类理论宣讲活动215场。", "开展各类理论宣讲活动215场"),
        ("“冬训”， 要抓 落实！", "冬训要抓落实"),
        ("ＡＢＣ１２３", "abc123"),
        ("……——", ""),
    ],
)
def test_compact(text, expected):
    assert compact(text) == expected


def test_char_ngrams():
    assert char_ngrams("冬训，工作") == {"冬训", "训工", "工作"}
    assert char_ngrams("冬") == {"冬"} and char_ngrams("。") == set()
    assert char_ngrams("冬训工", n=3) == {"冬训工"}


def test_tokenize_drops_punctuation_and_stopwords():
    tokens = tokenize("请问冬训工作的宣讲活动有哪些？")
    assert "冬训" in tokens and "宣讲" in tokens
    assert not any(t in STOPWORDS for t in tokens)
    assert "？" not in tokens and "的" not in tokens
    assert "的" in tokenize("冬训的工作", drop_stopwords=False)


def test_tokenize_lower_cases_and_normalises_width():
    assert tokenize("ＰＤＦ文件") == tokenize("pdf文件")
    assert "pdf" in tokenize("PDF文件")


@pytest.mark.integration
@pytest.mark.parametrize("keep_copy", [False, True])
def test_the_dictionary_loads_in_the_background(keep_copy, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from core.grammar import DICTIONARY_FILE

    given = repr(str(tmp_path)) if keep_copy else ""
    code = (
        "import time, jieba\n"
        "from core import grammar\n"
        "assert not jieba.dt.initialized\n"
        f"grammar.load_dictionary_in_background({given})\n"
        "t = time.time()\n"
        "while not jieba.dt.initialized and time.time() - t < 60: time.sleep(0.05)\n"
        "print(jieba.dt.initialized, grammar.tokenize('冬训学习'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2], timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("True ['冬训', '学习']")
    assert (tmp_path / DICTIONARY_FILE).is_file() == keep_copy  # an ingest leaves the app its copy


@pytest.mark.integration
def test_the_dictionary_is_kept_in_the_cache_dir_and_loaded_from_there(tmp_path, monkeypatch, caplog):
    import jieba

    from core.grammar import DICTIONARY_FILE, load_dictionary

    first = jieba.Tokenizer()
    load_dictionary(tmp_path, first)  # no copy yet: jieba's own load, then the copy written
    assert first.initialized and (tmp_path / DICTIONARY_FILE).is_file()
    assert not list(tmp_path.glob("*.tmp"))

    def never(self):
        raise AssertionError("jieba's own load ran although the copy was there")

    second = jieba.Tokenizer()
    with monkeypatch.context() as m:
        m.setattr(jieba.Tokenizer, "initialize", never)
        load_dictionary(tmp_path, second)
    assert second.initialized and second.total == first.total and second.FREQ == first.FREQ
    assert second.lcut_for_search("冬训学习") == first.lcut_for_search("冬训学习")

    (tmp_path / DICTIONARY_FILE).write_bytes(b"torn")
    third = jieba.Tokenizer()
    load_dictionary(tmp_path, third)
    assert third.initialized and "rebuilding" in caplog.text
    fourth = jieba.Tokenizer()
    with monkeypatch.context() as m:
        m.setattr(jieba.Tokenizer, "initialize", never)
        load_dictionary(tmp_path, fourth)  # the torn copy was replaced by a whole one
    assert fourth.total == first.total


@pytest.mark.integration
def test_a_dictionary_copy_from_another_jieba_release_is_not_used(tmp_path, monkeypatch):
    import jieba

    from core import grammar

    grammar.load_dictionary(tmp_path, jieba.Tokenizer())
    monkeypatch.setattr(jieba, "__version__", "0.0.0-other")
    ran = []
    real = jieba.Tokenizer.initialize
    monkeypatch.setattr(jieba.Tokenizer, "initialize", lambda self: ran.append(1) or real(self))
    fresh = jieba.Tokenizer()
    grammar.load_dictionary(tmp_path, fresh)
    assert ran and fresh.initialized


def test_a_text_is_cut_by_jieba_once_then_served_from_the_cache(monkeypatch):
    # Questions and passages are tokenized again and again on the answering path; jieba runs once per text.
    from core import grammar

    calls = []
    real = grammar.jieba.lcut_for_search
    monkeypatch.setattr(grammar.jieba, "lcut_for_search", lambda text: calls.append(text) or real(text))
    text = "误工补贴每天发多少钱？缓存检查专用的句子。"
    first = grammar.tokenize(text)
    assert grammar.tokenize(text) == first and grammar.tokenize(text, drop_stopwords=False)
    assert len(calls) <= 1


@pytest.mark.parametrize(
    ("number", "text", "held"),
    [
        ("16", "上海轨道交通16号线", True),
        ("16", "第 16 届", True),
        ("16", "2011年至2016年建设", False),  # a substring, not the number (a CMRC report passage)
        ("5", "每人每天50元", False),
        ("5", "每人每天5元", True),
        ("3.5", "约3.5万人", True),
        ("3", "约3.5万人", False),
        ("2024", "2024—2025年度", True),
        ("2024", "２０２４年度", True),
        ("２０２４", "2024年度", True),
        # a dotted date names each run of its parts, and a decimal stays one number
        ("2024", "会议于2024.11.15召开", True),
        ("2024.11", "会议于2024.11.15召开", True),
        ("15", "会议于2024.11.15召开", True),
        ("2024.11.15", "会议于2024.11.15召开", True),
        ("2024.11.16", "会议于2024.11.15召开", False),
        ("1.15", "会议于2024.11.15召开", False),
        ("5", "会议于2024.11.15召开", False),
        ("16", "约16.5万人", False),
    ],
)
def test_a_number_is_held_only_as_a_whole(number, text, held):
    assert holds_number(number, text) is held
