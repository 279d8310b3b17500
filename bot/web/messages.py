"""What the page says to people, in Chinese: notices, errors, statuses and the templates they are built from.

Widget labels and placeholders stay beside their widgets in `layout`; everything a handler or a renderer
tells the user is here, so the wording can be reviewed (and changed) in one place.
"""

from __future__ import annotations

TITLE = "冬训问答助手"
TAGLINE = "依据冬训学习材料作答，每句话都标明出处；资料中没有的，明确告诉您没有。"
EXAMPLES = [
    "去年开展了多少场理论宣讲活动？",
    "这次讲话提出了哪三点意见？",
    "6类“飞燕”指什么？",
    "党组织书记在冬训中要做什么？",
]
OUTLINE_EXAMPLES = ["冬训工作的重要意义", "理论宣讲队伍建设", "压实冬训工作责任"]

# ---------------------------------------------------------------------- answers and sources
ERROR_MESSAGE = "抱歉，处理时出现了问题，请稍后再试；如果一直出错，请联系管理员。"
THINKING = "正在查找资料……"
SOURCES_EMPTY = "回答中的 [1]、[2] 等标注对应的原文会显示在这里，点击标注即可定位。"
NOT_FOUND_LABEL = "未找到依据"
UNSUPPORTED_WARNING = f"划线句子在引用资料中{NOT_FOUND_LABEL}，请勿作为事实引用。"
REWRITTEN = "理解为：{question}"
SOURCE_QUESTION = "问：{question}"
OLDER_SOURCES = "之前的回答来源（{question}）"
PAGE = "第{page}页"

NOTICE_TITLE = "提示"  # the title of the page's pop-up notices (Gradio's default is English)

# ---------------------------------------------------------------------- conversation history
NEW_CONVERSATION = "新对话"
HISTORY_EMPTY = "还没有历史对话。提问后，对话会保存在本浏览器中，刷新页面也不会丢失。"
HISTORY_NOTE = "对话只保存在本浏览器中；在公用电脑上使用后，可点“清空全部对话”。"
HISTORY_DELETED = "已删除对话“{title}”。"
HISTORY_CLEARED = "已清空本浏览器中的全部对话。"
HISTORY_NOT_FOUND = "没有找到这个对话，可能已在其他窗口中删除。"

# ---------------------------------------------------------------------- feedback (per answer)
FEEDBACK_RECORDED_UP = "已记录：第 {number} 轮的回答有帮助。如有意见，可在下方补充。"
FEEDBACK_RECORDED_DOWN = "已记录：第 {number} 轮的回答没帮助。欢迎在下方写明原因，帮助我们改进。"
FEEDBACK_WITHDRAWN = "已取消对第 {number} 轮回答的评价。"
FEEDBACK_NOT_AN_ANSWER = "这条消息不是回答，无需评价。"
FEEDBACK_RATE_FIRST = "请先点回答下方的 👍 或 👎，再补充意见。"
FEEDBACK_COMMENT_LABEL = "对第 {number} 轮回答的补充意见（可选）"
FEEDBACK_THANKS = "感谢您的意见，我们会据此改进回答。"
FEEDBACK_FAILED = "反馈保存失败，请稍后再试或联系管理员。"
FEEDBACK_TOO_LONG = "评价意见太长（{chars} 字），请精简到 {limit} 字以内后再提交。"
RATING_LABELS = {"up": "👍 有帮助", "down": "👎 没帮助"}

# ---------------------------------------------------------------------- outline and export
OUTLINE_REFUSED = f"{NOT_FOUND_LABEL}：资料中没有找到与该主题相关的内容，请换一个主题试试。"
OUTLINE_READY = "已生成提纲，引用 {count} 处资料。可直接在左侧修改，再下载。"
OUTLINE_UNSUPPORTED = f" 注意：有 {{count}} 句在资料中{NOT_FOUND_LABEL}，请核对。"
OUTLINE_DEFAULT_NAME = "宣讲提纲"
EXPORT_EMPTY = "提纲为空，请先生成或填写提纲后再下载。"
EXPORT_DOCX_FAILED = "生成 Word 文件失败，请稍后再试。"
EXPORT_TOO_LONG = "提纲太长（{chars} 字），最多可下载 {limit} 字，请删减后再下载。"

# ---------------------------------------------------------------------- knowledge base (admin)
NO_TOKEN_NOTE = "知识库管理未启用：设置环境变量 DONGXUN_ADMIN_TOKEN 后重启即可启用。"
SHORT_TOKEN_NOTE = (
    "知识库管理未启用：DONGXUN_ADMIN_TOKEN 太短，去掉首尾空格后至少要有 {min_chars} 个字符。请设置更长的口令后重启。"
)
BAD_TOKEN = "管理员口令不正确，请输入正确的口令后再操作。"
LOCKED_OUT = "口令错误次数过多，管理操作已暂停，请 {seconds} 秒后再试。"
KB_COUNT = "知识库共有 {count} 个文档。"
UPLOAD_NONE = "请先选择要上传的文件。"
UPLOAD_PROGRESS = "正在处理 {name}（{number}/{total}）"
FILE_FAILED = "- ❌ {name}：{reason}"
UPLOAD_RENAMED = "（保存为 {name}）"
UPLOAD_UNCHANGED = "- ✅ {name}{renamed}：内容未变化，已在知识库中（{chunks} 个片段）。"
UPLOAD_DONE = "- ✅ {name}{renamed}：已入库，{chunks} 个片段。"
DELETE_NONE = "请先在下拉框中选择要删除的文档。"
DELETE_DONE = "已删除 {name}（{chunks} 个片段）{note}。"
DELETE_FILE_REMOVED = "，上传的文件已删除"
DELETE_FILE_KEPT = "。原文件不在上传目录中，未删除；重新索引时会再次入库，如需彻底删除请移走该文件"
REINDEXING = "正在重新索引……"
FEEDBACK_NONE = "还没有收到反馈。"
FEEDBACK_COUNT = "共 {count} 条反馈：👍 {up} 条，👎 {down} 条（最新的在前）。"
FEEDBACK_EXPORTED = "已导出 {count} 条反馈，请点击下方的文件下载（Excel 可直接打开）。"
PROGRESS_DONE = "完成"

# ---------------------------------------------------------------------- request limits (bot.web.limits)
REQUEST_TOO_LARGE = "提交的内容太大（超过 {limit} KB），请精简后再试。"
LENGTH_REQUIRED = "请求缺少内容长度（Content-Length），请通过网页或常规的 HTTP 客户端提交。"
UPLOAD_DISABLED = "知识库管理未启用，不接受文件上传；如需上传资料，请联系管理员。"
UPLOAD_QUOTA_FULL = "服务器上等待处理的上传文件已达上限（{limit} MB），请稍后再试。"

# ---------------------------------------------------------------------- start-up (python -m bot.app)
CLI_DESCRIPTION = "启动{title}网页。知识库为空时，先导入资料文件夹（{knowledge}）中的资料。"
FIRST_RUN_INGEST = "知识库为空，正在导入 {folder} 中的资料……"
STARTED = "{title}已启动，请在浏览器中打开 {url} （按 Ctrl+C 退出）"
