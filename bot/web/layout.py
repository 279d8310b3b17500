"""The page: three tabs over one Assistant and its KnowledgeBase, and the events that connect them to the handlers.

  问答      members ask; answers stream, [n] markers link to the cited passages in the sources panel.
  宣讲提纲  lecturers draft talking points, edit them in place and download .docx / .md.
  知识库    administrators (settings.web.admin_token) list, upload, delete and re-index documents.

`build_app(settings, assistant)` returns the Blocks; its `.launch()` fills in host, port, root_path, upload
limit, theme, the stylesheet (static/app.css) and the footnote script (static/app.js) from the settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, TypedDict

import gradio as gr

from bot.pipeline import Assistant
from bot.web import messages
from bot.web.admin import DOCUMENT_COLUMNS, AdminHandlers
from bot.web.handlers import EXPORT_ROOT, Handlers
from bot.web.render import render_outline_preview, render_outline_sources, render_sources
from core.settings import Settings
from ingest.loaders import SUPPORTED, SUPPORTED_HINT

STATIC = Path(__file__).resolve().parent / "static"
STYLESHEET = STATIC / "app.css"
SCRIPT = STATIC / "app.js"
CHAT_HEIGHT = 560
SOURCES_MAX_HEIGHT = 640
# Local font names only: the page must not fetch web fonts.
FONTS = ["PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei", "Noto Sans CJK SC", "sans-serif"]
MONO_FONTS = ["ui-monospace", "Consolas", "monospace"]


class LaunchOptions(TypedDict):
    """The keyword arguments of gr.Blocks.launch() that the settings decide."""

    server_name: str
    server_port: int
    root_path: Optional[str]
    max_file_size: str
    theme: gr.themes.Base
    css_paths: list[Path]
    head: str
    ssr_mode: bool
    show_error: bool
    allowed_paths: list[str]


def theme() -> gr.themes.Base:
    """The page's colours and (local) fonts."""
    return gr.themes.Soft(
        primary_hue="red", secondary_hue="amber", neutral_hue="slate", font=FONTS, font_mono=MONO_FONTS
    )


def launch_options(settings: Settings) -> LaunchOptions:
    """How to serve the page: address and limits from the settings, look and script from static/."""
    return {
        "server_name": settings.web.host,
        "server_port": settings.web.port,
        "root_path": settings.web.root_path or None,
        "max_file_size": f"{settings.web.max_upload_mb}mb",
        "theme": theme(),
        "css_paths": [STYLESHEET],
        "head": f"<script>\n{SCRIPT.read_text(encoding='utf-8')}</script>",
        "ssr_mode": False,
        "show_error": False,
        "allowed_paths": [str(EXPORT_ROOT)],
    }


class DongxunApp(gr.Blocks):
    """gr.Blocks whose launch() defaults come from the settings; keeps its handlers for tests and embedding."""

    def __init__(self, settings: Settings, handlers: Handlers, admin: AdminHandlers):
        super().__init__(title=messages.TITLE, analytics_enabled=False)
        self.launch_defaults = launch_options(settings)
        self.handlers = handlers
        self.admin = admin

    def launch(self, *args: Any, **kwargs: Any) -> Any:
        """gr.Blocks.launch() with the settings' defaults; explicit keyword arguments win."""
        options: dict[str, Any] = {**self.launch_defaults, **kwargs}
        return super().launch(*args, **options)


def build_app(settings: Settings, assistant: Optional[Assistant] = None) -> DongxunApp:
    """The page over one Assistant (built from the settings when not given); call .launch() to serve it."""
    assistant = assistant if assistant is not None else Assistant(settings)
    app = DongxunApp(settings, Handlers(settings, assistant), AdminHandlers(settings, assistant.kb))
    with app:
        gr.HTML(f"<h1>{messages.TITLE}</h1><p>{messages.TAGLINE}</p>", elem_id="header", js_on_load=None)
        with gr.Tabs():
            with gr.Tab("问答", id="chat"):
                _chat_tab(app.handlers)
            with gr.Tab("宣讲提纲", id="outline"):
                _outline_tab(app.handlers)
            with gr.Tab("知识库", id="kb"):
                _knowledge_tab(app.admin, settings)
    app.queue(default_concurrency_limit=settings.web.concurrency_limit)
    return app


