"""The app's model side: which checkpoints exist, cached predictors, asking, and bAbI test stories.

Nothing here draws or knows about Gradio; every number the app shows comes from `dmn.predict`.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from app.typed_stories import TYPED_STORIES
from dmn.checkpoint import CheckpointError, CheckpointInfo, find_checkpoints
from dmn.data import DataNotFoundError, Example, Vocab, resolve_data_dir
from dmn.predict import InputError, Prediction, Predictor
from dmn.tasks import FAMILIES
from dmn.tasks.babi import BABI_TASK_NAMES, load_babi

REPO = Path(__file__).resolve().parents[1]
SHIPPED_DIR = REPO / "checkpoints"
DEFAULT_CHECKPOINT = "babi-joint"
UNLIMITED_PASSES = 6  # the passes slider's end when a model can run any number of passes
RESULT_KEYS = (
    "answer", "confidence", "top_answers", "facts", "gates", "top_facts",
    "unknown_words", "dropped_facts", "passes", "importance", "read_as", "guess", "guess_reason",
)  # fmt: skip


def user_checkpoint_dir() -> Path:
    """Where the user's own checkpoints live: $DMN_CHECKPOINT_DIR, else ~/.cache/dmn/checkpoints."""
    default = Path.home() / ".cache" / "dmn" / "checkpoints"
    return Path(os.environ.get("DMN_CHECKPOINT_DIR") or default).expanduser()


# --------------------------------------------------------------------------------------------
# Checkpoints


def all_checkpoints() -> list[CheckpointInfo]:
    """Every checkpoint of every task (question answering, sentiment, tagging), shipped then the
    user's own; JSON files only, no weights are read."""
    return find_checkpoints(SHIPPED_DIR, user_checkpoint_dir())


def checkpoint_key(info: CheckpointInfo, infos: list[CheckpointInfo]) -> str:
    """What the picker and the API call a checkpoint: its name, or its path when names clash."""
    return info.name if sum(i.name == info.name for i in infos) == 1 else str(info.path)


def checkpoint_label(info: CheckpointInfo) -> str:
    """One picker line: name, description and mean test accuracy."""
    accuracy = "not evaluated" if info.mean_accuracy is None else f"{info.mean_accuracy:.1%} test accuracy"
    where = "" if info.path.parent == SHIPPED_DIR else " (yours)"
    description = f" — {info.description}" if info.description else ""
    return f"{info.name}{where}{description} · {accuracy}"


def find_checkpoint(key: str, infos: list[CheckpointInfo]) -> tuple[str, CheckpointInfo] | None:
    """(picker key, info) of the listed checkpoint a key, a name or a listed path names; else None.
    Only the listed checkpoints can be named: nothing else on disk is reachable."""
    for info in infos:
        if key in (checkpoint_key(info, infos), info.name, str(info.path)):
            return checkpoint_key(info, infos), info
    return None


