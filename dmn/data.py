"""Datasets as one record type, the vocabulary, and the one batching function.

Every reader turns its files into `Example` records; `make_batch` pads and masks a list of them
into the tensors the model reads. Nothing else in the project builds model inputs.
"""

from __future__ import annotations

import os
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

PAD, UNK, EOS = "<pad>", "<unk>", "<eos>"
DEFAULT_DATA_DIR = Path.home() / ".cache" / "dmn" / "data"

BABI_TASK_NAMES = {
    1: "single supporting fact",
    2: "two supporting facts",
    3: "three supporting facts",
    4: "two argument relations",
    5: "three argument relations",
    6: "yes/no questions",
    7: "counting",
    8: "lists/sets",
    9: "simple negation",
    10: "indefinite knowledge",
    11: "basic coreference",
    12: "conjunction",
    13: "compound coreference",
    14: "time reasoning",
    15: "basic deduction",
    16: "basic induction",
    17: "positional reasoning",
    18: "size reasoning",
    19: "path finding",
    20: "agent's motivations",
}


class DataFormatError(ValueError):
    """A data file that does not follow its format; the message names the file and line."""


class DataNotFoundError(FileNotFoundError):
    """A dataset that is not on disk; the message says how to get it."""


@dataclass(frozen=True)
class Example:
    """One (input, question) -> answer record, shared by every dataset.

    context: the facts, each a list of tokens (a bAbI sentence).
    answer: the answer as a word sequence ("apple,football" -> ["apple", "football"]).
    supporting: indices into `context` of the supporting facts, in the order the data gives them.
    """

    context: list[list[str]]
    question: list[str]
    answer: list[str]
    supporting: list[int] = field(default_factory=list)
    task: str = ""


# --------------------------------------------------------------------------------------------
# Text


_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_LINE_ID = re.compile(r"^\s*\d+\s+")


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens; punctuation is dropped."""
    return _TOKEN.findall(text.lower())


def split_story(text: str) -> list[str]:
    """A story as sentences: one per line, lines with several sentences split at . ! ?

    A leading bAbI line number ("3 Mary went home.") is removed.
    """
    sentences = []
    for line in text.splitlines():
        line = _LINE_ID.sub("", line).strip()
        sentences.extend(s.strip() for s in _SENTENCE_END.split(line) if tokenize(s))
    return sentences


# --------------------------------------------------------------------------------------------
# bAbI


def parse_babi(path: str | os.PathLike, task: str = "") -> list[Example]:
    """Read a bAbI v1.2 file: one Example per question, its context the story's statements so far."""
    path = Path(path)
    examples: list[Example] = []
    facts: list[list[str]] = []
    fact_index: dict[int, int] = {}  # line id -> index into facts
    last_id = 0
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise DataFormatError(f"{path}: not UTF-8 text ({err})") from None
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        fail = _line_error(path, lineno, line)

        head, _, rest = line.partition(" ")
        if not head.isdigit() or not rest.strip():
            raise fail("expected '<id> <text>'")
        line_id = int(head)
        if line_id == 1:
            facts, fact_index = [], {}
        elif line_id != last_id + 1:
            raise fail(f"line id {line_id} does not follow {last_id}")
        last_id = line_id
        if "\t" not in rest:
            fact_index[line_id] = len(facts)
            facts.append(tokenize(rest))
            continue
        parts = rest.split("\t")
        if len(parts) != 3:
            raise fail("a question line needs 'question<TAB>answer<TAB>supporting ids'")
        question, answer, support = parts
        answer_words = [w for w in (tokenize(a) for a in answer.split(",")) if w]
        if not tokenize(question) or not answer_words:
            raise fail("empty question or answer")
        supporting = []
        for sid in support.split():
            if not sid.isdigit() or int(sid) not in fact_index:
                raise fail(f"supporting fact {sid!r} is not an earlier statement of this story")
            supporting.append(fact_index[int(sid)])
        examples.append(
            Example(
                context=list(facts),
                question=tokenize(question),
                answer=[w for words in answer_words for w in words],
                supporting=supporting,
                task=task,
            )
        )
    if not examples:
        raise DataFormatError(f"{path}: no questions found (a question line is 'id question<TAB>answer<TAB>ids')")
    return examples


