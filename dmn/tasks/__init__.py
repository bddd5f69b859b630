"""The task registry: every task family (bAbI, SST, POS) in one module of this package, holding
its reader, download, fact unit, answer mode, vocabulary options, paper scores and answer
translations. Everything else asks the registry (`family_of`, `load_task`, `DOWNLOADS`).

Adding a task family: a module with a `FAMILY = TaskFamily(...)`, and its line in `_families`.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dmn.data import Example, resolve_data_dir
from dmn.download import Download

HELD_OUT = "held-out"  # the split of the training sentences that a run's hold_out kept out of training
HOLD_OUT_SEED = 2016  # one fixed choice of held-out sentences, whatever a run's own seed


@dataclass(frozen=True)
class Request:
    """What `load_task` asks of a family's reader."""

    task: str  # e.g. babi:1,2 or sst:fine
    split: str  # train, dev or test (the held-out split reads train)
    size: str  # bAbI: 1k or 10k
    data_dir: Path
    phrases: bool  # SST: also every labelled phrase (training only)
    keep: Callable[[int], set[int]] | None  # of that many training sentences, those to read (None: all)

    def kept(self, examples: list[Example]) -> list[Example]:
        """The examples `keep` keeps, of one sentence each."""
        if self.keep is None:
            return examples
        keep = self.keep(len(examples))
        return [ex for number, ex in enumerate(examples) if number in keep]


@dataclass(frozen=True)
class TaskFamily:
    name: str  # the part of a task's name before ":"
    title: str
    tasks: str  # the tasks it names, for help texts ("babi:N, babi:N,M,... or babi:all")
    read: Callable[[Request], list[Example]]
    fact_unit: str  # DMNConfig.fact_unit: "sentence" (a story's sentences) or "word" (a sentence's words)
    answer_mode: str  # DMNConfig.answer_mode: "sequence" (answer words) or "tags" (one answer per fact)
    lowercase: bool = True  # the vocabulary lower-cases words
    case_fallback: bool = False  # an unknown word is read as its lower-case form when that is known
    learns_kinds: bool = False  # reads new names, places and objects as known words of their kind (dmn/kinds)
    rephrase: Callable[[Example, float, random.Random], Example] | None = None  # freer phrasing for training
    download: Download | None = None
    files: dict[str, str] = field(default_factory=dict)  # split -> its file in the download's folder
    phrases: bool = False  # can also train on every labelled phrase of its sentences (SST)
    paper: dict[str, float] = field(default_factory=dict)  # task -> the DMN paper's test accuracy %
    translations: dict[tuple[str, str], dict[str, str | None]] = field(default_factory=dict)
    # (source task, target task) -> the target's answer of each source answer (None: dropped)

    @property
    def word_level(self) -> bool:
        """One sentence per example, every word a fact: validated on the official dev set, and
        training sentences can be held out (`hold_out`)."""
        return self.fact_unit == "word"


def _families() -> dict[str, TaskFamily]:
    from dmn.tasks import babi, pos, sst

    return {family.name: family for family in (babi.FAMILY, sst.FAMILY, pos.FAMILY)}


FAMILIES = _families()
DOWNLOADS = {family.download.name: family.download for family in FAMILIES.values() if family.download}
TASK_HELP = ", ".join(family.tasks for family in FAMILIES.values())


def family_of(task: str) -> TaskFamily:
    """The family of a task name ("babi:3" -> bAbI); ValueError for one no family has."""
    family = FAMILIES.get(task.partition(":")[0])
    if family is None:
        raise ValueError(f"unknown task {task!r}: use {TASK_HELP}")
    return family


def rephrased(examples: list[Example], chance: float, rng: random.Random) -> list[Example]:
    """The examples with their family's freer phrasing (`TaskFamily.rephrase`), each rewrite taken
    with probability `chance`; families without one keep their examples as they are."""
    families = {ex.task: FAMILIES.get(ex.task.partition(":")[0]) for ex in examples}
    return [
        families[ex.task].rephrase(ex, chance, rng) if families[ex.task] and families[ex.task].rephrase else ex
        for ex in examples
    ]


def paper_score(task: str) -> float | None:
    """The DMN paper's test accuracy % on this task (None: it has none)."""
    family = FAMILIES.get(task.partition(":")[0])
    return family.paper.get(task) if family else None


def held_out_sentences(count: int, total: int) -> set[int]:
    """Which of `total` training sentences (their numbers) `hold_out=count` keeps out of training:
    one fixed random choice, the same for every run, so that the models of several seeds, and
    their ensembles, are all measured on the same sentences."""
    if not 0 < count < total:
        raise ValueError(f"--hold-out takes 1 to {total - 1:,} of the {total:,} training sentences, not {count}")
    return set(np.random.default_rng(HOLD_OUT_SEED).choice(total, size=count, replace=False).tolist())


def load_task(
    task: str,
    split: str,
    size: str = "1k",
    data_dir: str | os.PathLike | None = None,
    phrases: bool = False,
    hold_out: int = 0,
) -> list[Example]:
    """Examples of a task (its family's reader): babi:N / babi:N,M / babi:all (split train or
    test), sst:binary, sst:fine (train, dev, test; phrases adds SST's labelled phrases), pos:ewt
    and pos:ptb.

    hold_out > 0 (SST and POS): that many training sentences (`held_out_sentences`) are left out
    of split "train", phrases and all; split "held-out" reads them, as whole sentences."""
    family = family_of(task)
    if (hold_out or split == HELD_OUT) and not family.word_level:
        raise ValueError(f"only SST and POS hold training sentences out, not {task} (bAbI holds out stories)")
    if split == HELD_OUT and not hold_out:
        raise ValueError("the held-out split needs the number of training sentences held out")
    source = "train" if split == HELD_OUT else split

    def keep(total: int) -> set[int]:
        held = held_out_sentences(hold_out, total)
        return held if split == HELD_OUT else set(range(total)) - held

    chosen = keep if hold_out and source == "train" else None
    request = Request(task, source, size, resolve_data_dir(data_dir), phrases and split == "train", chosen)
    return family.read(request)


def answer_translation(source: str, target: str) -> dict[str, str | None]:
    """How answers of task `source` read as answers of task `target`: the target answer of each
    source answer, None for one the target task drops (e.g. sst:fine read as sst:binary)."""
    translation = family_of(source).translations.get((source, target))
    if translation is None:
        known = [f"{s} models can answer {t}" for f in FAMILIES.values() for s, t in f.translations]
        raise ValueError(f"models of {source} cannot answer {target}: only {', '.join(known)}")
    return translation