@dataclass(frozen=True)
class CheckpointKind:
    """The checkpoints one tab uses, and how it answers with them.

    tasks: the task prefixes of its checkpoints ("sst:"); empty: every task but the sentence ones.
    """

    tab: str  # the tab that uses them
    tasks: tuple[str, ...] = ()
    default: str | None = None  # the checkpoint an empty key means, when it is there
    what: str = ""  # the word for them in messages: "No sentiment checkpoint called ..."
    text: str = "story"  # what the model reads, and its facts, in the warning about unread facts
    fact: str = "sentence"
    top_k: int = 5  # answers in "top_answers"
    tab_in_label: bool = False  # the picker says which tab uses each checkpoint
    result_keys: tuple[str, ...] = ()  # keys an error result has beside RESULT_KEYS

    def holds(self, info: CheckpointInfo) -> bool:
        if self.tasks:
            return info.task.startswith(self.tasks)
        return not info.task.startswith(SENTENCE_TASKS)

    def listed(self, found: list[CheckpointInfo] | None = None) -> list[CheckpointInfo]:
        """Its checkpoints among `found` (else on disk), shipped then the user's own."""
        return [c for c in (all_checkpoints() if found is None else found) if self.holds(c)]

    def choices(self, found: list[CheckpointInfo] | None = None) -> list[tuple[str, str]]:
        """(label, key) pairs for its checkpoint picker."""
        infos = self.listed(found)
        return [(self.label(i), checkpoint_key(i, infos)) for i in infos]

    def label(self, info: CheckpointInfo) -> str:
        return f"{checkpoint_label(info)} · {checkpoint_tab(info)} tab" if self.tab_in_label else checkpoint_label(info)

    def default_key(self, found: list[CheckpointInfo] | None = None) -> str | None:
        """Its default checkpoint when present, else the first one listed; None for a kind without one."""
        if self.default is None:
            return None
        keys = [key for _, key in self.choices(found)]
        return self.default if self.default in keys else (keys[0] if keys else None)

    def resolve(self, key: str | None) -> tuple[str, CheckpointInfo]:
        """(picker key, info) of the checkpoint a key, a name or a listed path names; else
        CheckpointError. An empty key means the default checkpoint."""
        found = all_checkpoints()
        infos = self.listed(found)
        key = (key or "").strip() or self.default_key(found) or ""
        named = find_checkpoint(key, infos)
        if named is not None:
            return named
        what = f"{self.what} " if self.what else ""
        if not infos:
            raise CheckpointError(
                f"No {what}checkpoints found in {SHIPPED_DIR} or {user_checkpoint_dir()}: train one with "
                "`python -m dmn train ... --out <folder>` into either."
            )
        tasks = f" (task {'/'.join(self.tasks)}...)" if self.tasks else ""
        names = ", ".join(checkpoint_key(i, infos) for i in infos)
        raise CheckpointError(
            f"No {what}checkpoint called {key!r}{tasks}. Available: {names}. "
            f"Your own checkpoints go in {user_checkpoint_dir()} ($DMN_CHECKPOINT_DIR)."
        )


SENTENCE_TASKS = tuple(f"{name}:" for name, family in FAMILIES.items() if family.word_level)
# the task prefixes of models that read one sentence, not a story and a question
ASK_CHECKPOINTS = CheckpointKind("Ask", default=DEFAULT_CHECKPOINT)
SENTENCE = dict(text="sentence", fact="word", top_k=10, result_keys=("tags",))  # top_k: every label of sst-fine
SENTIMENT_CHECKPOINTS = CheckpointKind("Sentiment", ("sst:",), "sst-binary", "sentiment", **SENTENCE)
TAGGING_CHECKPOINTS = CheckpointKind("Part of speech", ("pos:",), "pos-ewt", "part-of-speech", **SENTENCE)
TAB_KINDS = (ASK_CHECKPOINTS, SENTIMENT_CHECKPOINTS, TAGGING_CHECKPOINTS)
ALL_CHECKPOINTS = CheckpointKind("Train", ("",), tab_in_label=True)  # the download picker: every task


def checkpoint_tab(info: CheckpointInfo) -> str:
    """The tab that uses a checkpoint: "Ask", "Sentiment" or "Part of speech"."""
    return next(kind.tab for kind in TAB_KINDS if kind.holds(info))


