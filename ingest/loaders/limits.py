"""How much one file may hold before it is refused: its size on disk, its characters of text, and for a zip
container (docx) the sizes it declares inside, checked before anything is decompressed.

The limits come from settings.store (max_file_mb, max_file_chars, max_unzipped_mb, max_compression_ratio);
every refusal is a LoadError naming the file, the limit and the setting that raises it.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from core.settings import StoreSettings, env_name
from ingest.loaders.document import LoadError

MB = 1 << 20
# A part smaller than this is never called a bomb: tiny parts (styles, settings) compress oddly well.
RATIO_MIN_BYTES = MB


@dataclass(frozen=True)
class Limits:
    """The limits one file is read under (see StoreSettings for what each means)."""

    max_chars: int
    max_file_mb: int
    max_unzipped_mb: int
    max_compression_ratio: int

    @classmethod
    def of(cls, store: StoreSettings) -> Limits:
        """The limits the settings ask for."""
        return cls(**{limit: getattr(store, field) for limit, field in SETTING_OF.items()})

    @classmethod
    def defaults(cls) -> Limits:
        """The settings' default limits (without reading the environment)."""
        return cls(**{limit: StoreSettings.model_fields[field].default for limit, field in SETTING_OF.items()})


# Limit -> the StoreSettings field it comes from.
SETTING_OF = {
    "max_chars": "max_file_chars",
    "max_file_mb": "max_file_mb",
    "max_unzipped_mb": "max_unzipped_mb",
    "max_compression_ratio": "max_compression_ratio",
}

DEFAULT_LIMITS = Limits.defaults()


def _var(field: str) -> str:
    return env_name(StoreSettings, field)


def check_file_size(size: int, name: str, limits: Limits) -> None:
    """LoadError when a file of `size` bytes is larger than max_file_mb."""
    if size > limits.max_file_mb * MB:
        var = _var("max_file_mb")
        raise LoadError(
            f"文件 {name} 有 {size / MB:.1f} MB，超过单个文件 {limits.max_file_mb} MB 的上限（设置项 {var}），没有导入。"
            f"请把它拆成几个较小的文件后再导入；确需导入时，请管理员调高 {var}。"
        )


def check_zip(data: bytes, name: str, limits: Limits) -> None:
    """LoadError when a zip container (docx) declares more than max_unzipped_mb in total, or one part of it is
    compressed more than max_compression_ratio times: the signs of a zip bomb. Only the directory is read.

    zipfile never inflates a part beyond the size it declares (a lying part fails its CRC check), so the
    declared sizes bound what parsing can take."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise LoadError(
            f"文件 {name} 无法打开，可能已损坏或不是真正的 Word（docx）文件。请用 Word 打开后重新另存为 .docx 再上传。"
        ) from e
    total = sum(info.file_size for info in infos)
    if total > limits.max_unzipped_mb * MB:
        var = _var("max_unzipped_mb")
        raise LoadError(
            f"文件 {name} 解压后有 {total / MB:.0f} MB，超过 {limits.max_unzipped_mb} MB 的上限（设置项 {var}），"
            "可能是异常文件或“压缩炸弹”，没有导入。请用 Word 打开后另存为新的 .docx 再上传；"
            f"确是正常的大文件时，请管理员调高 {var}。"
        )
    for info in infos:
        if info.file_size < RATIO_MIN_BYTES:
            continue
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.max_compression_ratio:
            var = _var("max_compression_ratio")
            raise LoadError(
                f"文件 {name} 中的 {info.filename} 被压缩了 {ratio:.0f} 倍，超过 {limits.max_compression_ratio} 倍的上限"
                f"（设置项 {var}），可能是“压缩炸弹”，没有导入。请用 Word 打开后另存为新的 .docx 再上传。"
            )
