"""The Chinese text grammar shared by the chunker, BM25, the answerer, the outline, the verifier and the evaluation.

One definition each of: normalising a document, splitting Chinese sentences, list numbering
(一、 （一） 1. 一是 第X条), section paths, tokenising for BM25, and the punctuation-free form used to
compare quotes.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import tempfile
import threading
import unicodedata
from functools import lru_cache, partial
from pathlib import Path
from typing import Optional

import jieba

jieba.setLogLevel(logging.WARNING)
log = logging.getLogger(__name__)

SENTENCE_END = "。！？；!?;"
# Closing marks that stay with the sentence they end: …。” or …；）
CLOSERS = "”’」』）)】》\"'"
_PUNCT_RE = re.compile(r"[\s\W_]+", re.UNICODE)

# Function words and question words that carry no topic. Kept short on purpose:
# a larger list starts dropping words people actually search for.
STOPWORDS = frozenset(
    """的 了 和 与 及 以及 或 在 是 为 对 把 被 将 等 也 都 而 并 其 之 这 那 这些 那些 这个 那个
    我们 你们 他们 我 你 他 她 它 有 有关 关于 什么 哪些 哪个 哪几 哪 几 多少 怎么 怎样 如何 为什么
    是否 吗 呢 吧 啊 请问 请 一下 要 需要 应该 可以 能 会 就 还 又 中 上 下 里 个 些 一些 哪里 谁
    多 几个 几类 几项 怎么样 怎么办 啥 吗 么 从 到 向 于 以 让 给 才 能否 能不能 要不要 有没有 还是 或者 哪方面 方面 什么样 内容 主要 具体 问题 情况 时候 一个""".split()
)


def normalise(text: str) -> str:
    """Return the canonical form of a document's text; every stored offset refers to it.

    Unicode NFC, unified line ends, no trailing spaces, at most one blank line in a row,
    no BOM, no control characters.
    """
    text = unicodedata.normalize("NFC", text.replace("\ufeff", ""))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    lines = [line.rstrip() for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n")


# Answering splits the same retrieved passages into sentences several times per question (re-ranking, candidates,
# the rule judge): their spans are cached. Only texts of passage size, since the cache keeps its keys alive.
SENTENCE_CACHE = 4096
SENTENCE_CACHE_CHARS = 1000


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Spans (start, end) of the sentences in text[start:end], leading/trailing whitespace excluded.

    A sentence ends at 。！？；!?; (with any closing quote or bracket after it) or at a line break.
    """
    if start == 0 and end is None and len(text) <= SENTENCE_CACHE_CHARS:
        return list(_passage_sentences(text))
    return _sentence_spans(text, start, len(text) if end is None else end)


@lru_cache(maxsize=SENTENCE_CACHE)
def _passage_sentences(text: str) -> tuple[tuple[int, int], ...]:
    return tuple(_sentence_spans(text, 0, len(text)))


def _sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    i = s = start
    while i < end:
        ch = text[i]
        if ch == "\n" or ch in SENTENCE_END:
            j = i + 1
            if ch != "\n":
                while j < end and (text[j] in CLOSERS or text[j] in SENTENCE_END):
                    j += 1
            _add_span(text, s, j, spans)
            s = i = j
            continue
        i += 1
    _add_span(text, s, end, spans)
    return spans


def _add_span(text: str, s: int, e: int, spans: list[tuple[int, int]]) -> None:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    if e > s and compact(text[s:e]):
        spans.append((s, e))


def sentences(text: str) -> list[str]:
    """The sentences of text, as strings."""
    return [text[s:e] for s, e in split_sentences(text)]


# compact() runs on the same sentences and question terms thousands of times per answer (a fifth of the
# answering CPU before this cache); the bound keeps memory to a few MB.
COMPACT_CACHE = 32768


