"""The CMRC 2018 split is deterministic, disjoint and by paragraph (eval/cmrc_data.py)."""

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
