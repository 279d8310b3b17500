"""Issue 10, item 2: archive bombs and huge files are refused with a message naming the limit and its setting,
and a single-file ingest stays under 1 GB of memory (measured in a fresh process)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from ingest.loaders import Limits, LoadError, load
from ingest.loaders.limits import DEFAULT_LIMITS, MB, check_zip
from tests.ingest.samples import REPO, subprocess_env
from tests.reliability.ingest_hostile import GOOD_NOTICE, big_txt, docx_bomb, docx_of_paragraphs

PEAK_LIMIT_MB = 1024  # issue 10: peak memory of any single-file ingest
REFUSAL_SECONDS = 60  # a refusal is a matter of seconds, not the minutes or hours of before
BOMB_XML_MB = 400
BIG_TXT_MB = 50

# Ingest one folder in a fresh process and report the errors, the documents, peak RSS and time. The peak is
# VmHWM, the high-water mark of the process's own memory: ru_maxrss survives exec and would report the
# size of the pytest process that started it.
PROBE = textwrap.dedent(
    """
    import json, resource, sys, time
    import core.environment

    def peak_mb():
        try:
            with open("/proc/self/status") as f:
                return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
        except (OSError, StopIteration):
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    from core.settings import Settings
    from ingest.index import KnowledgeBase
    folder, kb_dir = sys.argv[1], sys.argv[2]
    kb = KnowledgeBase(Settings.load(env_file=None, knowledge_dir=folder, kb_dir=kb_dir))
    t = time.perf_counter()
    report = kb.ingest([folder], progress=False)
    print(json.dumps({
        "errors": report.errors,
        "documents": [d["source"] for d in kb.documents()],
        "seconds": time.perf_counter() - t,
        "peak_mb": peak_mb(),
    }, ensure_ascii=False))
    """
)


def _ingest_in_subprocess(folder: Path, kb_dir: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(folder), str(kb_dir)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=subprocess_env(),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _limits(**changes: int) -> Limits:
    return Limits(**{**DEFAULT_LIMITS.__dict__, **changes})


# ---------------------------------------------------------------------- unit: the checks themselves
@pytest.mark.unit
def test_defaults_come_from_the_settings():
    from core.settings import Settings

    assert Limits.of(Settings.load(env_file=None).store) == DEFAULT_LIMITS
    assert Limits.of(Settings.load(env_file=None, max_file_chars=5000).store).max_chars == 5000


@pytest.mark.unit
def test_zip_total_size_is_checked_before_parsing(tmp_path):
    bomb = docx_bomb(tmp_path, xml_mb=3)
    with pytest.raises(LoadError) as err:
        check_zip(bomb.read_bytes(), "bomb.docx", _limits(max_unzipped_mb=2))
    message = str(err.value)
    assert "bomb.docx" in message and "2 MB" in message and "DONGXUN_MAX_UNZIPPED_MB" in message


@pytest.mark.unit
def test_zip_compression_ratio_is_checked(tmp_path):
    bomb = docx_bomb(tmp_path, xml_mb=3)
    with pytest.raises(LoadError) as err:
        check_zip(bomb.read_bytes(), "bomb.docx", _limits(max_unzipped_mb=100, max_compression_ratio=20))
    message = str(err.value)
    assert "word/document.xml" in message and "20 倍" in message and "DONGXUN_MAX_COMPRESSION_RATIO" in message


@pytest.mark.unit
def test_an_ordinary_docx_passes_the_checks(tmp_path):
    doc = docx_of_paragraphs(tmp_path, ["冬训学习安排在每周三下午。"] * 200)
    check_zip(doc.read_bytes(), doc.name, DEFAULT_LIMITS)
    assert load(doc).text.startswith("冬训学习安排")
    with zipfile.ZipFile(doc) as z:  # what the ratio check sees on a real document
        assert all(i.file_size / max(i.compress_size, 1) < DEFAULT_LIMITS.max_compression_ratio for i in z.infolist())


@pytest.mark.unit
def test_not_a_zip_is_a_damaged_docx(tmp_path):
    fake = tmp_path / "假.docx"
    fake.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(LoadError, match="已损坏"):
        load(fake)


@pytest.mark.unit
@pytest.mark.parametrize("suffix", [".txt", ".md", ".html", ".docx"])
def test_character_cap_names_the_limit_and_setting(tmp_path, suffix):
    paragraphs = ["各支部要认真组织党员学习，确保冬训取得实效。"] * 100  # 2,200 characters
    if suffix == ".docx":
        path = docx_of_paragraphs(tmp_path, paragraphs)
    else:
        body = "".join(f"<p>{p}</p>" for p in paragraphs) if suffix == ".html" else "\n".join(paragraphs)
        path = tmp_path / f"长文{suffix}"
        path.write_text(body, encoding="utf-8")
    assert len(load(path, limits=_limits(max_chars=3000)).text) > 2000
    with pytest.raises(LoadError) as err:
        load(path, limits=_limits(max_chars=1000))
    message = str(err.value)
    assert path.name in message and "1000 字" in message and "DONGXUN_MAX_FILE_CHARS" in message


@pytest.mark.unit
def test_a_flood_of_empty_paragraphs_is_refused_before_it_is_walked(tmp_path):
    flood = docx_of_paragraphs(tmp_path, [""] * 1200 + ["冬训学习安排在每周三下午。"])
    assert "冬训" in load(flood, limits=_limits(max_chars=10_000)).text  # 2,000 blocks allowed
    with pytest.raises(LoadError) as err:
        load(flood, limits=_limits(max_chars=5_000))  # 1,000 allowed
    assert "段落" in str(err.value) and "DONGXUN_MAX_FILE_CHARS" in str(err.value)


@pytest.mark.unit
def test_file_size_cap_refuses_before_reading(tmp_path):
    path = tmp_path / "大.pdf"
    with open(path, "wb") as f:
        f.truncate(2 * MB)  # sparse: the size is all that is looked at
    with pytest.raises(LoadError) as err:
        load(path, limits=_limits(max_file_mb=1))
    assert "1 MB" in str(err.value) and "DONGXUN_MAX_FILE_MB" in str(err.value)


# ---------------------------------------------------------------------- integration: measured in a fresh process
@pytest.mark.integration
def test_docx_bomb_is_refused_with_bounded_memory(tmp_path):
    folder = tmp_path / "knowledge"
    folder.mkdir()
    bomb = docx_bomb(folder, xml_mb=BOMB_XML_MB)
    assert bomb.stat().st_size < 4 * MB  # a small file ...
    with zipfile.ZipFile(bomb) as z:  # ... that expands to hundreds of MB of XML
        assert sum(i.file_size for i in z.infolist()) > BOMB_XML_MB * MB
    (folder / "good.txt").write_text(GOOD_NOTICE, encoding="utf-8")

    result = _ingest_in_subprocess(folder, tmp_path / "kb")

    assert result["documents"] == ["knowledge/good.txt"]
    [(source, message)] = result["errors"]
    assert source == "knowledge/bomb.docx"
    assert "压缩炸弹" in message and "DONGXUN_MAX_UNZIPPED_MB" in message
    assert result["peak_mb"] < PEAK_LIMIT_MB and result["seconds"] < REFUSAL_SECONDS, result


@pytest.mark.integration
def test_huge_txt_is_refused_with_bounded_memory(tmp_path):
    folder = tmp_path / "knowledge"
    folder.mkdir()
    big = big_txt(folder, mb=BIG_TXT_MB)
    assert big.stat().st_size > (BIG_TXT_MB - 1) * MB

    result = _ingest_in_subprocess(folder, tmp_path / "kb")

    [(source, message)] = result["errors"]
    assert source == "knowledge/big.txt" and result["documents"] == []
    assert f"{DEFAULT_LIMITS.max_chars} 字" in message and "DONGXUN_MAX_FILE_CHARS" in message
    assert result["peak_mb"] < PEAK_LIMIT_MB and result["seconds"] < REFUSAL_SECONDS, result