def _chat_tab(h: Handlers) -> None:
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
                placeholder="（可选）评价意见，点 👍/👎 时一并提交", show_label=False, max_lines=2, elem_id="fb-comment"
            )
            fb_status = gr.Markdown("", elem_id="fb-status")
            gr.Examples(messages.EXAMPLES, inputs=[question], label="示例问题")
        with gr.Column(scale=2):
            gr.Markdown("#### 资料来源")
            sources = gr.HTML(render_sources([]), elem_id="sources", max_height=SOURCES_MAX_HEIGHT, js_on_load=None)
    gr.on(
        [send.click, question.submit],
        h.ask,
        [question, turns],
        [chatbot, sources, question, send, turns],
        api_name="ask",
        show_progress="hidden",
    )
    # The chatbot's own clear (trash) button must forget the conversation too.
    gr.on(
        [new.click, chatbot.clear],
        h.new_chat,
        None,
        [chatbot, sources, question, turns, fb_status],
        api_name="new_chat",
    )
    up.click(h.feedback_up, [comment, turns], [fb_status, comment], api_name="feedback_up")
    down.click(h.feedback_down, [comment, turns], [fb_status, comment], api_name="feedback_down")


def _outline_tab(h: Handlers) -> None:
    outline_result = gr.State(None)
    with gr.Row():
        topic = gr.Textbox(
            placeholder="输入宣讲主题，例如：冬训工作的重要意义", show_label=False, scale=5, elem_id="topic"
        )
        make = gr.Button("生成提纲", variant="primary", scale=1, min_width=100, elem_id="make-outline")
    gr.Examples(messages.OUTLINE_EXAMPLES, inputs=[topic], label="示例主题")
    outline_status = gr.Markdown("")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            editor = gr.Textbox(
                label="提纲（Markdown，可直接修改）", lines=18, max_lines=40, elem_id="outline-editor", buttons=["copy"]
            )
            with gr.Row():
                to_docx = gr.Button("下载 Word（.docx）", elem_id="export-docx")
                to_md = gr.Button("下载 Markdown（.md）", elem_id="export-md")
            download = gr.File(label="下载文件", interactive=False, elem_id="outline-file", height=90)
        with gr.Column(scale=2):
            with gr.Tab("预览"):
                preview = gr.Markdown("", elem_id="outline-preview", latex_delimiters=[])
            with gr.Tab("资料来源"):
                outline_sources = gr.HTML(render_outline_sources(None), max_height=SOURCES_MAX_HEIGHT, js_on_load=None)
    gr.on(
        [make.click, topic.submit],
        h.outline,
        [topic],
        [editor, outline_sources, outline_status, outline_result],
        api_name="outline",
    )
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


def _knowledge_tab(admin: AdminHandlers, settings: Settings) -> None:
    enabled = bool(settings.web.admin_token)
    if not enabled:
        gr.Markdown(f"⚠️ {messages.NO_TOKEN_NOTE}", elem_id="kb-note")
    with gr.Row():
        token = gr.Textbox(label="管理员口令", type="password", interactive=enabled, scale=4, elem_id="admin-token")
        enter = gr.Button("进入 / 刷新列表", interactive=enabled, scale=1, elem_id="admin-enter")
    kb_status = gr.Markdown("" if enabled else messages.NO_TOKEN_NOTE, elem_id="kb-status")
    table = gr.Dataframe(
        headers=[header for header, _ in DOCUMENT_COLUMNS],
        datatype=[kind for _, kind in DOCUMENT_COLUMNS],
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
                interactive=enabled,
                file_types=sorted(SUPPORTED),
                elem_id="kb-files",
            )
            upload = gr.Button("上传并入库", variant="primary", interactive=enabled, elem_id="kb-upload")
        with gr.Column():
            doc = gr.Dropdown(
                label="选择要删除的文档", choices=[], interactive=enabled, allow_custom_value=True, elem_id="kb-doc"
            )
            delete = gr.Button("删除所选文档", variant="stop", interactive=enabled, elem_id="kb-delete")
            reindex = gr.Button("重新索引资料目录", interactive=enabled, elem_id="kb-reindex")
    shown = [kb_status, table, doc]
    gr.on([enter.click, token.submit], admin.list_documents, [token], shown, api_name="admin_list")
    upload.click(admin.upload, [token, files], shown, api_name="admin_upload")
    delete.click(admin.delete, [token, doc], shown, api_name="admin_delete")
    reindex.click(admin.reindex, [token], shown, api_name="admin_reindex")
