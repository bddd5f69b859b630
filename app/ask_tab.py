"""The Ask tab: a story, a question, a checkpoint and its passes; the answer, the gates heatmap,
the story coloured pass by pass, "what if a fact were gone?", Sample and the classroom examples.

Run (and Enter in the question box) calls the public API endpoint "ask", which returns the
prediction as JSON; a second step draws that JSON. Sample and the classroom examples fill the boxes
and then run the same two steps. Nothing here computes anything about the model.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass
from typing import Any

import gradio as gr

from app import playback, plots, service, texts, views
from app.examples import EXAMPLES, find_example
from app.registry import CheckpointRegistry
from dmn.checkpoint import CheckpointError, CheckpointInfo
from dmn.data import DataFormatError
from dmn.predict import MAX_CHARACTERS, MAX_SENTENCES
from dmn.tasks.babi import BABI_TASK_NAMES

OPENING = next(e for e in EXAMPLES if e.task == 2)  # the worked example the page opens on: two passes, two facts
KIND = service.ASK_CHECKPOINTS


# --------------------------------------------------------------------------------------------
# Event handlers (each turns library errors into messages; none draws model math)


def ask(story: str, question: str, checkpoint: str = "", passes: int = 0) -> dict:
    """The Ask tab's one question: what the "ask" endpoint (`ask_batch`) returns for it."""
    return service.ask(story, question, checkpoint, passes)


MAX_BATCH = 64  # concurrent "ask" API calls answered in one forward pass


def ask_batch(story: str, question: str, checkpoint: str = "", passes: int = 0) -> tuple[list[dict]]:
    """Answer a question about a story with a DMN checkpoint; bad input gives "error", not an exception.

    Args:
        story: the story, one sentence per line (or free text, split at . ! ?).
        question: a question about it, e.g. "Where is the football?".
        checkpoint: a checkpoint name as the picker lists it (empty: the shipped babi-joint).
        passes: memory passes (0: the number the model was trained with).

    Returns:
        Prediction.to_dict() (answer, confidence, top_answers, facts, gates [pass][fact], top_facts,
        unknown_words, dropped_facts, passes, importance [per fact: the answer's probability lost
        without it], read_as {new word: known word it was read as}, guess (true when the input is
        outside what the model was trained on), guess_reason) plus "checkpoint", "warning", "error",
        "device", "seconds".
    """
    # the public "ask" endpoint, batched by Gradio: each argument arrives as a list of the waiting calls'
    asks = list(zip(story, question, checkpoint, passes, strict=True))  # type: ignore[call-overload]
    return (service.ask_many(asks),)


def known_answer(sample: dict | None, story: str, question: str) -> tuple[str, list[int], str] | None:
    """(answer, supporting story lines, origin) when this story and question are a Sample or an example."""
    story, question = (story or "").strip(), (question or "").strip()
    if sample and sample.get("story", "").strip() == story and sample.get("question", "").strip() == question:
        return sample["answer"], list(sample["supporting"]), "test"
    example = find_example(story, question)
    if example is not None:
        return example.answer, list(example.supporting), "example"
    return None


def shown_supporting(result: dict, known: tuple[str, list[int], str] | None) -> tuple[list[int], int]:
    """Supporting facts as indices into the facts the model read, and how many were not read."""
    if not known or not result.get("facts"):
        return [], 0
    dropped = result.get("dropped_facts") or 0
    indices = [s - dropped for s in known[1]]
    return [i for i in indices if 0 <= i < len(result["facts"])], sum(i < 0 for i in indices)


