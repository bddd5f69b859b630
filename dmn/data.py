"""Datasets as one record type, the vocabulary, and the one batching function.

Every reader (one module per task family: dmn/tasks) turns its files into `Example` records;
`make_batch` pads and masks a list of them into the tensors the model reads. Nothing else in the
project builds model inputs.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain
from pathlib import Path

import numpy as np
import torch

PAD, UNK, EOS = "<pad>", "<unk>", "<eos>"
DEFAULT_DATA_DIR = Path.home() / ".cache" / "dmn" / "data"


class DataFormatError(ValueError):
    """A data file that does not follow its format; the message names the file and line."""


class DataNotFoundError(FileNotFoundError):
    """A dataset that is not on disk; the message says how to get it."""


@dataclass(frozen=True)
class Example:
    """One (input, question) -> answer record, shared by every dataset.

    context: the facts, each a list of tokens: a bAbI sentence, or one word of an SST or POS sentence.
    answer: the answer as a word sequence ("apple,football" -> ["apple", "football"]), or for
        tagging one tag per fact.
    supporting: indices into `context` of the supporting facts, in the order the data gives them.
    story: the number of its story in its file: the questions of one bAbI story share it and their
        contexts overlap, so validation holds out whole stories (-1: an example of its own).
    """

    context: list[list[str]]
    question: list[str]
    answer: list[str]
    supporting: list[int] = field(default_factory=list)
    task: str = ""
    story: int = -1


# --------------------------------------------------------------------------------------------
# Text


_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_LINE_ID = re.compile(r"^\s*\d+\s+")


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens; punctuation is dropped."""
    return _TOKEN.findall(text.lower())


_PTB_TOKEN = re.compile(r"\w+(?=n't\b)|n't\b|'(?:s|re|ve|ll|d|m)\b|\w+(?:[-.]\w+)*|\.\.\.|[^\w\s]", re.I)


def tokenize_sentence(text: str) -> list[str]:
    """Penn Treebank style tokens, case and punctuation kept: "Isn't it?" -> Is n't it ?"""
    return _PTB_TOKEN.findall(text)


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
# Files: where the data is, and what each task family's reader shares (dmn/tasks reads them)


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """--data-dir, else $DMN_DATA_DIR, else ~/.cache/dmn/data (where `dmn download` puts data)."""
    return Path(data_dir or os.environ.get("DMN_DATA_DIR") or DEFAULT_DATA_DIR).expanduser()


# Bracketed trees, as SST and the Penn Treebank write them: "(3 (2 The) (4 (2 Rock) (3 rocks)))"


_TREE_TOKEN = re.compile(r"\(|\)|[^ \t\r\n()]+")  # words may hold other spaces (SST has "8\xa01\\/2")


@dataclass
class Tree:
    label: str
    children: list[Tree] = field(default_factory=list)
    word: str | None = None  # set on leaves

    def leaves(self) -> list[Tree]:
        return [self] if self.word is not None else [leaf for c in self.children for leaf in c.leaves()]

    def subtrees(self) -> Iterable[Tree]:
        yield self
        for c in self.children:
            yield from c.subtrees()


def parse_trees(text: str, where: str) -> list[Tree]:
    """Bracketed trees (one or more, over any number of lines); errors name `where`."""
    tokens = _TREE_TOKEN.findall(text)
    trees: list[Tree] = []
    stack: list[Tree] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token == "(":
            # "(label", "(label word)" or "( (" (the unlabelled root of .mrg files)
            label = tokens[i + 1] if i + 1 < len(tokens) and tokens[i + 1] not in "()" else ""
            node = Tree(label)
            i += 2 if label else 1
            if i < len(tokens) and tokens[i] not in "()":
                node.word = tokens[i]
                i += 1
            (stack[-1].children if stack else trees).append(node)
            stack.append(node)
        elif token == ")":
            if not stack:
                raise DataFormatError(f"{where}: unbalanced ')'")
            stack.pop()
            i += 1
        else:
            raise DataFormatError(f"{where}: unexpected {token!r} outside brackets")
    if stack:
        raise DataFormatError(f"{where}: a tree is not closed (missing ')')")
    return trees


