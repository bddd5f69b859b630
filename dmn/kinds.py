"""Reading words a bAbI model has never seen: a new name, place or object is read as a known word
of the same kind that the story does not already use, and the answer is translated back.

A word's kind is learned from the training stories, as the slots it fills: a slot is a word's
neighbours, one word on each side ("mary _ to") or two on one side and one on the other ("to the
_ $", "$" the sentence's end). A slot filled by at least MIN_FILLERS different words in training is an open one
(names, places, objects, movement verbs); the words that fill it are interchangeable there. An
unknown word in a user's story is scored against the open slots its own neighbours make, and read
as the best-scoring known word that the story and question do not use.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from dmn.data import Example
from dmn.tasks.babi import PRONOUNS, RELATION_WORDS

MIN_FILLERS = 3  # a slot is open when at least this many different words fill it in training
START, END = "^", "$"  # the neighbours beyond a sentence's ends
SLOT_WEIGHTS = ((2, 1, 2.0), (1, 2, 2.0), (1, 1, 1.0))  # (words to the left, to the right, weight)
CLOSE_SCORE = 0.5  # a candidate must score at least this share of the best score to be read as


def _slots(words: Sequence[str], i: int) -> Iterable[tuple[str, float]]:
    """The slots word i fills in a sentence, as strings like "to the _ $", with their weights."""
    padded = [START, START, *words, END, END]
    j = i + 2
    for left, right, weight in SLOT_WEIGHTS:
        yield " ".join([*padded[j - left : j], "_", *padded[j + 1 : j + 1 + right]]), weight


@dataclass
class WordKinds:
    """The open slots of a task's training stories, and the shapes of its questions."""

    slots: dict[str, dict[str, int]]  # open slot -> {word that fills it: sentences where it does}
    questions: set[str] = field(default_factory=set)  # training questions with open words as "_"
    entities: frozenset[str] = frozenset()  # open words that questions ask about or answers name

    @classmethod
    def learn(cls, examples: Iterable[Example]) -> WordKinds:
        """Count, over the distinct sentences and questions of the examples, which words fill which slot."""
        sentences: set[tuple[str, ...]] = set()
        questions: set[tuple[str, ...]] = set()
        asked: set[str] = set()  # words of questions and answers
        for ex in examples:
            sentences.update(tuple(fact) for fact in ex.context)
            questions.add(tuple(ex.question))
            asked.update(ex.question, ex.answer)
        fillers: dict[str, Counter[str]] = defaultdict(Counter)
        for words in sentences | questions:
            for i, word in enumerate(words):
                for slot, _ in _slots(words, i):
                    fillers[slot][word] += 1
        slots = {slot: dict(sorted(c.items())) for slot, c in sorted(fillers.items()) if len(c) >= MIN_FILLERS}
        open_words = {w for fillers in slots.values() for w in fillers}
        kinds = cls(slots, entities=frozenset(open_words & asked))
        kinds.questions = {kinds.question_shape(q) for q in questions}
        return kinds

    def __post_init__(self) -> None:
        self.open_words = frozenset(w for fillers in self.slots.values() for w in fillers)
        self._totals = {slot: sum(fillers.values()) for slot, fillers in self.slots.items()}

    def question_shape(self, question: Sequence[str]) -> str:
        """A question with its open words (names, places, objects...) as "_": "where is _"."""
        return " ".join("_" if w in self.open_words else w for w in question)

    def scores(self, word: str, sentences: Sequence[Sequence[str]]) -> dict[str, tuple[float, float]]:
        """How well each known word fits the slots `word` fills in these sentences: (the weights
        of those slots it fills too, so that a word filling all of them fits best however rare it
        is; the weighted share of those slots' fillings that are it, which tells common words of a
        kind from rare ones)."""
        coverage: Counter[str] = Counter()
        share: Counter[str] = Counter()
        for words in sentences:
            for i, w in enumerate(words):
                if w != word:
                    continue
                for slot, weight in _slots(words, i):
                    for filler, n in self.slots.get(slot, {}).items():
                        coverage[filler] += weight
                        share[filler] += weight * n / self._totals[slot]
        return {w: (coverage[w], share[w]) for w in coverage}

    def place(
        self, sentences: Sequence[Sequence[str]], known: Iterable[str], answers: Iterable[str] = ()
    ) -> dict[str, str]:
        """{unknown word: the known word it is read as} for the words of these (lower-cased)
        sentences outside `known` that fill open slots. Each is read as the best-scoring entity (a
        word that questions ask about or answers name: a name, a place, a thing; never a pronoun or
        a verb) that the sentences do not use, nor another unknown word is read as; of candidates
        that score alike, an answer word (one the model can say) is preferred. Words placed in a
        round make the neighbours of the next."""
        known, answers = frozenset(known), set(answers)
        used = {w for words in sentences for w in words}
        unknown = list(dict.fromkeys(w for words in sentences for w in words if w not in known))
        read_as: dict[str, str] = {}
        while unknown:
            placed: dict[str, str] = {}
            current = [[read_as.get(w, w) for w in words] for words in sentences]
            for word in unknown:
                scores = self.scores(word, current)
                if not scores:
                    continue
                best = max(c for c, _ in scores.values())
                candidates = self.entities & known - used
                free = [w for w, (c, _) in scores.items() if c >= CLOSE_SCORE * best and w in candidates]
                if free:
                    choice = min(free, key=lambda w: (-round(scores[w][0] / best, 1), w not in answers, -scores[w][1]))
                    placed[word] = choice
                    used.add(choice)
            if not placed:
                break
            read_as |= placed
            unknown = [w for w in unknown if w not in placed]
        return read_as

    def to_json(self) -> dict:
        return {
            "min_fillers": MIN_FILLERS,
            "entities": sorted(self.entities),
            "questions": sorted(self.questions),
            "slots": self.slots,
        }

    def dumps(self) -> str:
        """kinds.json's text (compact: a few tens of kB for all 20 tasks)."""
        return json.dumps(self.to_json(), separators=(",", ":")) + "\n"

    @classmethod
    def from_json(cls, data: dict) -> WordKinds:
        slots, questions, entities = data.get("slots"), data.get("questions", []), data.get("entities", [])
        if not isinstance(slots, dict) or not all(isinstance(f, dict) for f in slots.values()):
            raise ValueError("kinds.json needs 'slots': {slot: {word: count}}")
        if not (isinstance(questions, list) and isinstance(entities, list)):
            raise ValueError("kinds.json's 'questions' and 'entities' must be lists")
        slots = {s: {w: int(n) for w, n in f.items()} for s, f in slots.items()}
        return cls(slots, set(map(str, questions)), frozenset(map(str, entities)))


