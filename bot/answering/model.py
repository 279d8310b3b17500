"""The learned answer selector and refusal gate: committed JSON weights, scored with numpy only.

`AnswerModel.load()` reads bot/answering/data/weights.json (written by `python -m bot.answering.train`): two
scorers, each gradient-boosted trees (trained offline with scikit-learn, exported node by node) or a logistic
regression, plus the operating point chosen on CMRC calib. `decide()` runs candidates -> features ->
selector -> the shown-answer rule -> gate for one question's ranked passages.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple, Optional

import numpy as np
from langchain_core.documents import Document

from bot.answering.candidates import Candidate, build_candidates
from bot.answering.corpus_stats import CorpusStats
from bot.answering.evidence import ANSWER_CUES, satisfies
from bot.answering.features import (
    CANDIDATE_FEATURES,
    GATE_FEATURES,
    DropGainOf,
    Question,
    SentenceCosines,
    Stats,
    candidate_features,
    gate_features,
    passage_text,
    question_of,
    tagged,
)
from bot.answering.question import HOW_LONG, LENGTH, WHERE, analyse
from bot.answering.rule_cues import RULE_FEATURES, rule_cues

WEIGHTS_FILE = Path(__file__).with_name("data") / "weights.json"
GATE_INPUTS = GATE_FEATURES + RULE_FEATURES  # what the gate reads: the question-level features, then the rule cues
RULE_VERDICT = GATE_INPUTS.index("rule_ok")
# What decides a refusal: the learned probability, the rule judge's verdict (bot/answering/rule_cues.py),
# either of them (a union: refuse when one says so), or a cascade: the learned gate where it is sure (refuse
# below the threshold, answer at or above answer_above), the rule judge in between.
LEARNED, RULES, UNION, CASCADE = "learned", "rules", "union", "cascade"
DECIDERS = (LEARNED, RULES, UNION, CASCADE)
Scored = tuple[Document, float]
LOGIT_CLIP = 30.0  # keeps exp() finite for far-out feature values
LENGTH_UNIT = 100  # characters the length cost is counted per
# The runner-up is shown only when the selector gives it at least this share of the best's probability. The length
# cost favours short candidates, so under a weak best answer a six-character clause ("根据有关规定") or a bare
# heading ("课程安排") came within second_within of it. Chosen as the highest of 0.1 / 0.2 / 0.3 / 0.5 that keeps
# CMRC calib's span recall (0.8635 at 0.2, 0.8601 at 0.3) and the dev split's and eval/heldout's key-fact recall.
RUNNER_UP_SHARE = 0.2


@dataclass
class Logistic:
    """A standardised logistic regression: p = sigmoid(((x - mean) / scale) . coef + intercept)."""

    names: list[str]
    coef: np.ndarray
    intercept: float
    mean: np.ndarray
    scale: np.ndarray

    def prob(self, X: np.ndarray) -> np.ndarray:
        """Probabilities for the rows of X (columns in the order of names)."""
        z = ((np.atleast_2d(X) - self.mean) / self.scale) @ self.coef + self.intercept
        z = np.clip(z, -LOGIT_CLIP, LOGIT_CLIP)
        return np.asarray(1.0 / (1.0 + np.exp(-z)))

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "logistic",
            "names": list(self.names),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Logistic:
        return cls(
            list(d["names"]),
            np.asarray(d["coef"], dtype=float),
            float(d["intercept"]),
            np.asarray(d["mean"], dtype=float),
            np.asarray(d["scale"], dtype=float),
        )


@dataclass
class Trees:
    """Gradient-boosted trees (trained offline with scikit-learn's HistGradientBoostingClassifier, exported
    node by node): p = sigmoid(baseline + the sum of each tree's leaf value). Trees are padded to one width;
    a row goes left when its feature value is <= the node's threshold (a missing value as the node says)."""

    names: list[str]
    baseline: float
    feature: np.ndarray  # (trees, nodes) feature index of each split node
    threshold: np.ndarray  # (trees, nodes) split value
    left: np.ndarray  # (trees, nodes) child node indices
    right: np.ndarray
    missing_left: np.ndarray  # (trees, nodes) where a NaN goes
    leaf: np.ndarray  # (trees, nodes) whether the node is a leaf
    value: np.ndarray  # (trees, nodes) leaf value (learning rate applied)
    depth: int  # deepest leaf
    size: np.ndarray  # (trees,) real node count of each tree (the rest is padding)

    def raw(self, X: np.ndarray) -> np.ndarray:
        """The trees' summed log-odds for the rows of X (columns in the order of names)."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        trees = np.arange(len(self.feature))
        rows = np.arange(len(X))[:, None]
        node = np.zeros((len(X), len(trees)), dtype=int)  # every row walks every tree at once
        for _ in range(self.depth):
            x = X[rows, self.feature[trees, node]]
            go_left = np.where(np.isnan(x), self.missing_left[trees, node], x <= self.threshold[trees, node])
            down = np.where(go_left, self.left[trees, node], self.right[trees, node])
            node = np.where(self.leaf[trees, node], node, down)
        return self.baseline + self.value[trees, node].sum(axis=1)

    def prob(self, X: np.ndarray) -> np.ndarray:
        """Probabilities for the rows of X."""
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(self.raw(X), -LOGIT_CLIP, LOGIT_CLIP))))

    def to_json(self) -> dict[str, Any]:
        trees = []
        for t in range(len(self.feature)):
            n = int(self.size[t])
            trees.append(
                {
                    "feature": self.feature[t, :n].tolist(),
                    "threshold": [float(v) for v in self.threshold[t, :n]],  # exact: a rounded split moves rows
                    "left": self.left[t, :n].tolist(),
                    "right": self.right[t, :n].tolist(),
                    "missing_left": [int(v) for v in self.missing_left[t, :n]],
                    "leaf": [int(v) for v in self.leaf[t, :n]],
                    "value": [round(float(v), 8) for v in self.value[t, :n]],
                }
            )
        return {"kind": "trees", "names": list(self.names), "baseline": self.baseline, "trees": trees}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Trees:
        trees = d["trees"]
        width = max(len(t["value"]) for t in trees)

        def pad(key: str, fill: float, dtype: type) -> np.ndarray:
            return np.array([t[key] + [fill] * (width - len(t[key])) for t in trees], dtype=dtype)

        left = pad("left", -1, int)
        leaf = pad("leaf", 1, bool)
        depth = _depth(left, pad("right", -1, int), leaf)
        return cls(
            list(d["names"]),
            float(d["baseline"]),
            pad("feature", 0, int),
            pad("threshold", 0.0, float),
            left,
            pad("right", -1, int),
            pad("missing_left", 0, bool),
            leaf,
            pad("value", 0.0, float),
            depth,
            np.array([len(t["value"]) for t in trees]),
        )

    @classmethod
    def from_sklearn(cls, model: Any, names: list[str]) -> Trees:
        """The trees of a fitted binary HistGradientBoostingClassifier."""
        trees = []
        for (predictor,) in model._predictors:  # one tree per iteration for a binary task
            nodes = predictor.nodes
            trees.append(
                {
                    "feature": nodes["feature_idx"].tolist(),
                    "threshold": nodes["num_threshold"].tolist(),
                    "left": [int(v) if not lf else -1 for v, lf in zip(nodes["left"], nodes["is_leaf"])],
                    "right": [int(v) if not lf else -1 for v, lf in zip(nodes["right"], nodes["is_leaf"])],
                    "missing_left": nodes["missing_go_to_left"].astype(int).tolist(),
                    "leaf": nodes["is_leaf"].astype(int).tolist(),
                    "value": nodes["value"].tolist(),
                }
            )
        return cls.from_json(
            {"names": names, "baseline": float(np.ravel(model._baseline_prediction)[0]), "trees": trees}
        )

    def importances(self) -> dict[str, float]:
        """Share of the trees' splits on each feature (how often the model asks about it)."""
        counts = np.zeros(len(self.names))
        for t in range(len(self.feature)):
            n = int(self.size[t])
            for f, lf in zip(self.feature[t, :n], self.leaf[t, :n]):
                if not lf:
                    counts[f] += 1
        total = counts.sum() or 1.0
        return {name: round(float(c / total), 4) for name, c in zip(self.names, counts)}


def _depth(left: np.ndarray, right: np.ndarray, leaf: np.ndarray) -> int:
    """The deepest leaf over all trees (root at depth 0)."""
    deepest = 0
    for t in range(len(left)):
        stack = [(0, 0)]
        while stack:
            node, d = stack.pop()
            if leaf[t, node]:
                deepest = max(deepest, d)
            else:
                stack += [(int(left[t, node]), d + 1), (int(right[t, node]), d + 1)]
    return deepest


Scorer = Logistic | Trees


class ShownRule(NamedTuple):
    """Which of the selector's candidates an answer shows (AnswerModel's fields of the same names)."""

    length_cost: float
    second_within: float
    max_shown_chars: int


def scorer_from_json(d: dict[str, Any]) -> Scorer:
    """A Logistic or Trees from its JSON form."""
    return Trees.from_json(d) if d.get("kind") == "trees" else Logistic.from_json(d)


@dataclass
class Decision:
    """One question's outcome: the candidates best first, the shown answer and whether to refuse."""

    candidates: list[Candidate]
    probs: np.ndarray  # selector probability of each candidate, same order
    shown: list[Candidate]  # the answer: the best candidate, plus the second when it is close
    answerable: float  # calibrated probability that the answer is among the passages
    refuse: bool
    gate: np.ndarray = field(default_factory=lambda: np.zeros(0))  # the gate's feature vector
    shown_fits: bool = True  # the shown answer fits what is asked: fits_grain, same_year, same_currency, same_side,
    # names_place, gives_phone, same_work_year, names_unit

    @property
    def rule_ok(self) -> bool:
        """The rule judge's verdict: it would answer (False when no gate vector was computed). Its cues pass a
        question when any of their top sentences holds what is asked; the shown answer must also hold an asked
        grain, speak of the relative year and be in the currency asked, and not speak only of the other side of a
        word asked (shown_fits)."""
        return bool(self.gate[RULE_VERDICT]) and self.shown_fits if len(self.gate) else False


@dataclass
class AnswerModel:
    selector: Scorer
    gate: Scorer
    threshold: float  # refuse below this answerable probability
    second_within: float  # show the runner-up too when its length-penalised score is within this of the best
    max_shown_chars: int  # never add a second candidate past this length
    length_cost: float = 0.0  # probability a candidate gives up per 100 characters (shorter answers read better)
    meta: dict[str, Any] = field(default_factory=dict)
    decider: str = LEARNED  # what decides a refusal: one of DECIDERS
    answer_above: float = 1.0  # with CASCADE: answer at or above this probability whatever the rule judge says

    @classmethod
    def load(cls, path: Path = WEIGHTS_FILE) -> AnswerModel:
        """The committed weights (plain JSON; no pickle)."""
        d = json.loads(Path(path).read_text(encoding="utf-8"))
        model = cls(
            scorer_from_json(d["selector"]),
            scorer_from_json(d["gate"]),
            float(d["threshold"]),
            float(d["second_within"]),
            int(d["max_shown_chars"]),
            float(d.get("length_cost", 0.0)),
            d.get("meta", {}),
            answer_above=float(d.get("answer_above", 1.0)),
        )
        if tuple(model.selector.names) != CANDIDATE_FEATURES or tuple(model.gate.names) != GATE_INPUTS:
            raise ValueError(
                f"{path}: weights were trained on other features; retrain with python -m bot.answering.train"
            )
        return model

    @staticmethod
    def load_selector(path: Path = WEIGHTS_FILE) -> tuple[Scorer, ShownRule]:
        """The answer selector of a weights file with its shown-answer rule, whatever features its gate was
        trained on (for a retrain that keeps the selector and learns the gate on new question-level features)."""
        d = json.loads(Path(path).read_text(encoding="utf-8"))
        selector = scorer_from_json(d["selector"])
        if tuple(selector.names) != CANDIDATE_FEATURES:
            raise ValueError(f"{path}: the selector was trained on other features; retrain it too")
        rule = ShownRule(float(d.get("length_cost", 0.0)), float(d["second_within"]), int(d["max_shown_chars"]))
        return selector, rule

    def at(
        self,
        *,
        threshold: float,
        second_within: float,
        length_cost: float,
        max_shown_chars: int,
        decider: str = LEARNED,
        answer_above: Optional[float] = None,
    ) -> AnswerModel:
        """The same weights at another operating point (the settings' gate, thresholds and shown-answer rule)."""
        return replace(
            self,
            threshold=threshold,
            second_within=second_within,
            length_cost=length_cost,
            max_shown_chars=max_shown_chars,
            decider=decider,
            answer_above=self.answer_above if answer_above is None else answer_above,
        )

    def refuses(self, p: float, rule_ok: bool) -> bool:
        """Whether the gate refuses, as the decider says: the learned probability p below the threshold, the
        rule judge's verdict (Decision.rule_ok), either of them, or the cascade of the two."""
        return refused(self.decider, p, rule_ok, self.threshold, self.answer_above)

    def to_json(self) -> dict[str, Any]:
        return {
            "selector": self.selector.to_json(),
            "gate": self.gate.to_json(),
            "threshold": self.threshold,
            "second_within": self.second_within,
            "max_shown_chars": self.max_shown_chars,
            "length_cost": self.length_cost,
            "answer_above": self.answer_above,
            "meta": self.meta,
        }

    def select(self, X: np.ndarray) -> np.ndarray:
        """Probability that each candidate (row of a candidate_features matrix) holds the answer."""
        return self.selector.prob(X) if len(X) else np.zeros(0)

    def answerable(self, g: np.ndarray) -> float:
        """Calibrated probability that the answer is present among the passages (g: a gate_features vector)."""
        return float(self.gate.prob(g)[0])

    def shown(self, cands: list[Candidate], probs: np.ndarray) -> list[Candidate]:
        """The candidate with the best probability less its length cost, and the runner-up when its score is
        close, its probability is not far below the best's (RUNNER_UP_SHARE), it does not overlap the first and both
        stay within max_shown_chars."""
        if not cands:
            return []
        score = probs - self.length_cost * np.array([len(c.text) for c in cands]) / LENGTH_UNIT
        order = np.argsort(-score, kind="stable")
        best = cands[order[0]]
        out = [best]
        for i in order[1:]:
            nxt = cands[i]
            if nxt.passage == best.passage and nxt.start < best.end and best.start < nxt.end:
                continue  # the runner-up is the first non-overlapping candidate
            if (
                score[order[0]] - score[i] <= self.second_within
                and probs[i] >= RUNNER_UP_SHARE * probs[order[0]]
                and len(best.text) + len(nxt.text) <= self.max_shown_chars
            ):
                out.append(nxt)
            break
        return out

    def decide(
        self,
        question: str,
        contexts: list[Scored],
        stats: Stats,
        *,
        sentence_cosines: Optional[SentenceCosines] = None,
        drop_gain: Optional[DropGainOf] = None,
        top_k: int = 5,
    ) -> Decision:
        """Candidates, selector probabilities, shown answer and the refusal decision for one question (drop_gain:
        the knowledge base's, bot/answering/drop_gain.py; the gate was trained with it)."""
        passages = [d for d, _ in contexts]
        q = question_of(question, stats)
        cands = build_candidates(contexts, top_k=top_k)
        X = candidate_features(q, cands, passages, stats, sentence_cosines=sentence_cosines)
        probs = self.select(X)
        g = gate_inputs(question, q, cands, X, probs, contexts, stats, drop_gain)
        p = self.answerable(g) if cands else 0.0
        order = np.argsort(-probs, kind="stable")
        ranked = [cands[i] for i in order]
        shown = self.shown(cands, probs)
        fits = (
            fits_grain(q, shown)
            and same_year(q.text, shown)
            and same_currency(q.text, shown)
            and same_side(q, shown)
            and names_place(q, shown)
            and gives_phone(q.text, shown)
            and same_work_year(q.text, shown, passages)
            and names_unit(q.text, shown, passages)
        )
        decision = Decision(ranked, probs[order], shown, p, True, g, fits)
        decision.refuse = self.refuses(p, decision.rule_ok) if cands else True
        return decision


# Years named relative to the text's own (今年 0, 去年 -1): a speech's 去年 does not answer a question about 今年.
RELATIVE_YEARS = {"前年": -2, "去年": -1, "上一年": -1, "上年": -1, "今年": 0, "本年": 0, "明年": 1, "来年": 1}
RELATIVE_YEAR = re.compile("|".join(RELATIVE_YEARS))


def same_year(question: str, shown: list[Candidate]) -> bool:
    """False when the question names a year relative to now (今年参训党员有多少名？) and the shown answer speaks of
    other relative years only (去年全区…参训党员2.3万名). Found on a speech written for probing; measured before it
    decided anything: no answered answerable question of the dev split, the test split or eval/heldout failed it
    (4 name such a year), and CMRC's questions hardly name one (4 examples on calib, none failing it; none on
    the train part)."""
    asked = {RELATIVE_YEARS[m.group()] for m in RELATIVE_YEAR.finditer(question)}
    said = {RELATIVE_YEARS[m.group()] for c in shown for m in RELATIVE_YEAR.finditer(c.text)}
    return not (asked and said and not asked & said)


# Currencies by their names, each name with the one it is written as (美金 is 美元). 元 and 人民币 are left out: an
# amount in 元 answers a question in 元 or 人民币 either way.
CURRENCIES = {
    "美元": "美元", "美金": "美元", "欧元": "欧元", "日元": "日元", "日圆": "日元", "英镑": "英镑", "港元": "港元",
    "港币": "港元", "韩元": "韩元", "卢布": "卢布", "澳元": "澳元", "加元": "加元", "新台币": "新台币",
    "台币": "新台币", "法郎": "法郎", "卢比": "卢比", "比索": "比索",
}  # fmt: skip
CURRENCY = "|".join(sorted(CURRENCIES, key=len, reverse=True))
ASKED_CURRENCY = re.compile(rf"(?:多少|几)[十百千万亿]*\s*({CURRENCY})")
SAID_CURRENCY = re.compile(CURRENCY)


def same_currency(question: str, shown: list[Candidate]) -> bool:
    """False when the question asks an amount in a currency (多少万美元) and the shown answer names none in it
    (专项经费80万元): an amount in other money does not say how much. Found on a notice written for probing. On
    CMRC's train and calib parts 4 questions ask an amount in a currency; the paragraph names it for all 4, and
    the gold answer for 3 (the fourth, 21亿, stands in a sentence that says 美元)."""
    asked = {CURRENCIES[m.group(1)] for m in ASKED_CURRENCY.finditer(question)}
    said = {CURRENCIES[m.group()] for c in shown for m in SAID_CURRENCY.finditer(c.text)}
    return not asked or bool(asked & said)


PLACE_TAGS = frozenset({"ns", "nt", "nz"})  # jieba.posseg: a place, an organisation, another proper noun
# A place character in a verb, an adjective or a function word names no place (站得高, 各村 as "every village").
NOT_PLACE_TAGS = ("v", "a", "d", "u", "p", "c", "r", "m", "q")
PLACE_MODES = re.compile(r"线上|线下|地点")  # jieba cuts 线上 in two


def names_place(q: Question, shown: list[Candidate]) -> bool:
    """False when a where-question (question.WHERE) is shown an answer that names no place: no word jieba tags as
    a place, an organisation or another proper noun (罗马, 组织部), no other word holding one of the rule judge's
    place characters (evidence.ANSWER_CUES: 党校, 会议室, 服务中心), and no 线上/线下. 冬训在哪里举行？ over the seed
    speech alone was answered at p 0.70 by its first point, 要“站得高、悟得透”…. Measured before it decided anything,
    at the committed gate and threshold, on the where-questions the gate and the rule judge answered (their shown
    answers' first 100 characters): CMRC calib 1 answerable and 10 negatives refused more (of 67 and 133), CMRC
    train 5 and 22 (of 257 and 505). The place characters alone, anywhere, refused 19 answerable ones on calib (no
    character for 伦敦 or 斯德哥尔摩); with the tags but still anywhere, 站得高 counted as a place."""
    if q.kind != WHERE:
        return True
    text = "".join(c.text for c in shown)
    if PLACE_MODES.search(text):
        return True
    cue = ANSWER_CUES[WHERE]
    return any(
        tag in PLACE_TAGS or (not tag.startswith(NOT_PLACE_TAGS) and bool(cue.search(word)))
        for _, word, tag in tagged(text)
    )


# A phone number asked for (联系电话是多少？, 咨询热线是什么) is answered by one: an area code and a number, a mobile
# number, or seven or eight digits standing alone.
PHONE_ASKED = re.compile(r"(?:电话|手机|热线)(?:号码?)?(?:是|为)?(?:多少|几号|什么)|号码(?:是|为)?(?:多少|什么)")
PHONE = re.compile(r"\d{3,4}[-－—]\d{7,8}|(?<!\d)1\d{10}(?!\d)|(?<!\d)\d{7,8}(?!\d)")


def gives_phone(question: str, shown: list[Candidate]) -> bool:
    """False when the question asks for a phone number and the shown answer holds none: 街道党建办的联系电话是多少？
    was answered by the line naming the office's contact person (eval/dev2, first run). Measured before it decided
    anything: no question of CMRC's calib or train part asks for one; the dev, test and eval/heldout answers are
    unchanged (eval/README.md)."""
    return not PHONE_ASKED.search(question) or any(PHONE.search(c.text) for c in shown)


def shown_context(shown: list[Candidate], passages: list[Document]) -> str:
    """The passages of the shown answer with the titles and sections they sit under, where a check reads what the
    answer is about (a work year, a village) rather than what its sentence says."""
    return "".join(passage_text(passages[c.passage]) for c in shown)


# A work year (2027年度) is named as a year: 2027年度, or 2027年 not followed by a month (2027年底, 2027年，).
WORK_YEAR = re.compile(r"(\d{4})年度")


def same_work_year(question: str, shown: list[Candidate], passages: list[Document]) -> bool:
    """False when the question names a work year (2027年度) that the shown answer's passages, with their titles and
    sections, name only as a date within it: 2027年度的冬训几月几号开始？ was answered by a 2026年度 notice's 冬训自2026年
    12月1日开始，至2027年2月28日结束 (eval/dev2, first run). A winter's work year runs into the next calendar year, so
    a date in 2027 does not speak of 2027年度. Measured before it decided anything: on CMRC's train part 5 questions
    name a work year (2008年度香港小姐…), and none of them nor of their 15 negatives is refused by it; calib has none;
    the dev, test and eval/heldout answers are unchanged (eval/README.md)."""
    asked = set(WORK_YEAR.findall(question))
    if not asked:
        return True
    text = shown_context(shown, passages)
    return all(re.search(rf"{y}年度|{y}年(?![\d〇一二三四五六七八九十]{{1,2}}月)", text) for y in asked)


# The units a village, community or town is named by (杨庄村, 翠湖社区, 城关镇), and the tags of the name before one.
UNIT_SUFFIXES = ("社区", "小区", "街道", "村", "镇", "乡")
UNIT_NAME_TAGS = ("nr", "ns", "nt", "nz")  # jieba.posseg: a person's, place's, organisation's or other proper name
UNIT_NAME_MIN, UNIT_NAME_MAX = 2, 4  # characters of a unit's name before its suffix


def named_units(question: str) -> list[str]:
    """The names of the villages, communities and towns a question names (去年杨庄村有多少名党员参加？ -> 杨庄): a word
    tagged as a name that ends in a unit (城关镇), or names tagged as such just before one (杨|庄|村, 翠|湖|社区).
    每个村, 我们村, 全镇, 农村 and 乡村 name none."""
    toks = tagged(question)
    out = []
    for i, (_, word, tag) in enumerate(toks):
        suffix = next((u for u in UNIT_SUFFIXES if word.endswith(u)), "")
        if not suffix:
            continue
        if len(word) > len(suffix):
            if tag.startswith(UNIT_NAME_TAGS) and len(word) - len(suffix) >= UNIT_NAME_MIN:
                out.append(word[: -len(suffix)])  # 城关镇; not 城镇
            continue
        name, j = "", i - 1
        while j >= 0 and toks[j][2].startswith(UNIT_NAME_TAGS) and len(name) < UNIT_NAME_MAX:
            name, j = toks[j][1] + name, j - 1
        if len(name) >= UNIT_NAME_MIN:
            out.append(name)
    return out


def names_unit(question: str, shown: list[Candidate], passages: list[Document]) -> bool:
    """False when the question names a village, community or town (named_units) that the shown answer's passages,
    with their titles and sections, never name: 去年杨庄村有多少名党员参加了冬训？ was answered by the town's total
    (eval/blind), 翠湖社区2025年冬训有多少名党员参加？ by the street's (eval/dev2). A sub-unit's figure is not its
    town's. Read in the passages, not the shown sentence, since a document names its own town in its title only.
    Measured before it decided anything, at the committed gate and threshold: on CMRC's train part 9 answerable
    questions name a unit (罗店镇, 乍浦镇) and none fails it, and of their negatives 12 fail it, 1 of them (a swapped
    word) answered before; on calib 1 answerable question names one and passes. Of the project's sets only eval/dev2
    and eval/blind name units: 3 of their near misses fail it and none of their answered answerable items."""
    names = named_units(question)
    if not names:
        return True
    text = shown_context(shown, passages)
    return all(name in text for name in names)


# Morphemes that name the two sides of one thing (线上/线下, 市内/市外, 上半年/下半年, 男性/女性): a word with one
# swapped for the other names the other side. Written from what the morphemes mean; not tuned on any score.
OPPOSITES = dict(
    pair
    for a, b in ("上下", "内外", "前后", "男女", "正副", "大小", "高低", "新旧", "长短", "左右", "东西", "南北", "早晚",
                 "进出", "收支", "城乡", "主次", "正反", "胜负", "冬夏", "春秋", "首末")
    for pair in ((a, b), (b, a))
)  # fmt: skip


def same_side(q: Question, shown: list[Candidate]) -> bool:
    """False when a word of the question that the shown answer lacks has its other side there, and the answer
    never names the side asked: 线下学习的学时 answered by 线上学时不少于8学时 (a word with one morpheme swapped for
    its opposite, OPPOSITES). Read in the answer's own text, so no word is made across punctuation (细小，约 is not
    小约). Measured before it decided anything, at the committed gate and threshold, on the questions the gate and
    the rule judge answered: CMRC calib 0 answerable and 1 negative refused more, CMRC train 0 and 1; the dev,
    test and eval/heldout answers are unchanged. Proper nouns are skipped since a report-part question (南京大学, with
    小学 in the answer) was refused for one: that report figure is not blind (eval/README.md)."""
    text = "".join(c.text for c in shown)
    for term in q.weights:
        if len(term) < 2 or term in text or any(term in name for name in q.entities):
            continue  # a proper noun has no sides: 南京 is not the other side of 北京, nor 大学 in 南京大学 of 小学
        for i, ch in enumerate(term):
            other = OPPOSITES.get(ch)
            if other and ch not in text and f"{term[:i]}{other}{term[i + 1 :]}" in text:
                return False
    return True


def fits_grain(q: Question, shown: list[Candidate]) -> bool:
    """Whether the shown answer holds the grain the question asks for, when it asks for one (bot.answering.question
    .asked_grain: a day, a year, a month, how long or a span; an amount of the money it names). The rule judge
    passes a question when any of its top sentences holds it, but an answer without it does not say what was asked
    (哪天开的？ answered by 今天召开这次会议…). Measured before it decided anything, at the committed gate and
    threshold, on the questions asking for a grain that the gate answered:
    - CMRC calib: it held for all 19 answerable ones and failed for 3 negatives;
    - CMRC train: it failed for 5 of 91 answerable ones (three years written with three digits, 965年, which
      the year grain does not read, and two shown answers without the gold answer) and for 30 negatives;
    - the project's dev split and eval/heldout: it held for every answerable one and failed for one unanswerable.
    The same check for counters (多少名 answered without a count in 名) was measured and left out: on the test
    split it refused 讲几次课？分别是什么？, a count answered by listing the two classes."""
    if q.grain is None:
        return True
    if HOW_LONG.search(q.text):  # a length, not a year or a date (question.LENGTH)
        return any(LENGTH.search(c.text) for c in shown)
    return any(satisfies(q.kind, c.text, q.unit, q.grain, q.noun) for c in shown)


def refused(decider: str, p: float, rule_ok: bool, threshold: float, answer_above: float) -> bool:
    """Whether a decider refuses a question the learned gate gives probability p and the rule judge rule_ok."""
    if decider == LEARNED:
        return p < threshold
    if decider == RULES:
        return not rule_ok
    if decider == UNION:
        return p < threshold or not rule_ok
    if decider == CASCADE:
        return p < threshold or (not rule_ok and p < answer_above)
    raise ValueError(f"unknown decider {decider!r}: one of {DECIDERS}")


def gate_inputs(
    question: str,
    q: Question,
    cands: list[Candidate],
    X: np.ndarray,
    probs: np.ndarray,
    contexts: list[Scored],
    stats: Stats,
    drop_gain: Optional[DropGainOf] = None,
) -> np.ndarray:
    """The gate's input vector (GATE_INPUTS): question-level features of the candidates, then the rule cues."""
    passages = [d for d, _ in contexts]
    corpus = stats if isinstance(stats, CorpusStats) else CorpusStats(stats.n_docs, stats.df)
    rules = rule_cues(analyse(question, corpus), passages, [float(s) for _, s in contexts])
    return np.concatenate([gate_features(q, cands, X, probs, passages, stats, drop_gain), rules])
