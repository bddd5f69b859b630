"""The Sentiment and Part-of-speech tabs: DMN models that read one sentence, every word a fact.

Each tab has a public API endpoint ("sentiment", "tag") that returns the prediction as JSON, and a
second step that draws that JSON with `app.plots`. Bad input gives "error", never an exception.
"""

from __future__ import annotations

import html
import time
from typing import Any

import gradio as gr

from app import playback, plots, service
from dmn.checkpoint import CheckpointError, CheckpointInfo
from dmn.predict import MAX_CHARACTERS, MAX_SENTENCES, InputError

TOAST_SECONDS = 6
SENTIMENT, TAGGING = "sst:", "pos:"  # checkpoint task prefixes
DEFAULTS = {SENTIMENT: "sst-binary", TAGGING: "pos-ewt"}
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
TAG_EXAMPLES = [
    "I love this movie",
    "the old man the boat",
    "she can can the fish",
    "time flies like an arrow",
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
TAG_HELP = """### What the gates mean here
Every word is a fact and gets its own tag; each pass re-reads the sentence and the gates say which
words the memory weighs most (★: the most attended word of a pass). The tags come from each word's
own state, informed by the memory, so a gate is context the tagger used, not the word being tagged.
`pos-ewt-ensemble` is five taggers trained apart that answer together: its tags are more often right,
and its gates are the mean of theirs, spread wider where the five attend to different words."""


# --------------------------------------------------------------------------------------------
# Checkpoints of one-sentence models


def checkpoints(prefix: str, found: list[CheckpointInfo] | None = None) -> list[CheckpointInfo]:
    """Shipped and user checkpoints (or those of `found`) whose config task starts with prefix ("sst:"
    or "pos:")."""
    found = service.all_checkpoints() if found is None else found
    return [c for c in found if c.task.startswith(prefix)]


def choices(prefix: str, found: list[CheckpointInfo] | None = None) -> list[tuple[str, str]]:
    """(label, key) pairs for a tab's checkpoint picker (from `found` when given, else from disk)."""
    infos = checkpoints(prefix, found)
    return [(service.checkpoint_label(i), service.checkpoint_key(i, infos)) for i in infos]


def default(prefix: str) -> str | None:
    keys = [key for _, key in choices(prefix)]
    return DEFAULTS[prefix] if DEFAULTS[prefix] in keys else (keys[0] if keys else None)


def resolve(prefix: str, key: str | None) -> tuple[str, CheckpointInfo]:
    infos = checkpoints(prefix)
    key = (key or "").strip() or default(prefix) or ""
    found = service.find_checkpoint(key, infos)
    if found is not None:
        return found
    kind = "sentiment" if prefix == SENTIMENT else "part-of-speech"
    names = ", ".join(service.checkpoint_key(i, infos) for i in infos) or "none"
    raise CheckpointError(
        f"No {kind} checkpoint called {key!r} (task {prefix}...). Available: {names}. "
        f"Your own checkpoints go in {service.user_checkpoint_dir()} ($DMN_CHECKPOINT_DIR)."
    )


# --------------------------------------------------------------------------------------------
# Predicting


@service.on_gpu
def _predict(path: str, sentence: str) -> dict[str, Any]:
    """The one GPU-bound step: strings in, a plain dict out."""
    predictor = service.PREDICTORS.get(path)
    start = time.perf_counter()
    prediction = predictor.predict(sentence, top_k=10)  # room for every label of sst-fine
    details = service.prediction_details(predictor, prediction, start)
    return {**prediction.to_dict(), **details, "tags": [[tag, p] for tag, p in prediction.tags]}


def warning_text(unknown_words: list[str], dropped_words: int, max_words: int | None, reading: str) -> str | None:
    parts = [service.warning_text(unknown_words, 0, reading=reading)] if unknown_words else []
    if dropped_words:
        parts.append(
            f"The sentence is longer than the model's memory ({max_words} words): its first {dropped_words} "
            f"word{'s were' if dropped_words > 1 else ' was'} not read."
        )
    return " ".join(parts) or None


def predict(prefix: str, sentence: str | None, checkpoint: str | None) -> dict:
    """Prediction.to_dict() plus "checkpoint", "warning", "error", "device", "seconds"; never raises."""
    try:
        key, info = resolve(prefix, checkpoint)
        result = _predict(str(info.path), sentence or "")
    except (InputError, CheckpointError) as err:
        failed = service.empty_result((checkpoint or "").strip() or default(prefix), str(err))
        return {**failed, "tags": None}
    max_facts, reading = result.pop("max_facts", None), result.pop("reading", service.UNKNOWN)
    return {
        "checkpoint": key,
        **result,
        "warning": warning_text(result["unknown_words"], result["dropped_facts"], max_facts, reading),
        "error": None,
    }


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
    return predict(SENTIMENT, sentence, checkpoint)


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
    return predict(TAGGING, sentence, checkpoint)


# --------------------------------------------------------------------------------------------
# Drawing


def status(result: dict) -> str:
    if result.get("warning"):
        gr.Warning(result["warning"], duration=TOAST_SECONDS)
        return f"**⚠ Warning:** {html.escape(result['warning'], quote=False)}"
    return ""


def error(result: dict | None) -> str | None:
    if not result:
        return ""
    if result.get("error"):
        gr.Warning(result["error"], duration=TOAST_SECONDS)
        return f"**✘ {html.escape(result['error'], quote=False)}**"
    return None


def heatmap(result: dict):
    return plots.gates_heatmap(result["facts"], result["gates"], result["top_facts"])


def labels(top_answers: list) -> list:
    """The single labels among the top answers (the answer module could also say nothing or two words)."""
    return [[a, p] for a, p in top_answers if a and "," not in a]


def render_sentiment(result: dict | None) -> tuple:
    """Label, warnings, probabilities, gate heatmap, pass slider and the sentence coloured by pass 1."""
    message = error(result)
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
        status(result),
        plots.top_answers_bar(labels(result["top_answers"]), result["answer"]),
        heatmap(result),
        gr.update(visible=len(gates) > 1, maximum=max(2, len(gates)), value=1),
        plots.sentence_by_pass_html(result["facts"], gates, result["top_facts"], 1),
    )


