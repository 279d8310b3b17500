"""What a question asks for, and how well a sentence answers it.

The retriever (re-ordering passages by their best sentence), the extractive answerer
(choosing sentences) and the refusal check all score evidence the same way, here.
A score is something a person can check: which question terms a sentence contains,
weighted by how rare they are in the knowledge base, and whether the sentence holds
the kind of thing asked for (a number, a date, a person or body, a list).
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

from ingest.text import char_ngrams, compact, tokenize

# ---------------------------------------------------------------- question types
CN_NUM = "零〇一二两三四五六七八九十百千万亿"
NUMBER = "number"
LIST = "list"
WHO = "who"
WHEN = "when"
WHERE = "where"
MONEY = "money"
GENERAL = "general"

# Order matters: the first match wins (money before number, list before number for 哪几).
QUESTION_CUES: list[tuple[str, re.Pattern]] = [
    (MONEY, re.compile(r"经费|预算|费用|资金|多少钱|金额|花了多少|拨款|补贴|报销|开支|成本")),
    (WHEN, re.compile(r"什么时候|何时|哪天|哪一天|几月|几号|几日|哪年|哪一年|什么时间|截止|期限|日期|多久|时间节点|起止")),
    (WHO, re.compile(r"谁|哪位|哪个部门|哪个单位|哪些部门|哪些单位|什么部门|什么单位|负责人|由哪|主讲人|授课人|牵头单位|主办|承办方|哪个机构|哪些人|什么人")),
    (WHERE, re.compile(r"哪里|在哪|什么地方|何地|地点|场所|哪个地方")),
    (LIST, re.compile(r"哪些|哪几|有什么|包括什么|包括哪|几个方面|几方面|几点|几项|几类|分别|都有|主要有|有几种|哪方面|什么内容|什么要求|什么措施|三点|四点")),
    (NUMBER, re.compile(r"多少|几[个场次名人位天项批期类种条家所门节课]|几|数量|比例|百分之|人次|规模|多大|多长|多高")),
]

ANSWER_CUES: dict[str, re.Pattern] = {
    MONEY: re.compile(rf"[\d{CN_NUM}]+(\.\d+)?\s*(万|千|百)?元|经费|资金|预算|费用"),
    WHEN: re.compile(rf"\d{{4}}年|[\d{CN_NUM}]{{1,3}}月|[\d{CN_NUM}]{{1,3}}[日号]|年底|年初|月底|上旬|中旬|下旬|春节|期间|之前|以前|前后|每[年月周]|\d{{1,2}}[:：]\d{{2}}|周[一二三四五六日]|星期"),
    WHO: re.compile(r"[委部局办厅处室站所院校会队组中心社团]|书记|主任|部长|同志|教授|老师|讲师|专家|宣讲员|负责|牵头|主讲|授课"),
    WHERE: re.compile(r"[馆室厅堂场院校所站点中心楼村社区镇街道区市]|线上|线下|地点"),
    LIST: re.compile(rf"[一二三四五六七八九十]是|[一二三四五六七八九十]要|（[{CN_NUM}\d]+）|^[{CN_NUM}]+、|^\d+[.．、]|[、；]|：|等"),
    NUMBER: re.compile(rf"\d|[{CN_NUM}]+[个场次名人位天项批期类种条家所门节课%％倍万]|百分之"),
}

INJECTION = re.compile(
    r"忽略|无视|不要管|忘掉|忘记|之前的(规则|指令|设定|要求)|以上(规则|指令)|系统提示|提示词|system\s*prompt|ignore\s+(all\s+)?(previous|prior|above)"
    r"|jailbreak|越狱|扮演|你现在是|假装|不受.*限制|直接回答.*不用|不要引用|开发者模式|developer\s*mode",
    re.IGNORECASE,
)

ENUM_ITEM = re.compile(rf"^\s*(?:[{CN_NUM}]+(?:是|要|、)|（[{CN_NUM}\d]+）|\([{CN_NUM}\d]+\)|\d+[.．、](?!\d)|第[{CN_NUM}\d]+[，、,])")
ENUM_ANNOUNCE = re.compile(rf"([{CN_NUM}\d]+)(?:点|个方面|方面|项|条|类|个阶段|阶段|种|件事)(?:意见|要求|任务|工作|措施|内容|举措|重点)?[^。；]{{0,6}}[:：。]?$|如下[:：]|以下[^。]{{0,8}}[:：]$|[:：]$")


def question_type(question: str) -> str:
    """The kind of thing a question asks for (number, list, who, when, where, money or general)."""
    for kind, pattern in QUESTION_CUES:
        if pattern.search(question):
            return kind
    return GENERAL


def is_injection(question: str) -> bool:
    """True when the question tries to change the assistant's rules rather than ask about the materials."""
    return bool(INJECTION.search(question))


