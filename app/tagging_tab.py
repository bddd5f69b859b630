"""The Part-of-speech tab: a DMN tagger reads one sentence, every word a fact, and tags each word.

The public API endpoint "tag" returns the prediction as JSON, and a second step draws that JSON
with `app.plots`. Bad input gives "error", never an exception.
"""

from __future__ import annotations

import gradio as gr

from app import plots, service, views
from app.registry import CheckpointRegistry, reread

KIND = service.TAGGING_CHECKPOINTS
TAG_EXAMPLES = [
    "I love this movie",
    "the old man the boat",
    "she can can the fish",
    "time flies like an arrow",
]
TAG_HELP = """### What the gates mean here
Every word is a fact and gets its own tag; each pass re-reads the sentence and the gates say which
words the memory weighs most (★: the most attended word of a pass). The tags come from each word's
own state, informed by the memory, so a gate is context the tagger used, not the word being tagged.
`pos-ewt-ensemble` is five taggers trained apart that answer together: its tags are more often right,
and its gates are the mean of theirs, spread wider where the five attend to different words."""


def tag(sentence: str, checkpoint: str = "") -> dict:
    """Part-of-speech tags of one sentence with a DMN tagger checkpoint; bad input gives "error".

    Args:
        sentence: the sentence, e.g. "I love this movie".
        checkpoint: a tagger checkpoint (task "pos:..."), e.g. "pos-ewt" (empty: pos-ewt).

    Returns:
        Prediction.to_dict() (answer: the tags joined by spaces, confidence: their mean probability,
        tags [[tag, probability]] one per word, facts: the words, gates [pass][word], top_facts,
        unknown_words, dropped_facts, passes) plus "checkpoint", "warning", "error", "device", "seconds".
    """
    return service.read_sentence(KIND, sentence, checkpoint)


def render_tags(result: dict | None) -> tuple:
    """Summary, warnings, coloured tags with a legend and the gate heatmap."""
    message = views.result_error(result)
    if message is not None:
        return message, "", "", None
    summary = (
        f"**{len(result['tags'])} words tagged** · mean tag probability **{result['confidence']:.1%}** · "
        f"{result['passes']} passes · checkpoint `{result['checkpoint']}` · {result['device']}"
    )
    return summary, views.status_line(result), plots.tags_html(result["facts"], result["tags"]), views.gates_of(result)


def build(demo: gr.Blocks, pickers: CheckpointRegistry) -> None:
    """The Part-of-speech tab's contents and events; its checkpoint picker subscribes to `pickers`."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            about = "Penn Treebank tags (UD English-EWT); pos-ewt-ensemble: five taggers averaged."
            checkpoint = pickers.subscribe("pos", views.sentence_picker(KIND, "pos-checkpoint", about), KIND)
            sentence = views.sentence_box("pos-sentence", "I love this movie")
            run = gr.Button("Run", variant="primary", elem_id="pos-run")
            examples = gr.Examples([[s] for s in TAG_EXAMPLES], inputs=[sentence], label="Examples")
        with gr.Column(scale=4):
            answer_md = gr.Markdown(elem_id="pos-answer")
            status_md = gr.Markdown(elem_id="pos-status")
    tags_html = gr.HTML(elem_id="pos-tags")
    gr.Markdown(TAG_HELP)
    gates_plot = gr.Plot(show_label=False, elem_id="pos-gates")
    with gr.Accordion("Raw output: what the `tag` API returns", open=False):
        result_json = gr.JSON(label="tag", elem_id="pos-result-json")

    draw = dict(
        fn=render_tags, inputs=[result_json], outputs=[answer_md, status_md, tags_html, gates_plot],
        api_visibility="private",
    )  # fmt: skip
    model = dict(fn=tag, inputs=[sentence, checkpoint], outputs=[result_json], concurrency_id="model")
    gr.api(tag, api_name="tag", concurrency_id="model")
    gr.on([run.click, sentence.submit], **model, api_visibility="private").then(**draw)
    examples.load_input_event.then(**model, api_visibility="private").then(**draw)
    demo.load(reread(KIND), [checkpoint], [checkpoint], api_visibility="private")