def show_pass(result: dict | None, pass_number: float) -> str:
    if not result or result.get("error") or not result.get("gates"):
        return ""
    return plots.sentence_by_pass_html(result["facts"], result["gates"], result["top_facts"], int(pass_number))


def render_tags(result: dict | None) -> tuple:
    """Summary, warnings, coloured tags with a legend and the gate heatmap."""
    message = error(result)
    if message is not None:
        return message, "", "", None
    summary = (
        f"**{len(result['tags'])} words tagged** · mean tag probability **{result['confidence']:.1%}** · "
        f"{result['passes']} passes · checkpoint `{result['checkpoint']}` · {result['device']}"
    )
    return summary, status(result), plots.tags_html(result["facts"], result["tags"]), heatmap(result)


def refresh(prefix: str):
    def update(current: str | None) -> Any:
        return gr.update(choices=choices(prefix), value=current or default(prefix))

    return update


# --------------------------------------------------------------------------------------------
# The tabs (called inside build_demo's gr.Blocks)


def _sentence_box(elem_id: str, placeholder: str) -> gr.Textbox:
    return gr.Textbox(
        label="Sentence",
        placeholder=placeholder,
        info=f"At most {MAX_SENTENCES} words and {MAX_CHARACTERS:,} characters.",
        elem_id=elem_id,
    )


def _picker(prefix: str, elem_id: str, info: str) -> gr.Dropdown:
    return gr.Dropdown(
        choices(prefix), value=default(prefix), label="Checkpoint", info=info, allow_custom_value=True,
        elem_id=elem_id,
    )  # fmt: skip


def build_sentiment(demo: gr.Blocks) -> gr.Dropdown:
    """The Sentiment tab's contents and events; returns its checkpoint picker (the Train tab refreshes it)."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            about = "sst-binary: positive/negative, ten models averaged; sst-fine: five labels, four of the ten."
            checkpoint = _picker(SENTIMENT, "sst-checkpoint", about)
            sentence = _sentence_box("sst-sentence", SENTIMENT_EXAMPLES[0])
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
    demo.load(refresh(SENTIMENT), [checkpoint], [checkpoint], api_visibility="private")
    return checkpoint


def build_tagging(demo: gr.Blocks) -> gr.Dropdown:
    """The Part-of-speech tab's contents and events; returns its checkpoint picker."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            checkpoint = _picker(
                TAGGING,
                "pos-checkpoint",
                "Penn Treebank tags (UD English-EWT); pos-ewt-ensemble: five taggers averaged.",
            )
            sentence = _sentence_box("pos-sentence", "I love this movie")
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
    demo.load(refresh(TAGGING), [checkpoint], [checkpoint], api_visibility="private")
    return checkpoint
