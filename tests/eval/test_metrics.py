"""Unit tests of eval.metrics on hand-made results (no knowledge base needed)."""

from __future__ import annotations

import pytest

from eval.metrics import (
    aggregate,
    answer_length,
    citation_scores,
    fact_present,
    join_adjacent,
    key_facts,
    keyfact_scores,
    percentile,
    quote_rank,
    retrieval_scores,
    score_item,
    sentence_support,
    summarise,
)

pytestmark = pytest.mark.unit

SPEECH = "冬训动员部署会讲话.txt"
PLAN = "实施方案.md"

CHUNK_A = "过去一年，全区冬训工作成效明显。我们深化青年论坛、“老书记讲堂”品牌项目，开展各类理论宣讲活动215场。"
CHUNK_B = "开展各类理论宣讲活动215场。吸引2.6万人次在线观看，反响热烈。"
OTHER = "各级党组织要加大宣传，营造浓厚氛围。"


def ctx(text: str, source: str = SPEECH, folder: str = "knowledge") -> dict:
    return {"source": f"{folder}/{source}", "section": "", "text": text, "score": 0.5}


def cite(n: int, text: str, source: str = SPEECH) -> dict:
    return {
        "n": n,
        "source": f"knowledge/{source}",
        "section": "",
        "text": text,
        "start": 0,
        "end": len(text),
        "page": None,
    }


def item(typ="fact", answer="215场", answerable=True, evidence=None, split="dev") -> dict:
    evidence = (
        evidence
        if evidence is not None
        else ([{"source": SPEECH, "quote": "开展各类理论宣讲活动215场"}] if answerable else [])
    )
    return {"id": "x", "type": typ, "answer": answer, "answerable": answerable, "evidence": evidence, "split": split}


def row(it: dict, result: dict, error=None) -> dict:
    return {
        "id": it["id"],
        "type": it["type"],
        "split": it["split"],
        "answerable": it["answerable"],
        "timings_ms": result.get("timings_ms", {}),
        "error": error,
        "metrics": score_item(it, result),
    }


def result(answer="", refused=False, citations=(), contexts=(), timings=None) -> dict:
    return {
        "answer": answer,
        "refused": refused,
        "citations": list(citations),
        "contexts": list(contexts),
        "unsupported": [],
        "timings_ms": timings or {"retrieve": 10.0, "total": 12.0},
    }


# --------------------------------------------------------------------------- retrieval


def test_quote_found_after_punctuation_and_space_normalisation():
    contexts = [ctx(OTHER), ctx("开展 各类理论宣讲活动 ２１５ 场！")]  # full-width digits, spaces, other punctuation
    assert quote_rank(SPEECH, "开展各类理论宣讲活动215场", contexts) == 2


def test_quote_split_over_two_adjacent_chunks_counts_as_a_hit():
    quote = "“老书记讲堂”品牌项目，开展各类理论宣讲活动215场。吸引2.6万人次在线观看"
    # Neither chunk holds the whole quote; together (overlap sentence written once) they do.
    assert quote_rank(SPEECH, quote, [ctx(CHUNK_A)]) is None
    assert quote_rank(SPEECH, quote, [ctx(CHUNK_B)]) is None
    assert quote_rank(SPEECH, quote, [ctx(CHUNK_A), ctx(CHUNK_B)]) == 2
    assert quote_rank(SPEECH, quote, [ctx(CHUNK_B), ctx(CHUNK_A)]) == 2  # either rank order
    # It counts at the rank of the later half: with another passage in between, hit@1 is lost but hit@5 kept.
    scores = retrieval_scores([{"source": SPEECH, "quote": quote}], [ctx(CHUNK_A), ctx(OTHER), ctx(CHUNK_B)])
    assert scores["rank"] == 3 and scores["hit@1"] == 0.0 and scores["hit@5"] == 1.0
    assert scores["rr"] == pytest.approx(1 / 3)


def test_split_quote_needs_both_halves_from_the_same_file():
    quote = "“老书记讲堂”品牌项目，开展各类理论宣讲活动215场。吸引2.6万人次在线观看"
    assert quote_rank(SPEECH, quote, [ctx(CHUNK_A), ctx(CHUNK_B, source=PLAN)]) is None


def test_join_adjacent_writes_the_overlap_once():
    assert join_adjacent("甲乙丙丁", "丙丁戊己") == "甲乙丙丁戊己"
    assert join_adjacent("甲乙", "丙丁") == "甲乙丙丁"


def test_quote_in_another_file_is_not_evidence():
    assert quote_rank(SPEECH, "开展各类理论宣讲活动215场", [ctx(CHUNK_B, source=PLAN)]) is None
    assert quote_rank(SPEECH, "开展各类理论宣讲活动215场", [ctx(CHUNK_B, folder="eval/corpus")]) == 1


