"""What the HTTP API says to its callers, in Chinese: the messages of its errors.

The page's own wording is in bot.web.messages; the API reuses its notices where they say the same thing
(a request too large, an answer that failed).
"""

from __future__ import annotations

NOT_READY = "知识库里还没有资料，暂时无法回答。请管理员先导入资料（网页的知识库页面或 python -m ingest），再重试。"
MISSING_KEY = "缺少 API 密钥：请在请求头中加上 Authorization: Bearer <密钥>。如需密钥，请联系管理员。"
BAD_KEY = "API 密钥不正确，请检查后重试；如需密钥，请联系管理员。"
UNKNOWN_MODEL = "没有名为“{model}”的模型，可用的模型：{available}。"
NO_QUESTION = "messages 的最后一条应当是用户（role 为 user）的提问。"
TEXT_ONLY = "只支持文字内容（type 为 text 的片段），不支持 {kind}。"
WRONG_METHOD = "这个接口不支持 {method} 请求，请改用 {allowed}。"
UNKNOWN_ROUTE = "没有这个接口：{method} {path}。可用的接口见 README 的“HTTP API”一节。"

# ---------------------------------------------------------------------- request validation (422, 400)
INVALID_JSON = "请求体不是有效的 JSON，请检查格式后重试。"
BODY_NOT_OBJECT = "请求体应为 JSON 对象，并带上请求头 Content-Type: application/json。"
BODY = "请求体"
# pydantic's error types -> what to tell the caller; {field} is where (messages[0].role), ctx fills the rest.
VALIDATION = {
    "missing": "缺少必填字段 {field}。",
    "extra_forbidden": "不支持字段 {field}，请删除后重试。",
    "string_type": "{field} 应为字符串。",
    "list_type": "{field} 应为数组。",
    "tuple_type": "{field} 应为数组。",
    "dict_type": "{field} 应为对象。",
    "model_type": "{field} 应为对象。",
    "model_attributes_type": "{field} 应为对象。",
    "bool_type": "{field} 应为 true 或 false。",
    "bool_parsing": "{field} 应为 true 或 false。",
    "int_type": "{field} 应为整数。",
    "int_parsing": "{field} 应为整数。",
    "float_type": "{field} 应为数字。",
    "float_parsing": "{field} 应为数字。",
    "literal_error": "{field} 的取值无效，可选值为 {expected}。",
    "too_short": "{field} 至少要有 {min_length} 项。",
    "too_long": "{field} 最多只能有 {max_length} 项。",
    "string_too_short": "{field} 至少要有 {min_length} 个字符。",
    "string_too_long": "{field} 最多只能有 {max_length} 个字符。",
}
INVALID_VALUE = "{field} 的值无效，请对照 README 的“HTTP API”一节检查。"
