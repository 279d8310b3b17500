"""bot.web.gradio_patches: the patches land when their modules load, and Gradio still calls what they replace.

The last two tests import Gradio in a fresh interpreter: they fail when a Gradio release renames the stub
writer or the matplotlib switch, or stops calling them by those names (then the patches would silently
patch nothing and the cold start would be back to its old length).
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import pytest

from bot.web import gradio_patches
from tests.processes import python_probe

IMPORT_SECONDS = 120  # importing Gradio on a loaded machine


class RecordingSwitch:
    """Stands in for Gradio's MatplotlibBackendMananger: records that it was entered and left."""

    calls: list[str] = []

    def __enter__(self) -> None:
        self.calls.append("enter")

    def __exit__(self, *exc) -> None:
        self.calls.append("exit")


def utils_module() -> ModuleType:
    module = ModuleType("fake_gradio_utils")
    RecordingSwitch.calls = []
    setattr(module, gradio_patches.BACKEND_SWITCH, RecordingSwitch)
    return module


@pytest.mark.unit
def test_the_backend_switch_is_skipped_while_matplotlib_is_not_loaded(monkeypatch):
    monkeypatch.delitem(sys.modules, "matplotlib", raising=False)
    module = utils_module()
    gradio_patches._backend_only_when_loaded(module)
    with getattr(module, gradio_patches.BACKEND_SWITCH)():
        pass
    assert RecordingSwitch.calls == []
    assert "matplotlib" not in sys.modules


@pytest.mark.unit
def test_the_backend_switch_is_made_once_matplotlib_is_loaded(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", ModuleType("matplotlib"))
    module = utils_module()
    gradio_patches._backend_only_when_loaded(module)
    gradio_patches._backend_only_when_loaded(module)  # a second install does not wrap it again
    with getattr(module, gradio_patches.BACKEND_SWITCH)():
        assert RecordingSwitch.calls == ["enter"]
    assert RecordingSwitch.calls == ["enter", "exit"]


@pytest.mark.unit
def test_a_module_is_patched_right_after_its_code_runs(monkeypatch, tmp_path):
    (tmp_path / "patched_on_load_example.py").write_text("VALUE = 'as written'\nSEEN = VALUE\n", encoding="utf-8")
    seen: list[str] = []

    def patch(module: ModuleType) -> None:
        seen.append(vars(module)["SEEN"])
        vars(module)["VALUE"] = "patched"

    monkeypatch.setitem(gradio_patches.PATCHES, "patched_on_load_example", patch)
    monkeypatch.setattr(sys, "meta_path", [gradio_patches._PatchOnLoad(), *sys.meta_path])
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "patched_on_load_example", raising=False)
    import patched_on_load_example

    assert seen == ["as written"]  # the module's own code ran first, unchanged
    assert patched_on_load_example.VALUE == "patched"
    assert Path(patched_on_load_example.__file__) == tmp_path / "patched_on_load_example.py"
    monkeypatch.delitem(sys.modules, "patched_on_load_example")


@pytest.mark.unit
def test_a_missing_target_is_reported_not_raised(caplog):
    module = ModuleType("gradio_without_the_target")
    gradio_patches._skip_stubs(module)
    gradio_patches._backend_only_when_loaded(module)
    assert not hasattr(module, gradio_patches.STUB_WRITER)
    assert caplog.text.count(gradio_patches.GRADIO_CHECKED) == 2


# Run in a fresh interpreter: Gradio imported after install() (as the entry points do), or without it.
PROBE = """
import json, sys
if sys.argv[1] == "patched":
    from bot.web import gradio_patches
    gradio_patches.install()
import gradio, gradio.blocks_events, gradio.component_meta, gradio.route_utils, gradio.utils

def names(fn):  # the global names a function's code (and its nested code) looks up
    found, todo = set(), [fn.__code__]
    while todo:
        code = todo.pop()
        found |= set(code.co_names)
        todo += [c for c in code.co_consts if hasattr(c, "co_names")]
    return sorted(found)

with gradio.utils.MatplotlibBackendMananger():
    pass
print(json.dumps({
    "writer": gradio.component_meta.create_or_modify_pyi.__qualname__,
    "blocks_writer": gradio.blocks_events.create_or_modify_pyi.__qualname__,
    "component_meta_calls": names(gradio.component_meta.ComponentMeta.__new__),
    "blocks_meta_calls": names(gradio.blocks_events.BlocksMeta.__new__),
    "process_api_calls": names(gradio.route_utils.call_process_api),
    "matplotlib_loaded": "matplotlib" in sys.modules,
}))
"""


def probe(variant: str) -> dict:
    result: dict = python_probe(PROBE, variant, timeout=IMPORT_SECONDS)
    return result


@pytest.mark.integration
def test_gradio_still_calls_what_the_patches_replace():
    plain = probe("plain")
    assert plain["writer"] == plain["blocks_writer"] == gradio_patches.STUB_WRITER
    assert gradio_patches.STUB_WRITER in plain["component_meta_calls"]
    assert gradio_patches.STUB_WRITER in plain["blocks_meta_calls"]
    assert gradio_patches.BACKEND_SWITCH in plain["process_api_calls"]  # around every event
    assert plain["matplotlib_loaded"]  # what the switch costs an unpatched app on its first event


@pytest.mark.integration
def test_gradio_imported_after_install_is_patched():
    patched = probe("patched")
    assert patched["writer"] == patched["blocks_writer"] == gradio_patches.skip_stub.__qualname__
    assert not patched["matplotlib_loaded"]
