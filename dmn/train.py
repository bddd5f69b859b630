"""Training: Adam on padded, masked batches, a held-out validation split, early stopping,
gradient clipping and the best model kept. `Trainer` is driven by the CLI and by the app."""

from __future__ import annotations

import contextlib
import math
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

import torch
from torch import nn
from tqdm import tqdm

from dmn.checkpoint import load_checkpoint, save_checkpoint
from dmn.data import Batch, Example, Vocab, batches
from dmn.embeddings import freeze_rows, initialise_embedding, load_vectors
from dmn.ensemble import Ensemble
from dmn.evaluate import accuracy_by_task, accuracy_on_test_set, mean_loss, summary
from dmn.kinds import WordKinds, interchangeable, swapped
from dmn.model import DMN, DMNConfig, DMNOutput
from dmn.settings import SETTINGS_KEY, RunSpec, TrainConfig
from dmn.tasks import FAMILIES, family_of, load_task, rephrased


@dataclass
class EpochReport:
    """What one epoch did; the per-epoch callback receives it."""

    epoch: int
    epochs: int
    train_loss: float
    val_accuracy: float
    val_by_task: dict[str, float]
    best_epoch: int
    best_val_accuracy: float
    seconds: float
    examples_per_second: float
    improved: bool
    val_loss: float | None = None  # computed with TrainConfig.tie_break_loss


@dataclass
class TrainResult:
    best_epoch: int
    best_val_accuracy: float
    history: list[EpochReport] = field(default_factory=list)
    stopped_early: bool = False
    cancelled: bool = False  # ended by stop() or by on_epoch returning True
    seconds: float = 0.0
    stop_reason: str | None = None  # why it was cancelled: the reason given to stop() (None: not cancelled)


def _by_task(examples: Sequence[Example]) -> dict[str, list[Example]]:
    """The examples grouped by task, in order."""
    by_task: dict[str, list[Example]] = {}
    for ex in examples:
        by_task.setdefault(ex.task, []).append(ex)
    return by_task


def _first_of_each_task(examples: Sequence[Example], limit: int | None) -> list[Example]:
    """The first `limit` examples of each task (all when limit is None)."""
    if not limit:
        return list(examples)
    by_task = _by_task(examples)
    return [ex for task in by_task.values() for ex in task[:limit]]


def balance_tasks(examples: Sequence[Example]) -> list[Example]:
    """Repeat each task's examples round(largest / own size) times, so that a task with fewer
    training questions (e.g. bAbI task 3, which has only 1k) weighs about as much as the others."""
    by_task = _by_task(examples)
    largest = max(len(task) for task in by_task.values())
    return [ex for task in by_task.values() for ex in task * max(1, round(largest / len(task)))]


def repeat_tasks(examples: Sequence[Example], repeats: dict[str, int]) -> list[Example]:
    """The examples with each task named in `repeats` taken that many times (the others once), e.g.
    to give tasks that learn slowly more steps."""
    by_task = _by_task(examples)
    unknown = sorted(set(repeats) - set(by_task))
    if unknown:
        raise ValueError(f"cannot repeat {', '.join(unknown)}: the training data has {', '.join(by_task)}")
    return [ex for task, task_examples in by_task.items() for ex in task_examples * repeats.get(task, 1)]


VAL_SPLITS = ("story", "question")


def split_validation(
    examples: Sequence[Example], fraction: float, seed: int, by: str = "story"
) -> tuple[list[Example], list[Example]]:
    """Hold out `fraction` of each task's training examples (a seeded random choice).

    by="story": whole stories are held out. The questions of one bAbI story share its facts and
    often its question and answer (70% of task 2's held-out questions had a twin in training), so
    holding out single questions (by="question", how runs before it were validated) lets memorising
    look like generalising. A task with only one story falls back to single questions.
    """
    if by not in VAL_SPLITS:
        raise ValueError(f"the validation split is by {' or '.join(VAL_SPLITS)}, not {by!r}")
    rng = random.Random(seed)
    train, val = [], []
    for task_examples in _by_task(examples).values():
        groups = _by_story(task_examples) if by == "story" else []
        if len(groups) < 2:
            groups = [[ex] for ex in task_examples]
        rng.shuffle(groups)
        n_val = max(1, round(len(groups) * fraction)) if len(groups) > 1 else 0
        val += [ex for group in groups[:n_val] for ex in group]
        train += [ex for group in groups[n_val:] for ex in group]
    return train, val