def satisfies(kind: str, sentence: str) -> bool:
    """Whether a sentence contains the kind of thing the question asks for."""
    pattern = ANSWER_CUES.get(kind)
    return True if pattern is None else bool(pattern.search(sentence))


# ---------------------------------------------------------------- corpus statistics
@dataclass
class CorpusStats:
    """Document frequencies of tokens over the knowledge base's chunks, for IDF weights."""

    n_docs: int = 0
    df: Counter = field(default_factory=Counter)

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> "CorpusStats":
        df: Counter = Counter()
        n = 0
        for text in texts:
            n += 1
            df.update(set(tokenize(text)))
        return cls(n, df)

    def idf(self, token: str) -> float:
        """Smoothed IDF; a token the corpus never contains gets the highest weight."""
        return math.log(1 + (self.n_docs + 1) / (self.df.get(token, 0) + 0.5))

    def known(self, token: str) -> bool:
        return token in self.df


# ---------------------------------------------------------------- question analysis
GENERIC_TERMS = frozenset("工作 开展 进行 提出 做好 加强 推进 相关 单位 活动 情况 要求 方面 问题 讲话 材料 文件 会议 提到 指出 强调 根据 按照".split())


@dataclass
class Query:
    """A question broken into what retrieval and answering need."""

    text: str
    kind: str
    terms: list[str]  # content terms, longest-first, no duplicates
    weights: dict[str, float]  # term -> IDF weight
    bigrams: set[str]

    @property
    def total_weight(self) -> float:
        return sum(self.weights.values()) or 1.0


def analyse(question: str, stats: CorpusStats) -> Query:
    """Split a question into weighted content terms and its question type."""
    tokens = tokenize(question)
    # Search-mode jieba yields both 理论宣讲 and 理论/宣讲; keep the longest forms and drop parts they contain.
    uniq = sorted(set(tokens), key=len, reverse=True)
    terms: list[str] = []
    for tok in uniq:
        if len(tok) == 1 and not re.match(r"[\dA-Za-z]", tok) and any(tok in t for t in terms):
            continue
        terms.append(tok)
    weights = {t: stats.idf(t) * (0.5 if t in GENERIC_TERMS else 1.0) for t in terms}
    return Query(question, question_type(question), terms, weights, char_ngrams(question))


# ---------------------------------------------------------------- sentence scoring
TYPE_BONUS = 0.15  # a sentence holding the kind of thing asked for
TYPE_PENALTY = 0.15  # a sentence that cannot answer the kind of question asked
BIGRAM_SHARE = 0.3  # weight of character-bigram overlap beside whole-term coverage


def term_coverage(query: Query, text: str) -> float:
    """IDF-weighted share of the question's terms that occur in text (0..1)."""
    c = compact(text)
    hit = 0.0
    for term, w in query.weights.items():
        if compact(term) in c:
            hit += w
        elif len(term) >= 3:
            # partial credit for a long term whose parts occur (宣讲员 vs 宣讲)
            parts = char_ngrams(term)
            share = sum(1 for p in parts if p in c) / max(len(parts), 1)
            hit += w * 0.5 * share
    return hit / query.total_weight


def bigram_overlap(query: Query, text: str) -> float:
    """Share of the question's character bigrams found in text (0..1)."""
    if not query.bigrams:
        return 0.0
    grams = char_ngrams(text)
    return len(query.bigrams & grams) / len(query.bigrams)


def sentence_score(query: Query, sentence: str) -> float:
    """How well one sentence answers the question: term coverage, bigram overlap and the type cue."""
    score = (1 - BIGRAM_SHARE) * term_coverage(query, sentence) + BIGRAM_SHARE * bigram_overlap(query, sentence)
    if query.kind != GENERAL:
        score += TYPE_BONUS if satisfies(query.kind, sentence) else -TYPE_PENALTY
    return score


def missing_terms(query: Query, text: str, min_weight: float = 0.0) -> list[str]:
    """Question terms (weight above min_weight) that text does not contain."""
    c = compact(text)
    return [t for t, w in query.weights.items() if w > min_weight and compact(t) not in c]
