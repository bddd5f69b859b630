"""The Train tab's settings: `TrainSettings`, their checks against the limits, and what they
train (`run_spec`, the `python -m dmn train` command line, the default checkpoint names)."""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from app.limits import Limits, TrainError
from app.train_data import DATASETS, GLOVE_MISSING, PreparedData, glove_available
from app.user_checkpoints import sanitize_name, upload_name
from dmn.settings import ModelSettings, RunSpec, TrainConfig, whole_number
from dmn.tasks import family_of
from dmn.tasks.babi import BABI_TASK_NAMES

MODEL, TRAIN = ModelSettings(), TrainConfig()  # the defaults, as `python -m dmn train` has them


@dataclass
class TrainSettings:
    """Everything the Train tab (or the train_start API) asks for: a dataset of the tab's, and the
    settings of dmn/settings.py that the tab shows, with their defaults there. Three defaults are the
    tab's own, for a first run in the browser: 20 epochs, batches of 32 (bAbI task 1 learns visibly
    within 10 epochs; with 100 it barely moves) and gate supervision on."""

    dataset: str = "babi"  # a key of DATASETS
    tasks: list[int] = field(default_factory=lambda: [1])  # bAbI task ids
    size: str = "1k"  # bAbI training set size
    file: str | None = None  # the uploaded bAbI-format file (dataset "file")
    variant: str = MODEL.variant
    passes: int = MODEL.passes
    hidden: int = MODEL.hidden
    epochs: int = 20
    batch_size: int = 32
    lr: float = TRAIN.lr
    gate_supervision: float = 1.0
    seed: int = TRAIN.seed
    limit: int | None = None  # the first N training questions of each task (None: all)
    patience: int | None = TRAIN.patience  # None: never stop early
    name: str = ""
    phrases: bool = False  # SST: also train on every labelled phrase
    glove: bool = False  # sentence tasks: start the word vectors from GloVe 6B 50d
    spelling: bool = False  # sentence tasks, DMN+: read unknown words by spelling and shape (as the shipped tagger)
    dropout: float = MODEL.dropout
    lr_decay: float = TRAIN.lr_decay
    weight_average: float = TRAIN.weight_average
    positional: bool = MODEL.positional_encoding  # DMN+: weigh a fact's words by position (False: their plain sum)
    balance_tasks: bool = TRAIN.balance_tasks
    tie_break_loss: bool = TRAIN.tie_break_loss
    vary_phrasing: float = TRAIN.vary_phrasing  # bAbI tasks: tell the training stories more freely
    swap_entities: float = TRAIN.swap_entities  # bAbI stories: shuffle names, places and objects among their kind
    swap_people: bool = TRAIN.swap_people  # with swap_entities: the people too, she among she, he among he


def bounds(name: str) -> tuple[float | None, float | None]:
    """The smallest and largest value of a setting of the tab (its field in dmn/settings.py)."""
    for kind in (ModelSettings, TrainConfig):
        found = {f.name: f.metadata for f in dataclasses.fields(kind)}
        if name in found:
            return found[name]["low"], found[name]["high"]
    raise KeyError(name)


def train_command(spec: RunSpec) -> str:
    """The `python -m dmn train` command line that trains what these settings train."""
    return shlex.join(["python", "-m", "dmn", "train", *spec.arguments()]) + "  # as trained in the app's Train tab"


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