@lru_cache(maxsize=COMPACT_CACHE)
def compact(text: str) -> str:
    """NFKC form with punctuation and whitespace removed, lower-cased: used to compare quotes and answers."""
    return _PUNCT_RE.sub("", unicodedata.normalize("NFKC", text)).lower()


DOTTED = re.compile(r"\d+(?:\.\d+){2,}")  # a dotted date or version: 2024.11.15


def holds_number(number: str, text: str) -> bool:
    """Whether text names this number as a whole: 16 is in 16号线 and 第 16 届, not in 2016年, 160 or 16.5
    (a substring test took 2016 for 16, and 50元 for 5元). A dotted date names each run of its parts: 2024.11.15
    holds 2024, 2024.11, 11.15 and 15."""
    number = unicodedata.normalize("NFKC", number)
    text = unicodedata.normalize("NFKC", text)
    if re.search(rf"(?<![\d.]){re.escape(number)}(?!\d|\.\d)", text):
        return True
    # a run of a dotted date's parts is what stands between two of its dots (or its ends)
    return any(f".{number}." in f".{m.group()}." for m in DOTTED.finditer(text))


DICTIONARY_FILE = "jieba_dictionary.pickle"  # in the knowledge-base directory, beside its other caches


def load_dictionary(cache_dir: Path, tokenizer: Optional[jieba.Tokenizer] = None) -> None:
    """Load jieba's dictionary now, from a copy kept in cache_dir (0.3 s here, against 0.9 s for jieba's own
    marshal cache: the first question of a freshly started app paid that second). The copy is written from
    the dictionary jieba loads when there is none, or when it came from another jieba release. It is a pickle,
    so it lives in the app's own directory (the knowledge base's), not in the shared temporary directory.
    `tokenizer` is jieba's default one unless given."""
    dt = tokenizer if tokenizer is not None else jieba.dt
    if dt.initialized:
        return
    path = Path(cache_dir) / DICTIONARY_FILE
    key = (jieba.__version__, str(dt.dictionary))
    with dt.lock:
        try:
            with path.open("rb") as f:
                stored, freq, total = pickle.load(f)
            if stored == key:
                dt.FREQ, dt.total, dt.initialized = freq, total, True
                return
        except FileNotFoundError:
            pass
        except Exception as e:  # a torn or foreign file: jieba's own load below, and a fresh copy
            log.warning("jieba dictionary copy %s unreadable (%s); rebuilding it", path, e)
        dt.initialize()
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=DICTIONARY_FILE, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                pickle.dump((key, dt.FREQ, dt.total), f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)  # whole or not at all: another app process may be reading it
            tmp = None
        except OSError as e:  # a read-only knowledge base still answers; it loads the slow way next time too
            log.warning("could not keep a copy of jieba's dictionary in %s: %s", path.parent, e)
        finally:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)


def load_dictionary_in_background(cache_dir: Optional[Path] = None) -> None:
    """Start loading jieba's dictionary (about 1 s) on a thread, for a caller that tokenizes later and has
    other work first; the first cut waits for it (jieba holds a lock while it loads). With cache_dir, through
    load_dictionary: the copy there is read, or written for the next process (an ingest leaves one for the app)."""
    if not jieba.dt.initialized:
        target = partial(load_dictionary, cache_dir) if cache_dir is not None else jieba.initialize
        # Writing the copy, the thread holds the process at exit until the copy is whole (a fraction of a second).
        threading.Thread(target=target, name="jieba-dictionary", daemon=cache_dir is None).start()


@lru_cache(maxsize=8192)
def _cut(text: str) -> tuple[str, ...]:
    return tuple(jieba.lcut_for_search(text))


def tokenize(text: str, drop_stopwords: bool = True) -> list[str]:
    """jieba search-mode tokens, lower-cased, punctuation dropped (and stopwords unless asked not to)."""
    out = []
    for tok in _cut(unicodedata.normalize("NFKC", text)):
        tok = tok.strip().lower()
        if not tok or not compact(tok):
            continue
        if drop_stopwords and tok in STOPWORDS:
            continue
        out.append(tok)
    return out


