"""The About tab: how the DMN works, and the model card of the Ask tab's checkpoint."""

from __future__ import annotations

import gradio as gr

from app import service, texts


def build(summary: service.ModelSummary | None) -> gr.Markdown:
    """The tab's text and model card (call inside `with gr.Tab(...)`); returns the card, which the
    Ask tab's checkpoint picker redraws."""
    gr.Markdown(texts.ABOUT, latex_delimiters=texts.LATEX)
    return gr.Markdown(texts.model_card(summary) if summary else "No checkpoint found.")