def check_settings(s: TrainSettings, limits: Limits) -> TrainSettings:
    """The settings with numbers converted, or TrainError saying what is wrong."""
    if s.dataset not in DATASETS:
        raise TrainError(f"Unknown dataset {s.dataset!r}: choose one of {', '.join(DATASETS)}.")
    if s.variant not in ("dmn", "dmn+"):
        raise TrainError(f"The variant is 'dmn' or 'dmn+', not {s.variant!r}.")
    if s.dataset == "babi":
        if not s.tasks:
            raise TrainError("Choose at least one bAbI task.")
        try:
            tasks = [whole_number(t, "A bAbI task") for t in s.tasks]
        except ValueError as err:
            raise TrainError(f"{err}.") from None
        if any(t not in BABI_TASK_NAMES for t in tasks):
            raise TrainError("bAbI has tasks 1 to 20.")
        if s.size not in ("1k", "10k"):
            raise TrainError(f"The bAbI size is '1k' or '10k', not {s.size!r}.")
        s.tasks = sorted(set(tasks))
    elif s.dataset == "file" and not s.file:
        raise TrainError("Upload a text file in bAbI format first.")
    if s.dataset != "babi":
        s.vary_phrasing = 0.0  # its rewrites know bAbI's own words
    task = DATASETS[s.dataset].task
    if task is None:
        s.phrases = s.glove = s.spelling = False  # word vectors, phrases, spelling are for the sentence tasks
    else:
        s.gate_supervision = 0.0  # no supporting facts to supervise the gates with
        s.swap_entities, s.swap_people = 0.0, False  # no stories
        s.balance_tasks = False  # one task
        s.phrases, s.glove = bool(s.phrases) and family_of(task).phrases, bool(s.glove)
        s.spelling = bool(s.spelling)
        if s.spelling and s.variant != "dmn+":
            raise TrainError("Reading words by their spelling needs the DMN+ model: choose DMN+, or untick it.")
        if s.glove and not glove_available():
            raise TrainError(GLOVE_MISSING)
    s.positional, s.balance_tasks, s.tie_break_loss = bool(s.positional), bool(s.balance_tasks), bool(s.tie_break_loss)
    s.swap_people = bool(s.swap_people)
    if s.swap_people and not s.swap_entities:
        raise TrainError("Swapping the people too works with 'Swap names and places': set that above 0 "
                         "(e.g. 0.5), or untick it.")  # fmt: skip
    if not s.positional and s.variant != "dmn+":
        raise TrainError("Plain word vectors are a setting of DMN+'s input module (the DMN reads words with a GRU): "
                         "choose DMN+, or tick the positional weights again.")  # fmt: skip
    try:
        spec = spec_of(s, DATASETS[s.dataset].task or "babi:1", s.size, s.limit).checked(labels=True)
    except ValueError as err:
        raise TrainError(f"{err}.") from None
    if limits.max_epochs and spec.train.epochs > limits.max_epochs:
        raise TrainError(f"This server trains for at most {limits.max_epochs} epochs (DMN_MAX_EPOCHS).")
    if spec.limit == 1:
        raise TrainError("Use at least 2 questions per task (some are held out for validation).")
    s.passes, s.hidden, s.dropout = spec.model.passes, spec.model.hidden, spec.model.dropout
    t = spec.train
    s.epochs, s.batch_size, s.lr, s.gate_supervision, s.seed = t.epochs, t.batch_size, t.lr, t.gate_supervision, t.seed
    s.patience, s.lr_decay, s.weight_average, s.limit = t.patience, t.lr_decay, t.weight_average, spec.limit
    s.vary_phrasing, s.swap_entities, s.swap_people = t.vary_phrasing, t.swap_entities, t.swap_people
    return s


def spec_of(s: TrainSettings, task: str, size: str, limit: int | None, description: str = "") -> RunSpec:
    """The run of these settings, on this task (to be checked: `RunSpec.checked`)."""
    return RunSpec(
        task=task,
        size=size,
        limit=limit,
        phrases=s.phrases,
        description=description,
        model=ModelSettings(
            variant=s.variant,
            hidden=s.hidden,
            passes=s.passes,
            dropout=s.dropout,
            embeddings="glove" if s.glove else None,
            word_signatures=s.spelling,
            char_features=s.spelling,
            positional_encoding=s.positional,
        ),
        train=TrainConfig(
            epochs=s.epochs,
            batch_size=s.batch_size,
            lr=s.lr,
            gate_supervision=s.gate_supervision,
            seed=s.seed,
            patience=s.patience,
            lr_decay=s.lr_decay,
            weight_average=s.weight_average,
            balance_tasks=s.balance_tasks,
            tie_break_loss=s.tie_break_loss,
            vary_phrasing=s.vary_phrasing,
            swap_entities=s.swap_entities,
            swap_people=s.swap_people,
            rare_word_dropout=SPELLING_WORD_DROPOUT if s.spelling else 0.0,
        ),
    )


def run_spec(s: TrainSettings, data: PreparedData) -> RunSpec:
    """What TrainingRun trains for these (checked) settings and their prepared data."""
    return spec_of(s, data.task, data.size, data.limit, data.description)
