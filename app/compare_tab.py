"""The Compare tab: one story and question under two checkpoints, or two numbers of passes, side by side.

The endpoint "compare" returns both results as `ask` does; the tab draws each with the Ask tab's
plots. Nothing here computes anything about the model.
"""

from __future__ import annotations

import html

import gradio as gr

from app import plots, service
from app.examples import EXAMPLES
from dmn.checkpoint import CheckpointInfo

EXAMPLE = next(e for e in EXAMPLES if e.task == 16)  # three passes that each find another fact


def compare(
    story: str, question: str, checkpoint_a: str = "", passes_a: int = 0, checkpoint_b: str = "", passes_b: int = 0
) -> dict:
    """Answer one question about one story twice: with checkpoint A and passes A, and with B.

    Args:
        story: the story, one sentence per line.
        question: a question about it.
        checkpoint_a: a checkpoint name as the picker lists it (empty: the shipped babi-joint).
        passes_a: memory passes for A (0: as trained).
        checkpoint_b: the second checkpoint (empty: the shipped babi-joint).
        passes_b: memory passes for B (0: as trained).

    Returns:
        {"a": ..., "b": ...}, each what the "ask" endpoint returns.
    """
    return service.compare(story, question, checkpoint_a, passes_a, checkpoint_b, passes_b)


def side(result: dict) -> tuple[str, object]:
    """One side's answer line and gates heatmap."""
    if result.get("error"):
        return f"**✘ {html.escape(result['error'], quote=False)}**", None
    guess = " (a guess)" if result.get("guess") else ""
    line = (
        f"### {html.escape(result['answer'] or '(no answer)')}{guess}\n{result['confidence']:.1%} · "
        f"{result['passes']} passes · `{result['checkpoint']}`"
    )
    importance = result.get("importance") or ()
    return line, plots.gates_heatmap(result["facts"], result["gates"], result["top_facts"], importance=importance)


def draw(both: dict) -> tuple:
    return (*side(both["a"]), *side(both["b"]))


def build(demo: gr.Blocks, infos: list[CheckpointInfo], default: str | None) -> None:
    """The tab's boxes, two checkpoint and passes pickers, and the side-by-side results."""
    gr.Markdown(
        "The same story and question, answered twice: by two checkpoints, or by one with two numbers of "
        "passes (e.g. 1 against 3: what does the second pass add?)."
    )
    story = gr.Textbox(label="Story (one sentence per line)", value=EXAMPLE.story, lines=6, elem_id="compare-story")
    question = gr.Textbox(label="Question", value=EXAMPLE.question, elem_id="compare-question")
    choices = service.ASK_CHECKPOINTS.choices(infos)
    pickers, outputs = [], []
    with gr.Row(equal_height=False):
        for name, passes in (("A", 1), ("B", 3)):
            with gr.Column():
                checkpoint = gr.Dropdown(choices, value=default, label=f"Checkpoint {name}", allow_custom_value=True)
                count = gr.Slider(1, service.UNLIMITED_PASSES, value=passes, step=1, label=f"Passes {name}")
                pickers += [checkpoint, count]
                outputs += [gr.Markdown(elem_id=f"compare-{name.lower()}"), gr.Plot(show_label=False)]
    run = gr.Button("Compare", variant="primary", elem_id="compare-run")
    result = gr.JSON(visible=False)
    inputs = [story, question, *pickers]
    gr.api(compare, api_name="compare", concurrency_id="model")
    run.click(compare, inputs, [result], api_visibility="private", concurrency_id="model").then(
        draw, [result], outputs, api_visibility="private"
    )
    demo.load(compare, inputs, [result], api_visibility="private", concurrency_id="model").then(
        draw, [result], outputs, api_visibility="private"
    )