# A sentence's bigram set weighs a few kB (its compact form a few hundred bytes), hence a smaller bound than compact's.
NGRAM_CACHE = 4096


@lru_cache(maxsize=NGRAM_CACHE)
def char_ngrams(text: str, n: int = 2) -> frozenset[str]:
    """Character n-grams of the compact form of text (the unit of support checking). Cached: answer selection asks
    for the bigrams of the same sentences several times per question."""
    c = compact(text)
    if len(c) < n:
        return frozenset((c,)) if c else frozenset()
    return frozenset(c[i : i + n] for i in range(len(c) - n + 1))


# ---------------------------------------------------------------- section paths
SECTION_SEP = " > "


def section_parts(path: str) -> list[str]:
    """The headings of a section path, outermost first ([] for the preamble's "")."""
    return path.split(SECTION_SEP) if path else []


def section_path(parts: list[str]) -> str:
    """A section path from its headings."""
    return SECTION_SEP.join(parts)


# ---------------------------------------------------------------- list numbering
# Chinese numerals as they appear in list numbering and article labels.
CN_NUMERALS = "一二三四五六七八九十百零〇两"
# (kind, pattern) tried in order on the line with leading whitespace removed.
NUMBERING: list[tuple[str, re.Pattern[str]]] = [
    ("chapter", re.compile(rf"^第[{CN_NUMERALS}\d]+章")),
    ("jie", re.compile(rf"^第[{CN_NUMERALS}\d]+节")),
    ("article", re.compile(rf"^第[{CN_NUMERALS}\d]+条")),
    ("cn", re.compile(rf"^[{CN_NUMERALS}]+、")),
    ("paren_cn", re.compile(rf"^[（(][{CN_NUMERALS}]+[）)]")),
    ("paren_num", re.compile(r"^[（(]\d{1,2}[）)]")),
    # 1. / 1． / 1、 but not 1.5 (decimal) nor a date like 2024.1 (at most two digits).
    ("num", re.compile(r"^\d{1,2}(?:[.．](?![\d.．])|、)(?=\s*\S)")),
    ("lead", re.compile(rf"^[{CN_NUMERALS}]+[要是](?=\S)")),
]


def numbering_kind(line: str) -> str:
    """The numbering a line starts with (第X章/节/条, 一、, （一）, （1）, 1., 一是/一要), or ""."""
    stripped = line.strip()
    return next((kind for kind, pattern in NUMBERING if pattern.match(stripped)), "")


# ---------------------------------------------------------------- numerals
_CN_DIGIT_VALUES = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_DIGITS = "零一二三四五六七八九"


def cn_to_int(numeral: str) -> int:
    """The value of a numeral below 1000 as list numbering and ordinals write it (三 3, 十二 12, 二十 20,
    一百零五 105, Arabic 12); 0 when the text is not such a numeral."""
    if numeral.isdigit():
        return int(numeral)
    total, digit = 0, None
    for ch in numeral:
        if ch in _CN_DIGIT_VALUES:
            if digit is not None and digit != 0:
                return 0  # two digits in a row (一二) is not a numeral
            digit = _CN_DIGIT_VALUES[ch]
        elif ch in "十百":
            unit = 10 if ch == "十" else 100
            total += (1 if digit is None else digit) * unit
            digit = None
        else:
            return 0
    return total + (digit or 0)


def int_to_cn(n: int) -> str:
    """n (0–99) as a Chinese numeral, as headings number their points: 3 三, 10 十, 12 十二, 20 二十."""
    if not 0 <= n < 100:
        raise ValueError(f"{n} is outside 0–99")
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _CN_DIGITS[ones]
    return ("" if tens == 1 else _CN_DIGITS[tens]) + "十" + (_CN_DIGITS[ones] if ones else "")