def test_several_quotes_all_and_any_variants():
    evidence = [{"source": SPEECH, "quote": "吸引2.6万人次在线观看"}, {"source": PLAN, "quote": "营造浓厚氛围"}]
    s = retrieval_scores(evidence, [ctx(CHUNK_B), ctx(OTHER), ctx(OTHER, source=PLAN)])
    assert s["quote_ranks"] == [1, 3]
    assert s["rank"] == 1 and s["rank_all"] == 3
    assert s["hit@1"] == 1.0 and s["hit_all@1"] == 0.0 and s["hit_all@5"] == 1.0
    missing = retrieval_scores(evidence, [ctx(CHUNK_B)])
    assert (
        missing["rank_all"] is None and missing["hit_all@5"] == 0.0 and missing["hit@5"] == 1.0 and missing["rr"] == 1.0
    )


# --------------------------------------------------------------------------- key facts


def test_key_facts_split_on_separators_and_conjunctions():
    assert key_facts("站得高、悟得透；抓得准，做得新") == ["站得高", "悟得透", "抓得准", "做得新"]
    assert key_facts("党校和高校") == ["党校", "高校"]
    assert key_facts("文件以及通知") == ["文件", "通知"]
    assert key_facts("“冬训+”理念") == ["“冬训+”理念"]


def test_fact_matching_verbatim_fuzzy_and_short():
    assert fact_present("“冬训+”理念", "要树牢冬训+ 理念[1]。")  # punctuation and markers ignored
    # >= 80% of the bigrams of a long fact: one character changed in 12 still counts
    assert fact_present("集中宣讲阶段自十二月十一日起", "集中宣讲阶段自十二月十一号起")
    assert not fact_present("集中宣讲阶段自十二月十一日起", "集中宣讲自一月开始")
    # short facts must be verbatim
    assert fact_present("6类", "共有6类志愿者")
    assert not fact_present("6类", "共有六类志愿者")


def test_pasted_chunk_scores_lower_keyfact_f_than_short_exact_answer():
    reference = "党校、高校"
    short = "与党校、高校开展合作[1]。"
    pasted = (
        "要加大资源整合，强化冬训“一盘棋”思想，坚持上下联动、多方协同，积极向外借力，与党校、高校开展合作，"
        "邀请专家学者走进基层，围绕群众关心的热点难点问题开展互动式、分众化宣讲，不断增强冬训的吸引力、"
        "感染力和实效性，切实把党的创新理论送到党员群众身边[1]。"
    )
    s_short, s_pasted = keyfact_scores(reference, short), keyfact_scores(reference, pasted)
    assert s_short["keyfact_recall"] == s_pasted["keyfact_recall"] == 1.0
    assert answer_length(pasted) > 80
    assert s_short["keyfact_f"] == 1.0
    assert s_pasted["keyfact_f"] < 0.8 * s_short["keyfact_f"]


def test_keyfact_recall_counts_missing_facts():
    s = keyfact_scores("站得高、悟得透；抓得准、做得新", "要站得高、悟得透[1]。")
    assert s["keyfact_recall"] == 0.5
    assert s["missing_facts"] == ["抓得准", "做得新"]


@pytest.mark.parametrize(
    "answer",
    [
        "资料中没有找到能回答这个问题的内容。",
        # the related passage under a refusal holds the fact, but a refusal is not an answer
        "资料中没有找到关于“经费”的内容。相关内容（仅供参考，并非对问题的回答）：开展各类理论宣讲活动215场[1]。",
    ],
)
def test_a_refusal_scores_zero_key_fact_recall(answer):
    m = score_item(item(answer="215场"), result(answer, refused=True, citations=[cite(1, CHUNK_B)]))
    assert m["keyfact_recall"] == 0.0 and m["keyfact_f"] == 0.0 and m["missing_facts"] == ["215场"]
    # the same text, not refused, would have scored the fact
    assert keyfact_scores("215场", answer)["keyfact_recall"] == float("215场" in answer)


def test_answer_length_ignores_markers_and_whitespace():
    assert answer_length("215场[1][2]。 \n") == 5
    assert answer_length("见【3】资料") == 3


# --------------------------------------------------------------------------- faithfulness & citations


def test_invalid_marker_lowers_citation_validity():
    good = row(item(), result("开展各类理论宣讲活动215场[1]。", citations=[cite(1, CHUNK_B)], contexts=[ctx(CHUNK_B)]))
    bad = row(
        item(), result("开展各类理论宣讲活动215场[1][3]。", citations=[cite(1, CHUNK_B)], contexts=[ctx(CHUNK_B)])
    )
    assert citation_scores("见[1,3]和【2】。", [cite(1, "x"), cite(2, "y")])["invalid_markers"] == [3]
    assert aggregate([good])["citation_validity"] == 1.0
    assert aggregate([good, bad])["citation_validity"] == pytest.approx(2 / 3)


