"""Accuracy per task, and the paper's table to compare against."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Sequence

import torch

from dmn.data import EOS, Example, Vocab, batches
from dmn.tasks import babi, load_task, paper_score

PASS_THRESHOLD = 0.95


def decode(logits: torch.Tensor, answers: Sequence[str]) -> list[list[str]]:
    """Greedy answer words per example from logits [B, A, V], up to the first end token."""
    words = []
    for row in logits.argmax(-1).tolist():
        out = []
        for i in row:
            if answers[i] == EOS:
                break
            out.append(answers[i])
        words.append(out)
    return words


def best_tags(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A tagger's (probability, answer id) per fact from logits [..., V]; never the end token (id 0),
    which is no tag."""
    best, index = torch.softmax(logits[..., 1:], -1).max(-1)
    return best, index + 1


@torch.no_grad()
def _tally(
    model: torch.nn.Module,
    vocab: Vocab,
    examples: Sequence[Example],
    group: Callable[[Example, list[list[str]]], str | list[str]],
    device: torch.device | str,
    batch_size: int,
) -> dict[str, tuple[int, int]]:
    """(right, total) per group: exact match of the whole answer, or for a tagger one count per
    word. group(example, facts read) names the example's group, or for a tagger each fact's (word's)."""
    was_training = model.training
    model.eval()
    tagging = model.config.answer_mode == "tags"
    max_facts = model.config.max_facts
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for batch in batches(examples, vocab, batch_size, **model.config.layout):
        logits = model(batch.to(device)).logits
        if tagging:
            right = (best_tags(logits)[1] == batch.answer.to(logits.device)).cpu()
            for ex, row in zip(batch.examples, right.tolist(), strict=True):
                for name, ok in zip(group(ex, ex.context[-max_facts:]), row, strict=False):  # row is padded
                    counts[name][0] += ok
                    counts[name][1] += 1
        else:
            for ex, answer in zip(batch.examples, decode(logits, vocab.answers), strict=True):
                name = group(ex, ex.context[-max_facts:])
                counts[name][0] += answer == ex.answer
                counts[name][1] += 1
    model.train(was_training)
    return {name: (right, total) for name, (right, total) in counts.items()}


def accuracy_by_task(model: torch.nn.Module, vocab: Vocab, examples: Sequence[Example],
                     device: torch.device | str = "cpu", batch_size: int = 500) -> dict[str, float]:  # fmt: skip
    """Accuracy (0-1) per task, tasks in the order they first appear: exact match of the whole
    answer, or for a tagger the share of words tagged right."""
    tagging = model.config.answer_mode == "tags"
    counts = _tally(
        model, vocab, examples, lambda ex, facts: [ex.task] * len(facts) if tagging else ex.task, device, batch_size
    )
    tasks = dict.fromkeys(ex.task for ex in examples)
    return {task: counts[task][0] / counts[task][1] for task in tasks}


def accuracy_by_word_kind(model: torch.nn.Module, vocab: Vocab, examples: Sequence[Example],
                          device: torch.device | str = "cpu", batch_size: int = 500,
                          ) -> dict[str, tuple[int, float]]:  # fmt: skip
    """(count, accuracy) of words in and outside the vocabulary for a tagger, or of questions
    whose words are all known and of those with an unknown word for the other models."""
    if model.config.answer_mode == "tags":
        groups = ("known words", "unknown words")
        counts = _tally(
            model, vocab, examples, lambda ex, facts: [groups[not vocab.knows(f[0])] for f in facts], device, batch_size
        )
    else:
        groups = ("all words known", "with an unknown word")

        def group(ex: Example, facts: list[list[str]]) -> str:
            return groups[bool(vocab.unknown([w for fact in facts for w in fact] + ex.question))]

        counts = _tally(model, vocab, examples, group, device, batch_size)
    return {name: (counts[name][1], counts[name][0] / counts[name][1]) for name in groups if name in counts}


@torch.no_grad()
def gate_accuracy(
    model: torch.nn.Module,
    vocab: Vocab,
    examples: Sequence[Example],
    device: torch.device | str = "cpu",
    batch_size: int = 500,
) -> dict[str, list[float | None]]:
    """Per task, for every pass i: the share of questions whose most attended fact on pass i is
    their i-th supporting fact, among the questions that have one (None: none has). This is what
    gate supervision trains; it tells a wrong answer from a wrong attention."""
    was_training = model.training
    model.eval()
    counts: dict[str, list[list[int]]] = {}
    for batch in batches(examples, vocab, batch_size, **model.config.layout):
        gates = model(batch.to(device)).gates.cpu()  # [B, P, F]
        passes = min(gates.size(1), batch.supporting.size(1))
        wanted = batch.supporting[:, :passes]  # [B, P'], -1: no supporting fact for that pass
        hits = gates[:, :passes].argmax(-1) == wanted
        for ex, row_hits, row_wanted in zip(batch.examples, hits.tolist(), wanted.tolist(), strict=True):
            task = counts.setdefault(ex.task, [[0, 0] for _ in range(gates.size(1))])
            for i, (hit, fact) in enumerate(zip(row_hits, row_wanted, strict=True)):
                if fact >= 0:
                    task[i][0] += hit
                    task[i][1] += 1
    model.train(was_training)
    tasks = dict.fromkeys(ex.task for ex in examples)  # in the order they first appear, as accuracy_by_task
    return {task: [right / total if total else None for right, total in counts[task]] for task in tasks}


