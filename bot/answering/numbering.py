"""List numbering as the answerer reads it, built from core.grammar's numerals.

core.grammar.NUMBERING names the numbering a line starts with (the chunker's view). The patterns
here are the answerer's: a sentence that is one item of a list, a sentence that announces a list,
item marks inside a sentence, an article label that is not a quantity, and the numbering in front
of a heading that an outline point drops.
"""

from __future__ import annotations

import re

from core.grammar import CN_NUMERALS, int_to_cn

# Numerals of amounts and counts (三千, 两万): the list numerals and the large units.
CN_AMOUNT = CN_NUMERALS + "千万亿"
# 一 to 十: the positions a list numbers its items with (三是, 第二个, 一、).
CN_POSITION = "".join(int_to_cn(i) for i in range(1, 11))

# A sentence that is one item of a list: 一是 / 二要 / 三、 / （四） / (5) / 6. / 第七，
# (The numeral class is CN_AMOUNT, as it has always been, so 千/万/亿 count too.)
ENUM_ITEM = re.compile(
    rf"^\s*(?:[{CN_AMOUNT}]+(?:是|要|、)|（[{CN_AMOUNT}\d]+）|\([{CN_AMOUNT}\d]+\)|\d+[.．、](?!\d)|第[{CN_AMOUNT}\d]+[，、,])"
)
# A sentence that announces a list: 讲三点意见。 / 分为以下6类： / 如下：
ENUM_ANNOUNCE = re.compile(
    rf"([{CN_AMOUNT}\d]+)(?:点|个方面|方面|项|条|类|个阶段|阶段|种|件事)(?:意见|要求|任务|工作|措施|内容|举措|重点)?[^。；]{{0,6}}[:：。]?$|如下[:：]|以下[^。]{{0,8}}[:：]$|[:：]$"
)
# Item marks inside a sentence: 一是…二是…, （一）…（二）…, 、 and ；.
LIST_MARKS = re.compile(rf"[{CN_AMOUNT}]是|[{CN_AMOUNT}]要|（[{CN_AMOUNT}\d]+）|[、；;]")
# 第七条 / 第二章 / 第三部分: a label, not a quantity.
ARTICLE_LABEL = re.compile(rf"第[{CN_AMOUNT}\d]+[章节条款项部分]")

# Numbering in front of a heading: "## ", "第三条 ", "一、", "（二）", "1．", "一要".
LEADING_NUMBERING = re.compile(
    rf"^(#+\s*)?(第[{CN_POSITION}百\d]+[章节条]\s*)?"
    rf"([{CN_POSITION}]+[、.．]|[（(][{CN_POSITION}\d]+[）)]|\d+[.．、]|[{CN_POSITION}]+[要是])?\s*"
)


def strip_numbering(heading: str) -> str:
    """A heading or sentence without the numbering in front of it (三是用好讲的队伍 -> 用好讲的队伍)."""
    return LEADING_NUMBERING.sub("", heading)
