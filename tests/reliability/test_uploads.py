"""Issue 10 item 8 (uploads): Gradio's upload route takes nothing when the knowledge tab is off, caps each file
(max_file_size) and the files waiting (quota), and its temporary copies are deleted: at once by the upload
handler, and by Gradio's sweep (delete_cache) for uploads nobody handled."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from bot.web import messages

pytestmark = pytest.mark.integration

TOKEN = "correct-horse-battery-staple"
MB = 1024 * 1024
PROBES = 30
SWEEP_AGE = 5  # seconds (temp_file_max_age); Gradio sweeps at the same interval
SWEEP_WAIT = 4 * SWEEP_AGE


def upload(url: str, name: str, size: int) -> httpx.Response:
    return httpx.post(url + "gradio_api/upload", files={"files": (name, os.urandom(size))}, timeout=60)


@pytest.fixture
def upload_dir(monkeypatch, tmp_path) -> Path:
    """Gradio's upload folder for this test alone (other processes on the machine use the default one)."""
    folder = tmp_path / "gradio-uploads"
    folder.mkdir()
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(folder))
    return folder


def files_in(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


def test_no_uploads_when_the_knowledge_tab_is_off(upload_dir, serve):
    served = serve(admin_token=None)
    before = files_in(upload_dir)
    responses = [upload(served.url, f"junk{i}.txt", MB) for i in range(PROBES)]
    assert {r.status_code for r in responses} == {403}
    assert responses[0].json()["detail"] == messages.UPLOAD_DISABLED
    assert files_in(upload_dir) - before == set()


def test_a_short_token_also_keeps_uploads_closed(serve):
    served = serve(admin_token="short token")
    assert upload(served.url, "a.txt", 10).status_code == 403


def test_file_size_quota_and_sweep(upload_dir, serve):
    served = serve(admin_token=TOKEN, max_upload_mb=1, upload_quota_mb=2, temp_file_max_age=SWEEP_AGE)
    assert served.blocks.delete_cache == (SWEEP_AGE, SWEEP_AGE)
    too_big = upload(served.url, "big.txt", MB + 1)
    assert too_big.status_code == 413  # Gradio's max_file_size, from max_upload_mb
    accepted = [upload(served.url, f"ok{i}.txt", MB // 2) for i in range(3)]
    assert [r.status_code for r in accepted] == [200, 200, 200]
    paths = [Path(r.json()[0]) for r in accepted]
    assert all(p.exists() and p.is_relative_to(upload_dir) for p in paths)
    full = upload(served.url, "one-more.txt", MB // 2 + 1)  # 1.5 MB waiting: this one would pass 2 MB
    assert full.status_code == 507
    assert full.json()["detail"] == messages.UPLOAD_QUOTA_FULL.format(limit=2)
    deadline = time.monotonic() + SWEEP_WAIT
    while any(p.exists() for p in paths) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(p.exists() for p in paths), "Gradio's sweep should delete uploads nobody handled"
    assert upload(served.url, "after-sweep.txt", MB // 2).status_code == 200


def test_the_upload_handler_deletes_gradios_copy(upload_dir, serve, tmp_path):
    from gradio_client import Client, handle_file

    served = serve(admin_token=TOKEN, admin_max_failures=100)
    client = Client(served.url, verbose=False)
    empty = tmp_path / "空白通知.txt"  # refused as empty, so the shared knowledge base is not changed
    empty.write_bytes(b"")
    for token in (TOKEN, "wrong-token-guess"):
        status, _, _, picker = client.predict(token, [handle_file(str(empty))], api_name="/admin_upload")
        assert ("文件是空的" if token == TOKEN else messages.BAD_TOKEN) in status, status
        assert not picker
        # Gradio's copy is gone, whatever the outcome. (Gradio's File.preprocess also leaves an empty, unused
        # tmp* file per file it is handed; those hold no bytes and are not ours to delete.)
        assert [p for p in files_in(upload_dir) if p.name == empty.name or p.stat().st_size] == []
