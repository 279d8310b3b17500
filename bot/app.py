"""The web page: `python -m bot.app` (or `make run`).

Three tabs over one Assistant and one KnowledgeBase instance:
  问答      members ask; answers stream, [n] markers link to the cited passages in the sources panel.
  宣讲提纲  lecturers draft talking points, edit them in place and download .docx / .md.
  知识库    administrators (settings.web.admin_token) list, upload, delete and re-index documents.

Every piece of document text is html-escaped before it is put into any HTML we build.
`build_app(settings, assistant)` returns the Blocks; its `.launch()` fills in host, port, root_path,
upload limit, theme, CSS and the footnote script from the settings.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import unicodedata
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Optional

import gradio as gr

import core.environment  # noqa: F401  # before gradio: no telemetry, no hub look-ups
from bot.export import outline_docx, outline_markdown
from bot.pipeline import Assistant, QuestionError
from bot.verify import CITE, MARKER, RELATED
from core.grammar import split_sentences
from core.settings import Settings
from ingest.loaders import SUPPORTED, SUPPORTED_HINT

log = logging.getLogger(__name__)

TITLE = "冬训问答助手"
EXAMPLES = [
    "去年开展了多少场理论宣讲活动？",
    "这次讲话提出了哪三点意见？",
    "6类“飞燕”指什么？",
    "党组织书记在冬训中要做什么？",
]
OUTLINE_EXAMPLES = ["冬训工作的重要意义", "理论宣讲队伍建设", "压实冬训工作责任"]
UPLOADS_DIR = "uploads"
MB = 1024 * 1024
STREAM_INTERVAL = 0.05  # seconds between streamed UI updates (tokens arrive faster than a page can draw)
DISPLAY_QUESTION_CHARS = 300  # an echoed question longer than this is shortened in the chat
MAX_NAME_CHARS = 80  # longest sanitised upload file stem
SHA_SHORT = 12
CHAT_HEIGHT = 560
SOURCES_MAX_HEIGHT = 640
EXPORT_ROOT = Path(tempfile.gettempdir()) / "dongxun-exports"
EXPORT_KEEP_SECONDS = 24 * 3600  # a downloaded outline is fetched at once; older export folders are removed


def _drop_old_exports() -> None:
    """Remove export folders older than EXPORT_KEEP_SECONDS so exports do not pile up."""
    cutoff = time.time() - EXPORT_KEEP_SECONDS
    for folder in EXPORT_ROOT.glob("*"):
        try:
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue  # another request removed it first


NO_TOKEN_NOTE = "知识库管理未启用：设置环境变量 DONGXUN_ADMIN_TOKEN 后重启即可启用。"
BAD_TOKEN = "管理员口令不正确，请输入正确的口令后再操作。"
ERROR_MESSAGE = "抱歉，处理时出现了问题，请稍后再试；如果一直出错，请联系管理员。"
THINKING = "正在查找资料……"
SOURCES_EMPTY = "回答中的 [1]、[2] 等标注对应的原文会显示在这里，点击标注即可定位。"
NOT_FOUND_LABEL = "未找到依据"

LIST_PREFIX = re.compile(r"^\s*(?:[-*+•]|\d+[.、)）]|#+)\s*")
TRAILING_PUNCT = "。！？；，：.!?;,:"
UNSAFE_NAME_CHARS = re.compile(r"[^\w\-.()（）]+")


# ---------------------------------------------------------------------- rendering
def esc(text: Any) -> str:
    """HTML-escape document text; also neutralise `$`/`{}` so no template or math syntax is ever evaluated."""
    return (
        html.escape(str(text or ""), quote=True)
        .replace("$", "&#36;")
        .replace("{", "&#123;")
        .replace("}", "&#125;")
        .replace("`", "&#96;")
    )


def _cite_links(escaped: str, prefix: str) -> str:
    """Turn [n] in already-escaped text into footnote links to the element id `{prefix}-{n}`."""
    return CITE.sub(lambda m: f'<a class="cite" href="#{prefix}-{m.group(1)}">[{m.group(1)}]</a>', escaped)


def _sentence_body(sentence: str) -> str:
    """A sentence as verify() names it in `unsupported`: markers and the related-content label removed."""
    return RELATED.sub("", MARKER.sub("", sentence).strip())


def render_text(text: str, unsupported: list[str], prefix: str) -> str:
    """Answer or outline text as escaped HTML/markdown: [n] become links, unsupported sentences are struck."""
    flagged = {u.strip() for u in unsupported or [] if u.strip()}
    out, pos = [], 0
    for s, e in split_sentences(text):
        out.append(_cite_links(esc(text[pos:s]), prefix))
        sentence = text[s:e]
        body = _cite_links(esc(sentence), prefix)
        if _sentence_body(sentence) in flagged:
            body = (
                f'<span class="unsupported" title="{NOT_FOUND_LABEL}"><del>{body}</del>'
                f"<em>（{NOT_FOUND_LABEL}）</em></span>"
            )
        out.append(body)
        pos = e
    out.append(_cite_links(esc(text[pos:]), prefix))
    return "".join(out)


def render_answer(result: dict, turn: int) -> str:
    """The chat message for one answer (markdown with inline HTML, all document text escaped)."""
    prefix = f"src-{turn}"
    body = render_text(result.get("answer", ""), result.get("unsupported", []), prefix)
    parts = []
    rewritten = (result.get("rewritten_question") or "").strip()
    if rewritten and rewritten != (result.get("question") or "").strip():
        parts.append(f'<div class="rewritten">理解为：{esc(rewritten)}</div>')
    if result.get("refused"):
        # Inside an HTML block markdown is not applied, so line breaks are written out.
        parts.append(
            f'<div class="refusal"><div class="refusal-title">⚠️ {NOT_FOUND_LABEL}</div>'
            f"{body.replace(chr(10), '<br>')}</div>"
        )
    else:
        parts.append(body)
    if result.get("unsupported"):
        parts.append(f'<div class="warn-unsupported">划线句子在引用资料中{NOT_FOUND_LABEL}，请勿作为事实引用。</div>')
    return "\n\n".join(parts)


def supporting_spans(answer: str, n: int, chunk: str) -> list[tuple[int, int]]:
    """Where in the chunk the answer sentences citing [n] occur verbatim (marker, leading …… removed)."""
    spans = []
    for s, e in split_sentences(answer):
        sentence = answer[s:e]
        if n not in {int(x) for x in CITE.findall(sentence)}:
            continue
        body = LIST_PREFIX.sub("", _sentence_body(sentence)).lstrip("…").strip()
        for candidate in (body, body.rstrip(TRAILING_PUNCT)):
            i = chunk.find(candidate) if candidate else -1
            if i >= 0:
                spans.append((i, i + len(candidate)))
                break
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def highlight(chunk: str, spans: list[tuple[int, int]]) -> str:
    """The chunk escaped, with the spans wrapped in <mark>."""
    out, pos = [], 0
    for s, e in spans:
        out.append(esc(chunk[pos:s]))
        out.append(f"<mark>{esc(chunk[s:e])}</mark>")
        pos = e
    out.append(esc(chunk[pos:]))
    return "".join(out).replace("\n", "<br>")


def render_citation(c: dict, answer: str, prefix: str, open_: bool = True) -> str:
    """One source as a <details id="{prefix}-{n}"> block: title, file, section, page, highlighted chunk."""
    n = int(c.get("n", 0))
    source = str(c.get("source", ""))
    file_name = Path(source).name or source
    title = c.get("title") or Path(file_name).stem
    meta = [f'<span class="src-file">{esc(file_name)}</span>']
    if c.get("section"):
        meta.append(f'<span class="src-section">{esc(c["section"])}</span>')
    if c.get("page"):
        meta.append(f'<span class="src-page">第{int(c["page"])}页</span>')
    chunk = str(c.get("text", ""))
    return (
        f'<details class="src" id="{prefix}-{n}"{" open" if open_ else ""}>'
        f'<summary><span class="src-n">[{n}]</span> <span class="src-title">{esc(title)}</span></summary>'
        f'<div class="src-meta">{" · ".join(meta)}</div>'
        f'<blockquote class="src-text">{highlight(chunk, supporting_spans(answer, n, chunk))}</blockquote>'
        f"</details>"
    )


def render_sources(turns: list[dict]) -> str:
    """The sources panel: the latest answer's citations open, earlier answers' folded below."""
    answered = [(i, t) for i, t in enumerate(turns) if not t.get("error") and t["result"].get("citations")]
    if not answered:
        return f'<div class="sources"><div class="src-empty">{SOURCES_EMPTY}</div></div>'
    blocks = []
    for rank, (i, t) in enumerate(reversed(answered)):
        result = t["result"]
        items = "".join(
            render_citation(c, result.get("answer", ""), f"src-{i}", open_=True) for c in result["citations"]
        )
        head = f'<div class="src-question">问：{esc(_short(t["question"]))}</div>'
        if rank == 0:
            blocks.append(f'<div class="src-turn">{head}{items}</div>')
        else:
            blocks.append(
                f'<details class="src-older"><summary>之前的回答来源（{esc(_short(t["question"], 30))}）'
                f"</summary>{head}{items}</details>"
            )
    return '<div class="sources">' + "".join(blocks) + "</div>"


def _short(text: str, limit: int = DISPLAY_QUESTION_CHARS) -> str:
    text = str(text or "")
    return text if len(text) <= limit else text[:limit] + "……"


def render_chat(turns: list[dict]) -> list[dict]:
    """Chatbot messages for the session's turns."""
    messages = []
    for t in turns:
        if t.get("question"):
            messages.append({"role": "user", "content": esc(_short(t["question"]))})
        messages.append({"role": "assistant", "content": t["html"]})
    return messages


