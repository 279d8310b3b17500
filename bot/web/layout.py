"""The page: three tabs over one Assistant and its KnowledgeBase, and the events that connect them to the handlers.

  问答      members ask; answers stream, [n] markers link to the cited passages in the sources panel.
  宣讲提纲  lecturers draft talking points, edit them in place and download .docx / .md.
  知识库    administrators (settings.web.admin_token) list, upload, delete and re-index documents.

`build_app(settings, assistant)` returns the Blocks. It is served by `bot.web.server.create_server`, which
mounts it on a FastAPI app with the security headers, request limits, upload limit, theme, stylesheet
(static/app.css) and footnote script (static/app.js).
"""

from __future__ import annotations

from typing import Optional

import gradio as gr

from bot.pipeline import Assistant
from bot.web import messages
from bot.web.admin import DOCUMENT_COLUMNS, AdminHandlers, admin_token, disabled_note
from bot.web.handlers import Handlers
from bot.web.render import render_outline_preview, render_outline_sources, render_sources
from core.settings import Settings
from ingest.loaders import SUPPORTED, SUPPORTED_HINT

CHAT_HEIGHT = 560
SOURCES_MAX_HEIGHT = 640
# Local font names only: the page must not fetch web fonts.
FONTS = ["PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei", "Noto Sans CJK SC", "sans-serif"]
MONO_FONTS = ["ui-monospace", "Consolas", "monospace"]


def theme() -> gr.themes.Base:
    """The page's colours and (local) fonts."""
    return gr.themes.Soft(
        primary_hue="red", secondary_hue="amber", neutral_hue="slate", font=FONTS, font_mono=MONO_FONTS
    )


class DongxunApp(gr.Blocks):
    """gr.Blocks that keeps its settings and handlers, for the server that mounts it and for tests."""

    def __init__(self, settings: Settings, handlers: Handlers, admin: AdminHandlers):
        web = settings.web
        # Gradio deletes its temporary files (uploads, downloads) older than temp_file_max_age, checking
        # at that interval too, and all of them when the server stops.
        super().__init__(
            title=messages.TITLE,
            analytics_enabled=False,
            delete_cache=(web.temp_file_max_age, web.temp_file_max_age),
        )
        self.settings = settings
        self.handlers = handlers
        self.admin = admin


def build_app(settings: Settings, assistant: Optional[Assistant] = None) -> DongxunApp:
    """The page over one Assistant (built from the settings when not given); bot.web.server serves it."""
    assistant = assistant if assistant is not None else Assistant(settings)
    app = DongxunApp(settings, Handlers(settings, assistant), AdminHandlers(settings, assistant.kb))
    app.handlers.blocks = app.admin.blocks = app
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
    enabled = admin_token(settings) is not None
    note = disabled_note(settings) or ""
    if not enabled:
        gr.Markdown(f"⚠️ {note}", elem_id="kb-note")
    with gr.Row():
        token = gr.Textbox(label="管理员口令", type="password", interactive=enabled, scale=4, elem_id="admin-token")
        enter = gr.Button("进入 / 刷新列表", interactive=enabled, scale=1, elem_id="admin-enter")
    kb_status = gr.Markdown(note, elem_id="kb-status")
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
    upload.click(admin.upload, [token, files], [*shown, files], api_name="admin_upload")
    delete.click(admin.delete, [token, doc], shown, api_name="admin_delete")
    reindex.click(admin.reindex, [token], shown, api_name="admin_reindex")
