"""Load and validate the evaluation dataset (``eval/dataset.jsonl``).

One JSON object per line with the keys of :class:`Item`; ``split`` may be left out (a user's own
question set needs none of the project's bookkeeping) and then counts as ``test``. Validation covers the
structure of every item and checks that every evidence quote really occurs in the named
source file (found by file name under the knowledge folders, read through
``ingest.loaders.load`` so GBK/docx/pdf sources are compared on the text the system sees).

    python -m eval.dataset --dataset eval/dataset.jsonl --knowledge knowledge eval/corpus
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from core.grammar import compact, normalise

ITEM_TYPES = frozenset({"fact", "list", "paraphrase", "table", "cross", "multiturn", "outline", "unanswerable"})
SPLITS = frozenset({"dev", "test"})
REQUIRED_KEYS = ("id", "type", "question", "answer", "answerable", "evidence", "history")
DEFAULT_SPLIT = "test"  # an item without a split is held out: it tunes nothing
OPTIONAL_KEYS = {"split": DEFAULT_SPLIT}
# Types whose reference answer is empty: nothing to say (unanswerable) or free-form talking points (outline).
EMPTY_ANSWER_TYPES = frozenset({"unanswerable", "outline"})
MIN_OUTLINE_QUOTES = 3
MIN_CROSS_SOURCES = 2
# Fallback decodings when ingest.loaders cannot be used (gb18030 is a superset of GBK/GB2312).
FALLBACK_ENCODINGS = ("utf-8-sig", "gb18030")

_WS_RE = re.compile(r"\s+")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATASET = REPO_ROOT / "eval" / "dataset.jsonl"
DEFAULT_KNOWLEDGE = (REPO_ROOT / "knowledge", REPO_ROOT / "eval" / "corpus")


class DatasetError(ValueError):
    """A dataset line or item is malformed; the message names the item id (or line) and the problem."""


@dataclass(frozen=True)
class Evidence:
    source: str  # file name only, e.g. "冬训动员部署会讲话.txt"
    quote: str  # verbatim span of that file (compared after whitespace normalisation)


@dataclass(frozen=True)
class Turn:
    question: str
    answer: str


@dataclass(frozen=True)
class Item:
    id: str
    type: str
    question: str
    answer: str
    answerable: bool
    evidence: tuple[Evidence, ...]
    history: tuple[Turn, ...]
    split: str

    @property
    def sources(self) -> list[str]:
        """Distinct evidence file names, in first-mention order."""
        return list(dict.fromkeys(e.source for e in self.evidence))

    def to_dict(self) -> dict:
        """Plain JSON-ready dict in the dataset's own format."""
        d = asdict(self)
        d["evidence"] = list(d["evidence"])
        d["history"] = list(d["history"])
        return d


# --------------------------------------------------------------------------- structure


