"""Play: step through a result's memory passes on a timer, one pass a beat, as a class watches.

Used by the Ask and Sentiment tabs: the button starts a `gr.Timer` that moves the tab's "Show pass"
slider and redraws the per-pass view until the last pass. Nothing here computes anything.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import gradio as gr

BEAT_SECONDS = 1.5  # how long each pass stays on screen


def attach(
    button: gr.Button,
    result: gr.JSON,
    slider: gr.Slider,
    view: gr.HTML,
    draw: Callable[..., str],
    extra: Sequence[gr.components.Component] = (),
) -> gr.Timer:
    """Wire `button` to play the passes of `result`: `draw(result, *extra values, pass number)` is
    the per-pass view (the tab's own `show_pass`). Returns the timer."""
    timer = gr.Timer(BEAT_SECONDS, active=False)

    def passes(value: dict | None) -> int:
        return len(value["gates"]) if value and not value.get("error") and value.get("gates") else 0

    def start(value: dict | None, *args: object) -> tuple:
        if not passes(value):
            return gr.update(), gr.update(), gr.Timer(active=False)
        return gr.update(value=1), draw(value, *args, 1), gr.Timer(active=passes(value) > 1)

    def step(value: dict | None, current: float, *args: object) -> tuple:
        following = int(current or 0) + 1
        if following > passes(value):
            return gr.update(), gr.update(), gr.Timer(active=False)
        return gr.update(value=following), draw(value, *args, following), gr.Timer(active=following < passes(value))

    button.click(start, [result, *extra], [slider, view, timer], api_visibility="private", queue=False)
    timer.tick(step, [result, slider, *extra], [slider, view, timer], api_visibility="private", queue=False)
    return timer