def trained_val_split(train: dict) -> str:
    """How a checkpoint's run split its validation set, from its saved train settings: runs before
    the story split have no `val_split` and held out single questions."""
    return train.get("val_split", "question")


def _by_story(examples: Sequence[Example]) -> list[list[Example]]:
    """The examples grouped by story, in order; an example with no story (-1) is a group of its own."""
    groups: dict[object, list[Example]] = {}
    for i, ex in enumerate(examples):
        groups.setdefault(ex.story if ex.story >= 0 else ("own", i), []).append(ex)
    return list(groups.values())


def validation_set(config: dict, metrics: dict, data_dir: str | os.PathLike | None = None) -> list[Example]:
    """The validation examples a checkpoint was chosen on (from its config.json and metrics.json):
    for bAbI the share of train its run held out (its seed), for SST and POS the official dev set."""
    task = config.get("task", "")
    if family_of(task).word_level:
        examples = load_task(task, "dev", data_dir=data_dir)
    else:
        train = config.get("train", {})
        examples = load_task(task, "train", config.get("size", "1k"), data_dir)
        examples = split_validation(
            examples, train.get("val_fraction", 0.1), train.get("seed", 0), trained_val_split(train)
        )[1]
    expected = metrics.get("data", {}).get("validation_examples")
    if expected != len(examples):
        raise ValueError(
            f"this checkpoint was validated on {expected} questions, the rebuilt split has {len(examples)}: "
            "it was trained on a subset (--limit) or on your own file, and its validation split cannot be rebuilt"
        )
    return examples


class WeightAverage:
    """An exponential moving average of a model's weights (Polyak averaging), updated after every
    step: avg = decay_t * avg + (1 - decay_t) * w with decay_t = min(decay, (1 + t) / (10 + t)),
    so that the first steps' weights fade fast. `applied(model)` puts it into the model for a while.
    """

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"the weight average's decay must be in (0, 1), not {decay}")
        self.decay, self.steps = decay, 0
        self.average = [p.detach().clone() for p in model.parameters()]

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        decay = min(self.decay, (1 + self.steps) / (10 + self.steps))
        for average, weight in zip(self.average, model.parameters(), strict=True):
            average.lerp_(weight, 1 - decay)
        self.steps += 1

    @contextlib.contextmanager
    @torch.no_grad()
    def applied(self, model: torch.nn.Module) -> Iterator[None]:
        """The model holds the averaged weights inside the block, its own after it."""
        own = [p.detach().clone() for p in model.parameters()]
        for p, average in zip(model.parameters(), self.average, strict=True):
            p.copy_(average)
        try:
            yield
        finally:
            for p, weight in zip(model.parameters(), own, strict=True):
                p.copy_(weight)


def adam(model: nn.Module, lr: float, weight_decay: float = 0.0, embedding_lr: float = 1.0) -> torch.optim.Adam:
    """Adam as training runs it: fused, one pass over all parameters instead of a dozen operations
    for each of them (on the CPU about 1.5 ms less a step for the DMN's 30-odd parameter tensors).
    The word vectors L learn at `embedding_lr` times `lr` (1: as the rest)."""
    words = model.embedding.weight
    rest = [p for p in model.parameters() if p is not words]
    groups = [{"params": rest}, {"params": [words], "lr": lr * embedding_lr}]
    return torch.optim.Adam(groups, lr=lr, weight_decay=weight_decay, fused=True)


