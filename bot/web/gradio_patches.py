"""Work Gradio does at start-up and around every event that this app never uses, turned off.

Read against gradio 6.31.0 (GRADIO_CHECKED); Gradio has no setting for either:

- At import, Gradio's component metaclass re-derives the type stub (.pyi) of each of its ~80 component classes
  from the class's source (an ast parse of the file and a Jinja template each) and rewrites the stub file when
  it differs: about 1.5 s of CPU, a third of importing Gradio. The stubs serve editors and type checkers, and
  the installed package ships them, so the app leaves them as they are.
- Around every event, each streamed update of an answer included, Gradio switches matplotlib to its Agg
  backend and back, and so imports matplotlib on the first event (about 0.4 s of the first answer). The page
  draws no plots; the switch still happens whenever something else has loaded matplotlib.

`install()` patches the two as their modules load; the entry points call it before anything imports Gradio.
tests/bot/web/test_gradio_patches.py fails when a Gradio release renames them or stops calling them by name.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, Optional

log = logging.getLogger(__name__)

GRADIO_CHECKED = "6.31.0"  # the release whose internals the patches below were read against
STUB_MODULE = "gradio.component_meta"
STUB_WRITER = "create_or_modify_pyi"  # called by ComponentMeta.__new__ and (imported) by gradio.blocks_events
STUB_CALLERS = ("gradio.blocks_events",)  # modules that import the writer by name, so hold their own reference
UTILS_MODULE = "gradio.utils"
BACKEND_SWITCH = "MatplotlibBackendMananger"  # sic: Gradio's spelling
PATCHED = "_dongxun_patched"  # set on what a patch put in place, so a second install leaves it


def skip_stub(component_class: type, class_name: str, events: Sequence[Any]) -> None:
    """Gradio's stub writer, doing nothing: the .pyi files stay as installed."""


def _skip_stubs(module: ModuleType) -> None:
    if not hasattr(module, STUB_WRITER):
        log.warning("%s.%s is gone (patch read against gradio %s)", module.__name__, STUB_WRITER, GRADIO_CHECKED)
        return
    setattr(module, STUB_WRITER, skip_stub)
    for name in STUB_CALLERS:  # already imported when gradio was partly loaded before install()
        caller = sys.modules.get(name)
        if caller is not None and hasattr(caller, STUB_WRITER):
            setattr(caller, STUB_WRITER, skip_stub)


def _backend_only_when_loaded(module: ModuleType) -> None:
    original = getattr(module, BACKEND_SWITCH, None)
    if original is None:
        log.warning("%s.%s is gone (patch read against gradio %s)", module.__name__, BACKEND_SWITCH, GRADIO_CHECKED)
        return
    if getattr(original, PATCHED, False):
        return
    gradio_switch: type = original

    class BackendSwitchWhenLoaded:
        """Gradio's switch to matplotlib's Agg backend, made only when matplotlib is already loaded."""

        def __enter__(self) -> None:
            self.switch = gradio_switch() if "matplotlib" in sys.modules else None
            if self.switch is not None:
                self.switch.__enter__()

        def __exit__(self, *exc: Any) -> None:
            if self.switch is not None:
                self.switch.__exit__(*exc)

    setattr(BackendSwitchWhenLoaded, PATCHED, True)
    setattr(module, BACKEND_SWITCH, BackendSwitchWhenLoaded)


PATCHES: dict[str, Callable[[ModuleType], None]] = {
    STUB_MODULE: _skip_stubs,
    UTILS_MODULE: _backend_only_when_loaded,
}


class _PatchAfterRun(importlib.abc.Loader):
    """A module's own loader, followed by its patch once the module's code has run."""

    def __init__(self, loader: importlib.abc.Loader, patch: Callable[[ModuleType], None]):
        self.loader = loader
        self.patch = patch

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Optional[ModuleType]:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        self.patch(module)

    def __getattr__(self, name: str) -> Any:  # get_source, get_filename…: the real loader's
        return getattr(self.loader, name)


class _PatchOnLoad(importlib.abc.MetaPathFinder):
    """Finds the modules to patch as the file system would, and hands them a loader that patches them."""

    def find_spec(
        self, fullname: str, path: Optional[Sequence[str]], target: Optional[ModuleType] = None
    ) -> Optional[importlib.machinery.ModuleSpec]:
        patch = PATCHES.get(fullname)
        if patch is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None:
            return None  # not a plain file: left to the other finders, unpatched
        spec.loader = _PatchAfterRun(spec.loader, patch)
        return spec


def install() -> None:
    """Patch Gradio as its modules load (the ones already loaded, now); a second call does nothing."""
    if any(isinstance(finder, _PatchOnLoad) for finder in sys.meta_path):
        return
    for name, patch in PATCHES.items():
        if name in sys.modules:
            patch(sys.modules[name])
    sys.meta_path.insert(0, _PatchOnLoad())
