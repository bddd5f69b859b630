"""Drawing what a prediction returned: Plotly figures and the story coloured by one pass's gates.

Every function takes plain values (facts, gates, answers) and only draws them; no model math here.
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

COLOURS = "Blues"  # gate 0 near-white, gate 1 dark blue, in the heatmap and the coloured story alike
TOP_COLOUR = "#f59e0b"  # the most attended fact of each pass (star)
SUPPORT_COLOUR = "#16a34a"  # supporting facts of a bAbI test question (green outline, tick)
IMPORTANCE_COLOUR = "#7c3aed"  # a fact's importance: how much the answer needs it
FONT = dict(family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size=13)


def wrap(text: str, width: int = 48, max_lines: int = 3) -> str:
    """Text broken into <br>-joined lines for a Plotly axis label (long text ends in '…')."""
    lines = textwrap.wrap(text, width) or [""]
    if len(lines) > max_lines:
        rest = textwrap.shorten(" ".join(lines[max_lines - 1 :]), width, placeholder="…")
        lines = [*lines[: max_lines - 1], rest]
    return "<br>".join(html.escape(line) for line in lines)


def fact_labels(facts: Sequence[str], supporting: Sequence[int] = (), width: int = 48) -> list[str]:
    """Unique axis labels '3. Mary went home.' (repeated sentences stay apart), supporting ones ticked."""
    labels = []
    for i, fact in enumerate(facts):
        label = f"{i + 1}. {wrap(fact, width)}"
        if i in supporting:
            label = f"<span style='color:{SUPPORT_COLOUR}'><b>✔ {label}</b></span>"
        labels.append(label)
    return labels


def gates_heatmap(
    facts: Sequence[str],
    gates: Sequence[Sequence[float]],
    top_facts: Sequence[int],
    supporting: Sequence[int] = (),
    title: str | None = None,
    importance: Sequence[float] = (),
) -> go.Figure:
    """Heatmap of the attention gates: one row per fact (story order), one column per pass.

    top_facts: the most attended fact of each pass (Prediction.top_facts), marked with a star.
    supporting: indices (into facts) of the facts a bAbI question needs, outlined in green.
    importance: per fact, how much the answer's probability drops without it, drawn as bars to the
    right of the gates on the same rows (where attention and importance agree, and where not).
    """
    passes = len(gates)
    with_importance = len(importance) == len(facts) > 0
    labels = fact_labels(facts, supporting)
    columns = [f"Pass {p + 1}" for p in range(passes)]
    show_values = len(facts) * passes <= 400
    fig = make_subplots(
        rows=1, cols=2 if with_importance else 1, shared_yaxes=True, horizontal_spacing=0.03,
        column_widths=[0.72, 0.28] if with_importance else None,
    )  # fmt: skip
    fig.add_trace(_gates_trace(facts, gates, top_facts, labels, columns, show_values, with_importance), row=1, col=1)
    if with_importance:
        _add_importance(fig, importance, labels)
    if not show_values:  # too many cells for text: stars as markers instead
        stars = [(columns[p], labels[f]) for p, f in enumerate(top_facts) if 0 <= f < len(facts)]
        fig.add_trace(
            go.Scatter(
                x=[x for x, _ in stars],
                y=[y for _, y in stars],
                mode="markers",
                marker=dict(symbol="star", size=12, color=TOP_COLOUR, line=dict(color="black", width=1)),
                name="★ most attended fact of the pass",
                hoverinfo="skip",
            )
        )
    _add_supporting(fig, supporting, len(facts), passes)
    lines = sum(label.count("<br>") + 1 for label in labels)
    fig.update_layout(
        title=dict(text=title, x=0, xanchor="left") if title else None,
        height=max(260, 130 + 22 * lines + 6 * len(facts)),
        margin=dict(l=10, r=10, t=70 if title else 40, b=40 if supporting or not show_values else 10),
        font=FONT,
        showlegend=bool(supporting) or not show_values,
        legend=dict(orientation="h", yanchor="top", y=-0.02, x=0, xanchor="left"),
        plot_bgcolor="white",
    )
    fig.update_xaxes(side="top", type="category", fixedrange=True, row=1, col=1)
    fig.update_yaxes(autorange="reversed", type="category", automargin=True, fixedrange=True)
    return fig


def _gates_trace(
    facts: Sequence[str],
    gates: Sequence[Sequence[float]],
    top_facts: Sequence[int],
    labels: list[str],
    columns: list[str],
    show_values: bool,
    beside_importance: bool,
) -> go.Heatmap:
    """The gates as heatmap cells, each with its value (blank below 0.01, to keep the picture calm),
    starred on each pass's top fact."""
    passes = len(gates)
    z = [[gates[p][f] for p in range(passes)] for f in range(len(facts))]
    custom = [[[f + 1, facts[f], p + 1] for p in range(passes)] for f in range(len(facts))]
    cell_text = [
        [("★ " if top_facts[p] == f else "") + (f"{g:.2f}" if g >= 0.005 else "") for p, g in enumerate(row)]
        for f, row in enumerate(z)
    ]
    return go.Heatmap(
        z=z,
        x=columns,
        y=labels,
        zmin=0,
        zmax=1,
        colorscale=COLOURS,
        colorbar=dict(
            title=dict(text="gate"),
            thickness=12,
            len=min(1.0, 12 / max(12, len(facts))),
            x=1.0 if beside_importance else None,
            xanchor="left",
        ),  # fmt: skip
        customdata=custom,
        hovertemplate=(
            "<b>Pass %{customdata[2]}</b>, fact %{customdata[0]}<br>%{customdata[1]}<br>gate = %{z:.6f}<extra></extra>"
        ),
        text=cell_text if show_values else None,
        texttemplate="%{text}" if show_values else None,
        xgap=2,
        ygap=2,
        name="gates",
    )