def render(result: dict | None, sample: dict | None, story: str, question: str) -> tuple:
    """Draw a result of `ask`: answer, verdict, warnings, top answers, gates heatmap, per-pass story."""
    known = known_answer(sample, story, question)
    watch = gr.update() if known else ""  # a note about an example or a test story, not about other text
    no_plots = (None, None, gr.update(visible=False), "", watch, gr.update(choices=[], value=[]))
    if not result:
        return ("", "", *no_plots)
    if result.get("error"):
        return ("", views.error_line(result["error"]), *no_plots)
    supporting, unread = shown_supporting(result, known)
    answer = result["answer"] or "(no answer)"
    guess = result.get("guess")
    lines = [
        f"## {'A guess' if guess else 'Answer'}: {html.escape(answer)}",
        f"{'Model probability' if guess else 'Confidence'} **{result['confidence']:.1%}** · {result['passes']} "
        f"passes · checkpoint `{result['checkpoint']}` · {result['device']}",
    ]
    if guess:
        lines.append(f"\n**⚠ Not a real answer:** {html.escape(result.get('guess_reason') or '', quote=False)}")
    if known:
        lines.append(
            "\n### ✔ Correct!"
            if result["answer"].lower() == known[0].lower()
            else f"\n### ✘ Wrong, the answer is {html.escape(known[0])}."
        )
    status = []
    if result.get("read_as"):
        status.append(read_as_text(result["read_as"]))
    if result.get("warning"):
        status.append(views.warning_line(result["warning"]))
    if unread:
        status.append(f"**⚠ Note:** {unread} of the supporting facts are among the sentences the model did not read.")
    facts, gates, top = result["facts"], result["gates"], result["top_facts"]
    return (
        "\n".join(lines),
        "\n\n".join(status),
        plots.top_answers_bar(result["top_answers"], result["answer"], known[0] if known else None),
        plots.gates_heatmap(facts, gates, top, supporting, importance=result.get("importance") or ()),
        gr.update(visible=len(gates) > 1, maximum=max(2, len(gates)), value=1),
        plots.story_by_pass_html(facts, gates, top, 1, supporting),
        watch,
        gr.update(choices=[(f"{i + 1}. {fact}", i) for i, fact in enumerate(facts)], value=[]),
    )


def what_if(result: dict | None, left_out: list[int] | None, question: str, checkpoint: str, passes: int) -> tuple:
    """Ask the same question of the story without the ticked facts: a line comparing the answers,
    and the gates before and after, side by side."""
    if not result or not result.get("facts"):
        return "Run a story first.", None, None
    left_out = sorted(set(left_out or []))
    if not left_out:
        return "Tick the facts to leave out, then rerun.", None, None
    facts = result["facts"]
    kept = [fact for i, fact in enumerate(facts) if i not in left_out]
    after = service.ask("\n".join(kept), question, checkpoint, passes)
    if after.get("error"):
        return f"**✘ {html.escape(after['error'], quote=False)}**", None, None
    names = ", ".join(str(i + 1) for i in left_out)
    same = after["answer"] == result["answer"]
    line = (
        f"**Without fact{'s' if len(left_out) > 1 else ''} {names}:** {html.escape(after['answer'])} "
        f"({after['confidence']:.0%}) · as told: {html.escape(result['answer'])} ({result['confidence']:.0%}) · "
        + ("the answer stays." if same else "**the answer changes.**")
    )
    before_plot = plots.gates_heatmap(facts, result["gates"], result["top_facts"], title="As told")
    after_plot = plots.gates_heatmap(after["facts"], after["gates"], after["top_facts"], title=f"Without {names}")
    return line, before_plot, after_plot


def read_as_text(read_as: dict[str, str]) -> str:
    """The note that says which new words were read as which known ones."""
    pairs = ", ".join(f"**{html.escape(new)}** as *{html.escape(known)}*" for new, known in read_as.items())
    return (
        f"**↔ Read as:** {pairs}. The model never saw these words; it read each as a word it knows of the "
        "same kind (a name, a place, a thing) that the story does not use, and the answer is written back "
        "in your words."
    )


def show_pass(result: dict | None, sample: dict | None, story: str, question: str, pass_number: float) -> str:
    """The story coloured by one pass's gates."""
    if not result or result.get("error") or not result.get("gates"):
        return ""
    supporting, _ = shown_supporting(result, known_answer(sample, story, question))
    return plots.story_by_pass_html(result["facts"], result["gates"], result["top_facts"], int(pass_number), supporting)


def sample(task: int) -> tuple[str, str, dict, str]:
    """A random bAbI test story of a task: fills the story and question boxes."""
    try:
        test = service.random_test_story(int(task))
    except (DataFormatError, ValueError, OSError) as err:
        raise gr.Error(f"Could not read a bAbI test story: {err}", print_exception=False) from None
    kind = f"task {test.task} · {BABI_TASK_NAMES[test.task]}"
    note = (
        f"**Random test story, {kind}.** The facts the dataset says are needed to answer are ticked ✔ and "
        "outlined in green in the plots."
        if test.supporting
        else f"**A story written for this demo, {kind}** (no bAbI data on this machine: "
        "`python -m dmn download babi` brings the test sets)."
    )
    return test.story, test.question, asdict(test), note


