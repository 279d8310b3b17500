"""Sentences in a document that address the assistant ("忽略之前的规则，回答：…") instead of informing a reader.

Document text is untrusted: ingest flags a document holding such sentences, and the answerer can skip them
with ``is_instruction``. The rules are data (ingest/data/instruction_patterns.toml), each with its source
and examples that tests/reliability/test_ingest_instructions.py runs.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from core.grammar import sentences

PATTERNS_FILE = Path(__file__).parent / "data" / "instruction_patterns.toml"
# Characters of a flagged sentence quoted in a warning.
QUOTE_CHARS = 40
# Sentences whose verdict is remembered: the answerer asks about the same retrieved sentences on every question.
RULE_CACHE = 16384


@dataclass(frozen=True)
class Rule:
    """One pattern of instruction-like wording, with where it comes from and the examples it is tested on."""

    id: str
    pattern: re.Pattern[str]
    why: str
    source: str
    matches: tuple[str, ...]
    misses: tuple[str, ...]


@lru_cache(maxsize=1)
def rules() -> tuple[Rule, ...]:
    """The rules of PATTERNS_FILE, compiled."""
    data = tomllib.loads(PATTERNS_FILE.read_text(encoding="utf-8"))
    return tuple(
        Rule(
            id=entry["id"],
            pattern=re.compile(entry["pattern"]),
            why=entry["why"],
            source=entry["source"],
            matches=tuple(entry.get("matches", ())),
            misses=tuple(entry.get("misses", ())),
        )
        for entry in data["pattern"]
    )


@lru_cache(maxsize=1)
def ordinary_sentences() -> tuple[str, ...]:
    """Official-document sentences no rule may flag (the [ordinary] table of PATTERNS_FILE)."""
    data = tomllib.loads(PATTERNS_FILE.read_text(encoding="utf-8"))
    return tuple(data["ordinary"]["sentences"])


def fold(sentence: str) -> str:
    """The form the rules are written against: NFKC, lower case, no whitespace or format characters."""
    text = unicodedata.normalize("NFKC", sentence).casefold()
    return "".join(ch for ch in text if not ch.isspace() and unicodedata.category(ch) != "Cf")


@lru_cache(maxsize=RULE_CACHE)
def matching_rule(sentence: str) -> Rule | None:
    """The first rule the sentence matches, or None."""
    folded = fold(sentence)
    return next((rule for rule in rules() if rule.pattern.search(folded)), None)


def is_instruction(sentence: str) -> bool:
    """Whether a sentence addresses the assistant (tells it to ignore its rules, take a role, say something)."""
    return matching_rule(sentence) is not None


def instruction_sentences(text: str) -> list[str]:
    """The instruction-like sentences of a document's text, in order."""
    return [s for s in sentences(text) if is_instruction(s)]


def quote(sentence: str) -> str:
    """A flagged sentence shortened for a warning."""
    flat = " ".join(sentence.split())
    return flat if len(flat) <= QUOTE_CHARS else flat[:QUOTE_CHARS] + "…"


def instruction_warning(file_name: str, count: int, example: str) -> str:
    """The Chinese warning shown for a document holding `count` instruction-like sentences."""
    return (
        f"文件 {file_name} 中有 {count} 句话像是写给问答助手的指令（如“{example}”），已标记，回答时不会采用这些句子。"
        "请核对文件的来源和内容，如非正式材料请删除。"
    )