def read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise DataFormatError(f"{path}: not UTF-8 text ({err})") from None
    except FileNotFoundError:
        raise DataNotFoundError(f"{path} not found") from None


def nonempty(examples: list[Example], path: Path) -> list[Example]:
    if not examples:
        raise DataFormatError(f"{path}: no examples found")
    return examples


def require(path: Path, what: str, download: str = "") -> None:
    """DataNotFoundError unless path exists, saying what belongs there (and which download fetches it)."""
    if not path.exists():
        fetch = f"Run `python -m dmn download {download}`, or put" if download else "Put"
        raise DataNotFoundError(f"{path} not found. {fetch} {what} there, or point --data-dir / DMN_DATA_DIR at it.")


# --------------------------------------------------------------------------------------------
# Vocabulary


# Endings that tell an unknown English word's part of speech (longest match wins).
SUFFIXES = tuple(
    "ing ed ly ion er est s al ive able ible ful ness ment ous ity ic y ize ise ist ism ent ant 's".split()
)
_ADDRESS = re.compile(r"@|^https?:|^www\.|\.(com|org|net|edu|gov)\b", re.IGNORECASE)


def word_signature(token: str) -> str:
    """The class of an unknown word by its shape: "<unk:Cap-s>", "<unk:digit>", "<unk:address>"...

    Capitalisation, digits, hyphens and a common suffix are what tell a tagger most about a word
    it has never seen (the classic unknown-word signatures of treebank parsers)."""
    if _ADDRESS.search(token):
        return "<unk:address>"
    letters = [c for c in token if c.isalpha()]
    if not letters:
        return "<unk:digit>" if any(c.isdigit() for c in token) else "<unk:symbol>"
    if len(letters) > 1 and all(c.isupper() for c in letters):
        shape = "CAPS"
    elif token[0].isupper():
        shape = "Cap"
    else:
        shape = "lower" if all(c.islower() for c in letters) else "mixed"
    parts = [shape]
    if any(c.isdigit() for c in token):
        parts.append("digit")
    if "-" in token:
        parts.append("hyphen")
    lower = token.lower()
    suffix = max((s for s in SUFFIXES if lower.endswith(s) and len(lower) >= len(s) + 3), key=len, default="")
    if suffix:
        parts.append(suffix)
    return f"<unk:{'-'.join(parts)}>"


class HiddenWord(str):
    """A word that word dropout hid behind its signature (or <unk>): the string is what the
    vocabulary looks up, `spelling` the word itself, which character features still read."""

    spelling: str

    def __new__(cls, shown: str, spelling: str) -> HiddenWord:
        word = super().__new__(cls, shown)
        word.spelling = spelling
        return word


MAX_WORD_CHARS = 20  # characters of a word that character features read (its first 20)


