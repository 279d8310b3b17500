"""What a question asks for: its kind (a number, a date, a person, a list…), the unit or date part
it wants, the noun its list items share, the thing it asks about, an ordinal pointing into a list,
its content nouns (what a refusal may name), and its content terms weighted by how rare they are in
the knowledge base (`analyse` -> Query).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import NamedTuple, Optional

import jieba
import jieba.posseg as pseg

from bot.answering.corpus_stats import CorpusStats
from bot.answering.numbering import CN_AMOUNT, CN_POSITION
from core.data_tables import table_rows
from core.grammar import STOPWORDS, char_ngrams, cn_to_int, compact, int_to_cn, tokenize

# ---------------------------------------------------------------- question kinds
NUMBER = "number"
LIST = "list"
WHO = "who"
NAME = "name"
DOCNUM = "docnum"
WHEN = "when"
WHERE = "where"
MONEY = "money"
GENERAL = "general"

# Order matters: the first match wins (list before number for 哪几). A question that asks how much money
# (多少钱, 经费是多少) is a money question whatever else it says; one that only names money (补贴, 经费) asks for
# an amount unless it asks when, who, where or which: 经费由谁负责？ asks who. On CMRC calib (dev data) the money
# topic outranked 哪儿 in 明治29年台湾总督府补助哪儿的商船？, which the rule judge then refused for holding no amount.
MONEY_TOPIC = re.compile(r"经费|预算|费用|资金|拨款|补贴|补助|津贴|奖金|报酬|酬金|工资|报销|开支|成本")
QUESTION_CUES: list[tuple[str, re.Pattern]] = [
    (MONEY, re.compile(r"多少钱|金额|花了多少|多少.{0,4}费|[^\s，。？]{1,3}费[^用]{0,4}多少|交多少|收多少")),
    (
        WHEN,
        re.compile(r"什么时候|何时|哪天|哪一天|几月|几号|几日|哪年|哪一年|什么时间|截止|期限|日期|多久|时间节点|起止"),
    ),
    (DOCNUM, re.compile(r"文号|发文字号|字号")),
    # What a name means or where it comes from is no name (书的名字是什么意思, 这个名字有什么来由: CMRC train).
    (GENERAL, re.compile(r"(?:名字|名称|叫法).{0,6}(?:意思|含义|来由|由来|来历|怎么来|来自|出处|典故)|为什么叫")),
    (NAME, re.compile(r"名字|姓名|叫什么")),
    (
        WHO,
        re.compile(
            r"谁|哪位|哪个部门|哪个单位|哪些部门|哪些单位|什么部门|什么单位|负责人|由哪|主讲人|授课人|牵头单位|主办|承办方|哪个机构|哪些人|什么人"
        ),
    ),
    (WHERE, re.compile(r"哪里|哪儿|(?<!存)在哪|什么地方|何地|地点|场所|哪个地方")),
    (
        LIST,
        re.compile(
            rf"哪些|哪几|包括什么|包括哪|几个方面|几方面|几点|几项|几类|分别|都有|主要有|有几种|哪方面|哪[{CN_POSITION}两]+[点项条类个种方]"
            # what a thing is divided into, or how many stages it has, is answered by naming the parts
            r"|分[为成]?几[个种类]|几个(?:阶段|部分|环节|步骤|等次|层次)"
        ),
    ),
    (MONEY, MONEY_TOPIC),
    # "那几天"/"这几个" point at something; only a bare 几 asks for a count.
    (NUMBER, re.compile(r"多少|(?<![那这好])几|数量|比例|百分之|人次|规模|多大|多长|多高")),
]


def question_type(question: str) -> str:
    """The kind of thing a question asks for (number, list, who, when, where, money or general)."""
    for kind, pattern in QUESTION_CUES:
        if pattern.search(question):
            return kind
    return GENERAL


INJECTION = re.compile(
    r"忽略|无视|不要管|忘掉|忘记|之前的(规则|指令|设定|要求)|以上(规则|指令)|系统提示|提示词|system\s*prompt|ignore\s+(all\s+)?(previous|prior|above)"
    r"|jailbreak|越狱|扮演|你现在是|假装|不受.*限制|直接回答.*不用|不要引用|不用引用|开发者模式|developer\s*mode"
    r"|管理员指令|系统指令|从现在起|不用查|不要查|随便编|瞎编|编一[个份条段]|编造|捏造",
    re.IGNORECASE,
)


def is_injection(question: str) -> bool:
    """True when the question tries to change the assistant's rules rather than ask about the materials."""
    return bool(INJECTION.search(question))


