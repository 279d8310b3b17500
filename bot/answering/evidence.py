"""How well a sentence answers a question.

The retriever (re-ordering passages by their best sentence), the extractive answerer (choosing
sentences), the refusal check and the outline all score evidence the same way, here. A score is
something a person can check: which question terms a sentence contains, weighted by how rare they
are in the knowledge base, and whether the sentence holds the kind of thing asked for (a number, a
date, a person or body, a list).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from langchain_core.documents import Document

from bot.answering.numbering import ARTICLE_LABEL, CN_AMOUNT, CN_POSITION, ENUM_ANNOUNCE, ENUM_ITEM, LIST_MARKS
from bot.answering.question import DOCNUM, GENERAL, LIST, MONEY, NAME, NUMBER, WHEN, WHERE, WHO, YEAR, Query
from core.grammar import char_ngrams, compact, holds_number, split_sentences

# ---------------------------------------------------------------- does it hold what is asked
ANSWER_CUES: dict[str, re.Pattern] = {
    # An amount, not just the word 经费: "经费由区委宣传部统筹安排" does not say how much. Any currency counts, named
    # after the number (50元, 300美元, 2万英镑, 100块钱) or as a sign before it (NT$25,000 on CMRC calib, ￥80).
    MONEY: re.compile(
        rf"[\d{CN_AMOUNT}]+(\.\d+)?\s*(万|千|百|亿)?\s*((美|欧|日|英|港|澳|新台|台|韩|人民|加)?[元圆币镑]"
        r"|块钱|法郎|卢布|比索|美金|马克|里拉)"
        r"|(?<![A-Za-z])(?:NT|US|HK|[ACS])?\$\s*\d|[￥¥€£]\s*\d"
    ),
    # A month, day, part of a month or time of day: "2024年度" alone names the work year, not a time. Encyclopaedic
    # text dates by decade, century, reign year or part of the day too (60年代, 建兴元年（223年）, 夜间: the rule
    # judge's false refusals on CMRC's train part).
    WHEN: re.compile(
        rf"[\d{CN_AMOUNT}]{{1,3}}月|[\d{CN_AMOUNT}]{{1,3}}[日号]|年底|年初|月底|月初|上旬|中旬|下旬|\d{{1,2}}[:：]\d{{2}}|周[一二三四五六日]|星期|\d{{3,4}}年(?!度)"
        r"|\d+年代|世纪|元年|上午|下午|中午|晚上|夜间|白天|清晨|凌晨|傍晚|[春夏秋冬]季"
    ),
    # A body or a role: 区委宣传部, 理论科, 党校, 党组织书记.
    WHO: re.compile(
        r"(区|市|县|省|党|工|纪|团)委|委员会|党组织|宣传部|组织部|统战部|监委|办公室|党校|学校|中心|街道|政府|协会|工会|妇联"
        r"|[\u4e00-\u9fff]{2}[科局厅处](?![学技研普理])|书记|主任|部长|局长|校长|同志|教授|老师|讲师|专家|某某|负责人|代表"
    ),
    DOCNUM: re.compile(r"〔\d{4}〕\d+号|\[\d{4}\]\d+号"),
    # A person named as official documents do: 某某同志, 张某某, 王先生.
    # "负责同志"/"有关同志" name a role, not a person.
    NAME: re.compile(
        r"[\u4e00-\u9fff]某{1,2}|(?<!负责|有关|相关|广大|各位|全体|主要|党员|基层|每位|一位)同志(?!们)|先生|女士"
    ),
    WHERE: re.compile(r"[馆室厅堂场院校所站点中心楼村社区镇街道区市]|线上|线下|地点"),
    LIST: re.compile(
        rf"[{CN_POSITION}]是|[{CN_POSITION}]要|（[{CN_AMOUNT}\d]+）|^[{CN_AMOUNT}]+、|^\d+[.．、]|[、；]|：|等"
    ),
    NUMBER: re.compile(rf"\d|[{CN_AMOUNT}]+[个场次名人位天项批期类种条家所门节课%％倍万]|百分之"),
}
# Counters that count the same things: 多少名学员 is answered by "60人", 多少家分店 by "28间分店" (CMRC calib).
UNIT_GROUPS = ("名人位", "场次", "个项条件", "家所间", "门节堂")
# A count in ten-thousands or more with its counter left out (说勉语的人约有150万，on CMRC calib) answers a count of
# anything; "150万元" does not count people.
BARE_MAGNITUDE = re.compile(r"\d+(\.\d+)?\s*[万亿](?![\u4e00-\u9fff])")


def satisfies(kind: str, sentence: str, unit: str = "", grain: Optional[re.Pattern] = None, noun: str = "") -> bool:
    """Whether a sentence contains the kind of thing the question asks for
    (counted in `unit`, for a when-question at the `grain` asked, for a money question an amount of the money its
    `grain` names, for a list the items of `noun`)."""
    sentence = ARTICLE_LABEL.sub("", sentence)  # 第七条 is a label, not a quantity
    if kind == NUMBER and unit:
        units = next((g for g in UNIT_GROUPS if unit in g), unit)
        # Spaced as some texts print numbers: "第 26 届" (CMRC calib).
        counted = re.search(rf"[\d{CN_AMOUNT}]+(\.\d+)?\s*[多余]?(?:万|千|百|亿)?\s*[{units}]", sentence)
        return bool(counted or BARE_MAGNITUDE.search(sentence))
    if kind == WHEN and grain is not None:
        return bool(grain.search(sentence))
    if kind == MONEY and grain is not None:  # an amount of the money named: 误工补贴 is not answered by 经费…50元
        return bool(ANSWER_CUES[MONEY].search(sentence) and grain.search(sentence))
    if kind == LIST and sentence.startswith("|"):
        return True  # a table is a list: each row is an item
    if kind == LIST:
        # An enumeration: several items, or a lead-in that announces them ("再讲三点意见。").
        marks = len(LIST_MARKS.findall(sentence))
        # Two items need one 、 ("青年论坛、“老书记讲堂”品牌项目") when they sit beside the noun asked for.
        return (
            marks >= 2
            or (marks >= 1 and bool(noun) and noun in sentence)
            or sentence.rstrip().endswith(("：", ":"))
            or bool(ENUM_ITEM.match(sentence))
            or bool(ENUM_ANNOUNCE.search(sentence))
        )
    pattern = ANSWER_CUES.get(kind)
    return True if pattern is None else bool(pattern.search(sentence))


HEADING_MAX = 40  # characters; a longer line without a closing mark is prose, not a heading


def is_heading(sentence: str) -> bool:
    """A title or heading line: it names a topic but states nothing."""
    s = sentence.strip()
    if s.startswith("#"):
        return True
    if s.startswith("|") or len(s) > HEADING_MAX or s[-1:] in "。！？；!?;：:":
        return False
    return True


def is_label(sentence: str, section: str = "") -> bool:
    """A heading that names what follows instead of stating it: a line without a closing mark (附件：报名表（略）),
    or the heading of the section (its path's last part) that the sentence is, when no longer than a heading
    (（一）报名阶段。, not 第十六条 宣讲员考核每年进行一次，考核结果分为…)."""
    s = sentence.strip()
    if is_heading(s):
        return True
    last = section.rsplit(">", 1)[-1]
    return bool(compact(last)) and compact(s.rstrip("。")) == compact(last) and is_heading(s.rstrip("。"))


# ---------------------------------------------------------------- how much of the question it covers
CONTEXT_CREDIT = 0.9  # a term found only in the passage's title or section path counts this much
PART_CREDIT = 0.5  # a long term whose parts occur (宣讲员 vs 宣讲) counts at most this much


def term_coverage(query: Query, text: str, context: str = "") -> float:
    """IDF-weighted share of the question's terms that occur in text (0..1).

    Terms found only in `context` (the document title and section path) get partial credit:
    a sentence under the heading "报名阶段" of the contest notice is about the contest."""
    c = compact(text)
    ctx = compact(context)
    hit = 0.0
    for w, form, variants, parts in query.coverage_terms:
        if form in c or (variants and any(f in c for f in variants)):
            hit += w
        elif ctx and (form in ctx or (variants and any(f in ctx for f in variants))):
            hit += w * CONTEXT_CREDIT
        elif parts:
            share = sum(1 for p in parts if p in c) / len(parts)
            hit += w * PART_CREDIT * share
    return hit / query.total_weight


def bigram_overlap(query: Query, text: str) -> float:
    """Share of the question's character bigrams found in text (0..1)."""
    if not query.bigrams:
        return 0.0
    grams = char_ngrams(text)
    return len(query.bigrams & grams) / len(query.bigrams)


def missing_numbers(query: Query, text: str) -> list[str]:
    """Numbers the question names that text does not name (as whole numbers: holds_number)."""
    return [n for n in query.numbers if not holds_number(n, text)]


def missing_ordinals(query: Query, text: str) -> list[str]:
    """Series ordinals the question names (第二期, question.SERIES_ORDINAL) that text names in none of their forms."""
    c = compact(text)
    return [forms[0] for forms in query.ordinals if not any(compact(f) in c for f in forms)]


def missing_bindings(query: Query, text: str) -> list[str]:
    """What binds the answer to one document that text does not name: the years (missing_numbers) and the series
    ordinals (missing_ordinals) the question names."""
    return missing_numbers(query, text) + missing_ordinals(query, text)


def missing_terms(query: Query, text: str, min_weight: float = 0.0) -> list[str]:
    """Question terms (weight above min_weight) that text does not contain."""
    c = compact(text)
    return [t for t, w in query.weights.items() if w > min_weight and compact(t) not in c]


def other_year(query: Query, sentence: str) -> bool:
    """The question names a year and the sentence speaks of other years only ("2025年度冬训…" for 2024)."""
    asked = set(query.numbers)  # years the corpus knows; "我是1988年出生的" is the asker's own data
    said = set(YEAR.findall(sentence))
    return bool(asked and said and not asked & said)


# ---------------------------------------------------------------- one score per sentence
TYPE_BONUS = 0.15  # a sentence holding the kind of thing asked for
TYPE_PENALTY = 0.15  # a sentence that cannot answer the kind of question asked
BIGRAM_SHARE = 0.3  # weight of character-bigram overlap beside whole-term coverage
HEADING_PENALTY = 0.3  # a heading names the topic but does not answer a question about it
NUMBER_PENALTY = 0.3  # the question names a number (a year, a count) the passage does not hold


def sentence_score(query: Query, sentence: str, context: str = "", passage: str = "") -> float:
    """How well one sentence answers the question: term coverage, bigram overlap and the type cue.

    `context` is the passage's title and section path; `passage` its whole text, where the
    years and series ordinals the question names (2023年, 第三届) must occur."""
    score = (1 - BIGRAM_SHARE) * term_coverage(query, sentence, context) + BIGRAM_SHARE * bigram_overlap(
        query, sentence
    )
    fits = satisfies(query.kind, sentence, query.unit, query.grain, query.noun)
    if query.kind != GENERAL:
        score += TYPE_BONUS if fits else -TYPE_PENALTY
    # A heading that holds what is asked ("（一）动员部署阶段（2024年11月25日—12月10日）") still answers.
    if is_heading(sentence) and (query.kind == GENERAL or not fits):
        score -= HEADING_PENALTY
    if (query.numbers or query.ordinals) and missing_bindings(query, (passage or sentence) + context):
        score -= NUMBER_PENALTY
    if other_year(query, sentence):
        score -= NUMBER_PENALTY
    return score


NO_SENTENCE = -10.0  # the score best_sentence starts from: below any real sentence's


def passage_context(doc: Document) -> str:
    """The words a passage inherits from where it sits: document title and section path."""
    return f"{doc.metadata.get('title', '')} {doc.metadata.get('section', '')}"


def best_sentence(query: Query, text: str, context: str = "") -> tuple[float, int, int, int]:
    """(score, start, end, sentence index) of the sentence in text that best answers the query."""
    best = (NO_SENTENCE, 0, len(text), 0)
    for i, (s, e) in enumerate(split_sentences(text)):
        score = sentence_score(query, text[s:e], context, text)
        if score > best[0]:
            best = (score, s, e, i)
    return best


@dataclass
class Candidate:
    """One sentence of a retrieved passage, scored as an answer to the question."""

    ctx: int  # index into contexts
    start: int  # offsets into the context's text
    end: int
    text: str
    score: float
    context: str = ""  # title and section path of its passage
    passage: str = ""  # the whole passage text