@dataclass
class Vocab:
    """Input words (with padding, unknown and end-of-sentence tokens) and answer words.

    With `signatures`, an unknown word is read as its shape class (`word_signature`) when the
    vocabulary has that class, else as <unk>. `rare` holds the words seen once when the vocabulary
    was built (not saved): training can hide them behind their signature, which teaches the model
    what to do with words it has never seen. `chars` (padding and unknown first) is the character
    alphabet of models that also read each word's spelling; empty for the others. With
    `case_fallback` (a vocabulary that keeps case), an unknown word written in another case than
    the one it was seen in ("Housing" at the start of a sentence, "housing" in training) is read as
    the word it was seen as, lower-cased or capitalised, before its signature.
    """

    words: list[str]
    answers: list[str]  # answers[0] is the end-of-answer token
    lowercase: bool = True  # input tokens are lower-cased before lookup (False keeps case, for tagging)
    signatures: bool = False
    rare: frozenset[str] = frozenset()
    chars: list[str] = field(default_factory=list)
    case_fallback: bool = False

    def __post_init__(self) -> None:
        self.word_index = {w: i for i, w in enumerate(self.words)}
        self.answer_index = {w: i for i, w in enumerate(self.answers)}
        self.char_index = {c: i for i, c in enumerate(self.chars)}
        self._token_ids: dict[str, int] = {}  # in-vocabulary token as written -> id (batching's hot loop)

    @classmethod
    def build(
        cls,
        examples: Iterable[Example],
        lowercase: bool = True,
        signatures: bool = False,
        chars: bool = False,
        case_fallback: bool = False,
    ) -> Vocab:
        words: Counter[str] = Counter()
        answers: Counter[str] = Counter()
        for ex in examples:
            words.update(w for fact in ex.context for w in fact)
            words.update(ex.question)
            answers.update(ex.answer)
        if lowercase:
            lowered: Counter[str] = Counter()
            for w, n in words.items():
                lowered[w.lower()] += n
            words = lowered
        shapes = sorted({word_signature(w) for w in words}) if signatures else []
        rare = frozenset(w for w, n in words.items() if n == 1)
        alphabet = [PAD, UNK, *sorted({c for w in words for c in w})] if chars else []
        words_in_order = [PAD, UNK, EOS, *shapes, *sorted(words)]
        return cls(words_in_order, [EOS, *sorted(answers)], lowercase, signatures, rare, alphabet, case_fallback)

    def _key(self, token: str) -> str:
        return token.lower() if self.lowercase else token

    def with_words(self, words: Iterable[str]) -> Vocab:
        """This vocabulary with `words` it lacks added at the end (e.g. pretrained vectors' words)."""
        new = dict.fromkeys(self._key(w) for w in words if self._key(w) not in self.word_index)
        return replace(self, words=[*self.words, *new])

    def _entry(self, token: str) -> str | None:
        """The vocabulary's word that the token is read as, if any (not a signature or <unk>)."""
        key = self._key(token)
        if key in self.word_index:
            return key
        if self.case_fallback:
            return next((k for k in (key.lower(), key.capitalize()) if k in self.word_index), None)
        return None

    def encode(self, tokens: Sequence[str]) -> list[int]:
        try:  # the common case, every token already looked up: one C-level pass
            return list(map(self._token_ids.__getitem__, tokens))
        except KeyError:
            ids = self._token_ids
            return [ids[t] if t in ids else self._look_up(t) for t in tokens]

    def _look_up(self, token: str) -> int:
        """The id of the token's word, remembered; else of its signature (or <unk>), not remembered
        (so that a server's cache stays bounded however many unknown words its users type)."""
        entry = self._entry(token)
        if entry is None:
            return self.word_index.get(self._hidden(token), self.word_index[UNK])
        index = self._token_ids[token] = self.word_index[entry]
        return index

    def encode_chars(self, token: str) -> list[int]:
        """The ids of a token's first MAX_WORD_CHARS characters (a hidden word's own spelling)."""
        unknown = self.char_index[UNK]
        spelling = self._key(getattr(token, "spelling", token))
        return [self.char_index.get(c, unknown) for c in spelling[:MAX_WORD_CHARS]]

    def knows(self, token: str) -> bool:
        """Whether the token is read as a word of the vocabulary (not a signature, not <unk>)."""
        return self._entry(token) is not None

    def unknown(self, tokens: Iterable[str]) -> list[str]:
        """Tokens outside the vocabulary, each once, in order of appearance."""
        return list(dict.fromkeys(t for t in tokens if not self.knows(t)))

    def _hidden(self, token: str) -> str:
        return word_signature(self._key(token)) if self.signatures else UNK

    def hide_words(
        self, examples: Sequence[Example], generator: torch.Generator, rate: float = 0.0, rare_rate: float = 0.0
    ) -> list[Example]:
        """The examples with each occurrence of a word replaced by its signature (or <unk>) with
        probability `rate`, or `rare_rate` if higher for a rare word: word dropout, so the model
        learns to read words it never saw (and leans on no single word). A hidden word is a
        HiddenWord, so character features still read its spelling."""
        rare_rate = max(rate, rare_rate) if self.rare else rate
        if not (rate or rare_rate):
            return list(examples)
        rare = self.rare
        draws = iter(torch.rand(sum(len(f) for ex in examples for f in ex.context), generator=generator).tolist())
        hidden = []
        for ex in examples:
            context = [
                [
                    HiddenWord(self._hidden(w), w) if next(draws) < (rare_rate if self._key(w) in rare else rate) else w
                    for w in fact
                ]
                for fact in ex.context
            ]
            hidden.append(replace(ex, context=context))
        return hidden

    def to_json(self) -> dict:
        return {
            "words": self.words,
            "answers": self.answers,
            "lowercase": self.lowercase,
            "signatures": self.signatures,
            **({"chars": self.chars} if self.chars else {}),
            **({"case_fallback": True} if self.case_fallback else {}),
        }

    @classmethod
    def from_json(cls, data: dict) -> Vocab:
        words, answers = data.get("words"), data.get("answers")
        if not (isinstance(words, list) and isinstance(answers, list)):
            raise ValueError("vocab.json needs the lists 'words' and 'answers'")
        chars = data.get("chars", [])
        if words[:3] != [PAD, UNK, EOS] or answers[:1] != [EOS] or not (chars == [] or chars[:2] == [PAD, UNK]):
            raise ValueError("vocab.json does not start with the special tokens")
        lowercase, signatures = bool(data.get("lowercase", True)), bool(data.get("signatures", False))
        return cls(words, answers, lowercase, signatures, chars=chars, case_fallback=bool(data.get("case_fallback")))


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
    chars: torch.Tensor | None = None  # [B, F, W, C] character ids of each fact word (vocab with chars)

    def to(self, device: torch.device | str) -> Batch:
        tensors = {k: v.to(device) for k, v in vars(self).items() if isinstance(v, torch.Tensor)}
        return Batch(**tensors, examples=self.examples)