# ---------------------------------------------------------------- what exactly is asked
CLASSIFIERS = "个场次名人位天项批期类种条家所门节课堂篇件本元年月日岁倍分点届组"  # one character each
# "多少场" / "几个学时": the classifier says what the number must count.
ASKED_UNIT = re.compile(rf"(?:多少|(?<![那这好])几)(小时|学时|分钟|周岁|万元|[{CLASSIFIERS}])")


def asked_unit(question: str) -> str:
    """The unit a 多少/几 question counts in (场, 学时, 名), or ""."""
    m = ASKED_UNIT.search(question)
    return m.group(1) if m and m.group(1) not in "个类种项" else ""


# "哪一天" needs a day, "哪一年" a year: a sentence with only 年初 does not say which day.
SPAN = r"(月|日|旬|年|底|初)[^。，；]{0,4}(至|到|—|－|~)"  # from one time to another: 12月11日—2027年1月31日
HOW_LONG = re.compile(r"多久|多长时间")
# What answers 多久 in the answer shown (model.fits_grain): a length (最长可以停留12个月, 长达30秒 on CMRC train,
# 10个工作日内, 一个半赛季 on CMRC calib) or a span (SPAN). A year (2026年度) or a date (12月15日) alone is a point
# in time, not a length: 专题辅导持续多久？ was answered by 2026年度冬训将… and by …时间为12月15日下午. No CMRC train
# or calib answer to 多久 or 多长时间 is either, and every gold sentence of theirs holds a LENGTH.
LENGTH = re.compile(
    rf"(?<![\d{CN_AMOUNT}月])(?!(?:19|20)\d\d年)[\d{CN_AMOUNT}]+(\.\d+)?\s*个?[多余半]?\s*"
    rf"(工作日|年|月(?![\d{CN_AMOUNT}]{{1,3}}[日号])|天|日|周|星期|小时|分钟|秒|学时|课时|钟头|赛季|学期|季度)|{SPAN}"
)
WHEN_GRAIN = [
    (re.compile(r"从什么时候到|从何时到|起止|到什么时候结束|持续到什么时候"), re.compile(SPAN)),
    (re.compile(r"哪一?天|几号|几日|哪日|具体日期|哪个日子"), re.compile(rf"[\d{CN_AMOUNT}]{{1,3}}[日号]")),
    (re.compile(r"哪一?年|年份"), re.compile(r"\d{4}年")),
    (re.compile(r"几月|哪个?月"), re.compile(rf"[\d{CN_AMOUNT}]{{1,3}}月")),
    # 多久 asks how long: 最长可以停留12个月, 长达30秒 (CMRC train), 10个工作日内. The answer shown must hold a length
    # (LENGTH); the rule judge and the features read this wider pattern, as they were trained with.
    (
        HOW_LONG,
        re.compile(
            rf"[\d{CN_AMOUNT}]+(\.\d+)?\s*个?[多余半]?\s*(工作日|年|月|天|日|周|星期|小时|分钟|秒|学时|课时|钟头)"
        ),
    ),
]


def when_grain(question: str) -> Optional[re.Pattern]:
    """For a when-question that asks for a day, year or month: the pattern the answer must hold."""
    for asks, needs in WHEN_GRAIN:
        if asks.search(question):
            return needs
    return None