class PredictorCache:
    """Loaded predictors by checkpoint path, the most recently used kept.

    A checkpoint directory that was replaced on disk (a newer training result) is loaded again.
    """

    def __init__(self, size: int = 4, device: str = "auto") -> None:
        self.size = size
        self.device = device
        self._items: OrderedDict[Path, tuple[tuple[tuple[int, int], ...], Predictor]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _stamp(path: Path) -> tuple[tuple[int, int], ...]:
        """(inode, mtime) of config.json and of model.safetensors where there is one (an ensemble
        sharing a sibling's weights may have none): replacing either reloads the checkpoint."""
        files = [path / "config.json", *([path / "model.safetensors"] if (path / "model.safetensors").exists() else [])]
        try:
            return tuple((stat.st_ino, stat.st_mtime_ns) for stat in (file.stat() for file in files))
        except OSError:
            raise CheckpointError(f"{path}: missing config.json") from None

    def get(self, path: str | os.PathLike) -> Predictor:
        """The predictor of this checkpoint directory, loaded once (CheckpointError if it cannot be)."""
        path = Path(path).resolve()
        with self._lock:
            stamp = self._stamp(path)
            hit = self._items.get(path)
            if hit is not None and hit[0] == stamp:
                self._items.move_to_end(path)
                return hit[1]
            predictor = Predictor.load(path, device=self.device)
            self._items[path] = (stamp, predictor)
            self._items.move_to_end(path)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
            return predictor

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


PREDICTORS = PredictorCache()


@dataclass
class ModelSummary:
    """What the UI shows about a loaded checkpoint besides its answers."""

    key: str
    info: CheckpointInfo
    config: dict
    metrics: dict
    trained_passes: int
    max_passes: int | None  # None: any number of passes
    vocabulary: list[str]  # input words the model knows (special tokens left out)
    device: str

    @property
    def slider_max(self) -> int:
        """The passes slider's end: the model's limit, or a few passes past training when unlimited."""
        return self.max_passes or max(UNLIMITED_PASSES, self.trained_passes)


def summarize(key: str | None) -> ModelSummary:
    """Load (or reuse) a checkpoint and describe it; CheckpointError when it cannot be loaded."""
    key, info = ASK_CHECKPOINTS.resolve(key)
    predictor = PREDICTORS.get(info.path)
    return ModelSummary(
        key=key,
        info=info,
        config=predictor.checkpoint.config,
        metrics=predictor.checkpoint.metrics,
        trained_passes=predictor.model.config.passes,
        max_passes=predictor.max_passes,
        vocabulary=[w for w in predictor.vocab.words if not w.startswith("<")],
        device=str(predictor.device),
    )


# --------------------------------------------------------------------------------------------
# Asking


def on_gpu(fn: Callable, duration: int | Callable[..., int] | None = None) -> Callable:
    """`spaces.GPU(fn)` on Hugging Face ZeroGPU Spaces (when `spaces` is importable), else fn as is.

    duration: the seconds to ask for (ZeroGPU's default is 60), or a function of fn's arguments
    that returns them (training asks for its time limit).
    """
    try:
        import spaces  # type: ignore[import-not-found]
    except ImportError:
        return fn
    return spaces.GPU(fn) if duration is None else spaces.GPU(duration=duration)(fn)


def empty_result(checkpoint: str | None, error: str | None = None, kind: CheckpointKind = ASK_CHECKPOINTS) -> dict:
    """The result layout with no prediction in it (every key present, so API users can rely on it)."""
    return {
        "checkpoint": checkpoint,
        **dict.fromkeys(RESULT_KEYS),
        "warning": None,
        "error": error,
        "device": None,
        "seconds": None,
        **dict.fromkeys(kind.result_keys),
    }


@on_gpu
def _predict_many(path: str, asks: list[tuple[str, str]], passes: int | None, top_k: int) -> list[dict[str, Any]]:
    """The one GPU-bound step: (story, question) strings in (a sentence model: (sentence, "")), one
    forward pass for all of them, a plain dict out for each (picklable, as ZeroGPU needs);
    {"error": ...} for input it cannot answer."""
    predictor = PREDICTORS.get(path)
    start = time.perf_counter()
    predictions = predictor.predict_many(asks, passes=passes, top_k=top_k)
    return [
        {"error": str(p)} if isinstance(p, InputError) else {**p.to_dict(), **prediction_details(predictor, p, start)}
        for p in predictions
    ]


def prediction_details(predictor: Predictor, prediction: Prediction, start: float) -> dict[str, Any]:
    """What a prediction dict carries beside `Prediction.to_dict()`: top answers and tags as lists,
    the device, the model time since `start`, and for the warning the memory size ("max_facts")
    and how the model reads unknown words ("reading", see `unknown_word_reading`)."""
    return {
        "top_answers": [[answer, p] for answer, p in prediction.top_answers],
        "tags": [[tag, p] for tag, p in prediction.tags],
        "device": str(predictor.device),
        "seconds": round(time.perf_counter() - start, 4),
        "max_facts": predictor.model.config.max_facts,
        "reading": unknown_word_reading(predictor.vocab),
    }


UNKNOWN = "as an unknown word"


def unknown_word_reading(vocab: Vocab) -> str:
    """How a model reads a word outside its vocabulary, as the warning words it."""
    if vocab.chars:
        return "by its spelling, letter by letter" + (", and its shape" if vocab.signatures else "")
    if vocab.signatures:
        return "by its shape alone (capitals, digits, hyphens, its ending)"
    return UNKNOWN


def _passes(value: Any) -> int | None:
    """The passes an ask names (None: as trained); InputError unless a whole number."""
    if value in (None, "", 0):
        return None
    try:
        number = float(value)
        whole = number.is_integer()
    except (TypeError, ValueError):
        whole = False
    if not whole:
        raise InputError(f"Passes must be a whole number, not {value!r}.")
    return int(number)


def warning_text(
    unknown_words: list[str],
    dropped_facts: int,
    max_facts: int | None = None,
    reading: str = UNKNOWN,
    kind: CheckpointKind = ASK_CHECKPOINTS,
) -> str | None:
    """The user-facing warning about unknown words and facts beyond the model's memory.
    `reading`: how the model reads an unknown word (`unknown_word_reading`); `kind`: what its
    model reads (a story of sentences, a sentence of words)."""
    parts = []
    if unknown_words:
        words = ", ".join(f'"{w}"' for w in unknown_words)
        plural = "words are" if len(unknown_words) > 1 else "word is"
        parts.append(
            f"{len(unknown_words)} {plural} not in this model's vocabulary: {words}. "
            f"The model reads each {reading} and still answers, but it cannot know what they mean."
        )
    if dropped_facts:
        limit = f" ({max_facts} {kind.fact}s)" if max_facts else ""
        parts.append(
            f"The {kind.text} is longer than the model's memory{limit}: its first {dropped_facts} "
            f"{kind.fact}{'s were' if dropped_facts > 1 else ' was'} not read."
        )
    return " ".join(parts) or None


def ask(story: str | None, question: str | None, checkpoint: str | None = None, passes: Any = None) -> dict:
    """Answer a question about a story with a checkpoint; never raises for bad input.

    Returns `Prediction.to_dict()` plus "checkpoint", "warning" (unknown words, unread sentences),
    "error" (a message instead of a prediction), "device" and "seconds".
    """
    return ask_many([(story, question, checkpoint, passes)])[0]


def read_sentence(kind: CheckpointKind, sentence: str | None, checkpoint: str | None) -> dict:
    """A one-sentence model's prediction (`kind`: its checkpoints), as `ask` returns it, with "tags"."""
    return ask_many([(sentence, "", checkpoint, None)], kind)[0]


def ask_many(
    asks: list[tuple[str | None, str | None, str | None, Any]], kind: CheckpointKind = ASK_CHECKPOINTS
) -> list[dict]:
    """`ask` for many (story, question, checkpoint, passes) at once, as a server's users send them:
    those for one checkpoint and number of passes run as one forward pass. "seconds" is the model
    time of the batch an ask ran in. `kind`: the checkpoints they may name."""
    results: list[dict | None] = [None] * len(asks)
    groups: dict[tuple[str, str, int | None], list[int]] = {}
    resolved: dict[str | None, tuple[str, CheckpointInfo] | CheckpointError] = {}
    for i, (_, _, checkpoint, passes) in enumerate(asks):
        if checkpoint not in resolved:  # the checkpoint folders are read once per batch, not once per ask
            resolved[checkpoint] = _resolved_or_error(kind, checkpoint)
        found = resolved[checkpoint]
        if isinstance(found, CheckpointError):
            results[i] = empty_result(checkpoint, str(found), kind)
            continue
        key, info = found
        try:
            groups.setdefault((key, str(info.path), _passes(passes)), []).append(i)
        except InputError as err:
            results[i] = empty_result(key, str(err), kind)
    for (key, path, passes), members in groups.items():
        try:
            answers = _predict_many(path, [(asks[i][0] or "", asks[i][1] or "") for i in members], passes, kind.top_k)
        except CheckpointError as err:
            answers = [{"error": str(err)}] * len(members)
        for i, result in zip(members, answers, strict=True):
            results[i] = empty_result(key, result["error"], kind) if "error" in result else finished(key, result, kind)
    return results


def _resolved_or_error(kind: CheckpointKind, key: str | None) -> tuple[str, CheckpointInfo] | CheckpointError:
    try:
        return kind.resolve(key)
    except CheckpointError as err:
        return err


def finished(key: str, result: dict, kind: CheckpointKind) -> dict:
    """A prediction dict as `ask` returns it: the checkpoint's key, the warning in words."""
    max_facts, reading = result.pop("max_facts", None), result.pop("reading", UNKNOWN)
    return {
        "checkpoint": key,
        **result,
        "warning": warning_text(result["unknown_words"], result["dropped_facts"], max_facts, reading, kind),
        "error": None,
    }


def compare(
    story: str | None, question: str | None, checkpoint_a: str | None, passes_a: Any, checkpoint_b: str | None,
    passes_b: Any,
) -> dict:  # fmt: skip
    """The same story and question under two checkpoints, or two numbers of passes: {"a": ask(...),
    "b": ask(...)}, each as `ask` returns it (errors included, never raised)."""
    return {"a": ask(story, question, checkpoint_a, passes_a), "b": ask(story, question, checkpoint_b, passes_b)}


# --------------------------------------------------------------------------------------------
# bAbI test stories


@dataclass
class SampleStory:
    """A random bAbI test question, written out for the story and question boxes."""

    task: int
    story: str  # one sentence per line
    question: str
    answer: str  # as the model writes it: words joined by ","
    supporting: list[int]  # indices of the supporting sentences in the story


# bAbI's people and animals, capitalised again for display (the model lower-cases everything anyway)
NAMES = frozenset(
    "antoine bernhard bill brian daniel emily fred gertrude greg jason jeff jessica john julie julius "
    "lily mary sandra sumit winona yann".split()
)


def _words(tokens: list[str]) -> str:
    text = " ".join(t.capitalize() if t in NAMES else t for t in tokens)
    return text[:1].upper() + text[1:]


def sentence(tokens: list[str]) -> str:
    """bAbI tokens back to a sentence for display: 'mary went home' -> 'Mary went home.'"""
    return _words(tokens) + "."


def question_text(tokens: list[str]) -> str:
    """bAbI question tokens for display: 'where is daniel' -> 'Where is Daniel?'"""
    return _words(tokens) + "?"


def task_choices() -> list[tuple[str, int]]:
    """(label, task id) pairs for the Sample picker: '2 · two supporting facts'."""
    return [(f"{i} · {name}", i) for i, name in BABI_TASK_NAMES.items()]


@lru_cache(maxsize=40)
def _test_set(task_id: int, data_dir: str) -> tuple[Example, ...]:
    return tuple(load_babi([task_id], "1k", "test", data_dir=data_dir))


def _typed_story(task_id: int, rng: random.Random | None) -> SampleStory:
    """A story of the task written by hand for the project (app/typed_stories.json), for Sample where
    no bAbI data is on the machine; it names no supporting facts."""
    case = (rng or random).choice([c for c in TYPED_STORIES if c.task == task_id])
    return SampleStory(task=task_id, story=case.story, question=case.question, answer=case.answer, supporting=[])


def random_test_story(task_id: int, rng: random.Random | None = None) -> SampleStory:
    """A random test question of a bAbI task from the data folder's test set; where there is none,
    a story of the task written by hand for the project."""
    task_id = int(task_id)
    if task_id not in BABI_TASK_NAMES:
        raise ValueError(f"bAbI has tasks 1-20, not {task_id}")
    try:
        examples = _test_set(task_id, str(resolve_data_dir()))
    except DataNotFoundError:
        return _typed_story(task_id, rng)
    example = (rng or random).choice(examples)
    return SampleStory(
        task=task_id,
        story="\n".join(sentence(tokens) for tokens in example.context),
        question=question_text(example.question),
        answer=",".join(example.answer),
        supporting=list(example.supporting),
    )
