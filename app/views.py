"""Pieces the tabs share: the error and warning lines under a result (each also a toast), and the
Sentiment and Part-of-speech tabs' sentence box and checkpoint picker."""

from __future__ import annotations

import html

import gradio as gr

from app import plots, service
from dmn.predict import MAX_CHARACTERS, MAX_SENTENCES

TOAST_SECONDS = 6  # warnings also stay on the page, in the status line under the answer


def error_line(message: str, seconds: float = TOAST_SECONDS) -> str:
    """An error as a toast and as the Markdown line that stays on the page."""
    gr.Warning(message, duration=seconds)
    return f"**✘ {html.escape(message, quote=False)}**"


def warning_line(message: str) -> str:
    """A warning as a toast and as the Markdown line that stays on the page."""
    gr.Warning(message, duration=TOAST_SECONDS)
    return f"**⚠ Warning:** {html.escape(message, quote=False)}"


def result_error(result: dict | None) -> str | None:
    """ "" for no result, the error line of a failed one, None for a result to draw."""
    if not result:
        return ""
    return error_line(result["error"]) if result.get("error") else None


def status_line(result: dict) -> str:
    """The warning line of a result ("" without a warning)."""
    return warning_line(result["warning"]) if result.get("warning") else ""


def gates_of(result: dict):
    """The gates heatmap of a one-sentence result."""
    return plots.gates_heatmap(result["facts"], result["gates"], result["top_facts"])


def sentence_box(elem_id: str, placeholder: str) -> gr.Textbox:
    return gr.Textbox(
        label="Sentence",
        placeholder=placeholder,
        info=f"At most {MAX_SENTENCES} words and {MAX_CHARACTERS:,} characters.",
        elem_id=elem_id,
    )


def sentence_picker(kind: service.CheckpointKind, elem_id: str, info: str) -> gr.Dropdown:
    return gr.Dropdown(
        kind.choices(), value=kind.default_key(), label="Checkpoint", info=info, allow_custom_value=True,
        elem_id=elem_id,
    )  # fmt: skip
