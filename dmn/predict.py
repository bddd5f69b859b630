"""Answering one question about one story, with everything the demo draws."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch

from dmn.checkpoint import Checkpoint, load_checkpoint
from dmn.data import EOS, Example, make_batch, split_story, tokenize, tokenize_sentence
from dmn.device import pick_device
from dmn.evaluate import best_tags
from dmn.kinds import surface_forms

MAX_SENTENCES = 200
MAX_CHARACTERS = 20_000
UNKNOWN_SHARE = 1 / 3  # more of the story's words than this unknown (after new words are placed): a guess


class InputError(ValueError):
    """Input the model cannot answer (empty or too long); the message says what to change."""


@dataclass
class Prediction:
    answer: str  # answer words joined by "," as bAbI writes them ("apple,football")
    confidence: float  # probability of that answer
    top_answers: list[tuple[str, float]]  # the k most probable answers, best first
    facts: list[str]  # the sentences (for a word-level model, the words) the model read, in order
    gates: list[list[float]]  # [pass][fact] attention gate values
    unknown_words: list[str]  # words outside the vocabulary (read as <unk>)
    dropped_facts: int  # early sentences beyond the model's memory (max_facts), not read
    passes: int
    tags: list[tuple[str, float]] = field(default_factory=list)  # a tagger's (tag, probability) per word
    importance: list[float] = field(default_factory=list)  # per fact: the answer's probability lost without it
    read_as: dict[str, str] = field(default_factory=dict)  # new word as the user wrote it -> known word read
    guess: bool = False  # the input is outside what the model was trained on: the answer is a guess
    guess_reason: str | None = None  # why, in one sentence

    @property
    def top_facts(self) -> list[int]:
        """Index of the most attended fact on each pass."""
        return [max(range(len(g)), key=g.__getitem__) if g else -1 for g in self.gates]

    def to_dict(self) -> dict:
        return {**asdict(self), "top_facts": self.top_facts}


def sequence_probability(probs: torch.Tensor, ids: list[int], eos: int = 0) -> float:
    """The probability of one answer, word ids then the end token (where the steps leave room for
    it), under per-step distributions probs [A, V]: as `top_sequences` scores it."""
    steps = [*ids, eos] if len(ids) < probs.size(0) else ids
    return float(probs[torch.arange(len(steps)), steps].prod())


def top_sequences(probs: torch.Tensor, answers: list[str], k: int) -> list[tuple[list[str], float]]:
    """The k most probable answers from per-step distributions probs [A, V].

    The answer module feeds back its whole distribution y_{t-1}, not the chosen word, so the
    steps are independent and a beam of width k over the steps is exact.
    """
    beams: list[tuple[list[str], float, bool]] = [([], 1.0, False)]
    for step in probs.tolist():
        ranked = sorted(range(len(step)), key=step.__getitem__, reverse=True)[:k]
        candidates = [b for b in beams if b[2]]
        for words, p, _ in (b for b in beams if not b[2]):
            for i in ranked:
                ended = answers[i] == EOS
                candidates.append((words if ended else [*words, answers[i]], p * step[i], ended))
        beams = sorted(candidates, key=lambda b: b[1], reverse=True)[:k]
    return [(words, p) for words, p, _ in beams]


@dataclass
class _Prepared:
    """One story and question, checked and read, ready for the batch (`Predictor._prepare`)."""

    text: str  # the story and question as written, for the user's spelling of new words
    facts: list[str]  # every sentence (for a word-level model, every word)
    read: list[str]  # the ones the model reads (its last max_facts)
    units: list[list[str]]  # each fact's tokens, new words read as known ones
    question: list[str]
    read_as: dict[str, str]  # new word (lower-cased) -> known word
    examples: list[Example]  # the story as read, then without each fact


class Predictor:
    """A loaded checkpoint that answers questions: `Predictor.load(path).predict(story, question)`."""

    def __init__(self, checkpoint: Checkpoint, device: torch.device) -> None:
        self.checkpoint = checkpoint
        self.model = checkpoint.model.to(device).eval()
        self.vocab = checkpoint.vocab
        self.device = device

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "auto") -> Predictor:
        dev = pick_device(device)
        return cls(load_checkpoint(path, dev), dev)

    @property
    def max_passes(self) -> int | None:
        """The most passes this model can run (None: any number)."""
        return self.model.max_passes

    @property
    def word_level(self) -> bool:
        """True for models that read one sentence with every word a fact (sentiment, tagging)."""
        return self.model.config.fact_unit == "word"

    def predict(
        self, story: str | list[str], question: str = "", passes: int | None = None, top_k: int = 5
    ) -> Prediction:
        """Answer a question about a story; for a word-level model `story` is the sentence and the
        question defaults to the one the model was trained with. InputError for input it cannot answer."""
        (prediction,) = self.predict_many([(story, question)], passes, top_k)
        if isinstance(prediction, InputError):
            raise prediction
        return prediction

    @torch.no_grad()
    def predict_many(
        self, asks: Sequence[tuple[str | list[str], str]], passes: int | None = None, top_k: int = 5
    ) -> list[Prediction | InputError]:
        """Answer several (story, question) pairs in one forward pass (a server batching its users'
        questions): a Prediction for each, or the InputError that says why it cannot be answered."""
        passes = passes or self.model.config.passes
        if passes < 1 or (self.max_passes is not None and passes > self.max_passes):
            error = InputError(f"This model runs 1 to {self.max_passes or 'any number of'} passes, not {passes}.")
            return [error] * len(asks)
        prepared: list[_Prepared | InputError] = []
        for story, question in asks:
            try:
                prepared.append(self._prepare(story, question))
            except InputError as error:
                prepared.append(error)
        ready = [p for p in prepared if isinstance(p, _Prepared)]
        examples = [ex for p in ready for ex in p.examples]
        if not examples:
            return prepared
        output = self.model(make_batch(examples, self.vocab, **self.model.config.layout).to(self.device), passes=passes)
        probs, gates = torch.softmax(output.logits, -1).cpu(), output.gates.cpu()
        results, row = [], 0
        for p in prepared:
            if isinstance(p, InputError):
                results.append(p)
                continue
            rows = slice(row, row + len(p.examples))
            results.append(self._finish(p, probs[rows], gates[row], output.logits[row].cpu(), passes, top_k))
            row = rows.stop
        return results

    def _prepare(self, story: str | list[str], question: str) -> _Prepared:
        """Check and read one story and question: the facts, new words read as known ones, and the
        examples to run (the story, then, for a story of several facts, once without each)."""
        if self.word_level:
            text = story if isinstance(story, str) else " ".join(story)
            units = [[w] for w in tokenize_sentence(text)]
            facts, what = [w for [w] in units], "sentence"
            question = question or str(self.checkpoint.config.get("question", ""))
        else:
            facts = split_story(story) if isinstance(story, str) else [s for s in story if tokenize(s)]
            units, what = [tokenize(s) for s in facts], "story"
        question_words = tokenize(question)
        characters = len(story) if isinstance(story, str) else sum(map(len, story))
        if not facts:
            raise InputError(f"The {what} is empty: write at least one {'word' if self.word_level else 'sentence'}.")
        if not question_words:
            raise InputError("The question is empty: ask something about the story.")
        if len(facts) > MAX_SENTENCES or characters > MAX_CHARACTERS:
            unit = "words" if self.word_level else "sentences"
            raise InputError(
                f"The {what} is too long ({len(facts)} {unit}, {characters} characters); "
                f"the limit is {MAX_SENTENCES} {unit} and {MAX_CHARACTERS} characters."
            )
        read_as = self._read_as(units, question_words)
        units = [[read_as.get(w, w) for w in unit] for unit in units]
        question_words = [read_as.get(w, w) for w in question_words]
        max_facts = self.model.config.max_facts
        read_units = units[-max_facts:]
        stories = [read_units]  # and a story of several facts once without each: the facts' importance
        if not self.word_level and len(read_units) > 1:
            stories += [read_units[:i] + read_units[i + 1 :] for i in range(len(read_units))]
        return _Prepared(
            text="\n".join([*facts, question]),
            facts=facts,
            read=facts[-max_facts:],
            units=units,
            question=question_words,
            read_as=read_as,
            examples=[Example(context=story, question=question_words, answer=[]) for story in stories],
        )

    def _finish(
        self, p: _Prepared, probs: torch.Tensor, gates: torch.Tensor, logits: torch.Tensor, passes: int, top_k: int
    ) -> Prediction:
        """The Prediction of one prepared ask from its rows of the batch: answer probabilities
        probs [examples, A, V] (the story, then without each fact), the story's gates [P, F] and logits."""
        read = p.read
        forms = surface_forms(p.text, p.read_as)  # each new word as the user first wrote it
        if self.model.config.answer_mode == "tags":
            best, index = best_tags(logits[: len(read)])
            tags = [(self.vocab.answers[i], q) for i, q in zip(index.tolist(), best.tolist(), strict=True)]
            answer, confidence, top, importance = " ".join(t for t, _ in tags), float(best.mean()), [], []
        else:
            tags = []
            ranked = top_sequences(probs[0], self.vocab.answers, max(1, top_k))
            ids = [self.vocab.answer_index[w] for w in ranked[0][0]]
            importance = [round(ranked[0][1] - sequence_probability(row, ids), 6) for row in probs[1:]]
            if len(read) == 1 and not self.word_level:  # without its one fact, a story has nothing to answer from
                importance = [round(ranked[0][1], 6)]
            back = {known: new for new, known in p.read_as.items()}
            top = [(",".join(forms.get(back.get(w), w) for w in words), q) for words, q in ranked]
            answer, confidence = top[0]
        unknown = self.vocab.unknown([w for unit in p.units for w in unit] + p.question)
        guess = self._guess_reason(p.units, p.question, unknown)
        return Prediction(
            answer=answer,
            confidence=confidence,
            top_answers=top,
            facts=read,
            gates=[[round(g, 6) for g in row[: len(read)]] for row in gates.tolist()],
            unknown_words=unknown,
            dropped_facts=len(p.facts) - len(read),
            passes=passes,
            tags=tags,
            importance=importance,
            read_as={forms[new]: known for new, known in p.read_as.items()},
            guess=guess is not None,
            guess_reason=guess,
        )

    def _read_as(self, units: list[list[str]], question: list[str]) -> dict[str, str]:
        """{new word: known word of its kind} for a bAbI model with word kinds (kinds.json)."""
        kinds = self.checkpoint.kinds
        if kinds is None or self.word_level:
            return {}
        return kinds.place([*units, question], self._known_words, self.vocab.answers)

    @functools.cached_property
    def _known_words(self) -> frozenset[str]:
        """The vocabulary's words, special tokens left out (made once, not on every question)."""
        return frozenset(w for w in self.vocab.words if not w.startswith("<"))

    def _guess_reason(self, units: list[list[str]], question: list[str], unknown: list[str]) -> str | None:
        """Why the answer is a guess (input outside what the model was trained on), or None."""
        if self.word_level:
            return None
        strange = [w for w in question if w in unknown]
        if strange:
            words = ", ".join(f'"{w}"' for w in dict.fromkeys(strange))
            return f"The question has words this model never saw ({words}), so it cannot know what is asked."
        story_words = [w for unit in units for w in unit]
        share = sum(w in unknown for w in story_words) / max(1, len(story_words))
        if share > UNKNOWN_SHARE:
            return f"{share:.0%} of the story's words are new to this model, so it reads little of it."
        kinds = self.checkpoint.kinds
        if kinds is not None and kinds.questions and kinds.question_shape(question) not in kinds.questions:
            return "No question of this shape was in this model's training data, so its answer is a guess."
        return None