# The money a money question names (误工补贴, 培训费, 奖金): an amount of other money does not answer it. The issue's
# first near miss was 误工补贴每天发多少钱？ answered by "冬训经费…不低于50元"; on a town's notice written for probing it
# was answered by "所需经费…人均不超过200元". The names are words of the question as jieba cuts it, so 投资金额 names
# no 资金 (CMRC train); a word ending in 费 or 金 is money (培训费, 租金) unless it is spending itself (花费, 浪费) or
# no money (黄金).
NOT_MONEY_NAMES = frozenset("花费 浪费 消费 收费 免费 耗费 白费 费用 黄金 金".split())


def money_grain(question: str) -> Optional[re.Pattern]:
    """For a money question that names the money it asks about: those names (and their official wording, from
    bot/answering/data/colloquial.tsv), one of which the sentence giving the amount must hold; else None."""
    if question_type(question) != MONEY:
        return None
    names = [
        w
        for w in dict.fromkeys(jieba.lcut(question))
        if w not in NOT_MONEY_NAMES and (MONEY_TOPIC.search(w) or (len(w) >= 2 and w[-1] in "费金"))
    ]
    forms = [form for w in names for form in (w, *colloquial().get(w, ()))]
    return re.compile("|".join(map(re.escape, dict.fromkeys(forms)))) if forms else None


def asked_grain(question: str) -> Optional[re.Pattern]:
    """What an answer must hold beyond its kind: the date part a when-question asks for, or the money a money
    question names."""
    return when_grain(question) or money_grain(question)


# "分为哪几个阶段" / "有哪些保障措施": the noun the listed items share.
LIST_NOUN = re.compile(
    rf"(?:哪几|哪些|哪[{CN_POSITION}两\d]+|几)[个项点条类种块门部]?(?:方面的?)?([\u4e00-\u9fff]{{1,6}}?)"
    r"(?:[？?，,。]|是|呢|$|分别|都|要|有|包括|会|被|可|应|需|能)"
)


def list_noun(question: str) -> str:
    """The noun shared by the items a list question asks for (阶段, 措施), or ""."""
    phrase = list_phrase(question)
    if phrase:
        words = [(w, tag) for w, tag in pseg.lcut(phrase) if len(w) >= 2]
        nouns = [w for w, tag in words if tag.startswith("n") or tag == "vn"] or [w for w, _ in words]
        # 哪几块内容 -> 内容, 哪些保障措施 -> 措施, 分几个阶段进行 -> 阶段 (not the verb after it)
        return nouns[-1] if nouns else phrase
    # "分为哪几类" / "有哪几种": the classifier itself names the items.
    m = re.search(r"(?:哪几|哪些|几)([类种])", question)
    return m.group(1) if m else ""


def list_phrase(question: str) -> str:
    """The whole phrase naming what a list question asks for (激励措施 in 有哪些激励措施, where list_noun gives 措施),
    or ""."""
    m = LIST_NOUN.search(question)
    return m.group(1) if m else ""


# "树牢什么理念" / "哪个平台" / "哪个单位": the thing asked about, which the answer must name.
FOCUS = re.compile(r"(?:什么|哪个|哪些|哪种|哪类|哪项|哪一|哪家|哪所|哪位)([\u4e00-\u9fff]{2,6})")
FOCUS_FACTOR = 2.0  # the asked-about noun weighs this much more than other terms
FOCUS_SKIP = frozenset("时候 时间 地方 意思 样的 内容 东西 情况".split())
# "联系人是谁" / "组长是谁" / "公示期是多长": the subject of 是 is what is asked about.
FOCUS_SUBJECT = re.compile(r"([\u4e00-\u9fff]{2,8})(?:是|为)(?:谁|哪|什么|多少|几|多长|多久)")


def focus_noun(question: str) -> str:
    """The noun a question asks about (理念 in 树牢什么理念, 联系人 in 联系人是谁), or ""."""
    m = FOCUS.search(question)
    if m:
        word = next((w for w in jieba.lcut(m.group(1)) if len(w) >= 2), "")
        if word and word not in FOCUS_SKIP:
            return word
    m = FOCUS_SUBJECT.search(question)
    if m:
        words = [w for w in jieba.lcut(m.group(1)) if len(w) >= 2]
        if words and words[-1] not in FOCUS_SKIP:
            return words[-1]
    return ""