class Trainer:
    """Trains a DMN, keeping the weights of the epoch with the best validation accuracy.

    `on_epoch(report)` is called after every epoch; returning True stops training. `stop(reason)`
    (from any thread) stops at the next step; the result's `stop_reason` says why. `on_best(model)`
    is called whenever the validation accuracy improves, e.g. to write a checkpoint.
    `on_step(done, total)` is called after every training batch with the batches done in this
    epoch and the epoch's batch count (for a progress bar within an epoch).
    `config.patience` None: no early stopping, every epoch is run. With `config.tie_break_loss`
    an epoch also counts as better when it equals the best validation accuracy at a lower
    validation loss (the DMN+ authors' choice), and reaching 100% does not end training: on a
    small validation set many epochs reach it, and later ones can still generalise better.
    With `config.weight_average` the validation, the kept weights and `on_best` see the
    `WeightAverage` of the weights instead of the last step's.
    """

    STOPPED = "stopped"  # the reason when none is given

    def __init__(
        self,
        model: DMN,
        vocab: Vocab,
        train: Sequence[Example],
        val: Sequence[Example],
        config: TrainConfig,
        device: torch.device | str = "cpu",
    ) -> None:
        if not train or not val:
            raise ValueError("training needs at least one training and one validation example")
        self.model = model.to(device)
        self.vocab = vocab
        self.train_examples = balance_tasks(train) if config.balance_tasks else list(train)
        if config.task_repeats:
            self.train_examples = repeat_tasks(self.train_examples, config.task_repeats)
        self.val_examples = list(val)
        self.swap_groups = interchangeable(self.train_examples, config.swap_people) if config.swap_entities else []
        self.config = config
        self.device = torch.device(device)
        self.optimizer = adam(model, config.lr, config.weight_decay, config.embedding_lr)
        self._stop = threading.Event()
        self._stop_lock = threading.Lock()
        self._stop_reason: str | None = None

    def stop(self, reason: str = STOPPED) -> None:
        """End training at the next step (any thread); the first reason given is the one recorded."""
        with self._stop_lock:
            if self._stop_reason is None:
                self._stop_reason = reason
            self._stop.set()

    @property
    def stop_reason(self) -> str | None:
        """The reason given to stop(), None before it is called."""
        return self._stop_reason

    def fit(
        self,
        on_epoch: Callable[[EpochReport], bool | None] | None = None,
        on_best: Callable[[DMN], None] | None = None,
        progress: bool = False,
        on_step: Callable[[int, int], None] | None = None,
    ) -> TrainResult:
        cfg = self.config
        torch.manual_seed(cfg.seed)
        generator = torch.Generator().manual_seed(cfg.seed)
        best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        result = TrainResult(best_epoch=0, best_val_accuracy=-1.0)
        best_val_loss = math.inf
        average = WeightAverage(self.model, cfg.weight_average) if cfg.weight_average else None
        forward = torch.compile(self.model, dynamic=True) if cfg.compile else self.model  # the same parameters
        start = time.perf_counter()
        for epoch in range(1, cfg.epochs + 1):
            epoch_start = time.perf_counter()
            train_loss, seen = self._train_epoch(epoch, generator, forward, average, progress, on_step)
            if self._stop.is_set():
                result.cancelled, result.stop_reason = True, self.stop_reason or self.STOPPED
                break
            with average.applied(self.model) if average is not None else contextlib.nullcontext():
                val_by_task = accuracy_by_task(self.model, self.vocab, self.val_examples, device=self.device)
                val_accuracy = sum(val_by_task.values()) / len(val_by_task)
                val_loss = self.validation_loss() if cfg.tie_break_loss else None
                improved = val_accuracy > result.best_val_accuracy or (
                    val_loss is not None and val_accuracy == result.best_val_accuracy and val_loss < best_val_loss
                )
                if improved:
                    result.best_epoch, result.best_val_accuracy = epoch, val_accuracy
                    best_val_loss = val_loss if val_loss is not None else best_val_loss
                    best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
                    if on_best is not None:
                        on_best(self.model)
            if not improved:
                for group in self.optimizer.param_groups:
                    group["lr"] *= cfg.lr_decay
            seconds = time.perf_counter() - epoch_start
            report = EpochReport(epoch, cfg.epochs, train_loss, val_accuracy, val_by_task, result.best_epoch,
                                 result.best_val_accuracy, seconds, seen / seconds, improved, val_loss)  # fmt: skip
            result.history.append(report)
            if progress:
                shown_loss = "" if val_loss is None else f" (loss {val_loss:.4f})"
                tqdm.write(
                    f"epoch {epoch}: loss {report.train_loss:.4f}  val {val_accuracy:.2%}{shown_loss}"
                    f"  best {result.best_val_accuracy:.2%} (epoch {result.best_epoch})  {seconds:.0f}s"
                )
            if (on_epoch is not None and on_epoch(report)) or self._stop.is_set():
                result.cancelled, result.stop_reason = True, self.stop_reason or self.STOPPED
                break
            perfect = val_accuracy >= 1.0 and not cfg.tie_break_loss
            if cfg.patience is not None and (perfect or epoch - result.best_epoch >= cfg.patience):
                result.stopped_early = epoch < cfg.epochs
                break
        self.model.load_state_dict(best_state)
        result.seconds = time.perf_counter() - start
        return result

    def _train_epoch(
        self,
        epoch: int,
        generator: torch.Generator,
        forward: Callable[[Batch], DMNOutput],
        average: WeightAverage | None,
        progress: bool,
        on_step: Callable[[int, int], None] | None,
    ) -> tuple[float, int]:
        """One pass over the training examples (until stop()); returns the mean loss and the
        examples seen."""
        cfg = self.config
        self.model.train()
        total_loss, seen = 0.0, 0
        n_batches = math.ceil(len(self.train_examples) / cfg.batch_size)
        train = self.train_examples
        if cfg.vary_phrasing or self.swap_groups:  # drawn only then: runs without them see the batches they always did
            rng = random.Random(int(torch.randint(2**31, (1,), generator=generator)))
            if cfg.vary_phrasing:
                train = rephrased(train, cfg.vary_phrasing, rng)
            if self.swap_groups:
                train = [swapped(ex, self.swap_groups, rng) if rng.random() < cfg.swap_entities else ex for ex in train]
        train = self.vocab.hide_words(train, generator, rate=cfg.word_dropout, rare_rate=cfg.rare_word_dropout)
        bar = tqdm(
            batches(train, self.vocab, cfg.batch_size, generator=generator, **self.model.config.layout),
            total=n_batches,
            desc=f"epoch {epoch}/{cfg.epochs}",
            disable=not progress,
            leave=False,
        )
        for done, batch in enumerate(bar, 1):
            if self._stop.is_set():
                break
            batch = batch.to(self.device)
            loss = self.model.loss(forward(batch), batch, cfg.gate_supervision, cfg.gate_loss)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip)
            self.optimizer.step()
            if average is not None:
                average.update(self.model)
            total_loss += loss.item() * len(batch.examples)
            seen += len(batch.examples)
            bar.set_postfix(loss=f"{total_loss / seen:.4f}", refresh=False)
            if on_step is not None:
                on_step(done, n_batches)
        return total_loss / max(seen, 1), seen

    def validation_loss(self) -> float:
        """The training objective (answers, plus gates when supervised) on the validation examples."""
        cfg = self.config
        return mean_loss(
            self.model, self.vocab, self.val_examples, self.device, cfg.batch_size, cfg.gate_supervision, cfg.gate_loss
        )