def render_outline_preview(text: str) -> str:
    """The edited outline as markdown with escaped text and [n] linking to the outline's source list."""
    return render_text(text or "", [], "osrc")


def render_outline_sources(result: Optional[dict]) -> str:
    if not result or not result.get("citations"):
        return f'<div class="sources"><div class="src-empty">{SOURCES_EMPTY}</div></div>'
    items = "".join(render_citation(c, result.get("answer", ""), "osrc") for c in result["citations"])
    return f'<div class="sources">{items}</div>'


# ---------------------------------------------------------------------- uploads
def safe_filename(name: str) -> str:
    """Base name only, NFKC, no control/hidden/odd characters; the suffix lower-cased. May return '' for junk."""
    name = unicodedata.normalize("NFKC", str(name or ""))
    name = name.replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] not in ("C", "Z") or ch == " ")
    cut = name.rfind(".")  # not os.path.splitext: "....txt" is a .txt file with a junk stem
    stem, suffix = (name[:cut], name[cut:]) if cut >= 0 else (name, "")
    suffix = UNSAFE_NAME_CHARS.sub("", suffix).lower()
    stem = UNSAFE_NAME_CHARS.sub("_", stem)
    stem = re.sub(r"\.{2,}", ".", stem).strip("._- ")[:MAX_NAME_CHARS].strip("._- ")
    if not suffix:
        return stem
    return (stem or "upload") + suffix


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MB), b""):
            h.update(block)
    return h.hexdigest()