IGNORE = -100


def make_batch(
    examples: Sequence[Example], vocab: Vocab, max_facts: int, word_facts: bool = False, tagging: bool = False
) -> Batch:
    """Pad and mask examples into one Batch, keeping each story's last `max_facts` facts.

    word_facts: every fact is one word of a sentence (sentiment, tagging), so the story gets no
    <eos> markers and each fact ends at its word. tagging: the answer is one tag per fact, with
    no end-of-answer token.
    """
    contexts = [ex.context[-max_facts:] for ex in examples]
    layout = _fact_layout(contexts, vocab, story_markers=not word_facts)
    questions = [vocab.encode(ex.question) or [vocab.word_index[UNK]] for ex in examples]
    answers, supporting = [], []
    for ex, context in zip(examples, contexts, strict=True):
        dropped = len(ex.context) - len(context)
        if tagging:  # the tags of the facts that were kept
            answers.append([vocab.answer_index.get(w, IGNORE) for w in ex.answer[dropped:]])
        else:
            answers.append([vocab.answer_index.get(w, IGNORE) for w in ex.answer] + [vocab.answer_index[EOS]])
        supporting.append([s - dropped if s >= dropped else -1 for s in ex.supporting])
    chars = None
    if vocab.chars:
        spellings = [[[vocab.encode_chars(w) for w in fact] for fact in context] for context in contexts]
        n_facts, n_words = layout["facts"].shape[1:]
        n_chars = max(1, max((len(w) for s in spellings for f in s for w in f), default=1))
        no_word, no_fact = [0] * n_chars, [[0] * n_chars] * n_words
        rows = [
            [[w + [0] * (n_chars - len(w)) for w in f] + [no_word] * (n_words - len(f)) for f in story]
            + [no_fact] * (n_facts - len(story))
            for story in spellings
        ]
        chars = _tensor(rows)
    return Batch(
        **{name: torch.from_numpy(array) for name, array in layout.items()},
        question=_pad(questions, 0),
        question_lengths=_tensor([len(q) for q in questions]),
        answer=_pad(answers, IGNORE),
        supporting=_pad(supporting, -1),
        examples=list(examples),
        chars=chars,
    )


