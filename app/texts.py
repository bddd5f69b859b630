"""The words on the page: how to read the plots, the About tab, and a checkpoint's model card."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from dmn.tasks.babi import BABI_TASK_NAMES, PAPER_DMN_BABI

INTRO = """# Dynamic Memory Network: ask a question about a story
A neural network reads a short story, then takes several **passes** over its sentences, choosing on
each pass which sentences to pay attention to, before it answers. Write a story (one sentence per
line) and a question, or press **Sample** for a story from the bAbI test set, then look at the plots
to see *where* the model looked."""

GATES_HELP = """### What the gates show
The model reads the story as a list of **facts** (one per sentence). It then makes a few **passes**
over them. On every pass it gives each fact a **gate**, a number between 0 and 1 that says how much
attention that fact gets; the facts with high gates are what the model stores in its memory on that
pass. The next pass starts from that memory, so it can look for a *different* fact, e.g. first
"John picked up the football", then "John went to the bedroom" to answer "Where is the football?".

- **Rows** are the facts in story order, **columns** the passes; darker blue = higher gate
  (hover a cell for its exact value).
- ★ marks the fact with the highest gate on each pass.
- After **Sample**, the facts the dataset says are needed to answer are ticked ✔ and outlined in green.
- In a DMN+ model the gates of one pass add up to 1 (attention is shared out between the facts);
  in the original DMN each gate is between 0 and 1 on its own.
- **Importance** (the purple bars right of the gates): how much the answer's probability drops when
  that fact alone is left out. A fact with high gates but no importance was looked at but not needed;
  a fact that matters with low gates says the answer came from somewhere else."""

PASS_VIEW_HELP = (
    "The story coloured by one pass's gates: move the slider, or press ▶ Play, to watch the attention "
    "move from pass to pass. Every plot downloads as a PNG from its camera button (hover the plot)."
)

WHAT_IF_HELP = (
    "Tick facts and rerun: the same question is asked of the story without them, and the new answer and "
    "gates appear beside the old ones. Try leaving out the fact with the highest gate, then one no pass "
    "looked at."
)


ABOUT = r"""
## What is a Dynamic Memory Network?
The Dynamic Memory Network (DMN, Kumar et al. 2016, *Ask Me Anything*) answers questions about a
text. It casts every task as *(input text, question) → answer* and has four parts, trained together.

**1. Input module.** Each word \(w_t\) is looked up in an embedding matrix \(L\) and a GRU (a
recurrent network) reads the whole story. The hidden state at the end of each sentence is that
sentence's **fact** \(c_1, \dots, c_T\):
$$h_t = \mathrm{GRU}(L[w_t],\ h_{t-1})$$

**2. Question module.** Another GRU over the question words (same embedding); its last state is
the question vector \(q\).

**3. Episodic memory module.** Starting from \(m^0 = q\), it makes passes \(i = 1, \dots, T_M\). On
each pass a small network scores every fact against the question and the current memory:
$$z(c, m, q) = [\,c,\ m,\ q,\ c \circ q,\ c \circ m,\ |c - q|,\ |c - m|,\ c^\top W_b\, q,\ c^\top W_b\, m\,]$$
$$g_t^i = \sigma\!\left(W_2 \tanh(W_1 z(c_t, m^{i-1}, q) + b_1) + b_2\right)$$
The **gate** \(g_t^i\) is what the heatmap shows. A GRU then reads the facts again, letting each
fact through only as much as its gate allows, and its last state is the **episode** \(e^i\):
$$h_t^i = g_t^i\, \mathrm{GRU}(c_t, h_{t-1}^i) + (1 - g_t^i)\, h_{t-1}^i, \qquad e^i = h_T^i$$
$$m^i = \mathrm{GRU}(e^i,\ m^{i-1})$$
Because the next pass's gates depend on \(m^{i-1}\), a later pass can find a fact that only
becomes relevant after the first one was found (*transitive reasoning*).

**4. Answer module.** A GRU started at the final memory, \(a_0 = m^{T_M}\), writes the answer one
word at a time until an end-of-answer token, so answers can have several words ("football,milk"):
$$y_t = \mathrm{softmax}(W_a a_t), \qquad a_t = \mathrm{GRU}([\,y_{t-1},\ q\,],\ a_{t-1})$$

**Training.** Cross-entropy on the answer words; on bAbI the paper also trains the gate of pass
\(i\) towards the \(i\)-th *supporting fact* (gate supervision).

## What DMN+ changes (Xiong, Merity and Socher, 2016)
1. **Input fusion:** each sentence becomes one vector (a position-weighted sum of its word
   embeddings), and a bidirectional GRU runs over the sentence vectors, so facts can see each other.
2. **Simpler gate features, softmax attention:**
   $$z = [\,f \circ q,\ f \circ m,\ |f - q|,\ |f - m|\,]$$
   $$g^i = \mathrm{softmax}_t\!\left(W_2 \tanh(W_1 z + b_1) + b_2\right)$$
   so the gates of one pass sum to 1.
3. **Attention GRU:** the gate replaces the GRU's own update gate,
   \(h_t = g_t\, \tilde h_t + (1 - g_t)\, h_{t-1}\).
4. **Untied memory update:** \(m^i = \mathrm{ReLU}(W^i [\,m^{i-1};\ e^i;\ q\,] + b)\), with separate
   weights for every pass. Such a model can run at most the number of passes it was trained with.

## How to read the plots
- **Answer and top answers:** the answer is the most probable word sequence; the bars show the five
  most probable answers and their probabilities (they need not add up to 100%).
