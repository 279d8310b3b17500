"""The page: three tabs over one Assistant and its KnowledgeBase, and the events that connect them to the handlers.

  问答      members ask; answers stream, [n] markers link to the cited passages in the sources panel (on a
            phone the passage opens under the answer: static/app.js). Every answer has 👍/👎 and an
            optional comment (feedback). A sidebar lists the conversations kept in the browser
            (conversations, history): reopen, rename, delete, 新对话.
  宣讲提纲  lecturers draft talking points, edit them in place and download .docx / .md.
  知识库    administrators (settings.web.admin_token) list, upload, delete and re-index documents, and read or
            export the feedback.

Everything a visitor reads is Chinese: labels here, messages in `messages`, and Gradio's own footer (English
links to its API page, settings and run history) is off.

`build_app(settings, assistant)` returns the Blocks. It is served by `bot.web.server.create_server`, which
mounts it on a FastAPI app with the security headers, request limits, upload limit, theme, stylesheet
(static/app.css) and footnote script (static/app.js).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import gradio as gr

from bot.pipeline import Assistant
from bot.web import messages
from bot.web.admin import DOCUMENT_COLUMNS, AdminHandlers, admin_token, disabled_note
from bot.web.conversations import Conversations, View
from bot.web.feedback import FEEDBACK_COLUMNS, FeedbackHandlers
from bot.web.handlers import SEND_LABEL, Handlers
from bot.web.history import BROWSER_SECRET, OPEN_KEY, SAVED_KEY, new_meta
from bot.web.render import CHATBOT_RATING, render_outline_preview, render_outline_sources, render_sources
from core.settings import Settings
from ingest.loaders import SUPPORTED, SUPPORTED_HINT

CHAT_HEIGHT = 470  # with the question box and the example questions, above the fold at 1366×900
SIDEBAR_WIDTH = 260
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
    """gr.Blocks that keeps its settings and handlers, for the server that mounts it and for tests.

    Gradio's footer (English links) and its run history are always off, whatever the mount asks: the run
    history would keep a plain copy of every question and answer in the browser, beside the conversation
    history the visitor can delete (and Gradio deletes the copies it kept once it is off)."""

    def __init__(
        self,
        settings: Settings,
        handlers: Handlers,
        admin: AdminHandlers,
        conversations: Conversations,
        feedback: FeedbackHandlers,
    ):
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
        self.conversations = conversations
        self.feedback = feedback

    @property
    def run_history(self) -> bool:
        """Gradio's run history: off."""
        return False

    @run_history.setter
    def run_history(self, value: bool) -> None:
        pass  # gr.Blocks and mount_gradio_app set it; it stays off

    @property
    def footer_links(self) -> list[Any]:
        """Gradio's footer links: none, so no footer."""
        return []

    @footer_links.setter
    def footer_links(self, value: list[Any]) -> None:
        pass  # mount_gradio_app sets it; there stays no footer


def build_app(settings: Settings, assistant: Optional[Assistant] = None) -> DongxunApp:
    """The page over one Assistant (built from the settings when not given); bot.web.server serves it."""
    assistant = assistant if assistant is not None else Assistant(settings)
    conversations = Conversations(settings)
    feedback = FeedbackHandlers(settings, conversations)
    admin = AdminHandlers(settings, assistant.kb, feedback.log)
    app = DongxunApp(settings, Handlers(settings, assistant), admin, conversations, feedback)
    app.handlers.blocks = app.admin.blocks = app
    with app:
        history = _history_sidebar()
        gr.HTML(f"<h1>{messages.TITLE}</h1><p>{messages.TAGLINE}</p>", elem_id="header", js_on_load=None)
        with gr.Tabs() as tabs:
            with gr.Tab("问答", id="chat"):
                _chat_tab(app, history)
            with gr.Tab("宣讲提纲", id="outline"):
                _outline_tab(app.handlers)
            with gr.Tab("知识库", id="kb"):
                _knowledge_tab(app.admin, settings)
        # A conversation chosen in the sidebar (which stays on every tab) is shown in the 问答 tab.
        gr.on([history.listed.input, history.new.click], show_chat, None, tabs, queue=False, api_visibility="private")
    # Places in the queue go out every queue_status_seconds rather than at each answer's start: with 32 visitors
    # waiting, Gradio's default sent ~28 messages per answer, each a JSON event through the page's stream.
    app.queue(
        default_concurrency_limit=settings.web.concurrency_limit,
        status_update_rate=settings.web.queue_status_seconds,
    )
    return app


def show_chat() -> gr.Tabs:
    """The 问答 tab, selected."""
    return gr.Tabs(selected="chat")


@dataclass
class HistoryPanel:
    """The sidebar's conversation list and its buttons."""

    new: gr.Button
    listed: gr.Radio
    title: gr.Textbox
    delete: gr.Button
    clear: gr.Button


def _history_sidebar() -> HistoryPanel:
    # At the page's top level: Gradio makes room for a sidebar there (and turns it into a drawer on a phone).
    with gr.Sidebar(label="对话记录", open=True, width=SIDEBAR_WIDTH, elem_id="history"):
        new = gr.Button(f"＋ {messages.NEW_CONVERSATION}", variant="primary", elem_id="new-chat")
        listed = gr.Radio(choices=[], label="历史对话", info=messages.HISTORY_EMPTY, elem_id="conversations")
        title = gr.Textbox(
            label="对话标题", placeholder="提问后自动以问题命名", max_lines=1, elem_id="chat-title", submit_btn="重命名"
        )
        with gr.Row():
            delete = gr.Button("删除此对话", size="sm", variant="stop", elem_id="delete-chat")
            clear = gr.Button("清空全部对话", size="sm", elem_id="clear-history")
        gr.Markdown(messages.HISTORY_NOTE, elem_id="history-note")
    return HistoryPanel(new, listed, title, delete, clear)


