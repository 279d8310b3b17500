"""The learned answer selector and refusal gate: committed JSON weights, scored with numpy only.

`AnswerModel.load()` reads bot/answering/data/weights.json (written by `python -m bot.answering.train`);
`decide()` runs candidates -> features -> selector -> gate for one question's ranked passages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional

import numpy as np
from langchain_core.documents import Document

from bot.answering.candidates import Candidate, build_candidates
from bot.answering.features import (
    CANDIDATE_FEATURES,
    GATE_FEATURES,
    SentenceCosines,
    Stats,
    candidate_features,
    gate_features,
    question_of,
)

WEIGHTS_FILE = Path(__file__).with_name("data") / "weights.json"
Scored = tuple[Document, float]
LOGIT_CLIP = 30.0  # keeps exp() finite for far-out feature values


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
class Decision:
    """One question's outcome: the candidates best first, the shown answer and whether to refuse."""

    candidates: list[Candidate]
    probs: np.ndarray  # selector probability of each candidate, same order
    shown: list[Candidate]  # the answer: the best candidate, plus the second when it is close
    answerable: float  # calibrated probability that the answer is among the passages
    refuse: bool
    gate: np.ndarray = field(default_factory=lambda: np.zeros(0))  # the gate's feature vector


@dataclass
class AnswerModel:
    selector: Logistic
    gate: Logistic
    threshold: float  # refuse below this answerable probability
    second_within: float  # show the second candidate too when its probability is within this of the best
    max_shown_chars: int  # never add a second candidate past this length
    shorter_within: float = 1.0  # the shortest candidate whose probability is at least this share of the best wins
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = WEIGHTS_FILE) -> AnswerModel:
        """The committed weights (plain JSON; no pickle)."""
        d = json.loads(Path(path).read_text(encoding="utf-8"))
        model = cls(
            Logistic.from_json(d["selector"]),
            Logistic.from_json(d["gate"]),
            float(d["threshold"]),
            float(d["second_within"]),
            int(d["max_shown_chars"]),
            float(d.get("shorter_within", 1.0)),
            d.get("meta", {}),
        )
        if tuple(model.selector.names) != CANDIDATE_FEATURES or tuple(model.gate.names) != GATE_FEATURES:
            raise ValueError(
                f"{path}: weights were trained on other features; retrain with python -m bot.answering.train"
            )
        return model

    def at(self, *, threshold: float, second_within: float, shorter_within: float) -> AnswerModel:
        """The same weights at another operating point (the settings' gate threshold and shown-answer rule)."""
        return replace(self, threshold=threshold, second_within=second_within, shorter_within=shorter_within)

    def to_json(self) -> dict[str, Any]:
        return {
            "selector": self.selector.to_json(),
            "gate": self.gate.to_json(),
            "threshold": self.threshold,
            "second_within": self.second_within,
            "max_shown_chars": self.max_shown_chars,
            "shorter_within": self.shorter_within,
            "meta": self.meta,
        }

    def select(self, X: np.ndarray) -> np.ndarray:
        """Probability that each candidate (row of a candidate_features matrix) holds the answer."""
        return self.selector.prob(X) if len(X) else np.zeros(0)

    def answerable(self, g: np.ndarray) -> float:
        """Calibrated probability that the answer is present among the passages (g: a gate_features vector)."""
        return float(self.gate.prob(g)[0])

    def shown(self, cands: list[Candidate], probs: np.ndarray) -> list[Candidate]:
        """The best candidate (the shortest of those nearly as likely), and the second when it is close and
        does not overlap it."""
        if not cands:
            return []
        order = np.argsort(-probs, kind="stable")
        top = probs[order[0]]
        near = [i for i in order if probs[i] >= self.shorter_within * top]
        pick = min(near, key=lambda i: len(cands[i].text))
        order = np.array([pick] + [i for i in order if i != pick])
        best = cands[order[0]]
        out = [best]
        if len(order) > 1 and probs[order[0]] - probs[order[1]] <= self.second_within:
            nxt = cands[order[1]]
            overlaps = nxt.passage == best.passage and nxt.start < best.end and best.start < nxt.end
            if not overlaps and len(best.text) + len(nxt.text) <= self.max_shown_chars:
                out.append(nxt)
        return out

    def decide(
        self,
        question: str,
        contexts: list[Scored],
        stats: Stats,
        *,
        sentence_cosines: Optional[SentenceCosines] = None,
        top_k: int = 5,
    ) -> Decision:
        """Candidates, selector probabilities, shown answer and the refusal decision for one question."""
        passages = [d for d, _ in contexts]
        q = question_of(question, stats)
        cands = build_candidates(contexts, top_k=top_k)
        X = candidate_features(q, cands, passages, stats, sentence_cosines=sentence_cosines)
        probs = self.select(X)
        g = gate_features(q, cands, X, probs, passages, stats)
        p = self.answerable(g) if cands else 0.0
        order = np.argsort(-probs, kind="stable")
        ranked = [cands[i] for i in order]
        return Decision(ranked, probs[order], self.shown(cands, probs), p, p < self.threshold, g)
