"""Follow-up questions rewritten into standalone ones before retrieval.

Without an LLM this is done by rules: a question that leans on the conversation
(a pronoun, an elliptical "…呢？", or too short to stand alone) carries the
previous question's subject. With an LLM, the LLM rewrites it (bot.llm).
"""
from __future__ import annotations

import re

PRONOUN = re.compile(r"他们|她们|它们|这些|那些|这个|那个|这一|上述|该(?=[\u4e00-\u9fff])|(?<![尤极与因])其(?![他它实余])")
ELLIPSIS = re.compile(r"^(那么?|那|还有|另外|然后|再|那其他)|呢[？?]?$")
QUESTION_WORD = re.compile(r"哪|什么|多少|几|谁|如何|怎么|怎样|是否|为什么|何时|何地")
# Verbs and particles that end a subject phrase: 冬训实施方案|分为哪几个阶段
PREDICATE = re.compile(r"(分为|分成|包括|包含|有|是|要|的|在|由|对|给|被|将|会|应|需要|需|一共|共|总共|具体|主要)+$")
STANDALONE_CHARS = 14  # a question at least this long with no pronoun is taken as standalone
TRAILING = "？?。！!，, "


def needs_context(question: str) -> bool:
    """Whether a question leans on the previous turn."""
    q = question.strip()
    return bool(PRONOUN.search(q) or ELLIPSIS.search(q) or len(q) < STANDALONE_CHARS // 2)


def subject_of(question: str) -> str:
    """The subject phrase of a question: the part before its question word, without the predicate."""
    q = question.strip().rstrip(TRAILING)
    m = QUESTION_WORD.search(q)
    head = q[: m.start()] if m else q
    head = PREDICATE.sub("", head)
    return head.strip(TRAILING) or q


def rewrite(question: str, history: list[dict]) -> str:
    """A standalone form of the question, given earlier {"question", "answer"} turns."""
    question = question.strip()
    if not history or not needs_context(question):
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
    subject = subject_of(previous)
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