# "第二个阶段" / "最后一个阶段": one item of a list the materials name in their headings.
ORDINAL = re.compile(
    rf"(?:第([{CN_POSITION}\d]+)|(最后))一?个?([\u4e00-\u9fff]{{1,3}}?)(?=[？?，,。的是呢要有各具从在安什哪几多讲说包提内]|$)"
)
ORDINAL_NOUNS = frozenset("阶段 部分 方面 环节 要求 任务 措施 意见 点 项 条 步 类 种".split())
ORDINAL_CLASSIFIERS = "点项条类种步"  # may stand before the noun: 第三点意见, 第二项措施
LAST = -1  # the position ordinal() gives 最后一个


def ordinal(question: str) -> tuple[int, str]:
    """(position from 1, or LAST; the noun) of an ordinal reference like 第二个阶段, else (0, "")."""
    m = ORDINAL.search(question)
    if not m or not m.group(3):
        return 0, ""
    noun = m.group(3)
    if len(noun) > 1 and noun[0] in ORDINAL_CLASSIFIERS and noun[1:] in ORDINAL_NOUNS:
        noun = noun[1:]  # 第三点意见 -> 意见, as 第三个阶段 -> 阶段
    # "第一期培训班" / "第三届大赛" name a thing; "第二个阶段" / "第三点" point into a list.
    if "个" not in m.group(0) and noun not in ORDINAL_NOUNS:
        return 0, ""
    if m.group(2):
        return LAST, noun
    return cn_to_int(m.group(1)), noun


# ---------------------------------------------------------------- its content nouns
# jieba.posseg tags of words that name a topic: nouns (n, nr, ns, nt, nz…), verbal and adjectival
# nouns (考勤/vn, 困难/an) and Latin words (PPT/eng). Verbs (名叫), adverbs (不好), prepositions (除了),
# numerals with classifiers (一场, 几部), time words (明天) and pronouns (我) never do.
NOUN_TAG = re.compile(r"^(n[a-z]*|vn|an|eng)$")
CJK = re.compile(r"[\u4e00-\u9fff]")
NUMERAL = re.compile(rf"[\d.]+|[{CN_AMOUNT}]+")
NOUN_WORDS_FILE = Path(__file__).parent / "data" / "noun_words.tsv"
GENERIC = "generic"  # a noun that names no topic (时候, 内容, 地方)
JOINS = "joins"  # a word jieba tags a verb inside a noun compound (理论宣讲活动)


@lru_cache(maxsize=1)
def noun_words() -> dict[str, str]:
    """word -> its role (GENERIC or JOINS), from bot/answering/data/noun_words.tsv."""
    table: dict[str, str] = {}
    for word, role in (row[:2] for row in table_rows(NOUN_WORDS_FILE)):
        table[word.strip()] = role.strip()
    return table


def generic_nouns() -> frozenset[str]:
    """Nouns that name no topic: they neither make a question standalone nor are named by a refusal."""
    return frozenset(w for w, role in noun_words().items() if role == GENERIC)


def is_chinese(question: str) -> bool:
    """Whether the question is written in Chinese (holds at least one Han character)."""
    return bool(CJK.search(question))


def content_nouns(question: str) -> list[str]:
    """The question's content nouns, adjacent ones joined into one phrase (误工/n 补贴/n -> 误工补贴),
    in the order it says them; generic nouns (时候, 内容), stopwords and lone characters left out."""
    roles = noun_words()
    tokens = [(t.word.strip(), t.flag) for t in pseg.lcut(question)]

    def noun(i: int) -> bool:
        word, flag = tokens[i]
        if not word or roles.get(word) == GENERIC or word in STOPWORDS or not NOUN_TAG.match(flag):
            return False
        return not (i > 0 and NUMERAL.fullmatch(tokens[i - 1][0]))  # 2024 年度, 215 场: part of a number

    phrases: list[str] = []
    run: list[str] = []
    for i, (word, _) in enumerate(tokens):
        if noun(i) or (roles.get(word) == JOINS and i + 1 < len(tokens) and noun(i + 1)):
            run.append(word)
            continue
        _close(run, phrases)
        run = []
    _close(run, phrases)
    return phrases