def _line_error(path: Path, lineno: int, line: str):
    """A factory for errors that name the file, the line number and the line."""

    def error(what: str) -> DataFormatError:
        return DataFormatError(f"{path}, line {lineno}: {what}: {line[:80]!r}")

    return error


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """--data-dir, else $DMN_DATA_DIR, else ~/.cache/dmn/data (where `dmn download` puts data)."""
    return Path(data_dir or os.environ.get("DMN_DATA_DIR") or DEFAULT_DATA_DIR).expanduser()


def babi_file(task_id: int, size: str, split: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Path of one bAbI file. A missing 10k training file falls back to the 1k one, with a warning."""
    if task_id not in BABI_TASK_NAMES:
        raise ValueError(f"bAbI has tasks 1-20, not {task_id}")
    if size not in ("1k", "10k"):
        raise ValueError(f"bAbI size is '1k' or '10k', not {size!r}")
    root = resolve_data_dir(data_dir)
    folder = "en" if size == "1k" else "en-10k"
    for base in (root / "babi", root / "tasks_1-20_v1-2", root):
        matches = sorted((base / folder).glob(f"qa{task_id}_*_{split}.txt"))
        if matches:
            return matches[0]
        if size == "10k" and split == "train" and (base / folder).is_dir():
            fallback = sorted((base / "en").glob(f"qa{task_id}_*_{split}.txt"))
            if fallback:
                warnings.warn(f"bAbI task {task_id}: no 10k training file, using {fallback[0]}", stacklevel=2)
                return fallback[0]
    raise DataNotFoundError(
        f"bAbI task {task_id} ({size}, {split}) not found under {root}. "
        "Run `python -m dmn download babi`, or point --data-dir / DMN_DATA_DIR at the data."
    )


def load_babi(
    task_ids: Iterable[int], size: str, split: str, data_dir: str | os.PathLike | None = None
) -> list[Example]:
    """Examples of the given bAbI tasks, each tagged with its task ("babi:3")."""
    return [
        ex
        for task_id in task_ids
        for ex in parse_babi(babi_file(task_id, size, split, data_dir), task=f"babi:{task_id}")
    ]


def parse_task(spec: str) -> list[int]:
    """'babi:all' -> [1..20]; 'babi:3' -> [3]; 'babi:1,2,3' -> [1, 2, 3]."""
    family, _, which = spec.partition(":")
    if family != "babi" or not which:
        raise ValueError(f"unknown task {spec!r}: use babi:N, babi:N,M,... or babi:all")
    if which == "all":
        return list(BABI_TASK_NAMES)
    try:
        ids = [int(t) for t in which.split(",")]
    except ValueError:
        raise ValueError(f"unknown task {spec!r}: use babi:N, babi:N,M,... or babi:all") from None
    for t in ids:
        if t not in BABI_TASK_NAMES:
            raise ValueError(f"bAbI has tasks 1-20, not {t}")
    return ids


# --------------------------------------------------------------------------------------------
# Vocabulary


@dataclass
class Vocab:
    """Input words (with padding, unknown and end-of-sentence tokens) and answer words."""

    words: list[str]
    answers: list[str]  # answers[0] is the end-of-answer token

    def __post_init__(self) -> None:
        self.word_index = {w: i for i, w in enumerate(self.words)}
        self.answer_index = {w: i for i, w in enumerate(self.answers)}

    @classmethod
    def build(cls, examples: Iterable[Example]) -> Vocab:
        words: Counter[str] = Counter()
        answers: Counter[str] = Counter()
        for ex in examples:
            words.update(w for fact in ex.context for w in fact)
            words.update(ex.question)
            answers.update(ex.answer)
        return cls([PAD, UNK, EOS, *sorted(words)], [EOS, *sorted(answers)])

    def encode(self, tokens: Sequence[str]) -> list[int]:
        unk = self.word_index[UNK]
        return [self.word_index.get(t, unk) for t in tokens]

    def unknown(self, tokens: Iterable[str]) -> list[str]:
        """Tokens outside the vocabulary, each once, in order of appearance."""
        return list(dict.fromkeys(t for t in tokens if t not in self.word_index))

    def to_json(self) -> dict:
        return {"words": self.words, "answers": self.answers}

    @classmethod
    def from_json(cls, data: dict) -> Vocab:
        words, answers = data.get("words"), data.get("answers")
        if not (isinstance(words, list) and isinstance(answers, list)):
            raise ValueError("vocab.json needs the lists 'words' and 'answers'")
        if words[:3] != [PAD, UNK, EOS] or answers[:1] != [EOS]:
            raise ValueError("vocab.json does not start with the special tokens")
        return cls(words, answers)


# --------------------------------------------------------------------------------------------
# Batching


@dataclass
class Batch:
    """Padded, masked model inputs. B batch, F facts, W words per fact, L story words."""

    facts: torch.Tensor  # [B, F, W] word ids of each fact (DMN+ input fusion)
    fact_mask: torch.Tensor  # [B, F] True for real facts
    story: torch.Tensor  # [B, L] the story's words, <eos> after each fact (DMN input GRU)
    fact_ends: torch.Tensor  # [B, F] position in `story` of each fact's <eos>
    question: torch.Tensor  # [B, Q]
    question_lengths: torch.Tensor  # [B]
    answer: torch.Tensor  # [B, A] answer ids then <eos>, padded with -100 (ignored by the loss)
    supporting: torch.Tensor  # [B, S] supporting fact index per pass, -1 where there is none
    examples: list[Example]

    def to(self, device: torch.device | str) -> Batch:
        tensors = {k: v.to(device) for k, v in vars(self).items() if isinstance(v, torch.Tensor)}
        return Batch(**tensors, examples=self.examples)


IGNORE = -100


def make_batch(examples: Sequence[Example], vocab: Vocab, max_facts: int) -> Batch:
    """Pad and mask examples into one Batch, keeping each story's last `max_facts` facts."""
    eos = vocab.word_index[EOS]
    contexts = [[vocab.encode(fact) for fact in ex.context[-max_facts:]] for ex in examples]
    n_facts = max(1, max(len(c) for c in contexts))
    n_words = max(1, max((len(f) for c in contexts for f in c), default=1))
    story_len = max(1, max(sum(len(f) + 1 for f in c) for c in contexts))
    questions = [vocab.encode(ex.question) or [vocab.word_index[UNK]] for ex in examples]
    answers = [[vocab.answer_index.get(w, IGNORE) for w in ex.answer] + [vocab.answer_index[EOS]] for ex in examples]
    n_support = max(1, max(len(ex.supporting) for ex in examples))

    facts, fact_mask, story, fact_ends, supporting = [], [], [], [], []
    for ex, context in zip(examples, contexts, strict=True):
        facts.append([f + [0] * (n_words - len(f)) for f in context])
        facts[-1] += [[0] * n_words] * (n_facts - len(context))
        fact_mask.append([True] * len(context) + [False] * (n_facts - len(context)))
        words, ends = [], []
        for f in context:
            words += f
            ends.append(len(words))
            words.append(eos)
        story.append(words + [0] * (story_len - len(words)))
        fact_ends.append(ends + [0] * (n_facts - len(ends)))
        dropped = len(ex.context) - len(context)
        support = [s - dropped if s >= dropped else -1 for s in ex.supporting]
        supporting.append(support + [-1] * (n_support - len(support)))
    return Batch(
        facts=torch.tensor(facts, dtype=torch.long),
        fact_mask=torch.tensor(fact_mask, dtype=torch.bool),
        story=torch.tensor(story, dtype=torch.long),
        fact_ends=torch.tensor(fact_ends, dtype=torch.long),
        question=_pad(questions, 0),
        question_lengths=torch.tensor([len(q) for q in questions], dtype=torch.long),
        answer=_pad(answers, IGNORE),
        supporting=torch.tensor(supporting, dtype=torch.long),
        examples=list(examples),
    )


def _pad(rows: list[list[int]], value: int) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([r + [value] * (width - len(r)) for r in rows], dtype=torch.long)


def batches(
    examples: Sequence[Example],
    vocab: Vocab,
    batch_size: int,
    max_facts: int,
    generator: torch.Generator | None = None,
) -> Iterable[Batch]:
    """Batches of examples of similar story length (less padding); shuffled when given a generator.

    Without a generator the order is fixed, so evaluation is deterministic.
    """
    order = sorted(range(len(examples)), key=lambda i: min(len(examples[i].context), max_facts))
    if generator is not None:
        # shuffle within length buckets of 50 batches, then shuffle the batches
        noise = torch.rand(len(order), generator=generator).tolist()
        bucket = batch_size * 50
        order = [
            i
            for start in range(0, len(order), bucket)
            for i in sorted(order[start : start + bucket], key=lambda i: noise[i])
        ]
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if generator is not None:
        chunks = [chunks[i] for i in torch.randperm(len(chunks), generator=generator).tolist()]
    for chunk in chunks:
        yield make_batch([examples[i] for i in chunk], vocab, max_facts)