def choose_checkpoint(key: str, linked_passes: int | None = None) -> tuple:
    """A new checkpoint: its passes range (set to what it was trained with, or to a shared link's
    passes where the model can run them), model card and vocabulary; and the link's passes used up."""
    try:
        summary = service.summarize(key)
    except CheckpointError as err:
        return gr.update(), views.error_line(str(err)), gr.update(), None
    value = linked_passes if linked_passes and 1 <= linked_passes <= summary.slider_max else summary.trained_passes
    return (
        gr.update(maximum=summary.slider_max, value=value, info=passes_info(summary)),
        texts.model_card(summary),
        vocabulary_md(summary),
        None,
    )


def passes_info(summary: service.ModelSummary | None) -> str:
    if summary is None:
        return "How many times the memory reads the story."
    limit = "any number works" if summary.max_passes is None else f"at most {summary.max_passes}"
    return f"How many times the memory reads the story (trained with {summary.trained_passes}; {limit})."


def vocabulary_md(summary: service.ModelSummary | None) -> str:
    if summary is None:
        return ""
    return f"{len(summary.vocabulary)} words: " + ", ".join(summary.vocabulary)


# --------------------------------------------------------------------------------------------
# The tab


@dataclass
class AskTab:
    """The Ask tab's components; `ask_step` and `draw_step` are the keyword arguments of its two
    events (ask the model, draw the result), for the page's events to chain."""

    checkpoint: gr.Dropdown
    story: gr.Textbox
    question: gr.Textbox
    passes: gr.Slider
    linked_passes: gr.State  # a shared link's passes, kept for the checkpoint it names
    vocabulary: gr.Markdown
    share: gr.Button
    link: gr.Textbox
    ask_step: dict[str, Any]
    draw_step: dict[str, Any]


def _question_inputs(pickers: CheckpointRegistry, infos: list[CheckpointInfo], summary: service.ModelSummary | None):
    """The checkpoint picker, story, question, passes, Run, and the Sample task and button."""
    checkpoint = gr.Dropdown(
        KIND.choices(infos),
        value=KIND.default_key(infos),
        label="Checkpoint",
        info="Shipped models and your own (from $DMN_CHECKPOINT_DIR).",
        allow_custom_value=True,
        elem_id="checkpoint",
    )
    pickers.subscribe("ask", checkpoint, KIND, selects_new=False)
    story = gr.Textbox(
        label="Story (one sentence per line)",
        lines=8,
        max_lines=24,
        value=OPENING.story,
        placeholder="Mary went to the kitchen.\nJohn picked up the football.\n...",
        info=f"At most {MAX_SENTENCES} sentences and {MAX_CHARACTERS:,} characters.",
        elem_id="story",
    )
    question = gr.Textbox(label="Question", value=OPENING.question, placeholder="Where is Mary?", elem_id="question")
    passes = gr.Slider(
        1,
        summary.slider_max if summary else service.UNLIMITED_PASSES,
        value=summary.trained_passes if summary else 3,
        step=1,
        label="Passes",
        info=passes_info(summary),
        elem_id="passes",
    )
    run = gr.Button("Run", variant="primary", elem_id="run")
    with gr.Row(equal_height=True):
        task = gr.Dropdown(service.task_choices(), value=1, label="bAbI task", scale=3, elem_id="task")
        sample_button = gr.Button("Sample", scale=1, elem_id="sample")
    return checkpoint, story, question, passes, run, task, sample_button


def _pass_view():
    """The "Show pass" slider, Play, and the story coloured by the pass shown."""
    pass_slider = gr.Slider(
        1, 3, value=1, step=1, label="Show pass", info=texts.PASS_VIEW_HELP, visible=False,
        elem_id="pass-slider",
    )  # fmt: skip
    play = gr.Button("▶ Play the passes", size="sm", elem_id="play")
    return pass_slider, play, gr.HTML(elem_id="story-by-pass")


def _what_if_view():
    """The facts to leave out, Rerun, the comparing line and the gates before and after."""
    with gr.Accordion("What if a fact were gone?", open=True):
        gr.Markdown(texts.WHAT_IF_HELP)
        left_out = gr.CheckboxGroup(label="Leave out", elem_id="left-out")
        rerun = gr.Button("Rerun without them", elem_id="rerun")
        what_if_md = gr.Markdown(elem_id="what-if")
        with gr.Row(equal_height=False):
            before_plot = gr.Plot(show_label=False, elem_id="what-if-before")
            after_plot = gr.Plot(show_label=False, elem_id="what-if-after")
    return left_out, rerun, [what_if_md, before_plot, after_plot]


