"""Why a knowledge base cannot be opened or used, as KnowledgeBaseError with a Chinese message saying what to do.

Raised by KnowledgeBase (ingest.index) when its folder is missing and may not be created, when the Chroma
server does not answer, when another process has its embedded store open (ingest.store_lock), and when the configured embedder is not the one that built it. An entry point
(python -m ingest, python -m bot, the app) prints str(e) and exits non-zero.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from core.settings import StoreSettings, env_name

if TYPE_CHECKING:  # only the type: embedders imports heavy backends lazily
    from ingest.embedders import EmbedderIdentity


class KnowledgeBaseError(RuntimeError):
    """The knowledge base cannot be opened or used as configured; str(e) is a Chinese message saying what to do."""


def _var(field: str) -> str:
    return env_name(StoreSettings, field)


def missing_kb(kb_dir: Path) -> KnowledgeBaseError:
    """The knowledge-base folder does not exist and this command does not create one."""
    return KnowledgeBaseError(
        f"知识库为空：找不到知识库目录 {kb_dir}（没有自动创建）。请检查 --kb 或 {_var('kb_dir')} 是否写对；"
        f"如果还没有建立知识库，请先运行：python -m ingest --kb {kb_dir} 导入资料。"
    )


def chroma_unreachable(host: str, port: int, error: BaseException) -> KnowledgeBaseError:
    """The Chroma server named in the settings does not answer."""
    return KnowledgeBaseError(
        f"连接不上知识库服务器（Chroma，地址 {host}:{port}）：{error}。请确认 Chroma 服务器已经启动、地址和端口正确"
        f"（{_var('chroma_host')}、{_var('chroma_port')}）；不使用服务器时请取消设置 {_var('chroma_host')}，改用本地知识库。"
    )


def store_in_use(kb_dir: Path, holder: str, *, writing: bool) -> KnowledgeBaseError:
    """Another live process has the embedded store open (ingest.store_lock): writing, when this one wants to write;
    or it is writing, when this one wants to open it."""
    who = f"（进程号 {holder}）" if holder.isdigit() else ""
    if writing:
        what = f"知识库 {kb_dir} 正被另一个程序打开（例如正在运行的网页或命令），这时不能写入：两个程序同时使用会损坏索引。"
    else:
        what = f"知识库 {kb_dir} 正由另一个程序{who}写入（例如正在入库，或网页上传过资料），这时不能打开。"
    return KnowledgeBaseError(
        what + "请先关闭那个程序再试；需要多个程序同时使用时，请启动一个 Chroma 服务器"
        f"（chroma run --path 目录 --host 127.0.0.1 --port 端口），并让各程序设置 {_var('chroma_host')} 和 {_var('chroma_port')}。"
    )


def _rebuild_hint(kb_dir: Path, shared_server: bool) -> str:
    where = f"换一个集合名（{_var('collection')}）" if shared_server else f"换一个新的知识库目录（{_var('kb_dir')}）"
    return (
        f"请改回建库时的向量模型设置（{_var('embedder')}、{_var('embedder_model_path')}）；"
        f"或者{where}后重新导入资料（python -m ingest），"
        f"也可以删除原知识库（{kb_dir}）后重新导入。"
    )


def embedder_mismatch(
    kb_dir: Path, recorded: EmbedderIdentity, current: EmbedderIdentity, *, shared_server: bool = False
) -> KnowledgeBaseError:
    """The configured embedder is not the one whose vectors the knowledge base holds."""
    return KnowledgeBaseError(
        f"这个知识库（{kb_dir}）是用向量模型 {recorded.describe()}建立的，现在配置的是 {current.describe()}，"
        "两种向量不能混用，否则检索结果没有意义。" + _rebuild_hint(kb_dir, shared_server)
    )


def dimension_mismatch(kb_dir: Path, recorded: int, got: int, *, shared_server: bool = False) -> KnowledgeBaseError:
    """The embedder gives vectors of another length than the knowledge base holds."""
    return KnowledgeBaseError(
        f"这个知识库（{kb_dir}）中的向量是 {recorded} 维的，现在配置的向量模型给出的是 {got} 维，两者不能混用。"
        + _rebuild_hint(kb_dir, shared_server)
    )
