"""Document frequencies of the knowledge base's tokens: what makes a question term rare, and so weighty."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from core.grammar import tokenize

UNKNOWN_AS_DF = 2  # a word the corpus never uses weighs like a word found in this many passages


@dataclass
class CorpusStats:
    """Document frequencies of tokens over the knowledge base's chunks, for IDF weights."""

    n_docs: int = 0
    df: Counter = field(default_factory=Counter)

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> CorpusStats:
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

    def idf_unknown_cap(self) -> float:
        """The weight given to a word the corpus never uses: that of a word in two passages."""
        return math.log(1 + (self.n_docs + 1) / (UNKNOWN_AS_DF + 0.5))