def _require_str(obj: dict, key: str, item_id: str, *, allow_empty: bool = False) -> str:
    value = obj[key]
    if not isinstance(value, str):
        raise DatasetError(f"item {item_id}: '{key}' must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise DatasetError(f"item {item_id}: '{key}' must not be empty")
    return value


def parse_item(obj: object, where: str = "?") -> Item:
    """Check one decoded JSON object against the format (no file access) and build an Item."""
    if not isinstance(obj, dict):
        raise DatasetError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    raw_id = obj.get("id")
    item_id = raw_id if isinstance(raw_id, str) and raw_id.strip() else f"<{where}>"
    missing = [k for k in REQUIRED_KEYS if k not in obj]
    if missing:
        raise DatasetError(f"item {item_id}: missing key(s) {', '.join(missing)}")
    extra = sorted(set(obj) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if extra:
        raise DatasetError(f"item {item_id}: unknown key(s) {', '.join(extra)}")
    _require_str(obj, "id", item_id)

    typ = _require_str(obj, "type", item_id)
    if typ not in ITEM_TYPES:
        raise DatasetError(f"item {item_id}: type '{typ}' is not one of {', '.join(sorted(ITEM_TYPES))}")
    question = _require_str(obj, "question", item_id)
    answer = _require_str(obj, "answer", item_id, allow_empty=True)
    answerable = obj["answerable"]
    if not isinstance(answerable, bool):
        raise DatasetError(f"item {item_id}: 'answerable' must be true or false, got {answerable!r}")
    split = _require_str({**OPTIONAL_KEYS, **obj}, "split", item_id)
    if split not in SPLITS:
        raise DatasetError(f"item {item_id}: split '{split}' is not one of {', '.join(sorted(SPLITS))}")

    evidence = _parse_evidence(obj["evidence"], item_id)
    history = _parse_history(obj["history"], item_id)

    unanswerable = typ == "unanswerable"
    if unanswerable == answerable:
        raise DatasetError(
            f"item {item_id}: 'answerable' is {str(answerable).lower()} but type is '{typ}' "
            "(only type 'unanswerable' has answerable false)"
        )
    if unanswerable and evidence:
        raise DatasetError(f"item {item_id}: an unanswerable item must have empty evidence")
    if not unanswerable and not evidence:
        raise DatasetError(f"item {item_id}: an answerable item needs at least one evidence quote")
    if typ in EMPTY_ANSWER_TYPES and answer.strip():
        raise DatasetError(f"item {item_id}: type '{typ}' must have an empty answer")
    if typ not in EMPTY_ANSWER_TYPES and not answer.strip():
        raise DatasetError(f"item {item_id}: type '{typ}' needs a reference answer")
    if typ == "multiturn" and not history:
        raise DatasetError(f"item {item_id}: a multiturn item needs at least one earlier turn in 'history'")
    if typ == "outline" and len(evidence) < MIN_OUTLINE_QUOTES:
        raise DatasetError(f"item {item_id}: an outline item needs at least {MIN_OUTLINE_QUOTES} evidence quotes")
    if typ == "cross" and len({e.source for e in evidence}) < MIN_CROSS_SOURCES:
        raise DatasetError(
            f"item {item_id}: a cross item needs evidence from at least {MIN_CROSS_SOURCES} different files"
        )

    return Item(
        id=obj["id"],
        type=typ,
        question=question,
        answer=answer,
        answerable=answerable,
        evidence=evidence,
        history=history,
        split=split,
    )


def _parse_evidence(value: object, item_id: str) -> tuple[Evidence, ...]:
    if not isinstance(value, list):
        raise DatasetError(f"item {item_id}: 'evidence' must be a list")
    out = []
    for n, ev in enumerate(value, 1):
        if not isinstance(ev, dict) or set(ev) != {"source", "quote"}:
            raise DatasetError(f"item {item_id}: evidence #{n} must be an object with exactly 'source' and 'quote'")
        source, quote = ev["source"], ev["quote"]
        if not isinstance(source, str) or not source.strip():
            raise DatasetError(f"item {item_id}: evidence #{n} 'source' must be a non-empty string")
        if "/" in source or "\\" in source:
            raise DatasetError(f"item {item_id}: evidence #{n} source '{source}' must be a file name, not a path")
        if not isinstance(quote, str) or not compact(quote):
            raise DatasetError(f"item {item_id}: evidence #{n} 'quote' must be a non-empty string")
        out.append(Evidence(source=source, quote=quote))
    return tuple(out)


def _parse_history(value: object, item_id: str) -> tuple[Turn, ...]:
    if not isinstance(value, list):
        raise DatasetError(f"item {item_id}: 'history' must be a list")
    out = []
    for n, turn in enumerate(value, 1):
        if not isinstance(turn, dict) or set(turn) != {"question", "answer"}:
            raise DatasetError(
                f"item {item_id}: history turn #{n} must be an object with exactly 'question' and 'answer'"
            )
        if not all(isinstance(turn[k], str) and turn[k].strip() for k in ("question", "answer")):
            raise DatasetError(f"item {item_id}: history turn #{n} needs non-empty 'question' and 'answer' strings")
        out.append(Turn(question=turn["question"], answer=turn["answer"]))
    return tuple(out)


# --------------------------------------------------------------------------- sources


def _fallback_read(path: Path) -> str:
    data = path.read_bytes()
    for encoding in FALLBACK_ENCODINGS:
        try:
            return normalise(data.decode(encoding))
        except UnicodeDecodeError:
            continue
    raise DatasetError(f"cannot decode {path} as UTF-8 or GB18030")


def _default_reader() -> Callable[[Path], str]:
    """Text as the system sees it: ingest.loaders.load when it is implemented, else plain decoding."""
    try:
        # Imported here so the dataset can still be checked if the loader module is broken or absent.
        from ingest.loaders import load
    except ImportError:
        return _fallback_read

    def read(path: Path) -> str:
        return load(path).text

    return read


class SourceIndex:
    """File name -> texts of the matching files under the knowledge folders (read lazily, cached)."""

    def __init__(self, knowledge_dirs: Iterable[Path], reader: Callable[[Path], str] | None = None):
        self.dirs = [Path(d) for d in knowledge_dirs]
        for d in self.dirs:
            if not d.is_dir():
                raise DatasetError(f"knowledge folder {d} does not exist")
        self._paths: dict[str, list[Path]] = {}
        for d in self.dirs:
            for p in sorted(d.rglob("*")):
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(d).parts):
                    self._paths.setdefault(p.name, []).append(p)
        self._reader = reader or _default_reader()
        self._texts: dict[Path, tuple[str, str]] = {}

    def paths(self, name: str) -> list[Path]:
        return self._paths.get(name, [])

    def _forms(self, path: Path) -> tuple[str, str]:
        if path not in self._texts:
            text = self._reader(path)
            self._texts[path] = (_WS_RE.sub("", text), compact(text))
        return self._texts[path]

    def contains(self, name: str, quote: str) -> bool:
        """True if quote occurs in some file called name, ignoring whitespace.

        Falls back to the punctuation-free compact form so markup the loader rewrites
        (markdown table pipes, heading marks) does not break a verbatim quote.
        """
        squashed, compacted = _WS_RE.sub("", normalise(quote)), compact(quote)
        for path in self.paths(name):
            text_squashed, text_compacted = self._forms(path)
            if squashed in text_squashed or compacted in text_compacted:
                return True
        return False


def check_evidence(items: Sequence[Item], knowledge_dirs: Sequence[Path]) -> None:
    """Raise DatasetError for the first evidence whose file is missing or whose quote is not in it."""
    index = SourceIndex(knowledge_dirs)
    where = ", ".join(str(d) for d in index.dirs)
    for item in items:
        for n, ev in enumerate(item.evidence, 1):
            if not index.paths(ev.source):
                raise DatasetError(f"item {item.id}: evidence #{n} source '{ev.source}' not found under {where}")
            try:
                found = index.contains(ev.source, ev.quote)
            except Exception as exc:  # a loader failure is reported against the item that needed the file
                raise DatasetError(f"item {item.id}: cannot read source '{ev.source}': {exc}") from exc
            if not found:
                raise DatasetError(f"item {item.id}: evidence #{n} quote not found in '{ev.source}': {ev.quote!r}")


# --------------------------------------------------------------------------- loading


def read_items(path: Path) -> list[Item]:
    """Parse and structurally validate every line of a JSONL dataset (no source checks)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"dataset file {path} does not exist")
    items: list[Item] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from exc
        item = parse_item(obj, where)
        if item.id in seen:
            raise DatasetError(f"item {item.id}: duplicate id (lines {seen[item.id]} and {lineno})")
        seen[item.id] = lineno
        items.append(item)
    if not items:
        raise DatasetError(f"dataset file {path} has no items")
    return items


def load_dataset(path: Path, knowledge_dirs: list[Path], split: str | None = None) -> list[Item]:
    """Load, validate (structure and every evidence quote) and optionally filter by split."""
    if split is not None and split not in SPLITS:
        raise DatasetError(f"split '{split}' is not one of {', '.join(sorted(SPLITS))}")
    items = read_items(path)
    check_evidence(items, knowledge_dirs)
    return [it for it in items if split is None or it.split == split]


def summarise(items: Sequence[Item]) -> str:
    """A small table of counts by type and split."""
    by = Counter((it.type, it.split) for it in items)
    types = sorted({it.type for it in items})
    rows = [f"{'type':<14}{'dev':>5}{'test':>6}{'all':>6}"]
    for t in types:
        dev, test = by[(t, "dev")], by[(t, "test")]
        rows.append(f"{t:<14}{dev:>5}{test:>6}{dev + test:>6}")
    dev = sum(1 for it in items if it.split == "dev")
    rows.append(f"{'total':<14}{dev:>5}{len(items) - dev:>6}{len(items):>6}")
    return "\n".join(rows)


def validate_cli(argv: Sequence[str] | None = None) -> int:
    """Validate a dataset and print counts by type and split; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m eval.dataset", description="校验评测数据集并统计题目数量。")
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="数据集 JSONL 文件")
    parser.add_argument(
        "--knowledge",
        type=Path,
        nargs="+",
        default=list(DEFAULT_KNOWLEDGE),
        help="材料文件夹（可多个，按文件名递归查找证据出处）",
    )
    parser.add_argument("--split", choices=sorted(SPLITS), default=None, help="只统计某一部分（dev 或 test）")
    args = parser.parse_args(argv)
    try:
        items = load_dataset(args.dataset, args.knowledge, split=args.split)
    except DatasetError as exc:
        print(f"数据集校验失败：{exc}\n请按提示修改数据集或材料后重试。", file=sys.stderr)
        return 1
    print(f"数据集校验通过：{args.dataset}，共 {len(items)} 条。")
    print(summarise(items))
    return 0


if __name__ == "__main__":
    sys.exit(validate_cli())
