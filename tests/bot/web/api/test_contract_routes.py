"""POST /api/ask and /api/outline answer with the JSON contract of the command line (`python -m bot ask --json`,
`outline --json`), over the real server and seed knowledge base."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.integration

QUESTION = "去年开展了多少场理论宣讲活动？"
FOLLOW_UP = "那吸引了多少人次在线观看呢？"
TOPIC = "冬训工作的重要意义"
OFF_TOPIC = "股票投资技巧"
CONTRACT = {"question", "rewritten_question", "answer", "refused", "citations", "contexts", "unsupported", "timings_ms"}
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def without_timings(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "timings_ms"}


def test_ask_returns_the_contract(seed_api):
    with seed_api.http() as http:
        response = http.post("api/ask", json={"question": QUESTION})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    result = response.json()
    assert set(result) == CONTRACT
    assert without_timings(result) == without_timings(seed_api.assistant.ask(QUESTION))
    assert "215" in result["answer"] and result["citations"][0]["n"] == 1


def test_ask_takes_the_history_and_a_turn_may_be_a_whole_earlier_result(seed_api):
    with seed_api.http() as http:
        first = http.post("api/ask", json={"question": QUESTION}).json()
        follow_up = http.post("api/ask", json={"question": FOLLOW_UP, "history": [first]}).json()
    expected = seed_api.assistant.ask(FOLLOW_UP, [{"question": first["question"], "answer": first["answer"]}])
    assert follow_up["rewritten_question"] == expected["rewritten_question"] != FOLLOW_UP
    assert without_timings(follow_up) == without_timings(expected)


def test_outline_returns_the_contract_with_its_outline(seed_api):
    with seed_api.http() as http:
        result = http.post("api/outline", json={"topic": TOPIC}).json()
    assert set(result) == CONTRACT | {"outline"}
    assert without_timings(result) == without_timings(seed_api.assistant.outline(TOPIC))
    assert not result["refused"] and result["outline"]["points"] and result["citations"]


def test_outline_on_a_topic_the_materials_lack_is_refused(seed_api):
    with seed_api.http() as http:
        result = http.post("api/outline", json={"topic": OFF_TOPIC}).json()
    assert result["refused"] is True and result["outline"] is None and result["citations"] == []


@pytest.mark.parametrize(
    "route, body, status, param, words",
    [
        ("api/ask", {"question": "  "}, 400, "question", "问题不能为空"),
        ("api/ask", {"question": "？？？"}, 400, "question", "问题里没有文字"),
        ("api/outline", {"topic": ""}, 400, "topic", "问题不能为空"),
        ("api/ask", {"question": QUESTION, "histroy": []}, 422, "histroy", "不支持字段"),
        ("api/ask", {"question": QUESTION, "history": [{"answer": "答"}]}, 422, "history[0].question", "缺少必填字段"),
        ("api/outline", {}, 422, "topic", "缺少必填字段"),
    ],
    ids=["blank-question", "marks-only-question", "empty-topic", "misspelt-field", "turn-without-question", "no-topic"],
)
def test_bad_requests_get_chinese_errors_in_openai_shape(seed_api, route, body, status, param, words):
    with seed_api.http() as http:
        response = http.post(route, json=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["param"] == param
    assert words in error["message"] and CHINESE.search(error["message"])