def _close(run: list[str], phrases: list[str]) -> None:
    phrase = "".join(run)
    if len(phrase) >= 2 and phrase not in phrases:
        phrases.append(phrase)


# ---------------------------------------------------------------- terms and their weights
GENERIC_TERMS = frozenset(
    "工作 开展 进行 提出 做好 加强 推进 相关 单位 活动 情况 要求 方面 问题 讲话 材料 文件 会议 提到 指出 强调 根据 按照".split()
)
GENERIC_FACTOR = 0.5  # 工作, 开展…: they occur in every official document
SINGLE_CHAR_FACTOR = 0.3  # a lone character (员, 期) is a fragment of a word, not a topic
# A year binds the answer to a document ("2023年度" picks the document's year).
YEAR = re.compile(r"((?:19|20)\d{2})年")
# An ordinal that names one of a series (第三届大赛, 第二期示范班, 冬训第一课, 第二批): like a year it picks which one is
# asked about, so the answer's passage must name it. 第二个阶段 and 第三点 are list positions (rewrite.ordinal_position)
# and 第一天 or 第一次 is rarely written as such (dates are), so those counters are not here.
SERIES_ORDINAL = re.compile(r"第([一二三四五六七八九十百零〇两\d]+)(届|期|课|批)")


def ordinal_forms(question: str) -> list[tuple[str, ...]]:
    """Each series ordinal the question names (SERIES_ORDINAL), as the forms a text may write it in: 第二期, 第2期."""
    out = []
    for m in SERIES_ORDINAL.finditer(question):
        n = cn_to_int(m.group(1))
        if n <= 0:
            continue
        forms = {m.group(), f"第{n}{m.group(2)}"}
        if n < 100:
            forms.add(f"第{int_to_cn(n)}{m.group(2)}")
        out.append(tuple(sorted(forms, key=lambda f: f != m.group())))  # as the question writes it first
    return out


def _term_factor(term: str) -> float:
    if term in GENERIC_TERMS:
        return GENERIC_FACTOR
    if len(term) == 1 and not term.isascii():
        return SINGLE_CHAR_FACTOR
    return 1.0


def _composed(term: str, parts: list[str]) -> bool:
    """Whether term is a concatenation of two or more of parts."""
    if not parts or len(term) < 4:
        return False
    reach = {0}
    for i in range(len(term)):
        if i in reach:
            reach.update(i + len(p) for p in parts if term.startswith(p, i) and len(p) < len(term))
    return len(term) in reach


COLLOQUIAL_FILE = Path(__file__).parent / "data" / "colloquial.tsv"


@lru_cache(maxsize=1)
def colloquial() -> dict[str, tuple[str, ...]]:
    """Everyday word -> official variants (bot/answering/data/colloquial.tsv)."""
    table: dict[str, tuple[str, ...]] = {}
    for word, variants in table_rows(COLLOQUIAL_FILE, maxsplit=1):
        table[word.strip()] = tuple(v.strip() for v in variants.split("|") if v.strip())
    return table


def official_variants(question: str) -> dict[str, tuple[str, ...]]:
    """The colloquial words in a question with the official wording that may stand for them."""
    return {w: v for w, v in colloquial().items() if w in question}