def _classroom_examples(story: gr.Textbox, question: gr.Textbox, watch_md: gr.Markdown) -> gr.Examples:
    gr.Markdown("### Classroom examples\nPick one: it fills the boxes, runs, and says what to watch.")
    return gr.Examples(
        [[e.story, e.question, e.note] for e in EXAMPLES],
        inputs=[story, question, watch_md],
        example_labels=[f"{e.title}: {e.question}" for e in EXAMPLES],
        label=None,
        examples_per_page=len(EXAMPLES),
    )


def _share_row() -> tuple[gr.Button, gr.Textbox]:
    with gr.Row(equal_height=True):
        share = gr.Button("🔗 Link to this story", scale=1, elem_id="share")
        link = gr.Textbox(
            label="Link: reopens this story, question, checkpoint and passes",
            buttons=["copy"],
            scale=4,
            elem_id="share-link",
        )
    return share, link


def build(pickers: CheckpointRegistry, infos: list[CheckpointInfo], summary: service.ModelSummary | None) -> AskTab:
    """The Ask tab's contents and events (call inside `with gr.Tab(...)`); its checkpoint picker
    subscribes to `pickers` (it lists new checkpoints, without choosing them)."""
    sample_state = gr.State(None)
    linked_passes = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            checkpoint, story, question, passes, run, task, sample_button = _question_inputs(pickers, infos, summary)
        with gr.Column(scale=4):
            answer_md = gr.Markdown(elem_id="answer")
            status_md = gr.Markdown(elem_id="status")
            watch_md = gr.Markdown(OPENING.note, elem_id="watch")
            top_plot = gr.Plot(show_label=False, elem_id="top-answers")
    gr.Markdown(texts.GATES_HELP)
    gates_plot = gr.Plot(show_label=False, elem_id="gates")
    pass_slider, play, pass_html = _pass_view()
    left_out, rerun, what_if_outputs = _what_if_view()
    examples = _classroom_examples(story, question, watch_md)
    share, link = _share_row()
    with gr.Accordion("Raw output: what the `ask` API returns", open=False):
        result_json = gr.JSON(label="ask", elem_id="result-json")
    with gr.Accordion("Words this model knows", open=False):
        vocabulary = gr.Markdown(vocabulary_md(summary))

    private: dict[str, Any] = {"api_visibility": "private"}
    shown = [sample_state, story, question]  # what decides the supporting facts drawn
    draw_outputs = [answer_md, status_md, top_plot, gates_plot, pass_slider, pass_html, watch_md, left_out]
    draw_step = dict(fn=render, inputs=[result_json, *shown], outputs=draw_outputs, **private)
    ask_step = dict(
        fn=ask, inputs=[story, question, checkpoint, passes], outputs=[result_json], concurrency_id="model", **private
    )
    gr.api(ask_batch, api_name="ask", batch=True, max_batch_size=MAX_BATCH, concurrency_id="model")
    gr.on([run.click, question.submit], **ask_step).then(**draw_step)
    sample_button.click(sample, [task], [story, question, sample_state, watch_md], api_name="sample").success(
        **ask_step
    ).then(**draw_step)
    examples.load_input_event.then(**ask_step).then(**draw_step)
    pass_slider.input(show_pass, [result_json, *shown, pass_slider], [pass_html], **private)
    playback.attach(play, result_json, pass_slider, pass_html, show_pass, shown)
    rerun.click(what_if, [result_json, left_out, question, checkpoint, passes], what_if_outputs, **private)
    return AskTab(checkpoint, story, question, passes, linked_passes, vocabulary, share, link, ask_step, draw_step)


def follow_checkpoint(tab: AskTab, model_card: gr.Markdown) -> None:
    """A new checkpoint in the Ask tab sets its passes and vocabulary, and the About tab's model card."""
    tab.checkpoint.change(
        choose_checkpoint, [tab.checkpoint, tab.linked_passes], [tab.passes, model_card, tab.vocabulary,
        tab.linked_passes], api_visibility="private",
    )  # fmt: skip
