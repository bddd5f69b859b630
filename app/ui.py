"""The Gradio page: `build_demo()` puts the tabs together (each built by its own module), wires the
page's own events (the shared link, what the page opens on) and `launch()` serves it.

Tabs: Ask (`app.ask_tab`), Compare, Sentiment, Part of speech, Train and About. Every checkpoint
picker subscribes to one `CheckpointRegistry`, which updates them all when checkpoints change.
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Gradio's queue keeps each event's timings (10,000 by default) and summarises them with pandas after
# every event: per-request time and memory that a class of 50 asking at once feels. Keep fewer, summarise
# every 100th.
os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "100")

import gradio as gr  # noqa: E402

from app import about_tab, ask_tab, compare_tab, plots, sentiment_tab, service, tagging_tab, texts, train_tab  # noqa: E402
from app.limits import Limits  # noqa: E402
from app.registry import CheckpointRegistry  # noqa: E402
from dmn import kernels  # noqa: E402
from dmn.checkpoint import CheckpointError  # noqa: E402

TITLE = "Dynamic Memory Network: where does it look?"
CSS = (
    plots.STORY_CSS
    + train_tab.CSS
    + """
#answer h2 { margin: 0.2em 0; }
.gradio-container { max-width: 1200px !important; }
"""
)
LAUNCH_KWARGS: dict[str, Any] = {
    "css": CSS,
    "footer_links": ["api", "settings"],
    # Gradio refuses bigger uploads before any handler sees them (the Train tab checks again, with messages)
    "max_file_size": Limits.from_env().max_upload_bytes,
    # each session (a browser tab, a gradio_client Client, a bare API call) keeps a copy of the page's
    # state; Gradio's default keeps 10,000 of them, a slow climb in memory for API calls without a session
    "state_session_capacity": 1000,
}


def build_demo(pickers: CheckpointRegistry | None = None) -> gr.Blocks:
    """The whole app: the Ask, Compare, Sentiment, Part-of-speech, Train and About tabs. `pickers`:
    the registry their checkpoint pickers subscribe to (a new one when not given)."""
    pickers = pickers or CheckpointRegistry()
    infos = ask_tab.KIND.listed()
    default = ask_tab.KIND.default_key(infos)
    try:
        summary = service.summarize(default) if default else None
    except CheckpointError:
        summary = None

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(texts.INTRO)
        with gr.Tab("Ask", id="ask"):
            ask = ask_tab.build(pickers, infos, summary)
        with gr.Tab("Compare", id="compare"):
            compare_tab.build(demo, infos, default)
        with gr.Tab("Sentiment", id="sentiment"):
            sentiment_tab.build(demo, pickers)
        with gr.Tab("Part of speech", id="pos"):
            tagging_tab.build(demo, pickers)
        with gr.Tab("Train", id="train"):
            train_tab.build(demo, pickers)
        with gr.Tab("About", id="about"):
            model_card = about_tab.build(summary)
        ask_tab.follow_checkpoint(ask, model_card)
        pickers.connect()
        ask.share.click(None, [ask.story, ask.question, ask.checkpoint, ask.passes], [ask.link], js=SHARE_LINK_JS)
        # the page opens on what its link says, else on a worked example, answered and drawn
        demo.load(
            open_page, [ask.checkpoint], [ask.story, ask.question, ask.checkpoint, ask.passes, ask.linked_passes],
            api_visibility="private",
        ).then(**ask.ask_step).then(**ask.draw_step)  # fmt: skip
    return demo


SHARE_LINK_JS = """(story, question, checkpoint, passes) => {
    const url = new URL(window.location.href);
    url.search = "";
    url.hash = "";
    url.searchParams.set("story", story);
    url.searchParams.set("question", question);
    if (checkpoint) url.searchParams.set("checkpoint", checkpoint);
    url.searchParams.set("passes", String(passes));
    return url.toString();
}"""
LINK_KEYS = ("story", "question", "checkpoint", "passes")


def open_page(current: str | None, request: gr.Request) -> tuple:
    """When the page opens: the checkpoint picker re-read (a user may have trained a new one), and
    the story, question, checkpoint and passes of a shared link (`?story=...&question=...`), if any."""
    params = {k: v for k, v in request.query_params.items() if k in LINK_KEYS} if request else {}
    infos = ask_tab.KIND.listed()
    choices = ask_tab.KIND.choices(infos)
    linked = params.get("checkpoint")
    value = linked if linked in [key for _, key in choices] else current or ask_tab.KIND.default_key(infos)
    try:
        passes = int(params["passes"]) if "passes" in params else None
    except ValueError:
        passes = None
    return (
        gr.update(value=params["story"]) if "story" in params else gr.update(),
        gr.update(value=params["question"]) if "question" in params else gr.update(),
        gr.update(choices=choices, value=value),
        gr.update() if passes is None else gr.update(value=passes),
        passes if value != current else None,  # for choose_checkpoint, which a new checkpoint calls
    )


def launch(demo: gr.Blocks | None = None, **kwargs: Any) -> Any:
    """Launch the app with its CSS and theme (Gradio 6 takes them in launch(), not Blocks()).
    The fused GRU kernel starts building at once (about 10 s, once per Python environment), in
    the background; until it is ready, questions are answered by PyTorch's GRU, without waiting."""
    kernels.build_in_background()
    demo = demo or build_demo()
    return demo.launch(**{**LAUNCH_KWARGS, **kwargs})
