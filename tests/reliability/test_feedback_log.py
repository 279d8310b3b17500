"""Issue 10 item 7: the feedback log stays bounded (comment cap, request cap, rotation) and holds exactly one line
per record, whatever line separators a comment carries. (Since issue 12 a comment belongs to one rated answer.)"""

from __future__ import annotations

import json

import httpx
import pytest

from bot.web import messages
from bot.web.conversations import Conversations
from bot.web.feedback import FeedbackHandlers
from bot.web.feedback_log import FeedbackLog
from core.settings import Settings

MB = 1024 * 1024
COMMENTS = 20
# Every character str.splitlines() breaks a line at; JSON escapes those below U+0020 by itself.
SEPARATORS = ["\n", "\r", "\r\n", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
META = {"id": "0123456789abcdef", "title": "", "updated": 0.0}  # the conversation


def answered_turn(n: int = 0) -> dict:
    """An answer already rated 👍, so a comment may be added to it."""
    result = {"answer": "开展活动215场[1]。", "citations": [{"n": 1, "source": "a.txt", "section": "一"}]}
    return {
        "question": "去年开展了多少场活动？",
        "n": n,
        "answer": result["answer"],
        "result": result,
        "html": "",
        "error": False,
        "feedback": {"rating": "up", "comment": ""},
    }


def handlers(tmp_path, **overrides) -> FeedbackHandlers:
    settings = Settings.load(env_file=None, feedback_log=tmp_path / "feedback.jsonl", **overrides)
    return FeedbackHandlers(settings, Conversations(settings))


def comment(h: FeedbackHandlers, text: str, n: int = 0) -> tuple[str, str]:
    """Comment on the n-th answer of a conversation: (status line, what the comment box then holds)."""
    _, _, box, status = h.comment(text, n, [answered_turn(n)], META)
    return status, box


def log_bytes(log: FeedbackLog) -> int:
    return sum(p.stat().st_size for p in log.files())


@pytest.mark.unit
def test_twenty_comments_of_one_megabyte_are_refused_and_the_log_stays_empty(tmp_path):
    h = handlers(tmp_path)
    limit = h.settings.web.feedback_max_comment_chars
    for i in range(COMMENTS):
        status, box = comment(h, "评" * (MB // 3) + str(i))
        assert status == messages.FEEDBACK_TOO_LONG.format(chars=MB // 3 + len(str(i)), limit=limit)
        assert len(box) == limit  # handed back cut, for the visitor to finish
    assert log_bytes(h.log) == 0


@pytest.mark.unit
def test_the_log_rotates_and_keeps_a_bounded_number_of_files(tmp_path):
    h = handlers(tmp_path, feedback_log_max_kb=64, feedback_log_backups=2, feedback_max_comment_chars=2000)
    record_cap = 32 * 1024  # one record at the comment cap, with room for the question and answer
    for i in range(200):  # far more than the log and its backups can hold (one record per answer)
        status, _ = comment(h, f"{i:04d}" + "意见" * 998, n=i)
        assert status == messages.FEEDBACK_THANKS
    files = h.log.files()
    assert [p.name for p in files] == ["feedback.jsonl", "feedback.jsonl.1", "feedback.jsonl.2"]
    for p in files:
        assert p.stat().st_size <= 64 * 1024
    assert log_bytes(h.log) <= 3 * (64 * 1024 + record_cap)
    newest = json.loads(files[0].read_text(encoding="utf-8").splitlines()[-1])
    assert newest["comment"].startswith("0199")  # the newest record is in the current file


@pytest.mark.unit
@pytest.mark.parametrize(
    "separator", SEPARATORS, ids=[f"U+{ord(s[0]):04X}{'+LF' if len(s) > 1 else ''}" for s in SEPARATORS]
)
def test_line_separators_in_a_comment_leave_one_line_per_record(tmp_path, separator):
    h = handlers(tmp_path)
    comments = [f"第一行{separator}第二行", f"{separator}开头", f"结尾{separator}", "普通意见"]
    for n, text in enumerate(comments):
        comment(h, text, n)
    text = h.log.path.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert len(lines) == len(comments), lines
    assert [json.loads(line)["comment"] for line in lines] == [c.strip() for c in comments]
    with open(h.log.path, encoding="utf-8") as f:  # universal newlines, as a plain reader sees it
        assert len(f.readlines()) == len(comments)


@pytest.mark.integration
def test_megabyte_comments_over_http_are_refused_before_they_are_kept(serve):
    served = serve()
    log = served.blocks.feedback.log
    from gradio_client import Client

    client = Client(served.url, verbose=False)
    client.predict("去年开展了多少场理论宣讲活动？", api_name="/ask")
    for _ in range(COMMENTS):
        with pytest.raises(httpx.HTTPStatusError) as refused:
            client.predict("评" * (MB // 3), api_name="/feedback_comment")
        assert refused.value.response.status_code == 413
        assert "提交的内容太大" in refused.value.response.json()["detail"]
    assert log_bytes(log) == 0
    # 👍 on the answer (message 1) as the page sends it: the chatbot's like event, in this client's session
    liked = {"index": 1, "value": ["答"], "liked": True}
    rate = {"data": [None, None], "event_data": liked, "session_hash": client.session_hash}
    assert httpx.post(f"{served.url}gradio_api/run/rate", json=rate, timeout=30).status_code == 200
    _, _, status = client.predict("很有帮助", api_name="/feedback_comment")
    assert status == messages.FEEDBACK_THANKS and log_bytes(log) > 0
    assert [json.loads(line)["comment"] for line in log.path.read_text(encoding="utf-8").splitlines()] == ["很有帮助"]
