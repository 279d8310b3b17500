"""Follow-up questions rewritten into standalone ones before retrieval.

Without an LLM this is done by rules: a question that leans on the conversation
(a pronoun, an elliptical "…呢？", or too short to stand alone) carries the
previous question's subject. With an LLM, the LLM rewrites it (bot.llm).
"""

from __future__ import annotations

import re

from bot.answering.numbering import CN_POSITION
from core.grammar import tokenize

PRONOUN = re.compile(
    r"他们|她们|它们|其中|这些|那些|这个|那个|这一|上述|该(?=[\u4e00-\u9fff])|(?<![尤极与因])其(?![他它实余])"
)
ELLIPSIS = re.compile(r"^(那么?|那|还有|另外|然后|再|那其他)|呢(?=[？?，,。]|$)")
# "第二个阶段" / "最后一个" point back into a list the conversation already named.
ORDINAL = re.compile(rf"^(那|那么)?(第[{CN_POSITION}\d]+|最后一?|上一|下一|前一|后一)[个项条点阶段期类]")
QUESTION_WORD = re.compile(r"哪|什么|多少|几|谁|如何|怎么|怎样|是否|为什么|何时|何地")
# Verbs and particles that end a subject phrase: 冬训实施方案|分为哪几个阶段
PREDICATE = re.compile(
    r"(分为|分成|包括|包含|叫做|叫|称为|有|是|要|的|在|由|对|给|被|将|会|应|需要|需|一共|共|总共|具体|主要)+$"
)
# What is left of an ordinal or numeral once the follow-up's own noun is cut away ("…的第一", "一").
DANGLING = re.compile(rf"的?(第?[{CN_POSITION}\d]+|最后一?|上一|下一)$")
STANDALONE_CHARS = 14  # a question at least this long with no pronoun is taken as standalone
TAIL_SLACK = 2  # characters (的, 呢…) allowed after a restated tail
MIN_PART_CHARS = 4  # a shorter clause ("呢？", "是谁？") belongs to the question before it
TRAILING = "？?。！!，, "


def needs_context(question: str) -> bool:
    """Whether a question leans on the previous turn."""
    q = question.strip()
    return bool(PRONOUN.search(q) or ELLIPSIS.search(q) or ORDINAL.search(q) or len(q) < STANDALONE_CHARS // 2)


# The asking part of a question: 多少场 / 哪几个阶段 / 是什么 / 有哪些.
QUESTION_PHRASE = re.compile(
    r"(是|有|由)?(哪|什么|多少|几|谁|如何|怎么|怎样|是否|为什么|何时|何地)(时间|时候|地方|方面|阶段|[个些种类项场次名人位天年月日条点样里])*(的)?"
)


def subject_of(question: str, follow_up: str = "") -> str:
    """The subject of a question: its words without the asking phrase, cut where the follow-up goes on.

    冬训实施方案分为哪几个阶段 -> 冬训实施方案; 2024年全年开展了多少场理论宣讲 -> 2024年全年开展了理论宣讲."""
    q = question.strip().rstrip(TRAILING)
    q = re.split(r"[？?。！!]", q)[0]
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
    subject = PREDICATE.sub("", DANGLING.sub("", subject.strip(TRAILING)))
    return subject.strip(TRAILING) or q


def rewrite(question: str, history: list[dict], force: bool = False) -> str:
    """A standalone form of the question, given earlier {"question", "answer"} turns
    (`force`: carry the previous subject even when the question looks standalone)."""
    question = question.strip()
    if not history or not (force or needs_context(question)):
        return question
    previous = ""
    for turn in reversed(history):
        previous = str(turn.get("question", "")).strip()
        if previous:
            break
    if not previous:
        return question
    # The previous question may itself be a follow-up: resolve it against the turns before it first.
    previous = rewrite(previous, history[:-1]) if len(history) > 1 else previous
    swapped = swap_sibling(question, previous)
    if swapped:
        return swapped
    subject = subject_of(previous, question)
    if not subject or subject in question:
        return question
    q = ELLIPSIS.sub("", question.rstrip(TRAILING)).strip(TRAILING)
    if question.rstrip(TRAILING).endswith("呢") and not QUESTION_WORD.search(q):
        q += "是什么"
    if PRONOUN.search(q):
        q = PRONOUN.sub(subject, q, count=1)
    else:
        q = subject + q
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


def split_question(question: str) -> list[str]:
    """The sub-questions of a compound question, each standalone.

    "年轻宣讲员由谁来带？一位老师最多带几个徒弟？" -> two questions; the second carries the
    first's subject, exactly as a follow-up would. A part without a question word stays with
    the part before it ("第二个阶段呢？具体时间是什么时候？" has one asking part per clause)."""
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
        return [question]
    # A later part that shares no word with the first carries its subject, as a follow-up would.
    first = set(w for w in tokenize(parts[0]) if len(w) > 1)
    return [parts[0]] + [
        p if first & set(tokenize(p)) else rewrite(p, [{"question": parts[0]}], force=True) for p in parts[1:]
    ]