@torch.no_grad()
def mean_loss(
    model: torch.nn.Module,
    vocab: Vocab,
    examples: Sequence[Example],
    device: torch.device | str = "cpu",
    batch_size: int = 500,
    gate_weight: float = 0.0,
    gate_loss: str = "bce",
) -> float:
    """The training objective per example (`DMN.loss`: the answers, plus gate_weight times the
    gates' loss), the model in eval mode."""
    was_training = model.training
    model.eval()
    total = 0.0
    for batch in batches(examples, vocab, batch_size, **model.config.layout):
        batch = batch.to(device)
        total += model.loss(model(batch), batch, gate_weight, gate_loss).item() * len(batch.examples)
    model.train(was_training)
    return total / len(examples)


def accuracy_on_test_set(
    model: torch.nn.Module,
    vocab: Vocab,
    task: str,
    size: str = "1k",
    data_dir: str | os.PathLike | None = None,
    device: torch.device | str = "cpu",
) -> dict[str, float]:
    """Accuracy per task on the official test set of a task ("babi:all", "sst:binary", "pos:ewt", ...)."""
    return accuracy_by_task(model, vocab, load_task(task, "test", size, data_dir), device=device)


def summary(accuracy: dict[str, float]) -> dict[str, float | int]:
    """Mean accuracy and the number of tasks passed (>= 95%)."""
    return {
        "mean": sum(accuracy.values()) / len(accuracy),
        "passed": sum(a >= PASS_THRESHOLD for a in accuracy.values()),
        "tasks": len(accuracy),
    }


def task_label(task: str) -> str:
    """'babi:3' -> '3 three supporting facts'; other tasks keep their name."""
    return babi.task_label(task) if task.startswith("babi:") else task


def format_gate_table(by_task: dict[str, list[float | None]]) -> str:
    """gate_accuracy's result as a table: one row per task, one column per pass ('-': no supporting fact)."""
    rows = {task: per_pass for task, per_pass in by_task.items() if any(share is not None for share in per_pass)}
    if not rows:
        return "these questions have no supporting facts: no gate accuracy"
    passes = max(len(per_pass) for per_pass in rows.values())
    lines = ["questions whose most attended fact on pass i is their i-th supporting fact (%):"]
    lines.append(f"{'task':<32}" + "".join(f"{'pass ' + str(i + 1):>8}" for i in range(passes)))
    for task, per_pass in rows.items():
        cells = "".join(f"{'-' if share is None else f'{share * 100:.1f}':>8}" for share in per_pass)
        lines.append(f"{task_label(task):<32}{cells}")
    return "\n".join(lines)


def format_table(accuracy: dict[str, float], paper_column: str = "dmn", notes: dict[str, str] | None = None) -> str:
    """Per-task table with a paper's column beside ours (bAbI: `babi.PAPER_COLUMNS`, the DMN's 1k
    table by default), the mean and (bAbI) the tasks passed; `notes` adds a word to a task's row."""
    title, babi_scores = babi.PAPER_COLUMNS[paper_column]
    lines = [f"{'task':<32} {'ours %':>7} {title:>12}", "-" * 53]
    paper_scores = []
    for task, acc in accuracy.items():
        family, _, number = task.partition(":")
        name, paper = task_label(task), paper_score(task)
        if family == "babi" and number.isdigit():
            paper = babi_scores[int(number)]
        if paper is not None:
            paper_scores.append(paper)
        paper_text = f"{paper:.1f}" if paper is not None else "-"
        note = f"  {notes[task]}" if notes and task in notes else ""
        lines.append(f"{name:<32} {acc * 100:>7.1f} {paper_text:>12}{note}")
    s = summary(accuracy)
    lines.append("-" * 53)
    paper_mean = f"{sum(paper_scores) / len(paper_scores):.1f}" if paper_scores else "-"
    lines.append(f"{'mean':<32} {s['mean'] * 100:>7.1f} {paper_mean:>12}")
    if any(task.startswith("babi:") for task in accuracy):
        lines.append(f"{'passed (>= 95%)':<32} {s['passed']:>4}/{s['tasks']:<2}")
    if "pos:ewt" in accuracy:
        lines.append("(the paper's tagging result is on the WSJ Penn Treebank; ours is on UD English EWT)")
    return "\n".join(lines)