def _fact_layout(contexts: list[list[list[str]]], vocab: Vocab, story_markers: bool) -> dict[str, np.ndarray]:
    """The facts of each story laid out four ways: facts [B, F, W] word ids, fact_mask [B, F],
    story [B, L] (the facts' words in a row, each fact closed by <eos> with story_markers) and
    fact_ends [B, F] (the position in `story` of each fact's <eos>, or its last word). Every
    token is placed by index arithmetic over the whole batch at once."""
    B = len(contexts)
    fact_counts = np.fromiter(map(len, contexts), dtype=np.int64, count=B)  # [B]
    fact_words = list(chain.from_iterable(contexts))  # every fact of the batch, in order
    word_counts = np.fromiter(map(len, fact_words), dtype=np.int64, count=len(fact_words))  # [all facts]
    ids = np.array(vocab.encode(list(chain.from_iterable(fact_words))), dtype=np.int64)  # [all words]
    n_facts = max(1, int(fact_counts.max(initial=0)))
    n_words = max(1, int(word_counts.max(initial=0)))

    story_of_fact = np.repeat(np.arange(B), fact_counts)  # [all facts]
    fact_index = _positions(fact_counts)  # [all facts] its place in its story
    fact_of_word = np.repeat(np.arange(len(fact_words)), word_counts)  # [all words]
    word_index = _positions(word_counts)  # [all words] its place in its fact
    facts = np.zeros((B, n_facts, n_words), dtype=np.int64)
    facts[story_of_fact[fact_of_word], fact_index[fact_of_word], word_index] = ids

    slots = word_counts + story_markers  # [all facts] a fact's length in its story, <eos> included
    story_lengths = np.bincount(story_of_fact, slots, minlength=B).astype(np.int64)  # [B]
    starts = _offsets(slots) - np.repeat(_offsets(story_lengths), fact_counts)  # where each fact begins in its story
    ends_in_story = starts + slots - 1
    story = np.zeros((B, max(1, int(story_lengths.max(initial=0)))), dtype=np.int64)
    story[story_of_fact[fact_of_word], starts[fact_of_word] + word_index] = ids
    if story_markers:
        story[story_of_fact, ends_in_story] = vocab.word_index[EOS]
    fact_ends = np.zeros((B, n_facts), dtype=np.int64)
    fact_ends[story_of_fact, fact_index] = ends_in_story
    return {
        "facts": facts,
        "fact_mask": np.arange(n_facts) < fact_counts[:, None],
        "story": story,
        "fact_ends": fact_ends,
    }


def _offsets(counts: np.ndarray) -> np.ndarray:
    """Where each of consecutive groups of these sizes begins (an exclusive cumulative sum)."""
    return np.cumsum(counts) - counts


def _positions(counts: np.ndarray) -> np.ndarray:
    """Each item's place within its group, for consecutive groups of these sizes."""
    return np.arange(int(counts.sum())) - np.repeat(_offsets(counts), counts)


def _pad(rows: list[list[int]], value: int) -> torch.Tensor:
    width = max(1, max(len(r) for r in rows))
    return _tensor([r + [value] * (width - len(r)) for r in rows])


def _tensor(rows: list, dtype: type = np.int64) -> torch.Tensor:
    """Nested lists, all rows of one length -> a tensor (via numpy: twice as fast as torch.tensor)."""
    return torch.from_numpy(np.array(rows, dtype=dtype))


def batches(
    examples: Sequence[Example],
    vocab: Vocab,
    batch_size: int,
    max_facts: int,
    generator: torch.Generator | None = None,
    **layout: bool,
) -> Iterable[Batch]:
    """Batches of examples of similar story length (less padding); shuffled when given a generator.

    Shuffled: the examples are dealt at random into pools of 50 batches, each pool is sorted by
    story length and cut into batches, and the batches are shuffled (so a batch is a random draw
    of stories of about one length). Without a generator the order is fixed, sorted by length, so
    evaluation is deterministic. `layout` goes on to make_batch (word_facts, tagging).
    """
    order = list(range(len(examples)))
    pool = len(order)
    if generator is not None:
        order, pool = torch.randperm(len(order), generator=generator).tolist(), batch_size * 50
    order = [
        i
        for start in range(0, len(order), pool)
        for i in sorted(order[start : start + pool], key=lambda i: min(len(examples[i].context), max_facts))
    ]
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if generator is not None:
        chunks = [chunks[i] for i in torch.randperm(len(chunks), generator=generator).tolist()]
    for chunk in chunks:
        yield make_batch([examples[i] for i in chunk], vocab, max_facts, **layout)