@dataclass
class Query:
    """A question broken into what retrieval and answering need."""

    text: str
    kind: str
    terms: list[str]  # content terms, shortest first (ties in question order), no duplicates
    weights: dict[str, float]  # term -> IDF weight
    bigrams: frozenset[str]
    numbers: list[str] = field(
        default_factory=list
    )  # numbers the corpus knows (years, counts) that the answer must match
    unit: str = ""  # what a 多少/几 question counts in
    grain: Optional[re.Pattern] = None  # the date part a when-question asks for, the money a money question names
    noun: str = ""  # what the items of a list question are
    variants: dict[str, tuple[str, ...]] = field(default_factory=dict)  # term -> official wordings that match it
    ordinals: list[tuple[str, ...]] = field(default_factory=list)  # series ordinals named (ordinal_forms)

    @cached_property
    def total_weight(self) -> float:
        return sum(self.weights.values()) or 1.0

    @cached_property
    def coverage_terms(self) -> tuple[CoverageTerm, ...]:
        """Each term as term coverage checks it, in the order of weights: its weight, its compact forms (itself
        and its variants), and the character bigrams of a term of three characters or more. term_coverage runs
        on every sentence of every candidate passage; a Query is not changed once analyse has built it."""
        out = []
        for term, w in self.weights.items():
            variants = tuple(compact(f) for f in self.variants.get(term, ()))
            parts = char_ngrams(term) if len(term) >= 3 else frozenset()
            out.append(CoverageTerm(w, compact(term), variants, parts))
        return tuple(out)


class CoverageTerm(NamedTuple):
    weight: float
    form: str  # the term's compact form
    variants: tuple[str, ...]  # compact forms of its official variants (most terms have none)
    parts: frozenset[str]  # character bigrams of a term of three characters or more (else empty)


def analyse(question: str, stats: CorpusStats) -> Query:
    """Split a question into weighted content terms and its question type."""
    tokens = tokenize(question)
    # Search-mode jieba yields both 领导小组 and 领导/小组: drop a compound of shorter terms and a lone
    # character inside a longer one. Shortest first; terms of one length in the order the question says
    # them, so the weights (and the topic a refusal names) are the same on every run.
    uniq = sorted(dict.fromkeys(tokens), key=len)
    terms: list[str] = []
    for tok in uniq:
        if len(tok) == 1 and not re.match(r"[\dA-Za-z]", tok) and any(tok in t for t in uniq if len(t) > 1):
            continue  # a lone character inside a longer term is a fragment
        if _composed(tok, [t for t in terms if len(t) > 1]):
            continue  # 回顾过去 = 回顾 + 过去: counting the whole as well would weigh the same words twice
        terms.append(tok)
    # A word the materials never use (管饭, 老家) is the asker's phrasing more often than a missing
    # topic, so it weighs like an ordinary word; missing topics are caught by the type checks.
    ceiling = stats.idf_unknown_cap()
    weights = {t: min(stats.idf(t), ceiling) * _term_factor(t) for t in terms}
    focus = focus_noun(question)
    if focus:
        if focus not in weights:
            weights[focus] = min(stats.idf(focus), ceiling)
        weights[focus] *= FOCUS_FACTOR
    # A number the corpus never mentions (1988年 in "我是1988年出生的") is the asker's own data, not a key.
    # Only years bind: "有12分" is the asker's own situation, "2023年度" picks the document's year. A work year
    # (年度) is never the asker's own data: it binds even when the corpus never mentions it, so 2024年度冬训 is not
    # answered from materials that cover only 2025年度.
    numbers = [n for n in dict.fromkeys(YEAR.findall(question)) if stats.known(n) or f"{n}年度" in question]
    # A colloquial word (打工) also matches its official wording (务工, 流动党员); the variants count as it.
    variants: dict[str, tuple[str, ...]] = {}
    for word, official in official_variants(question).items():
        term = next((t for t in weights if word in t or t in word), None)
        if term is None:
            term = word
            weights[term] = min(stats.idf(term), ceiling)
        variants[term] = variants.get(term, ()) + official
    return Query(
        question,
        question_type(question),
        terms,
        weights,
        char_ngrams(question),
        numbers,
        asked_unit(question),
        asked_grain(question),
        list_noun(question),
        variants,
        ordinal_forms(question),
    )
