"""Issue 10 item 8 (exports): an outline export is capped in size; a 15.7 MB text writes nothing."""

from __future__ import annotations

import httpx
import pytest

from bot.web.handlers import EXPORT_ROOT, Handlers
from core.settings import Settings

HUGE_CHARS = 5 * 1024 * 1024  # "冬训" × 2.6 M: the 15.7 MB .md file of the probe


def export_folders() -> set[str]:
    return {p.name for p in EXPORT_ROOT.glob("*")} if EXPORT_ROOT.exists() else set()


@pytest.mark.unit
@pytest.mark.parametrize("export", ["export_md", "export_docx"])
def test_an_outline_over_the_cap_is_not_exported(export, tmp_path):
    settings = Settings.load(env_file=None, feedback_log=tmp_path / "feedback.jsonl", max_export_chars=1000)
    h = Handlers(settings, assistant=None)  # exports need no answering
    before = export_folders()
    head = "# 提纲\n## 要点\n"
    assert getattr(h, export)(head + "冬训" * (HUGE_CHARS // 2), None) is None
    over = head + "冬" * (1000 - len(head) + 1)
    assert getattr(h, export)(over, None) is None
    assert export_folders() == before
    at_cap = over[:-1]
    path = getattr(h, export)(at_cap, None)
    assert path and export_folders() - before


@pytest.mark.integration
def test_a_huge_export_over_http_is_refused_before_it_is_read(serve):
    served = serve(max_export_chars=1000)
    from gradio_client import Client

    client = Client(served.url, verbose=False)
    before = export_folders()
    with pytest.raises(httpx.HTTPStatusError) as refused:
        client.predict("# 提纲\n" + "冬训" * (HUGE_CHARS // 2), None, api_name="/export_md")
    assert refused.value.response.status_code == 413
    assert client.predict("# 提纲\n" + "冬" * 2000, None, api_name="/export_md") is None  # over the cap: a warning
    assert export_folders() == before
    assert client.predict("# 提纲\n- 要点[1]。", None, api_name="/export_md")
