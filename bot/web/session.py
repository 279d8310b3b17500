"""What one browser session keeps on the server, and the bounds on it.

The conversation (gr.State of turns) keeps the latest settings.web.session_max_turns turns and at most
session_max_chars characters; older turns are dropped. Turn numbers keep counting, so the [n] links of
the turns kept still point at their own sources.

Gradio also keeps, per session, every copy of an input component that an update replaced (the question
box is disabled while an answer streams), with its config and last input: one more per event, never
released. `forget_replaced_components` drops the copies the session no longer uses. `session_prop` reads a
property as the session's copy holds it (what the page shows), so that an update changing nothing is left out.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from bot.web.render import Turn


def turn_size(turn: Turn) -> int:
    """The characters a stored turn takes (its JSON form, which counts every string in it)."""
    return len(json.dumps(turn, ensure_ascii=False, default=str))


def keep_recent(turns: list[Turn], *, max_turns: int, max_chars: int) -> list[Turn]:
    """The latest turns within both limits: at most `max_turns`, and the oldest dropped while they take more
    than `max_chars` characters (the latest turn is always kept)."""
    kept = turns[-max_turns:]
    sizes = [turn_size(t) for t in kept]
    total = sum(sizes)
    start = 0
    while total > max_chars and start < len(kept) - 1:
        total -= sizes[start]
        start += 1
    return kept[start:]


def next_number(turns: list[Turn]) -> int:
    """The number of the turn after `turns` (numbers keep counting when old turns are dropped)."""
    return turns[-1]["n"] + 1 if turns else 0


UNKNOWN = object()  # what session_prop gives outside a request or for a session Gradio does not hold


def _session(blocks: Any, request: Any) -> Any:
    """Gradio's state of the request's session (None outside a request or when Gradio holds none)."""
    session_hash: Optional[str] = getattr(request, "session_hash", None)
    holder = getattr(blocks, "state_holder", None)
    if not session_hash or holder is None or session_hash not in holder.session_data:
        return None
    return holder.session_data[session_hash]


def session_prop(blocks: Any, request: Any, component: Any, prop: str) -> Any:
    """A property of one of the page's components as the session shows it: as the session's last gr.update of
    the component set it, else as the page built it; UNKNOWN outside a request or for an unknown session."""
    session = _session(blocks, request)
    if session is None or component is None:
        return UNKNOWN
    shown = session.blocks_config.blocks.get(getattr(component, "_id", None), component)
    return getattr(shown, prop, UNKNOWN)


def forget_replaced_components(blocks: Any, request: Any) -> int:
    """Drop the session's copies of components that neither the page nor the session uses any more; how many.

    `blocks` is the page's gr.Blocks, `request` the event's gr.Request (None outside a request: nothing to do).
    The copy the session uses now is kept, and so is every component of the page itself."""
    session = _session(blocks, request)
    if session is None:
        return 0
    copies = session.blocks_config.blocks
    page = set(blocks.blocks)
    in_use = page | {getattr(copies[key], "_id", key) for key in page if key in copies}  # what page ids map to
    stale = [key for key in list(copies) + list(session.config_values) if key not in in_use]
    for key in set(stale):
        copies.pop(key, None)
        session.config_values.pop(key, None)
    return len(set(stale))
