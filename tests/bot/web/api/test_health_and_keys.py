"""Health checks, readiness and bearer keys: /healthz answers while the process is up; /readyz (and every
answering route) says 503 until the knowledge base holds documents, then flips to ready; when keys are
configured the API asks for one, and neither the health checks nor the page do."""

from __future__ import annotations

import re
import shutil

import openai
import pytest

from bot.pipeline import Assistant
from bot.web.api.openai_schema import MODEL_ID
from core.settings import Settings
from ingest.index import KnowledgeBase
from tests.bot.web.api.conftest import API_KEY, OTHER_KEY, Api
from tests.bot.web.serving import serve_app
from tests.conftest import SEED_FILE

pytestmark = pytest.mark.integration

QUESTION = "去年开展了多少场理论宣讲活动？"
CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def empty_api(tmp_path):
    """A server whose knowledge base is empty (a start before anything was ingested), and that knowledge base."""
    (tmp_path / "knowledge").mkdir()
    settings = Settings.load(
        env_file=None,
        knowledge_dir=tmp_path / "knowledge",
        kb_dir=tmp_path / "kb",
        feedback_log=tmp_path / "feedback.jsonl",
    )
    kb = KnowledgeBase(settings)
    assistant = Assistant(settings, kb=kb)
    served = serve_app(settings, assistant)
    yield Api(served.url, settings, assistant), kb
    served.close()


def test_readiness_flips_once_the_knowledge_base_holds_documents(empty_api):
    api, kb = empty_api
    with api.http() as http:
        assert http.get("healthz").json() == {"status": "ok"}
        not_ready = http.get("readyz")
        ask = http.post("api/ask", json={"question": QUESTION})
    assert not_ready.status_code == 503 and ask.status_code == 503
    error = not_ready.json()["error"]
    assert error["code"] == "not_ready" and error["type"] == "server_error" and "知识库里还没有资料" in error["message"]
    with pytest.raises(openai.InternalServerError) as e:
        api.openai().chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": QUESTION}])
    assert e.value.status_code == 503 and e.value.code == "not_ready"

    shutil.copy(SEED_FILE, api.settings.store.knowledge_dir / SEED_FILE.name)
    assert not kb.ingest([api.settings.store.knowledge_dir], progress=False).errors

    with api.http() as http:
        ready = http.get("readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "documents": 1}
    completion = api.openai().chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": QUESTION}])
    assert "215" in completion.choices[0].message.content and completion.citations


def test_readiness_is_checked_without_reading_the_manifest_again(empty_api):
    # Every answering route checks readiness first; re-reading the manifest for it cost 609 ms per request at 100k
    # chunks. The manifest is re-read only when its generation token says another write landed.
    api, kb = empty_api
    shutil.copy(SEED_FILE, api.settings.store.knowledge_dir / SEED_FILE.name)
    assert not kb.ingest([api.settings.store.knowledge_dir], progress=False).errors
    reads = kb.manifest.reads
    with api.http() as http:
        assert http.get("readyz").json() == {"status": "ready", "documents": 1}
        assert all(http.post("api/ask", json={"question": QUESTION}).status_code == 200 for _ in range(3))
    assert kb.manifest.reads == reads


# ---------------------------------------------------------------------- bearer keys
@pytest.mark.parametrize("key", [API_KEY, OTHER_KEY])
def test_a_configured_key_opens_the_api(keyed_api, key):
    client = keyed_api.openai(api_key=key)
    assert [m.id for m in client.models.list().data] == [MODEL_ID]
    completion = client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": QUESTION}])
    assert "215" in completion.choices[0].message.content and completion.citations
    chunks = list(
        client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": QUESTION}], stream=True)
    )
    assert chunks[-1].citations == completion.citations
    with keyed_api.http(api_key=key) as http:
        assert http.post("api/ask", json={"question": QUESTION}).status_code == 200


@pytest.mark.parametrize(
    "key, words", [(None, "缺少 API 密钥"), ("wrong-key-0123456789", "API 密钥不正确")], ids=["none", "wrong"]
)
def test_requests_without_a_right_key_are_refused(keyed_api, key, words):
    with keyed_api.http(api_key=key) as http:
        responses = [
            http.get("v1/models"),
            http.post(
                "v1/chat/completions", json={"model": MODEL_ID, "messages": [{"role": "user", "content": QUESTION}]}
            ),
            http.post("api/ask", json={"question": QUESTION}),
            http.post("api/outline", json={"topic": "冬训"}),
            http.post("v1/chat/completions", json={"messages": "not even valid"}),  # the key is checked first
        ]
    for response in responses:
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        error = response.json()["error"]
        assert error["code"] == "invalid_api_key" and words in error["message"] and CHINESE.search(error["message"])
    if key:  # the openai client itself insists on some key
        with pytest.raises(openai.AuthenticationError) as e:
            keyed_api.openai(api_key=key).chat.completions.create(
                model=MODEL_ID, messages=[{"role": "user", "content": QUESTION}], stream=True
            )
        assert words in e.value.response.json()["error"]["message"]


def test_health_checks_and_the_page_need_no_key(keyed_api):
    with keyed_api.http() as http:
        assert http.get("healthz").status_code == 200
        assert http.get("readyz").json()["status"] == "ready"
        page = http.get("", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]


def test_the_open_api_takes_any_key_or_none(seed_api):
    for key in (None, "anything"):
        with seed_api.http(api_key=key) as http:
            assert http.get("v1/models").status_code == 200
