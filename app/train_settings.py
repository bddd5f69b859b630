"""The Train tab's settings: `TrainSettings`, their checks against the limits, and what they
train (`run_spec`, the `python -m dmn train` command line, the default checkpoint names)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.limits import Limits, TrainError
from app.train_data import DATASETS, GLOVE_MISSING, PreparedData, glove_available
from app.user_checkpoints import sanitize_name, upload_name
from dmn.data import BABI_TASK_NAMES
from dmn.train import RunSpec, TrainConfig


@dataclass
class TrainSettings:
    """Everything the Train tab (or the train_start API) asks for."""

    dataset: str = "babi"  # a key of DATASETS
    tasks: list[int] = field(default_factory=lambda: [1])  # bAbI task ids
    size: str = "1k"  # bAbI training set size
    file: str | None = None  # the uploaded bAbI-format file (dataset "file")
    variant: str = "dmn"
    passes: int = 3
    hidden: int = 80
    epochs: int = 20
    batch_size: int = 32  # learns bAbI task 1 visibly within 10 epochs (100 barely moves in 10)
    lr: float = 1e-3
    gate_supervision: float = 1.0
    seed: int = 0
    limit: int | None = None  # the first N training questions of each task (None: all)
    patience: int | None = 8  # stop after this many epochs without a better validation score (None: never)
    name: str = ""
    phrases: bool = False  # SST: also train on every labelled phrase
    glove: bool = False  # sentence tasks: start the word vectors from GloVe 6B 50d
    spelling: bool = False  # sentence tasks, DMN+: read unknown words by spelling and shape (as the shipped tagger)
    dropout: float = 0.1  # dropout on the facts and the answer module's state
    lr_decay: float = 1.0  # learning rate times this after each epoch without a better validation score
    weight_average: float = 0.0  # > 0: keep a moving average of the weights with this decay (0: off)
    positional: bool = True  # DMN+: weigh a fact's words by position (False: their plain sum)
    balance_tasks: bool = False  # bAbI: repeat the questions of smaller tasks so that each weighs about the same
    tie_break_loss: bool = False  # equal validation accuracy: the lower validation loss is better


def train_command(s: TrainSettings, task: str, limit: int | None, *extra: str) -> str:
    """The `python -m dmn train` command line that trains what these settings train."""
    command = ["python", "-m", "dmn", "train", "--task", task, *extra, "--variant", s.variant,
               "--hidden", str(s.hidden), "--passes", str(s.passes), "--epochs", str(s.epochs),
               "--batch-size", str(s.batch_size), "--lr", f"{s.lr:g}", "--seed", str(s.seed)]  # fmt: skip
    if s.gate_supervision:
        command += ["--gate-supervision", f"{s.gate_supervision:g}"]
    command += ["--dropout", f"{s.dropout:g}", "--patience", str(s.patience or 0)]  # patience 0: no early stopping
    if s.lr_decay != 1:
        command += ["--lr-decay", f"{s.lr_decay:g}"]
    if s.weight_average:
        command += ["--weight-average", f"{s.weight_average:g}"]
    if not s.positional:
        command += ["--no-positional-encoding"]
    if s.balance_tasks:
        command += ["--balance-tasks"]
    if s.tie_break_loss:
        command += ["--tie-break-loss"]
    if limit:
        command += ["--limit", str(limit)]
    return shlex.join(command) + "  # as trained in the app's Train tab"


SPELLING_WORD_DROPOUT = 0.25  # with spelling: words seen once are hidden this often (the shipped tagger's)


def _variant_slug(s: TrainSettings) -> str:
    return "dmnplus" if s.variant == "dmn+" else "dmn"


def _babi_default_name(s: TrainSettings) -> str:
    ids = sorted(set(s.tasks))
    if len(ids) == len(BABI_TASK_NAMES):
        which = "all"
    elif len(ids) <= 4:
        which = "task" + "-".join(map(str, ids))
    else:
        which = f"{len(ids)}tasks"
    return f"{_variant_slug(s)}-{which}-{s.size}"


def _file_default_name(s: TrainSettings) -> str:
    return f"{_variant_slug(s)}-{sanitize_name(Path(upload_name(s.file or 'file')).stem, 'file')}"


def _sentence_default_name(s: TrainSettings) -> str:
    return f"{_variant_slug(s)}-{DATASETS[s.dataset].task.replace(':', '-')}"  # dmn-sst-binary, dmnplus-pos-ewt


BOUNDS = {  # (smallest, largest) a setting may be
    "passes": (1, 10),
    "hidden": (4, 512),
    "batch_size": (1, 1024),
    "lr": (1e-6, 1.0),
    "gate_supervision": (0.0, 10.0),
    "seed": (0, 2**31 - 1),
    "dropout": (0.0, 0.9),
    "lr_decay": (0.01, 1.0),
    "weight_average": (0.0, 0.9999),
}


def _whole(value: Any, what: str) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TrainError(f"{what} must be a whole number, not {value!r}.") from None
    if not number.is_integer():
        raise TrainError(f"{what} must be a whole number, not {value!r}.")
    return int(number)


def check_settings(s: TrainSettings, limits: Limits) -> TrainSettings:
    """The settings with numbers converted, or TrainError saying what is wrong."""
    if s.dataset not in DATASETS:
        raise TrainError(f"Unknown dataset {s.dataset!r}: choose one of {', '.join(DATASETS)}.")
    if s.variant not in ("dmn", "dmn+"):
        raise TrainError(f"The variant is 'dmn' or 'dmn+', not {s.variant!r}.")
    if s.dataset == "babi":
        if not s.tasks:
            raise TrainError("Choose at least one bAbI task.")
        tasks = [_whole(t, "A bAbI task") for t in s.tasks]
        if any(t not in BABI_TASK_NAMES for t in tasks):
            raise TrainError("bAbI has tasks 1 to 20.")
        if s.size not in ("1k", "10k"):
            raise TrainError(f"The bAbI size is '1k' or '10k', not {s.size!r}.")
        s.tasks = sorted(set(tasks))
    elif s.dataset == "file" and not s.file:
        raise TrainError("Upload a text file in bAbI format first.")
    task = DATASETS[s.dataset].task
    if task is None:
        s.phrases = s.glove = s.spelling = False  # word vectors, phrases, spelling are for the sentence tasks
    else:
        s.gate_supervision = 0.0  # no supporting facts to supervise the gates with
        s.balance_tasks = False  # one task
        s.phrases, s.glove = bool(s.phrases) and task.startswith("sst:"), bool(s.glove)
        s.spelling = bool(s.spelling)
        if s.spelling and s.variant != "dmn+":
            raise TrainError("Reading words by their spelling needs the DMN+ model: choose DMN+, or untick it.")
        if s.glove and not glove_available():
            raise TrainError(GLOVE_MISSING)
    s.positional, s.balance_tasks, s.tie_break_loss = bool(s.positional), bool(s.balance_tasks), bool(s.tie_break_loss)
    if not s.positional and s.variant != "dmn+":
        raise TrainError("Plain word vectors are a setting of DMN+'s input module (the DMN reads words with a GRU): "
                         "choose DMN+, or tick the positional weights again.")  # fmt: skip
    epochs = _whole(s.epochs, "Epochs")
    if epochs < 1:
        raise TrainError("Train for at least 1 epoch.")
    if limits.max_epochs and epochs > limits.max_epochs:
        raise TrainError(f"This server trains for at most {limits.max_epochs} epochs (DMN_MAX_EPOCHS).")
    s.epochs = epochs
    labels = {"passes": "Passes", "hidden": "Hidden size", "batch_size": "Batch size", "seed": "Seed"}
    for key, label in labels.items():
        value = _whole(getattr(s, key), label)
        low, high = BOUNDS[key]
        if not low <= value <= high:
            raise TrainError(f"{label} must be between {low} and {high}, not {value}.")
        setattr(s, key, value)
    numbers = {"lr": "The learning rate", "gate_supervision": "Gate supervision", "dropout": "Dropout",
               "lr_decay": "The learning-rate decay", "weight_average": "The weight average's decay"}  # fmt: skip
    for key, label in numbers.items():
        try:
            value = float(getattr(s, key))
        except (TypeError, ValueError):
            raise TrainError(f"{label} must be a number.") from None
        low, high = BOUNDS[key]
        if not low <= value <= high:
            raise TrainError(f"{label} must be between {low:g} and {high:g}, not {value:g}.")
        setattr(s, key, value)
    limit = _whole(s.limit, "Questions per task") if s.limit not in (None, "") else 0
    if limit < 0:
        raise TrainError("Questions per task must be 0 (all) or more.")
    if limit == 1:
        raise TrainError("Use at least 2 questions per task (some are held out for validation).")
    s.limit = limit or None
    patience = _whole(s.patience, "Patience") if s.patience not in (None, "") else 0
    if patience < 0:
        raise TrainError("Patience must be 0 (never stop early) or more.")
    s.patience = patience or None
    return s


def run_spec(s: TrainSettings, data: PreparedData) -> RunSpec:
    """What TrainingRun trains for these (checked) settings and their prepared data."""
    return RunSpec(
        task=data.task,
        size=data.size,
        variant=s.variant,
        hidden=s.hidden,
        passes=s.passes,
        limit=data.limit,
        dropout=s.dropout,
        phrases=s.phrases,
        embeddings="glove" if s.glove else None,
        word_signatures=s.spelling,
        char_features=s.spelling,
        positional_encoding=s.positional,
        description=data.description,
        train=TrainConfig(
            epochs=s.epochs,
            batch_size=s.batch_size,
            lr=s.lr,
            gate_supervision=s.gate_supervision,
            seed=s.seed,
            patience=s.patience,  # None: never stop early
            lr_decay=s.lr_decay,
            weight_average=s.weight_average,
            balance_tasks=s.balance_tasks,
            tie_break_loss=s.tie_break_loss,
            rare_word_dropout=SPELLING_WORD_DROPOUT if s.spelling else 0.0,
        ),
    )