# --------------------------------------------------------------------------------------------
# A whole run, from a task spec to a checkpoint (the CLI and the app's Train tab both use this)


class TrainingRun:
    """A prepared run: data loaded and split, vocabulary and model built, a Trainer ready.

    bAbI holds out 10% of train for validation; SST and POS use their official dev sets.
    `examples` replaces the training files (e.g. a user's own file in bAbI format); such a run
    has no test set, and its metrics are those of the validation split.
    """

    def __init__(
        self,
        spec: RunSpec,
        data_dir: str | None = None,
        device: torch.device | str = "cpu",
        examples: Sequence[Example] | None = None,
        command: str = "",
    ) -> None:
        model = spec.model
        model.check_together()
        self.spec, self.data_dir, self.device = spec, data_dir, torch.device(device)
        self.has_test_set = examples is None
        named = FAMILIES.get(spec.task.partition(":")[0])  # None: a file of one's own, in bAbI's format
        family = named or (family_of(spec.task) if examples is None else FAMILIES["babi"])
        if examples is None:
            examples = load_task(spec.task, "train", spec.size, data_dir, phrases=spec.phrases, hold_out=spec.hold_out)
        examples = _first_of_each_task(examples, spec.limit)
        self.validates_on_dev = family.word_level and self.has_test_set  # else on a share held out of training
        if self.validates_on_dev:
            self.train_examples = examples
            self.val_examples = _first_of_each_task(load_task(spec.task, "dev", data_dir=data_dir), spec.limit)
        else:
            self.train_examples, self.val_examples = split_validation(
                examples, spec.train.val_fraction, spec.train.seed, spec.train.val_split
            )
        learns_kinds = named is not None and named.learns_kinds  # to read new names, places... as known ones
        self.kinds = WordKinds.learn(examples) if learns_kinds else None
        self.vocab = Vocab.build(
            examples,
            lowercase=family.lowercase,
            signatures=model.word_signatures,
            chars=model.char_features,
            case_fallback=family.case_fallback,
        )
        longest = max(len(ex.context) for ex in [*self.train_examples, *self.val_examples])
        vectors = load_vectors(model.embeddings, self.vocab, model.embedding_vocab) if model.embeddings else {}
        if model.embedding_vocab:  # words never seen in training keep their pretrained meaning
            self.vocab = self.vocab.with_words(vectors)
        torch.manual_seed(spec.train.seed)
        self.model = DMN(
            DMNConfig(
                vocab_size=len(self.vocab.words),
                answer_size=len(self.vocab.answers),
                hidden=model.hidden,
                embed=len(next(iter(vectors.values()))) if vectors else 0,
                passes=model.passes,
                max_answer_len=max(len(ex.answer) for ex in examples) + 1,
                max_facts=min(200, longest) if family.word_level else model.max_facts,
                fact_unit=family.fact_unit,
                answer_mode=family.answer_mode,
                dropout=model.dropout,
                char_vocab_size=len(self.vocab.chars),
                positional_encoding=model.positional_encoding,
                **model.parts,
            )
        )
        self.embedding_coverage = None
        if model.embeddings:
            found = initialise_embedding(self.model.embedding.weight, self.vocab, vectors)
            self.embedding_coverage = found.sum().item() / max(1, len(self.vocab.words) - 3)
            if model.freeze_embeddings:  # one vector space for every word, whether training saw it or not
                freeze_rows(self.model.embedding.weight, found)
        if spec.init_from:
            self._start_from(spec.init_from)
        variant = self.model.config.variant
        where = f" ({spec.size})" if not family.word_level else ""
        self.config = {
            "task": spec.task,
            "size": spec.size,
            "variant": variant,
            "description": spec.description or f"{variant.upper()} on {spec.task}{where}",
            "question": " ".join(examples[0].question) if family.word_level else "",
            "embeddings": model.embeddings,
            "train": spec.train.to_dict(),
            SETTINGS_KEY: spec.to_dict(),
            "command": command,
            **({"init_from": spec.init_from} if spec.init_from else {}),
            **({"hold_out": spec.hold_out} if spec.hold_out else {}),
        }
        self.trainer = Trainer(self.model, self.vocab, self.train_examples, self.val_examples, spec.train, self.device)

    def _start_from(self, path: str) -> None:
        """Load a checkpoint's weights into the new model, e.g. to train longer at a new learning
        rate. It must have been trained on the same task, vocabulary and model settings, and for
        a validation split held out of training on the same data with the same split (else the new
        run would validate on questions it trained on). SST and POS validate on their dev set
        whatever they train on, so a run may go on with other training data (whole sentences after
        phrases) or another seed."""
        start = load_checkpoint(path)
        if isinstance(start.model, Ensemble):
            raise ValueError(f"{path} is an ensemble of several models: start from one of its members")
        data = start.metrics.get("data")
        if not data:
            raise ValueError(f"{path} does not record the data it was trained on (a run that has not finished?)")
        trained = start.config.get("train", {})
        expected = {
            "task": (start.config.get("task"), self.spec.task),
            "validation questions": (data.get("validation_examples"), len(self.val_examples)),
            "training sentences held out": (start.config.get("hold_out", 0), self.spec.hold_out),
        }
        if not self.validates_on_dev:
            expected |= {
                "size": (start.config.get("size"), self.spec.size),
                "seed": (trained.get("seed"), self.spec.train.seed),
                "validation fraction": (trained.get("val_fraction"), self.spec.train.val_fraction),
                "validation split by": (trained_val_split(trained), self.spec.train.val_split),
                "training questions": (data.get("train_examples"), len(self.train_examples)),
            }
        differ = [f"{name} {theirs} (this run: {ours})" for name, (theirs, ours) in expected.items() if theirs != ours]
        if differ:
            raise ValueError(f"{path} was trained on other data or another validation split: {'; '.join(differ)}")
        if start.vocab.to_json() != self.vocab.to_json():
            raise ValueError(f"{path} has another vocabulary than this run")
        if start.model.config != self.model.config:
            ours, theirs = self.model.config.to_dict(), start.model.config.to_dict()
            differ = [f"{k} {theirs[k]} (this run: {ours[k]})" for k in ours if ours[k] != theirs[k]]
            raise ValueError(f"{path} has other model settings: {'; '.join(differ)}")
        self.model.load_state_dict(start.model.state_dict())

    BY_USER = "by the user"  # metrics["stopped"] of a run stopped without a reason

    def stop(self, reason: str = BY_USER) -> None:
        """End the run at the next step; the best model so far is still written, and its metrics'
        "stopped" is `reason` (e.g. "by the user", "time limit (6 h)")."""
        self.trainer.stop(reason)

    def fit(
        self,
        out: str | os.PathLike,
        on_epoch: Callable[[EpochReport], bool | None] | None = None,
        progress: bool = False,
        on_step: Callable[[int, int], None] | None = None,
    ) -> dict:
        """Train, writing the best model to `out` whenever it improves; then test it and write the
        final checkpoint with its metrics. Returns the metrics; their "stopped" says how the run
        ended: "early", "last epoch", or the reason given to stop() ("by the user" when on_epoch
        ended it). `on_step(done, total)` is called after every batch (see Trainer)."""
        training = {"status": "training"}
        result = self.trainer.fit(
            on_epoch=on_epoch,
            on_best=lambda model: save_checkpoint(out, model, self.vocab, self.config, training, self.kinds),
            progress=progress,
            on_step=on_step,
        )
        stopped = "early" if result.stopped_early else "last epoch"
        if result.cancelled:
            reason = result.stop_reason
            stopped = self.BY_USER if reason in (None, Trainer.STOPPED) else reason
        if result.best_epoch == 0:  # stopped before the first epoch ended: nothing worth keeping
            return {"status": "cancelled", "epochs_run": 0, "stopped": stopped}
        accuracy = {}
        if self.has_test_set:
            accuracy = accuracy_on_test_set(
                self.model, self.vocab, self.spec.task, self.spec.size, self.data_dir, self.device
            )
        metrics = {
            "test_accuracy": accuracy,
            **(summary(accuracy) if accuracy else {}),
            "validation_accuracy": result.best_val_accuracy,
            "best_epoch": result.best_epoch,
            "epochs_run": len(result.history),
            "stopped": stopped,
            "train_seconds": round(result.seconds, 1),
            "data": {
                "task": self.spec.task,
                "size": self.spec.size,
                "train_examples": len(self.train_examples),
                "validation_examples": len(self.val_examples),
                "embedding_coverage": self.embedding_coverage,
            },
            "device": str(self.device),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
            "command": self.config["command"],
        }
        save_checkpoint(out, self.model, self.vocab, self.config, metrics, self.kinds)
        return metrics