def unique_target(folder: Path, name: str, sha: str) -> Path:
    """folder/name, or name-1, name-2… when a different file already has that name (the same file is reused)."""
    stem, suffix = os.path.splitext(name)
    candidate = folder / name
    i = 1
    while candidate.exists():
        if candidate.is_file() and _sha256(candidate) == sha:
            return candidate
        candidate = folder / f"{stem}-{i}{suffix}"
        i += 1
    return candidate


# ---------------------------------------------------------------------- the app
class DongxunApp(gr.Blocks):
    """gr.Blocks whose launch() defaults come from the settings (host, port, root_path, limits, look)."""

    launch_defaults: dict

    def launch(self, **kwargs):  # type: ignore[override]
        return super().launch(**{**self.launch_defaults, **kwargs})


class _Handlers:
    """The functions behind the page; each catches its own errors and answers in Chinese."""

    def __init__(self, settings: Settings, assistant: Assistant):
        self.settings = settings
        self.assistant = assistant
        self.kb = assistant.kb
        self._feedback_lock = threading.Lock()
        self._upload_lock = threading.Lock()

    # ------------------------------------------------------------------ chat
    def ask(self, question: str, turns: Optional[list[dict]]) -> Iterator[tuple]:
        """Answer a question in this session's conversation, streaming the growing answer."""
        turns = list(turns or [])
        history = [{"question": t["question"], "answer": t["answer"]} for t in turns if not t.get("error")]
        question = question or ""
        busy = (gr.update(value="", interactive=False), gr.update(interactive=False))
        idle = (gr.update(value="", interactive=True), gr.update(interactive=True))
        turn = len(turns)
        pending = {
            "question": question.strip(),
            "answer": "",
            "html": f'<span class="thinking">{THINKING}</span>',
            "error": True,
            "result": {},
        }
        try:
            stream = self.assistant.ask_stream(question, history)
            yield (render_chat(turns + [pending]), render_sources(turns), *busy, turns)
            text, last = "", 0.0
            result = None
            for event in stream:
                if event["type"] == "token":
                    text += event["text"]
                    now = time.monotonic()
                    if now - last >= STREAM_INTERVAL:
                        last = now
                        pending["html"] = _cite_links(esc(text), f"src-{turn}") + '<span class="cursor">▍</span>'
                        yield (render_chat(turns + [pending]), render_sources(turns), *busy, turns)
                elif event["type"] == "final":
                    result = event["result"]
            if result is None:
                raise RuntimeError("the answer stream ended without a final event")
            turns.append(
                {
                    "question": result["question"],
                    "answer": result["answer"],
                    "result": result,
                    "html": render_answer(result, turn),
                    "error": False,
                }
            )
        except QuestionError as e:
            turns.append(self._notice(question, str(e)))
        except Exception:
            log.exception("answering failed")
            turns.append(self._notice(question, ERROR_MESSAGE))
        yield (render_chat(turns), render_sources(turns), *idle, turns)

    @staticmethod
    def _notice(question: str, message: str) -> dict:
        return {
            "question": (question or "").strip(),
            "answer": "",
            "result": {},
            "error": True,
            "html": f'<div class="notice">⚠️ {esc(message)}</div>',
        }

    @staticmethod
    def new_chat() -> tuple:
        """Start a new conversation (forget this session's turns)."""
        return [], render_sources([]), "", [], ""

    def feedback(self, rating: str, comment: str, turns: Optional[list[dict]]) -> tuple[str, str]:
        """Append one JSON line about the latest answer: time, question, answer, citations, rating, comment."""
        answered = [t for t in turns or [] if not t.get("error")]
        if not answered:
            return "请先提问，得到回答后再评价。", comment
        t = answered[-1]
        record = {
            "time": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
            "question": t["question"],
            "answer": t["answer"],
            "citations": [
                {"n": c.get("n"), "source": c.get("source"), "section": c.get("section")}
                for c in t["result"].get("citations", [])
            ],
            "rating": rating,
            "comment": (comment or "").strip(),
        }
        try:
            path = Path(self.settings.web.feedback_log)
            path.parent.mkdir(parents=True, exist_ok=True)
            with self._feedback_lock, open(path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
        except OSError:
            log.exception("writing feedback to %s failed", self.settings.web.feedback_log)
            return "反馈保存失败，请稍后再试或联系管理员。", comment
        return ("感谢您的反馈！" if rating == "up" else "感谢反馈，我们会据此改进回答。"), ""

    def feedback_up(self, comment: str, turns: Optional[list[dict]]) -> tuple[str, str]:
        """👍 for the latest answer, with an optional comment."""
        return self.feedback("up", comment, turns)

    def feedback_down(self, comment: str, turns: Optional[list[dict]]) -> tuple[str, str]:
        """👎 for the latest answer, with an optional comment."""
        return self.feedback("down", comment, turns)

    # ------------------------------------------------------------------ outline
    def outline(self, topic: str) -> tuple:
        """Draft a 宣讲提纲 on a topic: editable markdown, its sources, a status line."""
        try:
            result = self.assistant.outline(topic)
        except QuestionError as e:
            return "", render_outline_sources(None), f"⚠️ {e}", None
        except Exception:
            log.exception("outline failed")
            return "", render_outline_sources(None), f"⚠️ {ERROR_MESSAGE}", None
        if result.get("refused"):
            status = f"⚠️ {NOT_FOUND_LABEL}：资料中没有找到与该主题相关的内容，请换一个主题试试。"
            return "", render_outline_sources(None), status, None
        status = f"已生成提纲，引用 {len(result['citations'])} 处资料。可直接在左侧修改，再下载。"
        if result.get("unsupported"):
            status += f" 注意：有 {len(result['unsupported'])} 句在资料中{NOT_FOUND_LABEL}，请核对。"
        return result["answer"], render_outline_sources(result), status, result

    def _export_path(self, text: str, suffix: str) -> Path:
        first = next((ln.lstrip("# ").strip() for ln in (text or "").splitlines() if ln.strip()), "")
        name = safe_filename((first or "宣讲提纲")[:MAX_NAME_CHARS] + suffix) or f"宣讲提纲{suffix}"
        _drop_old_exports()
        folder = EXPORT_ROOT / uuid.uuid4().hex
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name

    def export_docx(self, text: str, result: Optional[dict]):
        """The edited outline as a Word file (title, point headings, bullets, 资料来源)."""
        if not (text or "").strip():
            gr.Warning("提纲为空，请先生成或填写提纲后再下载。")
            return None
        try:
            return str(outline_docx(text, (result or {}).get("citations", []), self._export_path(text, ".docx")))
        except Exception:
            log.exception("docx export failed")
            gr.Warning("生成 Word 文件失败，请稍后再试。")
            return None

    def export_md(self, text: str, result: Optional[dict]):
        """The edited outline as a Markdown file with 资料来源 appended."""
        if not (text or "").strip():
            gr.Warning("提纲为空，请先生成或填写提纲后再下载。")
            return None
        path = self._export_path(text, ".md")
        path.write_text(outline_markdown(text, (result or {}).get("citations", [])), encoding="utf-8")
        return str(path)

    # ------------------------------------------------------------------ knowledge base (admin)
    def _denied(self, token: Optional[str]) -> Optional[str]:
        """A Chinese refusal, or None when the token matches settings.web.admin_token."""
        expected = self.settings.web.admin_token
        if not expected:
            return NO_TOKEN_NOTE
        if not token or not hmac.compare_digest(str(token).encode("utf-8"), str(expected).encode("utf-8")):
            return BAD_TOKEN
        return None

    def _table(self) -> tuple[list[list], Any]:
        rows, sources = [], []
        for d in self.kb.documents():
            sources.append(d["source"])
            rows.append(
                [
                    Path(d["source"]).name,
                    d["title"],
                    d["chunks"],
                    d["chars"],
                    d["ingested_at"].replace("T", " ")[:19],
                    d["sha256"][:SHA_SHORT],
                    d["source"],
                ]
            )
        return rows, gr.update(choices=sources, value=None)

    def _admin_out(self, message: str, authorised: bool) -> tuple:
        if not authorised:
            return f"⚠️ {message}", [], gr.update(choices=[], value=None)
        rows, dropdown = self._table()
        return message, rows, dropdown

    def admin_list(self, token: str) -> tuple:
        """List the documents in the knowledge base (administrators only)."""
        denied = self._denied(token)
        if denied:
            return self._admin_out(denied, False)
        try:
            return self._admin_out(f"知识库共有 {len(self.kb.documents())} 个文档。", True)
        except Exception:
            log.exception("listing documents failed")
            return self._admin_out(ERROR_MESSAGE, False)

    def admin_upload(self, token: str, files: Optional[list], progress=gr.Progress()) -> tuple:
        """Save uploaded files under knowledge_dir/uploads and ingest them; one result line per file."""
        denied = self._denied(token)
        if denied:
            return self._admin_out(denied, False)
        files = [f for f in (files or []) if f]
        if not files:
            return self._admin_out("请先选择要上传的文件。", True)
        folder = Path(self.settings.store.knowledge_dir) / UPLOADS_DIR
        limit = self.settings.web.max_upload_mb * MB
        lines = []
        for i, f in enumerate(files):
            tmp = Path(f if isinstance(f, str) else getattr(f, "name", "") or f.get("path", ""))
            original = Path(str(getattr(f, "orig_name", "") or tmp.name)).name
            progress(i / len(files), desc=f"正在处理 {original}（{i + 1}/{len(files)}）")
            lines.append(self._upload_one(tmp, original, folder, limit))
        progress(1.0, desc="完成")
        return self._admin_out("\n".join(lines), True)

    def _upload_one(self, tmp: Path, original: str, folder: Path, limit: int) -> str:
        shown = esc(original)
        try:
            name = safe_filename(original)
            suffix = Path(name).suffix.lower()
            if suffix not in SUPPORTED:
                return f"- ❌ {shown}：不支持该文件类型，请上传 {SUPPORTED_HINT} 文件。"
            size = tmp.stat().st_size
            if size > limit:
                return (
                    f"- ❌ {shown}：文件过大（{size / MB:.1f} MB），"
                    f"请上传不超过 {self.settings.web.max_upload_mb} MB 的文件。"
                )
            if size == 0:
                return f"- ❌ {shown}：文件是空的，请检查后重新上传。"
            with self._upload_lock:
                folder.mkdir(parents=True, exist_ok=True)
                target = unique_target(folder, name, _sha256(tmp))
                if not target.exists():
                    shutil.copyfile(tmp, target)
            source_id = self.kb.source_id  # the id the knowledge base gives this file

            report = self.kb.ingest([target], progress=False)
            src = source_id(target)
            errors = [msg for s, msg in report.errors if s == src] or [msg for _, msg in report.errors]
            if errors:
                target.unlink(missing_ok=True)  # a file the KB cannot read is not kept either
                return f"- ❌ {shown}：{esc(errors[0])}"
            chunks = next((d["chunks"] for d in self.kb.documents() if d["source"] == src), 0)
            renamed = f"（保存为 {esc(target.name)}）" if target.name != original else ""
            if report.skipped:
                return f"- ✅ {shown}{renamed}：内容未变化，已在知识库中（{chunks} 个片段）。"
            log.info("uploaded %s (%d chunks)", src, chunks)
            return f"- ✅ {shown}{renamed}：已入库，{chunks} 个片段。"
        except Exception:
            log.exception("upload of %s failed", original)
            return f"- ❌ {shown}：{ERROR_MESSAGE}"

    def admin_delete(self, token: str, source: Optional[str]) -> tuple:
        """Remove a document from the knowledge base; its file is deleted only if it was uploaded here."""
        denied = self._denied(token)
        if denied:
            return self._admin_out(denied, False)
        if not source:
            return self._admin_out("请先在下拉框中选择要删除的文档。", True)
        try:
            if source not in {d["source"] for d in self.kb.documents()}:
                return self._admin_out(f"知识库中没有文档 {esc(source)}，请刷新列表后重试。", True)
            path = self.kb.file_path(source) or Path(os.path.abspath(source)).resolve()  # before it is forgotten
            removed = self.kb.remove(source)
            uploads = (Path(self.settings.store.knowledge_dir) / UPLOADS_DIR).resolve()
            note = ""
            if path.is_relative_to(uploads) and path.is_file():
                path.unlink()
                note = "，上传的文件已删除"
            elif path.exists():
                note = "。原文件不在上传目录中，未删除；重新索引时会再次入库，如需彻底删除请移走该文件"
            log.info("removed %s (%d chunks)", source, removed)
            return self._admin_out(f"已删除 {esc(Path(source).name)}（{removed} 个片段）{note}。", True)
        except Exception:
            log.exception("deleting %s failed", source)
            return self._admin_out(ERROR_MESSAGE, True)

    def admin_reindex(self, token: str, progress=gr.Progress()) -> tuple:
        """Re-ingest knowledge_dir: new and changed files added, vanished ones removed."""
        denied = self._denied(token)
        if denied:
            return self._admin_out(denied, False)
        try:
            progress(0.1, desc="正在重新索引……")
            report = self.kb.ingest([Path(self.settings.store.knowledge_dir)], prune=True, progress=False)
            lines = [report.summary()] + [f"- ❌ {esc(Path(s).name)}：{esc(m)}" for s, m in report.errors]
            progress(1.0, desc="完成")
            return self._admin_out("\n".join(lines), True)
        except Exception:
            log.exception("re-index failed")
            return self._admin_out(ERROR_MESSAGE, True)


CSS = """
.gradio-container { max-width: 1280px !important; margin: auto; }
#header h1 { margin-bottom: 0; color: #b91c1c; letter-spacing: 2px; }
#header p { margin-top: 4px; color: #6b7280; }
.sources { font-size: 14px; line-height: 1.7; }
.sources .src { border: 1px solid #e5e7eb; border-left: 4px solid #dc2626; border-radius: 8px;
  padding: 6px 10px; margin: 0 0 10px 0; background: #fff; transition: box-shadow .3s, background .3s; }
.sources .src > summary { cursor: pointer; font-weight: 600; }
.sources .src-n { color: #b91c1c; }
.sources .src-meta { color: #6b7280; font-size: 12.5px; margin: 2px 0 4px 0; }
.sources .src-section { color: #374151; }
.sources .src-text { margin: 4px 0 2px 0 !important; padding: 6px 10px !important; border-left: 3px solid #fecaca;
  background: #fafafa; color: #1f2937; white-space: normal; font-style: normal; }
.sources .src-meta { margin-bottom: 0 !important; }
.sources mark { background: #fde68a; padding: 0 2px; border-radius: 2px; }
.sources .src.flash { box-shadow: 0 0 0 3px #fca5a5; background: #fff7f7; }
.sources .src-question { color: #6b7280; font-size: 12.5px; margin: 0 0 6px 0; }
.sources .src-older { margin-top: 8px; color: #6b7280; }
.sources .src-empty { color: #9ca3af; padding: 12px; border: 1px dashed #e5e7eb; border-radius: 8px; }
a.cite { color: #b91c1c !important; font-weight: 600; text-decoration: none; font-size: .85em;
  vertical-align: super; margin: 0 1px; cursor: pointer; }
a.cite:hover { text-decoration: underline; }
.refusal { background: #fffbeb; border: 1px solid #fcd34d; border-radius: 8px; padding: 8px 12px; color: #78350f; }
.refusal-title { font-weight: 700; margin-bottom: 4px; }
.notice { background: #f3f4f6; border-radius: 8px; padding: 8px 12px; color: #374151; }
.unsupported { color: #b91c1c; }
.unsupported em { font-style: normal; font-size: .85em; }
.warn-unsupported { font-size: 12.5px; color: #b45309; }
.rewritten { font-size: 12.5px; color: #6b7280; margin-bottom: 4px; }
.thinking { color: #9ca3af; }
.cursor { color: #dc2626; }
#kb-note { color: #92400e; }
"""

# Footnote clicks: open the cited source (and any folded parents), scroll to it and flash it.
HEAD = """
<script>
(function () {
  function reveal(id) {
    var el = document.getElementById(id);
    if (!el) return false;
    for (var p = el; p; p = p.parentElement) { if (p.tagName === 'DETAILS') p.open = true; }
    el.scrollIntoView({behavior: 'smooth', block: 'center'});
    document.querySelectorAll('.src.flash').forEach(function (x) { x.classList.remove('flash'); });
    el.classList.add('flash');
    setTimeout(function () { el.classList.remove('flash'); }, 2500);
    return true;
  }
  document.addEventListener('click', function (e) {
    var a = e.target && e.target.closest ? e.target.closest('a[href*="#src-"], a[href*="#osrc-"]') : null;
    if (!a) return;
    var id = a.getAttribute('href').split('#').pop();
    e.preventDefault();
    e.stopPropagation();
    reveal(id);
  }, true);
})();
</script>
"""


def theme() -> gr.themes.Base:
    # Local font names only: the page must not fetch web fonts.
    fonts = ["PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei", "Noto Sans CJK SC", "sans-serif"]
    return gr.themes.Soft(
        primary_hue="red",
        secondary_hue="amber",
        neutral_hue="slate",
        font=fonts,
        font_mono=["ui-monospace", "Consolas", "monospace"],
    )


def build_app(settings: Settings, assistant: Optional[Assistant] = None) -> DongxunApp:
    """The page over one Assistant (built from the settings when not given); call .launch() to serve it."""
    assistant = assistant if assistant is not None else Assistant(settings)
    h = _Handlers(settings, assistant)
    admin_on = bool(settings.web.admin_token)

    with DongxunApp(title=TITLE, analytics_enabled=False) as app:
        gr.HTML(
            f"<h1>{TITLE}</h1><p>依据冬训学习材料作答，每句话都标明出处；资料中没有的，明确告诉您没有。</p>",
            elem_id="header",
            js_on_load=None,
        )
        with gr.Tabs():
            # ---------------------------------------------------------------- chat
            with gr.Tab("问答", id="chat"):
                turns = gr.State([])
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(
                            label="对话",
                            show_label=False,
                            height=CHAT_HEIGHT,
                            elem_id="chatbot",
                            latex_delimiters=[],
                            feedback_options=None,
                            buttons=[],
                            group_consecutive_messages=False,
                            placeholder="请输入关于冬训学习材料的问题，例如下方的示例问题。",
                        )
                        with gr.Row():
                            question = gr.Textbox(
                                placeholder="请输入您的问题，按回车发送",
                                show_label=False,
                                scale=5,
                                max_lines=4,
                                elem_id="question",
                                autofocus=True,
                            )
                            send = gr.Button("发送", variant="primary", scale=1, min_width=80, elem_id="send")
                        with gr.Row():
                            new = gr.Button("新对话", size="sm", elem_id="new-chat")
                            up = gr.Button("👍 有帮助", size="sm", elem_id="fb-up")
                            down = gr.Button("👎 没帮助", size="sm", elem_id="fb-down")
                        comment = gr.Textbox(
                            placeholder="（可选）评价意见，点 👍/👎 时一并提交",
                            show_label=False,
                            max_lines=2,
                            elem_id="fb-comment",
                        )
                        fb_status = gr.Markdown("", elem_id="fb-status")
                        gr.Examples(EXAMPLES, inputs=[question], label="示例问题")
                    with gr.Column(scale=2):
                        gr.Markdown("#### 资料来源")
                        sources = gr.HTML(
                            render_sources([]), elem_id="sources", max_height=SOURCES_MAX_HEIGHT, js_on_load=None
                        )
                ask_io = dict(fn=h.ask, inputs=[question, turns], outputs=[chatbot, sources, question, send, turns])
                send.click(**ask_io, api_name="ask", show_progress="hidden")
                question.submit(**ask_io, api_name="ask_submit", api_visibility="private", show_progress="hidden")
                new.click(h.new_chat, None, [chatbot, sources, question, turns, fb_status], api_name="new_chat")
                # The chatbot's own clear (trash) button must forget the conversation too.
                chatbot.clear(
                    h.new_chat, None, [chatbot, sources, question, turns, fb_status], api_visibility="private"
                )
                up.click(h.feedback_up, [comment, turns], [fb_status, comment], api_name="feedback_up")
                down.click(h.feedback_down, [comment, turns], [fb_status, comment], api_name="feedback_down")

            # ---------------------------------------------------------------- outline
            with gr.Tab("宣讲提纲", id="outline"):
                outline_result = gr.State(None)
                with gr.Row():
                    topic = gr.Textbox(
                        placeholder="输入宣讲主题，例如：冬训工作的重要意义", show_label=False, scale=5, elem_id="topic"
                    )
                    make = gr.Button("生成提纲", variant="primary", scale=1, min_width=100, elem_id="make-outline")
                gr.Examples(OUTLINE_EXAMPLES, inputs=[topic], label="示例主题")
                outline_status = gr.Markdown("")
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        editor = gr.Textbox(
                            label="提纲（Markdown，可直接修改）",
                            lines=18,
                            max_lines=40,
                            elem_id="outline-editor",
                            buttons=["copy"],
                        )
                        with gr.Row():
                            to_docx = gr.Button("下载 Word（.docx）", elem_id="export-docx")
                            to_md = gr.Button("下载 Markdown（.md）", elem_id="export-md")
                        download = gr.File(label="下载文件", interactive=False, elem_id="outline-file", height=90)
                    with gr.Column(scale=2):
                        with gr.Tab("预览"):
                            preview = gr.Markdown("", elem_id="outline-preview", latex_delimiters=[])
                        with gr.Tab("资料来源"):
                            outline_sources = gr.HTML(
                                render_outline_sources(None), max_height=SOURCES_MAX_HEIGHT, js_on_load=None
                            )
                outline_io = dict(
                    fn=h.outline, inputs=[topic], outputs=[editor, outline_sources, outline_status, outline_result]
                )
                make.click(**outline_io, api_name="outline")
                topic.submit(**outline_io, api_name="outline_submit", api_visibility="private")
                editor.change(
                    render_outline_preview,
                    [editor],
                    [preview],
                    api_name="outline_preview",
                    api_visibility="private",
                    show_progress="hidden",
                    queue=False,
                )
                to_docx.click(h.export_docx, [editor, outline_result], [download], api_name="export_docx")
                to_md.click(h.export_md, [editor, outline_result], [download], api_name="export_md")

            # ---------------------------------------------------------------- knowledge base
            with gr.Tab("知识库", id="kb"):
                if not admin_on:
                    gr.Markdown(f"⚠️ {NO_TOKEN_NOTE}", elem_id="kb-note")
                with gr.Row():
                    token = gr.Textbox(
                        label="管理员口令", type="password", interactive=admin_on, scale=4, elem_id="admin-token"
                    )
                    enter = gr.Button("进入 / 刷新列表", interactive=admin_on, scale=1, elem_id="admin-enter")
                kb_status = gr.Markdown("" if admin_on else NO_TOKEN_NOTE, elem_id="kb-status")
                table = gr.Dataframe(
                    headers=["文件", "标题", "片段数", "字数", "入库时间", "SHA256", "来源路径"],
                    datatype=["str", "str", "number", "number", "str", "str", "str"],
                    interactive=False,
                    wrap=True,
                    label="文档列表",
                    elem_id="kb-table",
                )
                with gr.Row(equal_height=False):
                    with gr.Column():
                        files = gr.File(
                            label=f"上传资料（{SUPPORTED_HINT}，每个不超过 {settings.web.max_upload_mb} MB）",
                            file_count="multiple",
                            type="filepath",
                            interactive=admin_on,
                            file_types=sorted(SUPPORTED),
                            elem_id="kb-files",
                        )
                        upload = gr.Button("上传并入库", variant="primary", interactive=admin_on, elem_id="kb-upload")
                    with gr.Column():
                        doc = gr.Dropdown(
                            label="选择要删除的文档",
                            choices=[],
                            interactive=admin_on,
                            allow_custom_value=True,
                            elem_id="kb-doc",
                        )
                        delete = gr.Button("删除所选文档", variant="stop", interactive=admin_on, elem_id="kb-delete")
                        reindex = gr.Button("重新索引资料目录", interactive=admin_on, elem_id="kb-reindex")
                admin_out = [kb_status, table, doc]
                enter.click(h.admin_list, [token], admin_out, api_name="admin_list")
                token.submit(h.admin_list, [token], admin_out, api_name="admin_list_submit", api_visibility="private")
                upload.click(h.admin_upload, [token, files], admin_out, api_name="admin_upload")
                delete.click(h.admin_delete, [token, doc], admin_out, api_name="admin_delete")
                reindex.click(h.admin_reindex, [token], admin_out, api_name="admin_reindex")

    app.queue(default_concurrency_limit=settings.web.concurrency_limit)
    app.launch_defaults = {
        "server_name": settings.web.host,
        "server_port": settings.web.port,
        "root_path": settings.web.root_path or None,
        "max_file_size": f"{settings.web.max_upload_mb}mb",
        "theme": theme(),
        "css": CSS,
        "head": HEAD,
        "ssr_mode": False,
        "show_error": False,
        "allowed_paths": [str(EXPORT_ROOT)],
    }
    app.handlers = h  # for tests and embedding
    return app


def main(argv: Optional[list[str]] = None) -> int:
    """Serve the page; ingest knowledge_dir first when the knowledge base is empty."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # gradio polls itself at start-up
    from ingest.index import KnowledgeBase

    settings = Settings.load()
    kb = KnowledgeBase(settings)
    if not kb.documents():
        print(f"知识库为空，正在导入 {settings.store.knowledge_dir} 中的资料……", file=sys.stderr)
        report = kb.ingest([Path(settings.store.knowledge_dir)], progress=True)
        print(report.summary(), file=sys.stderr)
        for source, message in report.errors:
            print(f"  {source}：{message}", file=sys.stderr)
    app = build_app(settings, Assistant(settings, kb=kb))
    url = f"http://{settings.web.host}:{settings.web.port}{settings.web.root_path or ''}/"
    print(f"{TITLE}已启动，请在浏览器中打开 {url} （按 Ctrl+C 退出）", file=sys.stderr)
    app.launch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