def _add_importance(fig: go.Figure, importance: Sequence[float], labels: list[str]) -> None:
    """Each fact's importance as a bar in the second column, on its row of the gates."""
    fig.add_trace(
        go.Bar(
            x=list(importance),
            y=labels,
            orientation="h",
            marker_color=[IMPORTANCE_COLOUR if v >= 0 else "#9ca3af" for v in importance],
            text=[f"{v:+.2f}" if abs(v) >= 0.005 else "" for v in importance],
            textposition="auto",
            customdata=[[f + 1] for f in range(len(labels))],
            hovertemplate="fact %{customdata[0]}: without it the answer's probability drops by %{x:.4f}<extra></extra>",
            name="importance",
            showlegend=False,
        ),
        row=1,
        col=2,
    )
    low = min(0.0, *importance)
    fig.update_xaxes(
        range=[low - 0.05, 1.05], side="top", title=dict(text="importance", standoff=4), fixedrange=True,
        gridcolor="#e5e7eb", zeroline=True, zerolinecolor="#6b7280", row=1, col=2,
    )  # fmt: skip


def _add_supporting(fig: go.Figure, supporting: Sequence[int], facts: int, passes: int) -> None:
    """Green outlines round the supporting facts' rows, and their legend entry."""
    for f in sorted(set(supporting)):
        if 0 <= f < facts:
            fig.add_shape(
                type="rect", xref="x", yref="y", x0=-0.5, x1=passes - 0.5, y0=f - 0.5, y1=f + 0.5,
                line=dict(color=SUPPORT_COLOUR, width=3),
            )  # fmt: skip
    if supporting:
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                marker=dict(symbol="square-open", size=14, color=SUPPORT_COLOUR, line=dict(width=3)),
                name="supporting fact (from the dataset)",
            )
        )


