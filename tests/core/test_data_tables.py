"""core.data_tables: the project's tab-separated data tables, comment and blank lines left out."""

from __future__ import annotations

import pytest

from core.data_tables import table_rows

pytestmark = pytest.mark.unit


def test_rows_skip_comments_and_blank_lines_and_split_on_tabs(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("# header\tnot a row\n\n口语\t正式|说法\t来源 dev\n  \n词\t角色\n", encoding="utf-8")
    assert table_rows(path) == [["口语", "正式|说法", "来源 dev"], ["词", "角色"]]
    assert table_rows(path, maxsplit=1) == [["口语", "正式|说法\t来源 dev"], ["词", "角色"]]
