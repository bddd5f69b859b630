"""The Sentiment tab: a DMN sentiment model reads one sentence, every word a fact.

The public API endpoint "sentiment" returns the prediction as JSON, and a second step draws that
JSON with `app.plots`. Bad input gives "error", never an exception.
"""

from __future__ import annotations

import html

import gradio as gr

from app import playback, plots, service, views
from app.registry import CheckpointRegistry, reread

KIND = service.SENTIMENT_CHECKPOINTS
SENTIMENT_EXAMPLES = [
    "The plot is thin, but the acting is superb.",
    "I expected to hate it, but it is wonderful.",
    "The acting is good, but the story is boring.",
    "Not good.",
    "It is not a great film.",
    "Not bad at all.",
    "It's not a bad film.",
    "A wonderful, moving film.",
    "The worst film ever.",
]
SENTIMENT_HELP = """### What the gates mean here
Every word of the sentence is a fact, and each pass of the memory re-reads the whole sentence. A gate
is how much one pass attends to one word (each pass's gates sum to 1; ★ marks its most attended word).
Negation and contrast ("not bad", "thin, **but** superb") are where one reading may not be enough: watch
whether a later pass moves to the word that flips or outweighs the first one. Drag *Show pass* to compare:
in the first example, both passes weigh "superb" most and the second moves weight to "but".
`sst-binary` is ten models trained apart that answer together, read in two classes (very negative and
negative count as negative, positive and very positive as positive); `sst-fine` is four of those ten,
answering in five classes. Their probabilities and gates are the means of their models'. "Not bad at all."
is positive in two classes; in five, neutral comes just ahead of positive."""


def sentiment(sentence: str, checkpoint: str = "") -> dict:
    """The sentiment of one sentence with a DMN sentiment checkpoint; bad input gives "error".

    Args:
        sentence: the sentence, e.g. "The plot is thin, but the acting is superb."
        checkpoint: a sentiment checkpoint (task "sst:..."), e.g. "sst-binary" or "sst-fine" (empty: sst-binary).

    Returns:
        Prediction.to_dict() (answer: the label, confidence, top_answers [[label, probability]], facts: the
        words, gates [pass][word], top_facts, unknown_words, dropped_facts, passes) plus "checkpoint",
        "warning", "error", "device", "seconds".
    """
    return service.read_sentence(KIND, sentence, checkpoint)


def labels(top_answers: list) -> list:
    """The single labels among the top answers (the answer module could also say nothing or two words)."""
    return [[a, p] for a, p in top_answers if a and "," not in a]


def render_sentiment(result: dict | None) -> tuple:
    """Label, warnings, probabilities, gate heatmap, pass slider and the sentence coloured by pass 1."""
    message = views.result_error(result)
    if message is not None:
        return message, "", None, None, gr.update(visible=False), ""
    gates = result["gates"]
    answer = (
        f"## Sentiment: {html.escape(result['answer'] or '(none)')}\n"
        f"Confidence **{result['confidence']:.1%}** · {result['passes']} passes · checkpoint "
        f"`{result['checkpoint']}` · {result['device']}"
    )
    return (
        answer,
        views.status_line(result),
        plots.top_answers_bar(labels(result["top_answers"]), result["answer"]),
        views.gates_of(result),
        gr.update(visible=len(gates) > 1, maximum=max(2, len(gates)), value=1),
        plots.sentence_by_pass_html(result["facts"], gates, result["top_facts"], 1),
    )


def show_pass(result: dict | None, pass_number: float) -> str:
    """The sentence coloured by one pass's gates."""
    if not result or result.get("error") or not result.get("gates"):
        return ""
    return plots.sentence_by_pass_html(result["facts"], result["gates"], result["top_facts"], int(pass_number))


def build(demo: gr.Blocks, pickers: CheckpointRegistry) -> None:
    """The Sentiment tab's contents and events; its checkpoint picker subscribes to `pickers`."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            about = "sst-binary: positive/negative, ten models averaged; sst-fine: five labels, four of the ten."
            checkpoint = pickers.subscribe("sst", views.sentence_picker(KIND, "sst-checkpoint", about), KIND)
            sentence = views.sentence_box("sst-sentence", SENTIMENT_EXAMPLES[0])
            run = gr.Button("Run", variant="primary", elem_id="sst-run")
            examples = gr.Examples([[s] for s in SENTIMENT_EXAMPLES], inputs=[sentence], label="Negation and contrast")
        with gr.Column(scale=4):
            answer_md = gr.Markdown(elem_id="sst-answer")
            status_md = gr.Markdown(elem_id="sst-status")
            bar = gr.Plot(show_label=False, elem_id="sst-probabilities")
    gr.Markdown(SENTIMENT_HELP)
    gates_plot = gr.Plot(show_label=False, elem_id="sst-gates")
    pass_slider = gr.Slider(
        1, 3, value=1, step=1, label="Show pass", info="The sentence shaded by one pass's gates.", visible=False,
        elem_id="sst-pass-slider",
    )  # fmt: skip
    play = gr.Button("▶ Play the passes", size="sm", elem_id="sst-play")
    pass_html = gr.HTML(elem_id="sst-sentence-by-pass")
    with gr.Accordion("Raw output: what the `sentiment` API returns", open=False):
        result_json = gr.JSON(label="sentiment", elem_id="sst-result-json")

    draw = dict(
        fn=render_sentiment, inputs=[result_json],
        outputs=[answer_md, status_md, bar, gates_plot, pass_slider, pass_html], api_visibility="private",
    )  # fmt: skip
    model = dict(fn=sentiment, inputs=[sentence, checkpoint], outputs=[result_json], concurrency_id="model")
    gr.api(sentiment, api_name="sentiment", concurrency_id="model")
    gr.on([run.click, sentence.submit], **model, api_visibility="private").then(**draw)
    examples.load_input_event.then(**model, api_visibility="private").then(**draw)
    pass_slider.input(show_pass, [result_json, pass_slider], [pass_html], api_visibility="private")
    playback.attach(play, result_json, pass_slider, pass_html, show_pass)
    demo.load(reread(KIND), [checkpoint], [checkpoint], api_visibility="private")
