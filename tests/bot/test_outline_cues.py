"""The outline's cue file (bot/data/outline_cues.tsv): every entry carries an example and its provenance,
and each example is caught by the rule its kind feeds."""

from __future__ import annotations

import pytest

from bot.outline import CUE_KINDS, CUES_FILE, is_boilerplate, is_preamble, leans_back

pytestmark = pytest.mark.unit


def entries() -> list[list[str]]:
    rows = []
    for line in CUES_FILE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            rows.append(line.split("\t"))
    return rows


RULES = {
    "boilerplate": is_boilerplate,
    "preamble": is_preamble,
    "connective": leans_back,
    "opening": lambda example, cue: cue in example,
    "closing": lambda example, cue: cue in example,
}


def test_every_entry_has_a_kind_a_cue_an_example_and_its_provenance():
    rows = entries()
    assert rows
    for row in rows:
        assert len(row) == 4 and all(x.strip() for x in row), row
        assert row[0] in CUE_KINDS, row
        assert row[3].startswith(("dev:", "issue 12")), f"provenance must be the dev corpora or the issue: {row}"
        assert "heldout" not in row[3], row  # the heldout corpus is reported on, never tuned on


@pytest.mark.parametrize("kind, cue, example", [tuple(r[:3]) for r in entries()], ids=lambda x: str(x)[:12])
def test_each_example_is_caught_by_its_rule(kind, cue, example):
    rule = RULES[kind]
    assert rule(example, cue) if kind in ("opening", "closing") else rule(example)


@pytest.mark.parametrize(
    "heading", ["（一）加强组织领导", "三是用好讲的队伍，注重品牌建设", "第五章 考核激励", "二要加大宣传"]
)
def test_real_headings_are_not_boilerplate(heading):
    assert not is_boilerplate(heading)


@pytest.mark.parametrize("clause", ["党员冬训作为理论武装的重要抓手", "三是用好讲的队伍", "要强化“一把手”责任制"])
def test_clauses_that_stand_on_their_own_do_not_lean_back(clause):
    assert not leans_back(clause)