- **Gates heatmap:** one row per fact, one column per pass. A dark cell means the model attended
  to that fact on that pass; ★ marks the top fact of each pass; after *Sample* the supporting facts
  from the dataset are ticked ✔ and outlined in green. A well-trained model's stars land on them,
  often in order: pass 1 on the first supporting fact, pass 2 on the second.
- **Per-pass story:** the same gates as coloured text, one pass at a time.
- **Warnings:** words outside the model's vocabulary are read as an "unknown" token (a model trained
  with word signatures, such as the shipped tagger, reads them by their shape: capitals, digits,
  hyphens, ending; one with character features also by their spelling, letter by letter; the
  tagger, which tells "US" from "us", reads a word it saw only in another case, "Housing" at the
  start of a sentence, as the word it saw, and does not warn about it): the
  model still answers, but it cannot know what they mean. Stories longer than
  the model's memory (its *max facts*) are read from the end: the earliest sentences are left out
  and the warning says so.

The API endpoint `ask` returns the same numbers as JSON (see "Use via API" at the bottom of the page).
"""


def _pct(value: Any) -> str:
    return f"{value:.1%}" if isinstance(value, int | float) else "–"


def _task_number(key: str) -> int | None:
    match = re.fullmatch(r"babi:(\d+)", key)
    return int(match.group(1)) if match else None


def _short_path(path: Path) -> str:
    """A checkpoint folder relative to the repository when it lies inside it."""
    try:
        return str(path.relative_to(Path(__file__).resolve().parents[1]))
    except ValueError:
        return str(path)


def accuracy_table(test_accuracy: dict[str, float]) -> str:
    """Markdown table of per-task test accuracy, beside the paper's DMN (bAbI 1k, one model per task)."""
    rows = ["| task | | test accuracy | paper DMN (1k, per task) |", "|---:|---|---:|---:|"]
    for key, acc in test_accuracy.items():
        n = _task_number(key)
        name = BABI_TASK_NAMES.get(n, key) if n else key
        paper = f"{PAPER_DMN_BABI[n]:.1f}%" if n in PAPER_DMN_BABI else "–"
        rows.append(f"| {n or key} | {name} | {_pct(acc)} | {paper} |")
    return "\n".join(rows)


def _data_summary(data: Any) -> str:
    """' Trained on N examples, M held out for validation (...).' from metrics.json's "data", or ''."""
    if not isinstance(data, dict):
        return ""
    parts = [
        f"{data[key]:,} {what}"
        for key, what in (("train_examples", "examples"), ("validation_examples", "held out for validation"))
        if isinstance(data.get(key), int)
    ]
    coverage = data.get("embedding_coverage")
    if isinstance(coverage, float):
        parts.append(f"{coverage:.0%} of the vocabulary started from pretrained vectors")
    return f" Trained on {', '.join(parts)}." if parts else ""


def model_card(summary: Any) -> str:
    """Markdown model card of a checkpoint (an `app.service.ModelSummary`)."""
    config, metrics, info = summary.config, summary.metrics, summary.info
    model = config.get("model", {})
    variant = {"dmn": "DMN", "dmn+": "DMN+"}.get(str(config.get("variant", "")), config.get("variant", "?"))
    passes = (
        f"{summary.trained_passes} (any number can be run)"
        if summary.max_passes is None
        else f"{summary.trained_passes} (at most {summary.max_passes}: untied memory weights per pass)"
    )
    lines = [
        f"## Model card: `{summary.key}`",
        f"*{info.description}*" if info.description else "",
        "",
        "| setting | value |",
        "|---|---|",
        f"| variant | {variant} |",
        f"| trained on | {config.get('task', '?')}, bAbI {config.get('size', '?')} |",
        f"| passes | {passes} |",
        f"| hidden units | {model.get('hidden', '?')} |",
        f"| memory (max facts read) | {model.get('max_facts', '?')} |",
        "| modules | input {input_module}, gate {gate}, episode {episode}, memory update {memory_update} |".format(
            **{k: model.get(k, "?") for k in ("input_module", "gate", "episode", "memory_update")}
        ),
        f"| vocabulary | {len(summary.vocabulary)} words |",
        f"| runs on | {summary.device} |",
        f"| folder | `{_short_path(info.path)}` |",
        "",
        "### Test accuracy",
    ]
    accuracy = metrics.get("test_accuracy")
    if isinstance(accuracy, dict) and accuracy:
        passed = metrics.get("passed")
        tasks = metrics.get("tasks") or len(accuracy)
        lines.append(
            f"Mean **{_pct(metrics.get('mean'))}**"
            + (f", {passed}/{tasks} tasks passed (≥ 95%)" if passed is not None else "")
            + (f", measured on {metrics['date']}" if metrics.get("date") else "")
            + "."
            + _data_summary(metrics.get("data"))
        )
        lines += ["", accuracy_table(accuracy)]
        if metrics.get("revised"):  # a change made after training, e.g. to how words are looked up
            lines += ["", f"*Revised {metrics['revised']}*"]
    else:
        status = metrics.get("status")
        lines.append(
            "No test results in this checkpoint yet"
            + (f" (metrics.json says: *{status}*)." if status else ".")
            + " Run `python -m dmn eval --checkpoint <folder>` to measure them."
        )
    train = config.get("train")
    if isinstance(train, dict) and train:
        lines += ["", "### Training settings", "", "```json", json.dumps(train, indent=2), "```"]
    if config.get("command"):
        lines += ["", "### The command that made it", "", "```bash", str(config["command"]), "```"]
    return "\n".join(lines)


# $$...$$ on its own line is a displayed equation, \( ... \) is inline.
LATEX = [
    {"left": "$$", "right": "$$", "display": True},
    {"left": "\\(", "right": "\\)", "display": False},
]
