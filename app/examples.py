"""Curated classroom stories, written in bAbI style, each with what to watch in the gates.

Only words the shipped checkpoint knows are used (tests/test_app.py checks them against its
vocab.json), so no warning distracts from the gates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from dmn.tasks.babi import BABI_TASK_NAMES


@dataclass(frozen=True)
class CuratedExample:
    task: int
    story: str  # one sentence per line
    question: str
    answer: str  # the right answer, words joined by ","
    supporting: tuple[int, ...]  # the facts needed to answer (0-based story lines), as bAbI lists them
    watch: str  # one line: what to look at in the gates

    @property
    def title(self) -> str:
        return f"Task {self.task} · {BABI_TASK_NAMES[self.task]}"

    @property
    def note(self) -> str:
        """Markdown shown when the example is picked."""
        return f"**{self.title}.** {self.watch}"


def find_example(story: str, question: str) -> CuratedExample | None:
    """The curated example with exactly this story and question, if any."""
    return next((e for e in EXAMPLES if e.story == story and e.question == question), None)


EXAMPLES = [
    CuratedExample(**{**example, "supporting": tuple(example["supporting"])})
    for example in json.loads(Path(__file__).with_suffix(".json").read_text("utf-8"))
]  # the stories, written by hand, in examples.json beside this file
