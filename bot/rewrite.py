"""Follow-up questions rewritten into standalone ones before retrieval.

Only a question that cannot stand alone is rewritten (`needs_context`): one with a pronoun that points
back (他们, 其中, 该活动), an ordinal pointing into a list (第二个, 最后一个), a bare "…呢？" without a
question word, or, when short, no content noun at all. A complete question and a pasted paragraph
come through unchanged. Without an LLM the rewrite is done by rules: an ordinal after a list answer
becomes a question about that item of the list; otherwise the question carries the previous
question's subject. With an LLM, the LLM rewrites it (bot.llm), under the same `needs_context` gate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

import jieba.posseg as pseg

from bot.answering.numbering import CN_POSITION, ENUM_ITEM, strip_numbering
from bot.answering.question import NOUN_TAG, content_nouns, generic_nouns, is_chinese
from bot.verify import MARKER
from core.data_tables import table_rows
from core.grammar import cn_to_int, compact, sentences, tokenize

FOLLOWUP_WORDS_FILE = Path(__file__).parent / "data" / "followup_words.tsv"
PRONOUN = "pronoun"  # stands for something said before (他们, 其中)
DETERMINER = "determiner"  # points back only before a noun (该活动, 其组长)

ELLIPSIS = re.compile(r"^(那么?|那|还有|另外|然后|再|那其他)|呢(?=[？?，,。]|$)")
# An ordinal that points into a list the conversation named: 第二个 / 第三点 / 最后一个阶段 ("第二期",
# "第三届" name a thing of their own and are no such pointer).
LIST_NOUNS = "阶段|方面|部分|环节|措施|要求|任务|意见|步骤|做法|举措"
ORDINAL = re.compile(
    rf"^(?:那么?|还有|另外)?(?:第([{CN_POSITION}\d]+)|(最后))一?(?:(个|项|条|点|类|种)({LIST_NOUNS})?|({LIST_NOUNS}))"
)
LAST = -1  # the position of 最后一个
QUESTION_WORD = re.compile(r"哪|什么|多少|几|谁|如何|怎么|怎样|是否|为什么|何时|何地|多久|多长")
# Verbs and particles that end a subject phrase: 冬训实施方案|分为哪几个阶段
PREDICATE = re.compile(
    r"(分为|分成|包括|包含|叫做|叫|称为|有|是|要|的|在|由|对|给|被|将|会|应|需要|需|一共|共|总共|具体|主要)+$"
)
# What is left of an ordinal or numeral once the follow-up's own noun is cut away ("…的第一", "一").
DANGLING = re.compile(rf"的?(第?[{CN_POSITION}\d]+|最后一?|上一|下一)$")
PASTED_CHARS = 50  # a longer text is a pasted paragraph or a question complete in itself: never rewritten
NOUNLESS_CHARS = 12  # a question without a content noun leans on the conversation only when this short
TAIL_SLACK = 2  # characters (的, 呢…) allowed after a restated tail
MIN_PART_CHARS = 4  # a shorter clause ("呢？", "是谁？") belongs to the question before it
ITEM_CHARS = 20  # a list item named in a question keeps its clauses up to this length
TRAILING = "？?。！!，, "
CLAUSE_END = frozenset("，,；;：:。？?！!")
# Tags a determiner may skip before its noun: a classifier or numeral (这/篇/讲话, 这/一/阶段).
DETERMINER_SKIP = frozenset({"q", "m"})
ITEM_ASK = "具体是什么"  # what a bare "那第二个呢？" asks of the item


@lru_cache(maxsize=1)
def followup_words() -> dict[str, str]:
    """word -> PRONOUN or DETERMINER, from bot/data/followup_words.tsv."""
    table: dict[str, str] = {}
    for word, role in (row[:2] for row in table_rows(FOLLOWUP_WORDS_FILE)):
        table[word.strip()] = role.strip()
    return table


@dataclass
class Pronoun:
    """A pronoun that points back, at text[start:end]; a determiner is followed by its noun."""

    start: int
    end: int
    role: str


def _tokens(text: str) -> list[tuple[str, str, int]]:
    """(word, posseg tag, start offset) of each word of text."""
    out, at = [], 0
    for t in pseg.lcut(text):
        out.append((t.word, t.flag, at))
        at += len(t.word)
    return out


def _points_at_noun(tokens: list[tuple[str, str, int]], i: int) -> bool:
    """Whether the word after token i (past a classifier or numeral) is a noun; jieba tags some nouns
    as verbs (其组长/v), so a two-character verb counts too."""
    for word, flag, _ in tokens[i + 1 :]:
        if flag in DETERMINER_SKIP and not QUESTION_WORD.search(word):
            continue
        return bool(NOUN_TAG.match(flag)) or (flag == "v" and len(word) >= 2)
    return False


def find_pronoun(question: str) -> Optional[Pronoun]:
    """The first pronoun of the question that points at an earlier turn, or None.

    Not one whose noun the question itself names before it, in an earlier clause
    ("冬训领导小组成立了，其组长是谁？")."""
    words = followup_words()
    generic = generic_nouns()
    tokens = _tokens(question)
    noun_before = False  # a content noun in an earlier clause of the question
    clause_noun = False
    for i, (word, flag, start) in enumerate(tokens):
        if word in CLAUSE_END:
            noun_before = noun_before or clause_noun
            continue
        role = words.get(word)
        span = len(word)
        if role is None:  # 此项工作: a determiner jieba joined to its noun
            prefix = next((w for w in words if len(w) >= 2 and len(word) > len(w) and word.startswith(w)), "")
            if prefix and words[prefix] == DETERMINER:
                role, span = DETERMINER, len(prefix)
        if role == PRONOUN or (role == DETERMINER and (span < len(word) or _points_at_noun(tokens, i))):
            if not noun_before:
                end = start + span
                if span == len(word):  # 这/一/阶段, 这/篇/讲话: the classifier goes with the determiner
                    for w, f, at in tokens[i + 1 :]:
                        if f not in DETERMINER_SKIP:
                            break
                        end = at + len(w)
                return Pronoun(start, end, role)
        if NOUN_TAG.match(flag) and word not in generic and len(word) >= 2:
            clause_noun = True
    return None


def ordinal_position(question: str) -> tuple[int, int]:
    """(position from 1, or LAST; the length of the ordinal phrase) of an ordinal the question opens
    with that points into a list (那第二个, 第三点, 最后一个阶段), else (0, 0)."""
    m = ORDINAL.match(question.strip())
    if not m:
        return 0, 0
    return (LAST if m.group(2) else cn_to_int(m.group(1))), m.end()


def needs_context(question: str) -> bool:
    """Whether a question leans on the previous turn: a pronoun pointing back, an ordinal pointing into
    a list, a bare "…呢？", or (short) no content noun. Never a pasted paragraph or a non-Chinese text."""
    q = question.strip()
    if not is_chinese(q) or len(q) > PASTED_CHARS:
        return False
    bare_ne = q.rstrip(TRAILING).endswith("呢") and not QUESTION_WORD.search(q)
    return bool(
        find_pronoun(q) or ordinal_position(q)[0] or bare_ne or (len(q) <= NOUNLESS_CHARS and not content_nouns(q))
    )


# The asking part of a question: 多少场 / 哪几个阶段 / 是什么 / 有哪些.
QUESTION_PHRASE = re.compile(
    r"(是|有|由)?(哪|什么|多少|几|谁|如何|怎么|怎样|是否|为什么|何时|何地)(时间|时候|地方|方面|阶段|[个些种类项场次名人位天年月日条点样里])*(的)?"
)
# Single-character words that end a subject without belonging to it: 乡音宣讲活动|分
LOOSE_END_TAGS = frozenset({"v", "p", "d", "c", "u", "uj", "ul", "y"})


def subject_of(question: str, follow_up: str = "") -> str:
    """The subject of a question: its words without the asking phrase, cut where the follow-up goes on.

    冬训实施方案分为哪几个阶段 -> 冬训实施方案; 2024年全年开展了多少场理论宣讲 -> 2024年全年开展了理论宣讲."""
    q = question.strip().rstrip(TRAILING)
    q = re.split(r"[？?。！!]", q)[0]
    asking = QUESTION_PHRASE.search(q)
    if asking and asking.group(2) and _only_verbs(q[asking.end() :]):
        q = q[: asking.start()]  # 宣讲活动分几个阶段|进行: the verb after the asking phrase is no part of the subject
    subject = QUESTION_PHRASE.sub("", q)
    # Drop the part the follow-up restates itself ("…方案的最后一个阶段" + "那最后一个阶段…").
    for size in range(min(len(subject), len(follow_up)), 1, -1):
        hit = next(
            (
                subject.find(follow_up[i : i + size])
                for i in range(len(follow_up) - size + 1)
                if follow_up[i : i + size] in subject
            ),
            -1,
        )
        if hit > 0 and hit + size >= len(subject) - TAIL_SLACK:  # only a restated tail is cut
            subject = subject[:hit]
            break
    subject = PREDICATE.sub("", DANGLING.sub("", subject.strip(TRAILING))).strip(TRAILING)
    tokens = _tokens(subject)
    if len(tokens) > 1 and len(tokens[-1][0]) == 1 and tokens[-1][1] in LOOSE_END_TAGS:
        subject = subject[: tokens[-1][2]]
    return subject.strip(TRAILING) or q


def _only_verbs(text: str) -> bool:
    """Whether text is one or more verbs and nothing else (进行, 开展实施)."""
    tokens = _tokens(text)
    return bool(tokens) and all(tag.startswith("v") and tag != "vn" for _, tag, _ in tokens)


# ---------------------------------------------------------------- a list answer and its items
LEAD_IN = re.compile(r"^[^：:。；;]{0,20}[：:]")  # "三点：" / "四个阶段：" before the items
PARENTHESIS_TAIL = re.compile(r"[（(][^）)]*[）)]$")  # "集中宣讲阶段（2024年12月11日—2025年1月20日）"
QUOTES = re.compile(r"[“”\"‘’「」]")


def answer_items(answer: str) -> list[str]:
    """The items of a list answer: its numbered sentences (一是…, 二要…, （一）…, 1.…), or the pieces
    after its lead-in separated by ；(or by 、 when there is no ；), citation markers removed; [] when
    the answer is not a list (or a refusal)."""
    text = MARKER.sub("", answer or "").replace("……", "").strip()
    if not text or text.startswith("资料中没有"):
        return []
    numbered = [s for s in sentences(text) if ENUM_ITEM.match(s)]
    if len(numbered) >= 2:
        items = [strip_numbering(s) for s in numbered]
    else:
        lead = LEAD_IN.match(text)
        body = text[lead.end() :] if lead else text
        items = re.split(r"[；;]", body)
        if len(items) < 2 and lead:
            items = re.split(r"[、，,]", body)
    items = [i.strip().strip("。；;，,、 ") for i in items]
    items = [i for i in items if i]
    return items if len(items) >= 2 else []


def item_name(item: str) -> str:
    """An item as a question names it: without quotes and a closing parenthesis, its first clauses."""
    item = PARENTHESIS_TAIL.sub("", QUOTES.sub("", item)).strip()
    clauses = [c for c in re.split(r"(?<=[，,])", item) if c]
    name = clauses[0] if clauses else item
    for c in clauses[1:]:
        if len(name) + len(c) > ITEM_CHARS:
            break
        name += c
    return name.strip("，, ")


def item_question(question: str, previous: str, answer: str) -> str:
    """For an ordinal follow-up after a list answer ("那第二个呢？", "第二个阶段是什么时候？"): a
    standalone question about that item of the list; "" when the answer is no list or too short."""
    position, end = ordinal_position(question)
    items = answer_items(answer)
    if not position or not items or position > len(items):
        return ""
    name = item_name(items[position - 1] if position != LAST else items[-1])
    rest = question.strip()[end:].strip()
    rest = re.sub(r"^的?呢?[？?，,]?", "", rest).strip()
    if not rest.rstrip(TRAILING) or not QUESTION_WORD.search(rest):
        rest = ITEM_ASK + "？"
    subject = subject_of(previous, question)
    head = f"{subject}的“{name}”" if subject and compact(subject) not in compact(name) else f"“{name}”"
    return head + rest.rstrip(TRAILING) + "？"


def list_follow_up(question: str, turns: list[dict]) -> str:
    """An ordinal follow-up resolved against the latest list answer: the turn before it, or further
    back across ordinal follow-ups ("那第二个呢？" … "最后一个呢？" both point into the same list)."""
    if not ordinal_position(question)[0]:
        return ""
    for i in range(len(turns) - 1, -1, -1):
        asked = str(turns[i]["question"]).strip()
        if answer_items(str(turns[i].get("answer", ""))):
            previous = rewrite(asked, turns[:i]) if i else asked
            return item_question(question, previous, str(turns[i]["answer"]))
        if not ordinal_position(asked)[0]:
            break
    return ""


# ---------------------------------------------------------------- the rewrite
def rewrite(question: str, history: list[dict], force: bool = False) -> str:
    """A standalone form of the question, given earlier {"question", "answer"} turns
    (`force`: carry the previous subject even when the question looks standalone)."""
    question = question.strip()
    if not history or not (force or needs_context(question)):
        return question
    turns = [t for t in history if str(t.get("question", "")).strip()]
    if not turns:
        return question
    about_item = list_follow_up(question, turns)
    if about_item:
        return about_item
    # The previous question may itself be a follow-up: resolve it against the turns before it first.
    previous = rewrite(str(turns[-1]["question"]).strip(), turns[:-1]) if len(turns) > 1 else turns[-1]["question"]
    previous = previous.strip()
    swapped = swap_sibling(question, previous)
    if swapped:
        return swapped
    subject = subject_of(previous, question)
    if not subject or subject in question:
        return question
    q = ELLIPSIS.sub("", question.rstrip(TRAILING)).strip(TRAILING)
    if question.rstrip(TRAILING).endswith("呢") and not QUESTION_WORD.search(q):
        q += "是什么"
    pronoun = find_pronoun(q)
    if pronoun is None:
        q = subject + q
    elif pronoun.role == PRONOUN:
        q = q[: pronoun.start] + subject + q[pronoun.end :]
    else:  # 该活动 -> 第三届宣讲大赛的活动
        q = q[: pronoun.start] + subject + "的" + q[pronoun.end :].lstrip("的")
    return q + "？"


PARTICLES = set("的了吗呢啊吧和与及、")
MAX_SWAP_CHARS = 10  # a longer "…呢？" is a new question, not a sibling of something asked before


def swap_sibling(question: str, previous: str) -> str:
    """For "青年组呢？" after "第三届宣讲大赛机关组有几个一等奖？": the previous question with the
    sibling it named (机关组, found by their shared ending 组) replaced; "" when there is none."""
    q = question.strip().rstrip(TRAILING)
    if not q.endswith("呢"):
        return ""
    x = re.sub(r"^(那么?|还有|另外|那其他)", "", q[:-1]).rstrip("的")
    if not x or len(x) > MAX_SWAP_CHARS or QUESTION_WORD.search(x):
        return ""
    last = re.split(r"[和与及、]", x)[-1]  # "二等奖和三等奖": the span replaced is as long as one item
    prev = previous.strip().rstrip(TRAILING)
    for size in range(min(len(last) - 1, 4), 0, -1):  # the shared ending: 组, 等奖, 个阶段
        suffix = last[-size:]
        if suffix[-1] in PARTICLES:
            continue
        at = prev.rfind(suffix)
        if at < 0:
            continue
        start = max(0, at + size - len(last))
        if prev[start : at + size] == last:
            return ""  # the previous question already names it
        return prev[:start] + x + prev[at + size :] + "？"
    return ""


# A question that asks for a difference: "A比B多多少场？", "和B相比，A多了几个？". Each side is a fact of its own
# (often in two documents: a plan's target and last year's summary), so each is asked for on its own and the answer
# shows both; the difference itself is no quote and is left to the reader. 比 inside 比例, 比赛, 比较, 比重, 对比 and
# 评比 compares nothing.
COMPARE_BY = r"(?<![对评])比(?![例赛较重拼])"
DIFFERENCE = r"(?:多|少|增加|减少|增长|提高|降低|高|低)了?(?P<ask>多少|几)(?P<unit>个?百分点|[^\s，,。？?！!的]{0,3}?)"
COMPARISONS = (
    re.compile(rf"^(?P<a>[^，,。？?]{{2,}}?)[，,]?{COMPARE_BY}(?P<b>[^，,。？?]{{2,}}?){DIFFERENCE}[呢啊吗]?[？?]?$"),
    re.compile(
        rf"^(?:和|与|跟|同)(?P<b>[^，,。？?]{{2,}}?)(?:相比|比起来|比较)[，,]?(?P<a>[^，,。？?]{{2,}}?){DIFFERENCE}"
        r"[呢啊吗]?[？?]?$"
    ),
)
# When one side names only a time ("今年冬训的督导组比去年…"), it is the other side at that time.
TIME_WORD = r"今年|去年|前年|明年|本年度?|上一?年度?|过去一年|上一?届|本届|(?:19|20)\d{2}年(?:度|全年)?"
TIME_ONLY = re.compile(rf"^(?:{TIME_WORD})的?$")
TIME_IN = re.compile(TIME_WORD)


def comparison_parts(question: str) -> list[str]:
    """The two facts a difference question compares, each asked on its own, or [] when it asks no difference.

    "今年冬训的督导组比去年多了几个？" -> ["今年冬训的督导组有几个？", "去年冬训的督导组有几个？"]."""
    m = next((m for c in COMPARISONS if (m := c.match(question.strip()))), None)
    if m is None:
        return []
    a, b = m.group("a").strip("，, 的"), m.group("b").strip("，, 的")
    if TIME_ONLY.match(b):
        b = TIME_IN.sub(b, a, count=1) if TIME_IN.search(a) else b + a
    ask = "有几" if m.group("ask") == "几" else "是多少"
    unit = "" if m.group("unit").endswith("百分点") else m.group("unit")  # each side is a rate, not a difference
    return [f"{side}{ask}{unit}？" for side in (a, b)]


# "A和B分别是哪天？" asks the same of each: asked of each on its own, every answer is found and cited. A later
# item carries what the first says before its 的 ("领导小组的组长和副组长分别是谁？" -> 领导小组的副组长是谁？).
EACH = re.compile(r"^(?P<items>[^，,。？?]+?)分别(?P<ask>[^，,。？?]+)[？?]?$")
EACH_SEP = re.compile(r"和|与|及|跟|、")
MAX_EACH = 4  # more items than this are a list to answer as one


def each_parts(question: str) -> list[str]:
    """The questions "A和B分别…" asks of each item, or [] when it asks nothing of several items."""
    m = EACH.match(question.strip())
    if m is None:
        return []
    items = [i.strip() for i in EACH_SEP.split(m.group("items"))]
    if not 2 <= len(items) <= MAX_EACH or any(len(i) < 2 for i in items):
        return []
    first = items[0]
    owner = first[: first.rindex("的") + 1] if "的" in first else ""
    named = [first] + [i if i.startswith(owner) else owner + i for i in items[1:]]
    return [f"{i}{m.group('ask')}？" for i in named]


def question_parts(question: str) -> list[tuple[str, str]]:
    """The sub-questions of a compound question, each standalone, as (asked, written): the form to answer and
    the part as the member wrote it, which is asked instead when the materials do not answer the first.

    "年轻宣讲员由谁来带？一位老师最多带几个徒弟？" -> two questions; the second carries the
    first's subject, exactly as a follow-up would; but 党费每个月交多少钱？ after 去年开展了多少场宣讲活动？ is a question of
    its own, and the subject carried into it would make it unanswerable. A part without a question word stays with
    the part before it ("第二个阶段呢？具体时间是什么时候？" has one asking part per clause).
    A question asking for a difference is asked as the two facts it compares (comparison_parts), one asking the
    same of several items as one question for each (each_parts)."""
    pieces = [p.strip() for p in re.split(r"(?<=[？?])", question) if p.strip(TRAILING)]
    parts: list[str] = []
    pending = ""  # a leading clause with no question word ("…第二个阶段？") joins the next one
    for piece in pieces:
        if not QUESTION_WORD.search(piece) and not parts:
            pending += piece
        elif parts and (not QUESTION_WORD.search(piece) or len(piece.rstrip(TRAILING)) < MIN_PART_CHARS):
            parts[-1] += piece
        else:
            parts.append(pending + piece)
            pending = ""
    if len(parts) < 2:
        return [(p, p) for p in comparison_parts(question) or each_parts(question) or [question]]
    # A later part that shares no word with the first carries its subject, as a follow-up would.
    first = set(w for w in tokenize(parts[0]) if len(w) > 1)
    return [(parts[0], parts[0])] + [
        (p if first & set(tokenize(p)) else rewrite(p, [{"question": parts[0]}], force=True), p) for p in parts[1:]
    ]