def top_answers_bar(
    top_answers: Sequence[Sequence], answer: str | None = None, expected: str | None = None
) -> go.Figure:
    """Horizontal bars of the k most probable answers, best on top.

    The model's answer is dark blue; a known right answer (Sample) is green.
    """
    names = [str(a) or "(nothing)" for a, _ in top_answers]
    probs = [float(p) for _, p in top_answers]
    colours = [
        SUPPORT_COLOUR if expected is not None and a == expected else "#1d4ed8" if a == answer else "#93c5fd"
        for a, _ in top_answers
    ]
    fig = go.Figure(
        go.Bar(
            x=probs,
            y=names,
            orientation="h",
            marker_color=colours,
            text=[f"{p:.1%}" for p in probs],
            textposition="auto",
            hovertemplate="%{y}: p = %{x:.6f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=dict(text="Top answers (probability)", x=0, xanchor="left"),
        height=80 + 36 * max(1, len(names)),
        margin=dict(l=10, r=10, t=40, b=10),
        font=FONT,
        plot_bgcolor="white",
        xaxis=dict(range=[0, 1.02], tickformat=".0%", dtick=0.25, fixedrange=True, gridcolor="#e5e7eb"),
        yaxis=dict(autorange="reversed", type="category", automargin=True, fixedrange=True),
        showlegend=False,
    )
    return fig


def gate_colour(gate: float) -> str:
    """The heatmap's colour for a gate value (0 near-white, 1 dark blue) as an rgb() string."""
    return sample_colorscale(COLOURS, [min(1.0, max(0.0, float(gate)))])[0]


def _pass_shading(
    items: Sequence[str], gates: Sequence[Sequence[float]], top_facts: Sequence[int], pass_number: int
) -> tuple[int, int, list[tuple[str, float, str]]]:
    """The pass shown (0-based, pass_number clamped to the passes there are), its most attended item,
    and per item its text, its gate on that pass and a text colour readable on the gate's colour."""
    p = min(max(int(pass_number), 1), len(gates)) - 1
    row = gates[p]
    shaded = []
    for i, item in enumerate(items):
        g = row[i] if i < len(row) else 0.0
        shaded.append((item, g, "white" if g > 0.5 else "#111827"))
    return p, top_facts[p], shaded


def story_by_pass_html(
    facts: Sequence[str],
    gates: Sequence[Sequence[float]],
    top_facts: Sequence[int],
    pass_number: int,
    supporting: Sequence[int] = (),
) -> str:
    """The story as HTML, each fact shaded by its gate on one pass (1-based), the top fact starred."""
    if not facts or not gates:
        return ""
    p, top, shaded = _pass_shading(facts, gates, top_facts, pass_number)
    items = []
    for i, (fact, g, text_colour) in enumerate(shaded):
        marks = ""
        if i == top:
            marks += f" <span style='color:{TOP_COLOUR}' title='most attended fact of this pass'>★</span>"
        if i in supporting:
            marks += f" <span style='color:{SUPPORT_COLOUR}' title='supporting fact'>✔</span>"
        items.append(
            f"<li style='background:{gate_colour(g)};color:{text_colour}'>"
            f"<span class='dmn-gate' style='color:{text_colour}'>{g:.2f}</span> "
            f"<span class='dmn-idx' style='color:{text_colour}'>{i + 1}.</span> "
            f"{html.escape(fact)}{marks}</li>"
        )
    start = "the question" if p == 0 else f"the memory pass {p} left"
    where = f", looks most at fact {top + 1}" if 0 <= top < len(facts) else ""
    return (
        f"<div class='dmn-story'><div class='dmn-story-title'>Pass {p + 1} of {len(gates)}, starting from "
        f"{start}{where} · darker = more attention (gate value on the left)</div><ol>{''.join(items)}</ol></div>"
    )


STORY_CSS = """
.dmn-story ol { list-style: none; padding: 0; margin: 0; }
.dmn-story li { padding: 3px 8px; margin: 2px 0; border-radius: 4px; font-size: 15px; }
.dmn-story .dmn-gate { display: inline-block; min-width: 2.6em; font-family: ui-monospace, monospace;
  font-size: 13px; opacity: 0.85; }
.dmn-story .dmn-idx { opacity: 0.7; }
.dmn-story-title { font-size: 13px; opacity: 0.8; margin-bottom: 4px; }
"""


LOSS_COLOUR = "#dc2626"
ACCURACY_COLOUR = "#1d4ed8"
CURVES = (  # the two curves, left and right: (history key, name, colour, value on hover)
    ("train_loss", "training loss", LOSS_COLOUR, "loss %{y:.4f}"),
    ("val_accuracy", "validation accuracy", ACCURACY_COLOUR, "%{y:.1%}"),
)


def training_curves(history: Sequence[dict], epochs: int | None = None, best_epoch: int | None = None) -> go.Figure:
    """Training loss and validation accuracy per epoch, side by side; the best epoch starred.

    history: one dict per finished epoch with "epoch", "train_loss" and "val_accuracy" (0-1).
    epochs: the epochs planned (the x axis starts at up to 10 epochs wide and grows with the run).
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Training loss", "Validation accuracy"), horizontal_spacing=0.1)
    x = [h["epoch"] for h in history]
    for col, (key, name, colour, value) in enumerate(CURVES, start=1):
        fig.add_trace(
            go.Scatter(
                x=x, y=[h[key] for h in history], mode="lines+markers", name=name,
                line=dict(color=colour, width=2), marker=dict(size=6),
                hovertemplate=f"epoch %{{x}}: {value}<extra></extra>",
            ),
            row=1, col=col,
        )  # fmt: skip
    best = [h for h in history if h["epoch"] == best_epoch]
    if best:
        fig.add_trace(
            go.Scatter(
                x=[best[0]["epoch"]], y=[best[0]["val_accuracy"]], mode="markers", name="best epoch (kept)",
                marker=dict(symbol="star", size=16, color=TOP_COLOUR, line=dict(color="black", width=1)),
                hovertemplate="best: epoch %{x}, %{y:.1%}<extra></extra>",
            ),
            row=1, col=2,
        )  # fmt: skip
    last = max([min(epochs or 10, 10), *x, 1])  # the axis grows with the run, from 10 epochs (or fewer)
    axis = dict(range=[0.5, last + 0.5], title=dict(text="epoch"), gridcolor="#e5e7eb", zeroline=False)
    if last <= 12:
        axis["dtick"] = 1
    fig.update_xaxes(**axis)
    fig.update_yaxes(gridcolor="#e5e7eb", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", gridcolor="#e5e7eb", row=1, col=2)
    if not history:
        fig.add_annotation(
            text="The curves grow here after every epoch.", xref="paper", yref="paper", x=0.5, y=0.5,
            showarrow=False, font=dict(size=14, color="#6b7280"),
        )  # fmt: skip
    fig.update_layout(
        height=300,
        margin=dict(l=10, r=10, t=40, b=10),
        font=FONT,
        plot_bgcolor="white",
        showlegend=False,
    )
    return fig


# --------------------------------------------------------------------------------------------
# One-sentence models (sentiment, part of speech): every word is a fact


def sentence_by_pass_html(
    words: Sequence[str], gates: Sequence[Sequence[float]], top_facts: Sequence[int], pass_number: int
) -> str:
    """The sentence inline, each word shaded by its gate on one pass (1-based), the top word starred."""
    if not words or not gates:
        return ""
    p, top, shaded = _pass_shading(words, gates, top_facts, pass_number)
    spans = "".join(_word_span(i, word, g, colour, i == top) for i, (word, g, colour) in enumerate(shaded))
    return (
        f"<div class='dmn-sentence'><div style='font-size:13px;opacity:0.8;margin-bottom:4px'>Pass {p + 1} of "
        f"{len(gates)}: darker = more attention (hover a word for its gate)</div>"
        f"<div style='font-size:17px;line-height:2'>{spans}</div></div>"
    )


def _word_span(i: int, word: str, gate: float, colour: str, top: bool) -> str:
    star = f"<sup style='color:{TOP_COLOUR}'>★</sup>" if top else ""
    return (
        f"<span class='dmn-word' title='word {i + 1}, gate {gate:.3f}' style='background:{gate_colour(gate)};"
        f"color:{colour};padding:2px 5px;margin:2px;border-radius:4px;display:inline-block'>"
        f"{html.escape(word)}{star}</span>"
    )


# Penn Treebank tags (as in UD English-EWT's xpos) in coarse groups, one colour each
TAG_GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "noun": ("#fde68a", ("NN", "NNS", "NNP", "NNPS")),
    "verb": ("#fca5a5", ("VB", "VBD", "VBG", "VBN", "VBP", "VBZ", "MD")),
    "adjective": ("#bbf7d0", ("JJ", "JJR", "JJS")),
    "adverb": ("#bfdbfe", ("RB", "RBR", "RBS", "WRB")),
    "pronoun": ("#e9d5ff", ("PRP", "PRP$", "WP", "WP$", "EX")),
    "determiner": ("#fed7aa", ("DT", "PDT", "WDT")),
    "preposition / particle": ("#99f6e4", ("IN", "TO", "RP")),
    "conjunction": ("#fbcfe8", ("CC",)),
    "number": ("#d9f99d", ("CD",)),
}
OTHER_TAG_COLOUR = "#e5e7eb"  # punctuation, symbols and the rest


def tag_colour(tag: str) -> str:
    for colour, tags in TAG_GROUPS.values():
        if tag in tags:
            return colour
    return OTHER_TAG_COLOUR


def tags_html(words: Sequence[str], tags: Sequence[Sequence]) -> str:
    """The words as coloured tokens, each with its tag under it (probability on hover), and a legend."""
    if not words:
        return ""
    tokens = []
    for word, (tag, p) in zip(words, tags, strict=False):
        tokens.append(
            f"<span class='dmn-tag' title='{html.escape(str(tag))}: p = {float(p):.3f}' style='display:inline-flex;"
            f"flex-direction:column;align-items:center;background:{tag_colour(str(tag))};color:#111827;"
            f"padding:2px 6px;margin:3px;border-radius:5px'><span style='font-size:16px'>{html.escape(word)}"
            f"</span><b style='font-size:11px;font-family:ui-monospace,monospace'>{html.escape(str(tag))}</b></span>"
        )
    legend = "".join(
        f"<span style='background:{colour};color:#111827;padding:1px 6px;margin:2px;border-radius:4px;"
        f"display:inline-block' title='{' '.join(group)}'>{name}</span>"
        for name, (colour, group) in [*TAG_GROUPS.items(), ("other (punctuation, symbols…)", (OTHER_TAG_COLOUR, ()))]
    )
    return (
        f"<div class='dmn-tags'><div>{''.join(tokens)}</div>"
        f"<div style='font-size:12px;margin-top:6px'>Legend: {legend}</div></div>"
    )
