"""The shipped evaluation data and its loader/validator (eval.dataset)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from eval.dataset import DEFAULT_SPLIT, DatasetError, Item, load_dataset, read_items, validate_cli

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DATASET = ROOT / "eval" / "dataset.jsonl"
CORPUS = ROOT / "eval" / "corpus"
KNOWLEDGE = [ROOT / "knowledge", CORPUS]
SEED = "冬训动员部署会讲话.txt"
GBK_DOC = "关于举办第三届理论飞燕宣讲大赛的通知.txt"

MIN_ITEMS = 70
MIN_BY_TYPE = {"unanswerable": 12, "multiturn": 6, "paraphrase": 10, "outline": 4, "table": 6, "list": 8, "cross": 4}
MIN_SEED_ITEMS = 15
MIN_FACTS = MIN_ITEMS - sum(MIN_BY_TYPE.values())
MIN_CORPUS_DOCS = 6
DOC_HANZI_RANGE = (800, 2500)
DEV_SHARE_RANGE = (0.55, 0.78)  # "about 2/3 dev"


@pytest.fixture(scope="module")
def items() -> list[Item]:
    return load_dataset(DATASET, KNOWLEDGE)


def _lines() -> list[dict]:
    return [json.loads(line) for line in DATASET.read_text(encoding="utf-8").splitlines() if line.strip()]


def _write(path: Path, objs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs), encoding="utf-8")
    return path


def _good(item_id: str = "t-fact-01") -> dict:
    return {
        "id": item_id,
        "type": "fact",
        "question": "过去一年开展了多少场理论宣讲活动？",
        "answer": "215场",
        "answerable": True,
        "evidence": [{"source": SEED, "quote": "开展各类理论宣讲活动215场"}],
        "history": [],
        "split": "dev",
    }


# --------------------------------------------------------------------------- shipped data


def test_shipped_dataset_validates_and_meets_minimum_counts(items):
    assert len(items) >= MIN_ITEMS
    by_type = Counter(it.type for it in items)
    for typ, minimum in MIN_BY_TYPE.items():
        assert by_type[typ] >= minimum, f"{typ}: {by_type[typ]} < {minimum}"
    assert by_type["fact"] >= MIN_FACTS  # facts fill the rest
    seed_items = [it for it in items if SEED in it.sources]
    assert len(seed_items) >= MIN_SEED_ITEMS


def test_shipped_dataset_special_types_are_well_formed(items):
    unanswerable = [it for it in items if it.type == "unanswerable"]
    assert all(not it.answerable and not it.evidence and it.answer == "" for it in unanswerable)
    assert sum("忽略" in it.question or "不受限制" in it.question for it in unanswerable) >= 2  # prompt injections
    for it in items:
        if it.type == "multiturn":
            assert it.history and it.history[-1].question != it.question
        if it.type == "cross":
            assert len(it.sources) >= 2
        if it.type == "outline":
            assert it.answer == "" and len(it.evidence) >= 3
        if it.type == "table":
            assert any(ev.quote.startswith("|") for ev in it.evidence), it.id


def test_splits_are_stratified_by_type(items):
    dev = sum(it.split == "dev" for it in items)
    assert DEV_SHARE_RANGE[0] <= dev / len(items) <= DEV_SHARE_RANGE[1]
    for typ in {it.type for it in items}:
        splits = {it.split for it in items if it.type == typ}
        assert splits == {"dev", "test"}, typ
    assert {it.id for it in load_dataset(DATASET, KNOWLEDGE, split="test")} == {
        it.id for it in items if it.split == "test"
    }


def test_corpus_documents_are_marked_samples_of_the_right_size():
    docs = sorted(p for p in CORPUS.iterdir() if p.is_file())
    assert len(docs) >= MIN_CORPUS_DOCS
    assert {p.suffix for p in docs} >= {".txt", ".md"}
    non_utf8 = []
    for p in docs:
        data = p.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("gbk")
            non_utf8.append(p.name)
        hanzi = len(re.findall(r"[\u4e00-\u9fff]", text))
        assert DOC_HANZI_RANGE[0] <= hanzi <= DOC_HANZI_RANGE[1], (p.name, hanzi)
        assert "示例材料" in text.splitlines()[2 if p.suffix == ".md" else 1], p.name
    assert non_utf8 == [GBK_DOC]


def test_every_corpus_document_is_cited(items):
    cited = {src for it in items for src in it.sources}
    assert {p.name for p in CORPUS.iterdir() if p.is_file()} <= cited
    assert SEED in cited


def test_cli_prints_counts(capsys):
    code = validate_cli(["--dataset", str(DATASET), "--knowledge", *map(str, KNOWLEDGE)])
    out = capsys.readouterr().out
    assert code == 0
    assert f"共 {len(_lines())} 条" in out
    assert re.search(r"unanswerable\s+\d+\s+\d+\s+\d+", out)


# --------------------------------------------------------------------------- validator catches bad items


def test_good_item_passes_with_whitespace_differences(tmp_path):
    obj = _good()
    obj["evidence"][0]["quote"] = "开展各类 理论宣讲\n活动215场"
    assert [it.id for it in load_dataset(_write(tmp_path / "d.jsonl", [obj]), KNOWLEDGE)] == ["t-fact-01"]


def test_quote_from_gbk_source_is_found(tmp_path):
    obj = _good("t-gbk-01")
    obj["evidence"] = [{"source": GBK_DOC, "quote": "每名选手宣讲时间不超过8分钟"}]
    assert load_dataset(_write(tmp_path / "d.jsonl", [obj]), KNOWLEDGE)[0].sources == [GBK_DOC]


def test_bad_quote_names_the_item(tmp_path):
    bad = _good("t-fact-02")
    bad["evidence"][0]["quote"] = "开展各类理论宣讲活动512场"
    path = _write(tmp_path / "d.jsonl", [_good(), bad])
    with pytest.raises(DatasetError, match=r"t-fact-02.*quote not found"):
        load_dataset(path, KNOWLEDGE)


def test_bad_type_names_the_item(tmp_path):
    bad = _good("t-bad-type")
    bad["type"] = "trivia"
    with pytest.raises(DatasetError, match=r"t-bad-type.*type 'trivia'"):
        load_dataset(_write(tmp_path / "d.jsonl", [bad]), KNOWLEDGE)


def test_duplicate_id_names_the_item(tmp_path):
    path = _write(tmp_path / "d.jsonl", [_good("t-dup"), _good("t-other"), _good("t-dup")])
    with pytest.raises(DatasetError, match=r"t-dup.*duplicate id \(lines 1 and 3\)"):
        load_dataset(path, KNOWLEDGE)


def test_missing_source_names_the_item(tmp_path):
    bad = _good("t-missing")
    bad["evidence"][0]["source"] = "不存在的文件.txt"
    with pytest.raises(DatasetError, match=r"t-missing.*'不存在的文件.txt' not found"):
        load_dataset(_write(tmp_path / "d.jsonl", [bad]), KNOWLEDGE)


def test_source_only_in_a_folder_not_given_is_missing(tmp_path):
    obj = _good("t-dir")
    obj["evidence"] = [{"source": GBK_DOC, "quote": "每名选手宣讲时间不超过8分钟"}]
    with pytest.raises(DatasetError, match=r"t-dir.*not found"):
        load_dataset(_write(tmp_path / "d.jsonl", [obj]), [ROOT / "knowledge"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"answerable": False}, r"'answerable' is false but type is 'fact'"),
        ({"type": "unanswerable", "answerable": False, "answer": ""}, r"must have empty evidence"),
        ({"evidence": []}, r"needs at least one evidence"),
        ({"answerable": "yes"}, r"'answerable' must be true or false"),
        ({"split": "train"}, r"split 'train'"),
        ({"type": "multiturn"}, r"multiturn item needs"),
        ({"type": "cross"}, r"cross item needs evidence from at least 2"),
        ({"type": "outline", "answer": ""}, r"outline item needs at least 3"),
        ({"evidence": [{"source": "knowledge/" + SEED, "quote": "215场"}]}, r"must be a file name"),
        ({"history": [{"question": "上一问"}]}, r"history turn #1"),
        ({"extra": 1}, r"unknown key\(s\) extra"),
    ],
)
def test_structural_errors_name_the_item(tmp_path, change, message):
    bad = {**_good("t-struct"), **change}
    with pytest.raises(DatasetError, match=r"item t-struct: .*" + message):
        read_items(_write(tmp_path / "d.jsonl", [bad]))


def test_missing_key_and_broken_json_are_reported(tmp_path):
    obj = _good("t-nokey")
    del obj["history"]
    with pytest.raises(DatasetError, match=r"t-nokey: missing key\(s\) history"):
        read_items(_write(tmp_path / "a.jsonl", [obj]))
    broken = tmp_path / "b.jsonl"
    broken.write_text(json.dumps(_good(), ensure_ascii=False) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"b.jsonl:2: invalid JSON"):
        read_items(broken)


def test_an_item_without_split_is_a_test_item(tmp_path):
    """A member's own question set needs none of the project's bookkeeping keys."""
    obj = _good("t-nosplit")
    del obj["split"]
    path = _write(tmp_path / "mine.jsonl", [obj])
    [item] = read_items(path)
    assert item.split == DEFAULT_SPLIT == "test"
    assert [it.id for it in load_dataset(path, KNOWLEDGE, split="test")] == ["t-nosplit"]
    assert load_dataset(path, KNOWLEDGE, split="dev") == []


def test_cli_reports_failure_in_chinese(tmp_path, capsys):
    bad = _good("t-cli")
    bad["evidence"][0]["quote"] = "这句话不在材料里"
    code = validate_cli(["--dataset", str(_write(tmp_path / "d.jsonl", [bad])), "--knowledge", str(ROOT / "knowledge")])
    assert code == 1
    assert "数据集校验失败" in capsys.readouterr().err