def _chat_tab(app: DongxunApp, history: HistoryPanel) -> None:
    h, conversations, feedback = app.handlers, app.conversations, app.feedback
    # The browser's history (see bot.web.history) and what the session keeps of it.
    open_store = gr.BrowserState({}, storage_key=OPEN_KEY, secret=BROWSER_SECRET)
    saved_store = gr.BrowserState([], storage_key=SAVED_KEY, secret=BROWSER_SECRET)
    turns = gr.State([])
    meta = gr.State(new_meta)  # a fresh conversation id for every page load
    index = gr.State([])
    rated = gr.State(None)  # the turn number of the answer the comment box is about
    listed, title = history.listed, history.title
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(
                label="对话",
                show_label=False,
                height=CHAT_HEIGHT,
                elem_id="chatbot",
                latex_delimiters=[],
                feedback_options=tuple(CHATBOT_RATING.values()),
                buttons=[],
                group_consecutive_messages=False,
                placeholder="请输入关于冬训学习材料的问题，或点下方的示例问题。每个回答下方可点 👍/👎 评价。",
            )
            with gr.Row():
                question = gr.Textbox(
                    label="问题",
                    placeholder="请输入您的问题，按回车发送",
                    show_label=False,
                    scale=5,
                    max_lines=4,
                    elem_id="question",
                    autofocus=True,
                )
                send = gr.Button(SEND_LABEL, variant="primary", scale=1, min_width=80, elem_id="send")
            gr.Examples(messages.EXAMPLES, inputs=[question], label="示例问题", elem_id="examples")
            comment = gr.Textbox(
                label="补充意见（可选）",
                placeholder="例如：哪里不准确、缺了什么，按回车提交",
                max_lines=3,
                visible=False,
                elem_id="fb-comment",
                submit_btn="提交意见",
            )
            status = gr.Markdown("", elem_id="fb-status")
        with gr.Column(scale=2):
            gr.Markdown("#### 资料来源")
            sources = gr.HTML(render_sources([]), elem_id="sources", max_height=SOURCES_MAX_HEIGHT, js_on_load=None)
    h.chatbot = chatbot
    parts = {
        "open_store": open_store,
        "saved_store": saved_store,
        "turns": turns,
        "meta": meta,
        "index": index,
        "chatbot": chatbot,
        "sources": sources,
        "conversations": listed,
        "title": title,
        "rated": rated,
        "comment": comment,
        "status": status,
    }
    view = [parts[name] for name in View._fields]
    private: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}
    app.load(conversations.restore, [open_store, saved_store], view, **private)
    gr.on(
        [send.click, question.submit],
        conversations.saving(h.ask),
        [question, turns, meta, index],
        [chatbot, sources, question, send, turns, open_store, meta, listed, title],
        api_name="ask",
        show_progress="hidden",
    )
    history.new.click(conversations.start, [turns, meta, saved_store], view, api_name="new_chat")
    listed.input(conversations.switch, [listed, turns, meta, saved_store], view, **private)
    title.submit(conversations.rename, [title, turns, meta, index], [open_store, meta, listed, title], **private)
    history.delete.click(conversations.delete, [turns, meta, index], view, **private)
    history.clear.click(conversations.clear, None, view, **private)
    # Undocumented, not private: scripts (and the tests) can rate as the page does, with the event's data.
    chatbot.like(
        feedback.rate,
        [turns, meta],
        [turns, open_store, rated, comment, status],
        api_name="rate",
        api_visibility="undocumented",
        show_progress="hidden",
    )
    comment.submit(
        feedback.comment,
        [comment, rated, turns, meta],
        [turns, open_store, comment, status],
        api_name="feedback_comment",
    )


def _outline_tab(h: Handlers) -> None:
    outline_result = gr.State(None)
    with gr.Row():
        topic = gr.Textbox(
            label="宣讲主题",
            placeholder="输入宣讲主题，例如：冬训工作的重要意义",
            show_label=False,
            scale=5,
            elem_id="topic",
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
    with gr.Accordion("用户反馈", open=False, elem_id="kb-feedback"):
        with gr.Row():
            show_feedback = gr.Button("查看反馈", interactive=enabled, elem_id="fb-list")
            export_feedback = gr.Button("导出 CSV", interactive=enabled, elem_id="fb-export")
        feedback_status = gr.Markdown("", elem_id="fb-admin-status")
        feedback_table = gr.Dataframe(
            headers=[header for header, _, _ in FEEDBACK_COLUMNS],
            datatype=[kind for _, kind, _ in FEEDBACK_COLUMNS],
            column_widths=[width for _, _, width in FEEDBACK_COLUMNS],
            interactive=False,
            wrap=True,
            label="反馈记录",
            elem_id="fb-table",
        )
        feedback_file = gr.File(label="反馈导出文件", interactive=False, elem_id="fb-file", height=90)
    shown = [kb_status, table, doc]
    gr.on([enter.click, token.submit], admin.list_documents, [token], shown, api_name="admin_list")
    upload.click(admin.upload, [token, files], [*shown, files], api_name="admin_upload")
    delete.click(admin.delete, [token, doc], shown, api_name="admin_delete")
    reindex.click(admin.reindex, [token], shown, api_name="admin_reindex")
    feedback_shown = [feedback_status, feedback_table, feedback_file]
    show_feedback.click(admin.list_feedback, [token], feedback_shown, api_name="admin_feedback")
    export_feedback.click(admin.export_feedback, [token], feedback_shown, api_name="admin_feedback_csv")