def interchangeable(examples: Sequence[Example], people: bool = False) -> list[tuple[str, ...]]:
    """Groups of entities (names, places, objects...) meant to change places in a story without
    changing what it says, learned from these training examples: two entities are of one group when
    they fill a slot with at least two words of context ("went to the _", "the _ is"), so that a
    slot like "the _ $" does not join places and objects. Words that begin a question (who, what)
    are left out, and so are the words of relations (north of, above, to the left of, bigger than:
    exchanging those changes what a story says; `rephrase` tells them the other way round instead).
    Answer words and the others are kept apart, so that a swapped answer is still one the model can
    say. With `people`, bAbI's people are grouped by the pronoun that stands for them (she, he),
    whether or not a question asks about them (task 2's stories name people its questions never do)."""
    kinds = WordKinds.learn(examples)
    answers = {w for ex in examples for w in ex.answer}
    openers = {ex.question[0] for ex in examples if ex.question}
    named = kinds.open_words & PRONOUNS.keys() if people else frozenset()  # grouped by pronoun below
    words = kinds.entities - openers - RELATION_WORDS - named
    parent: dict[str, str] = {}

    def root(word: str) -> str:
        while parent.setdefault(word, word) != word:
            word = parent[word]
        return word

    for slot, fillers in kinds.slots.items():
        context = [w for w in slot.split() if w not in (START, END, "_")]
        members = sorted(w for w in fillers if w in words)
        if len(context) >= 2 and members:
            for word in members:
                parent[root(word)] = root(members[0])
    groups: dict[tuple[str, bool], list[str]] = defaultdict(list)
    for word in sorted(parent):
        groups[root(word), word in answers].append(word)
    for person in sorted(named):
        groups[PRONOUNS[person], person in answers].append(person)
    return [tuple(group) for group in groups.values() if len(group) > 1]


def swapped(example: Example, groups: Sequence[tuple[str, ...]], rng: random.Random) -> Example:
    """The example with the words of each group shuffled among themselves (one random one-to-one
    exchange for its story, question and answer alike): "Mary went to the kitchen. Where is Mary?
    kitchen" may become "Mary went to the garden. Where is Mary? garden". Facts keep their places,
    so the supporting facts stay as they were."""
    exchange: dict[str, str] = {}
    for group in groups:
        shuffled = list(group)
        rng.shuffle(shuffled)
        exchange.update(zip(group, shuffled, strict=True))

    def told(words: list[str]) -> list[str]:
        return [exchange.get(w, w) for w in words]

    return replace(
        example,
        context=[told(fact) for fact in example.context],
        question=told(example.question),
        answer=told(example.answer),
    )


KINDS_FILE = "kinds.json"


def write_kinds(path: str | os.PathLike, kinds: WordKinds) -> Path:
    """Write kinds.json into a checkpoint directory (a temporary file renamed into place)."""
    target = Path(path) / KINDS_FILE
    tmp = target.with_name(f".{KINDS_FILE}.tmp")
    tmp.write_text(kinds.dumps(), encoding="utf-8")
    tmp.chmod(0o644)
    os.replace(tmp, target)
    return target


def surface_forms(text: str, words: Iterable[str]) -> dict[str, str]:
    """Each lower-cased word as the text first writes it ("alice" -> "Alice")."""
    forms = {}
    for word in words:
        match = re.search(rf"(?<![a-z0-9']){re.escape(word)}(?![a-z0-9'])", text, re.IGNORECASE)
        forms[word] = match.group(0) if match else word
    return forms