def test_unsupported_sentences_lower_faithfulness():
    citations = [cite(1, CHUNK_B)]
    s = sentence_support(
        "吸引2.6万人次在线观看[1]。吸引3.6万人次在线观看[1]。全区共有一百名宣讲员[1]。反响热烈。", citations
    )
    assert s["sentences"] == 4
    # changed number, words not in the passage, and a sentence citing nothing
    assert s["unsupported_sentences"] == ["吸引3.6万人次在线观看。", "全区共有一百名宣讲员。", "反响热烈。"]


def test_frame_sentences_and_refusals_are_not_claims():
    s = sentence_support("# 提纲标题\n主要有以下几点：\n吸引2.6万人次在线观看[1]。", [cite(1, CHUNK_B)])
    assert s == {"sentences": 1, "unsupported_sentences": []}
    refused = score_item(item(), result("资料中没有找到能回答这个问题的内容。", refused=True))
    assert refused["faithfulness"] is None and refused["sentences"] == 0


def test_faithfulness_is_sentence_weighted_over_answered_items():
    it = item()
    rows = [
        row(it, result("吸引2.6万人次在线观看[1]。反响热烈[1]。", citations=[cite(1, CHUNK_B)])),
        row(it, result("全区共有一百名宣讲员[1]。", citations=[cite(1, CHUNK_B)])),
        row(it, result("资料中没有找到能回答这个问题的内容。", refused=True)),
    ]
    assert aggregate(rows)["faithfulness"] == pytest.approx(2 / 3)


# --------------------------------------------------------------------------- refusal, latency, grouping


def test_refusal_recall_and_false_refusal_rate():
    un = item(typ="unanswerable", answer="", answerable=False)
    ans = item()
    rows = [
        row(un, result("资料中没有找到", refused=True)),
        row(un, result("瞎编的回答[1]。", citations=[cite(1, OTHER)])),
        row(ans, result("资料中没有找到", refused=True)),
        row(ans, result("215场[1]。", citations=[cite(1, CHUNK_B)])),
        row(ans, result("215场[1]。", citations=[cite(1, CHUNK_B)])),
        row(ans, result("215场[1]。", citations=[cite(1, CHUNK_B)])),
    ]
    agg = aggregate(rows)
    assert agg["refusal_recall"] == 0.5
    assert agg["false_refusal_rate"] == 0.25
    # unanswerable items have no evidence rank and no key facts
    assert agg["retrieval_items"] == 4 and agg["keyfact_items"] == 4


def test_latency_percentiles_per_stage():
    assert percentile([1, 2, 3, 4, 5], 50) == 3
    assert percentile([0, 10], 95) == pytest.approx(9.5)
    assert percentile([], 50) is None
    it = item()
    rows = [
        row(it, result("215场[1]。", timings={"retrieve": float(ms), "total": float(ms) + 1})) for ms in range(1, 101)
    ]
    lat = aggregate(rows)["latency_ms"]
    assert lat["retrieve"]["p50"] == pytest.approx(50.5)
    assert lat["total"]["p95"] == pytest.approx(96.05, abs=0.1)
    assert list(lat)[-1] == "total"


def test_failed_item_scores_zero_and_is_counted():
    it = item()
    failed = row(it, result(timings={}), error="RuntimeError: boom")
    agg = aggregate([failed])
    assert agg["errors"] == 1 and agg["hit@5"] == 0.0 and agg["keyfact_recall"] == 0.0
    assert agg["latency_ms"] == {}


def test_outline_items_have_no_evidence_rank_or_key_facts():
    m = score_item(
        item(typ="outline", answer=""),
        result("# 提纲\n## 一、宣传\n- 吸引2.6万人次在线观看[1]。", citations=[cite(1, CHUNK_B)]),
    )
    assert m["hit@1"] is None and m["keyfact_recall"] is None and m["faithfulness"] == 1.0


def test_summary_by_split_and_type():
    rows = [
        row(item(split="dev"), result("215场[1]。", citations=[cite(1, CHUNK_B)], contexts=[ctx(CHUNK_B)])),
        row(item(split="test"), result("资料中没有找到", refused=True, contexts=[ctx(OTHER)])),
        row(
            item(typ="unanswerable", answer="", answerable=False, split="test"), result("资料中没有找到", refused=True)
        ),
    ]
    s = summarise(rows)
    assert s["overall"]["items"] == 3
    assert s["by_split"]["dev"]["hit@1"] == 1.0 and s["by_split"]["test"]["hit@1"] == 0.0
    assert s["by_split"]["test"]["refusal_recall"] == 1.0 and s["by_split"]["test"]["false_refusal_rate"] == 1.0
    assert s["by_type"]["fact"]["items"] == 2 and s["by_type"]["fact"]["refusal_recall"] is None
