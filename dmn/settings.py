"""Every setting of a run, declared once: what to train on (`RunSpec`), the model (`ModelSettings`),
the training (`TrainConfig`), and an ensemble of trained models (`EnsembleSpec`).

Each field carries its help, choices and bounds (`setting`). From them the CLI builds its flags
(`add_arguments`, `from_arguments`, `arguments`), the Train tab checks what a user typed
(`checked`), and a checkpoint's config.json records its run (`to_dict`, `from_dict`): a run can
be rebuilt from its checkpoint, and a recipe file is a list of them (dmn/recipe.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Self

from dmn.model import CHOICES, VARIANTS
from dmn.tasks import TASK_HELP

NO_DEFAULT = dataclasses.MISSING


def setting(
    default: Any = NO_DEFAULT,
    help: str = "",
    *,
    label: str = "",
    choices: tuple | None = None,
    low: float | None = None,
    high: float | None = None,
    above: float | None = None,
    below: float | None = None,
    zero: str = "",
    flag: str = "",
    metavar: str | None = None,
    const: Any = None,
    must: str = "",
) -> Any:
    """A settings field. `label` names it on the Train tab (default: its flag); `low`/`high` are
    inclusive bounds, `above`/`below` exclusive ones; `zero` says what 0 means where 0 stands for
    None (e.g. no early stopping); `flag` replaces the flag made from the name; a list is given
    as positional arguments, or with a `metavar` as a flag once per item; `const` is the
    value of a flag given without one; `must` replaces the bounds in the message of a value
    out of them ("a number of words")."""
    metadata = dict(help=help, label=label, choices=choices, low=low, high=high, above=above, below=below,
                    zero=zero, flag=flag, metavar=metavar, const=const, must=must)  # fmt: skip
    if isinstance(default, (dict, list)) or dataclasses.is_dataclass(default):
        factory = type(default) if not isinstance(default, (dict, list)) else (lambda: type(default)(default))
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def _plain_type(annotation: Any) -> tuple[type, bool]:
    """(the type, whether None is allowed) of `int | None`, `str`, `dict[str, int]`..."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _plain_type(args[0])[0], True
    return typing.get_origin(annotation) or annotation, False


def _number(value: float) -> str:
    return f"{value:g}"


def _task_repeat(text: str) -> tuple[str, int]:
    """'babi:19=4' -> ('babi:19', 4)."""
    task, _, times = text.rpartition("=")
    if not task or not times.isdigit() or int(times) < 1:
        raise argparse.ArgumentTypeError(f"expected TASK=N with N >= 1 (e.g. babi:19=4), not {text!r}")
    return task, int(times)


class Settings:
    """What every settings dataclass can do (a mixin of dataclasses whose fields are `setting`s)."""

    @classmethod
    def _fields(cls) -> list[tuple[dataclasses.Field, type, bool]]:
        hints = typing.get_type_hints(cls)
        return [(f, *_plain_type(hints[f.name])) for f in dataclasses.fields(cls)]

    # ---- JSON

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """The settings `data` gives, the defaults for the rest; ValueError for a key it does not know."""
        if not isinstance(data, dict):
            raise ValueError(f"{cls.__name__} settings are a JSON object, not {type(data).__name__}")
        known = {f.name: kind for f, kind, _ in cls._fields()}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"unknown {cls.__name__} settings: {', '.join(unknown)}")
        values = {
            name: known[name].from_dict(value) if isinstance(known[name], type) and issubclass(known[name], Settings)
            else value
            for name, value in data.items()
        }  # fmt: skip
        return cls(**values)

    # ---- checking

    def checked(self, labels: bool = False) -> Self:
        """These settings with numbers converted to their fields' types (the Train tab sends 10.0
        for 10), or ValueError saying which is wrong: named by its flag (`--lr-decay`), or with
        `labels` by its label ("The learning-rate decay")."""
        values = {}
        for f, kind, optional in self._fields():
            value = getattr(self, f.name)
            name = (f.metadata["label"] if labels else "") or "--" + _flag(f)
            if isinstance(value, Settings):
                value = value.checked(labels)
            elif value is None or (f.metadata["zero"] and value in (0, "")):
                if not optional:
                    raise ValueError(f"{name} must be given")
                value = None
            else:
                value = _converted(value, kind, name)
                _check_bounds(value, f.metadata, name)
            values[f.name] = value
        checked = dataclasses.replace(self, **values)
        checked.check_together()
        return checked

    def check_together(self) -> None:
        """ValueError where settings that are each fine do not go together (subclasses say)."""

    # ---- command line

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """One flag per setting (nested settings' too). Flags left out leave no attribute (so a
        recipe's values stand unless a flag is given): `from_arguments` fills in the defaults."""
        for f, kind, _ in cls._fields():
            if isinstance(kind, type) and issubclass(kind, Settings):
                kind.add_arguments(parser)
                continue
            meta, flag = f.metadata, "--" + _flag(f)
            default = f.default if f.default is not NO_DEFAULT else None
            plain = default in (None, "", False, {}) and not meta["zero"]
            shown = "" if plain else f" (default {_shown(default, meta)})"
            help = (meta["help"] + shown).replace("%", "%%")
            common = {"dest": f.name, "help": help, "default": argparse.SUPPRESS}
            if kind is bool:
                parser.add_argument(flag, action="store_false" if default else "store_true", **common)
            elif kind is dict:
                parser.add_argument(flag, type=_task_repeat, action="append", metavar=meta["metavar"], **common)
            elif kind is list and meta["metavar"]:  # a flag given once per item
                parser.add_argument(flag, action="append", metavar=meta["metavar"], **common)
            elif kind is list:
                parser.add_argument(f.name, nargs="+", help=help)
            else:
                nargs = {"nargs": "?", "const": meta["const"]} if meta["const"] is not None else {}
                choices, metavar = meta["choices"], meta["metavar"]
                parser.add_argument(flag, type=kind, choices=choices, metavar=metavar, **nargs, **common)

    @classmethod
    def from_arguments(cls, args: argparse.Namespace, base: dict[str, Any] | None = None) -> Self:
        """The settings of parsed flags, over `base` (e.g. a recipe step), over the defaults."""
        values = dict(base or {})
        for f, kind, _ in cls._fields():
            if isinstance(kind, type) and issubclass(kind, Settings):
                values[f.name] = kind.from_arguments(args, values.get(f.name)).to_dict()
            elif hasattr(args, f.name):  # given (flags left out leave no attribute)
                given = getattr(args, f.name)
                values[f.name] = dict(given) if kind is dict else (None if f.metadata["zero"] and given == 0 else given)
        return cls.from_dict(values)

    def arguments(self) -> list[str]:
        """The flags that give these settings, those left at their defaults left out."""
        flags: list[str] = []
        for f, kind, _ in self._fields():
            value = getattr(self, f.name)
            if isinstance(value, Settings):
                flags += value.arguments()
                continue
            if value == (f.default if f.default is not NO_DEFAULT else f.default_factory()):  # type: ignore[misc]
                continue
            flag = "--" + _flag(f)
            if kind is bool:
                flags.append(flag)
            elif kind is dict:
                flags += [part for task, times in value.items() for part in (flag, f"{task}={times}")]
            elif kind is list and f.metadata["metavar"]:
                flags += [part for item in value for part in (flag, item)]
            elif kind is list:
                flags += value  # positional
            else:
                flags += [flag, "0" if value is None else _shown(value, f.metadata)]
        return flags


def _flag(f: dataclasses.Field) -> str:
    return f.metadata["flag"] or f.name.replace("_", "-")


def _shown(value: Any, meta: dict) -> str:
    if value is None and meta["zero"]:
        return f"0: {meta['zero']}"
    return _number(value) if isinstance(value, float) else str(value)


def whole_number(value: Any, name: str) -> int:
    """value as an int (10.0 -> 10), or ValueError saying that `name` must be a whole number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number, not {value!r}") from None
    if not number.is_integer():
        raise ValueError(f"{name} must be a whole number, not {value!r}")
    return int(number)


def _converted(value: Any, kind: type, name: str) -> Any:
    if kind is bool:
        return bool(value)
    if kind is int:
        return whole_number(value, name)
    if kind is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number, not {value!r}") from None
    if not isinstance(value, kind):
        raise ValueError(f"{name} must be a {kind.__name__}, not {value!r}")
    return value


def _check_bounds(value: Any, meta: dict, name: str) -> None:
    if meta["choices"] is not None and value not in meta["choices"]:
        raise ValueError(f"{name} must be one of {', '.join(map(str, meta['choices']))}, not {value!r}")
    low, high, above, below = meta["low"], meta["high"], meta["above"], meta["below"]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    ok = (low is None or value >= low) and (high is None or value <= high)
    ok = ok and (above is None or value > above) and (below is None or value < below)
    if ok:
        return
    if meta["must"]:
        allowed = meta["must"]
    elif low is not None and high is not None:
        allowed = f"between {_number(low)} and {_number(high)}"
    elif low is not None and below is not None:
        allowed = f"in [{_number(low)}, {_number(below)})"
    elif above is not None:
        allowed = f"above {_number(above)}"
    else:
        note = f" ({meta['zero']})" if meta["zero"] and low == 0 else ""
        allowed = f"{_number(low)}{note} or more"
    raise ValueError(f"{name} must be {allowed}, not {_number(value)}")


def _part(name: str, help: str = "") -> Any:
    choices = CHOICES[name]
    return setting(None, help or f"override this part of the variant ({' or '.join(choices)})", choices=choices)


@dataclass
class ModelSettings(Settings):
    """The model's shape and how it reads words."""

    variant: str = setting("dmn", "the paper's DMN, or DMN+ (Xiong et al., 2016)", choices=tuple(sorted(VARIANTS)))
    input_module: str | None = _part("input_module")
    gate: str | None = _part("gate")
    episode: str | None = _part(
        "episode",
        "override this part of the variant: gated_gru (DMN), attention_gru (DMN+), or softmax (the facts summed "
        "with their gates as weights, the gates one softmax over the facts: the paper's variant for supervised gates)",
    )
    memory_update: str | None = _part("memory_update")
    hidden: int = setting(80, "hidden units of every GRU", label="Hidden size", low=4, high=512)
    passes: int = setting(3, "episodic memory passes", label="Passes", low=1, high=10)
    max_facts: int = setting(50, "bAbI: read only the story's last N sentences", low=1, metavar="N")
    dropout: float = setting(0.1, "dropout on the facts and the answer module's state", label="Dropout", low=0,
                             high=0.9)  # fmt: skip
    embeddings: str | None = setting(None, "start the word vectors from 'glove' (GloVe 6B 50d) or a GloVe text file")
    embedding_vocab: int = setting(
        0,
        "with --embeddings: also put the N most frequent words of the vectors in the vocabulary",
        low=0,
        metavar="N",
        must="a number of words",
    )
    word_signatures: bool = setting(
        False, "read an unknown word as its shape class (capitals, digits, hyphen, suffix) instead of <unk>"
    )
    char_features: bool = setting(
        False, "also read each word's spelling with a character CNN (needs the DMN+ input module)"
    )
    positional_encoding: bool = setting(
        True,
        "DMN+ input module: a fact is the plain sum of its word vectors, without the positional weights, which "
        "scale dimension d of a one-word fact (sentiment, tagging) by d/D",
        flag="no-positional-encoding",
    )
    freeze_embeddings: bool = setting(
        False, "with --embeddings: words that have a pretrained vector keep it unchanged during training"
    )

    @property
    def parts(self) -> dict[str, str]:
        """The variant's switches, with the parts set on their own."""
        given = {name: getattr(self, name) for name in VARIANTS["dmn"] if getattr(self, name) is not None}
        return {**VARIANTS[self.variant], **given}

    def check_together(self) -> None:
        if self.freeze_embeddings and not self.embeddings:
            raise ValueError("freezing the word vectors needs pretrained ones (--embeddings)")


@dataclass
class TrainConfig(Settings):
    """How the model is trained."""

    epochs: int = setting(40, "training epochs at most", label="Epochs", low=1)
    batch_size: int = setting(100, "questions per training step", label="Batch size", low=1, high=1024)
    lr: float = setting(1e-3, "Adam's learning rate", label="The learning rate", low=1e-6, high=1.0)
    weight_decay: float = setting(0.0, "L2 penalty (Adam's weight decay)", low=0)
    clip: float = setting(5.0, "maximum gradient norm", above=0)
    patience: int | None = setting(
        8,
        "stop after this many epochs without a better validation accuracy, or at 100%; 0 turns early stopping "
        "off: every epoch is run",
        label="Patience",
        low=0,
        zero="no early stopping",
        metavar="EPOCHS",
    )
    gate_supervision: float = setting(
        0.0,
        "train the gates towards the supporting facts (weight, default 1 when given)",
        label="Gate supervision",
        low=0,
        high=10,
        metavar="WEIGHT",
        const=1.0,
    )
    gate_loss: str = setting(
        "bce",
        "with --gate-supervision and sigmoid gates (DMN): each fact's gate against 0 or 1 (bce), or the gates' "
        "logits as one softmax over the facts (softmax)",
        choices=("bce", "softmax"),
    )
    rare_word_dropout: float = setting(
        0.0, "chance that a word seen once in training is hidden as unknown at each step (e.g. 0.5)", low=0, below=1
    )
    word_dropout: float = setting(
        0.0,
        "chance that any training word is hidden as unknown at each step (e.g. 0.1): trains the unknown-word "
        "vector even where no word is seen only once (SST trained on phrases)",
        low=0,
        below=1,
    )
    embedding_lr: float = setting(
        1.0,
        "the word vectors learn at SHARE times --lr (e.g. 0.1, to keep pretrained vectors near where they "
        "started; --freeze-embeddings keeps them fixed)",
        above=0,
        metavar="SHARE",
    )
    vary_phrasing: float = setting(
        0.0,
        "bAbI: chance that each sentence that can be is told more freely at each step: he or she for the last "
        "sentence's subject, then, afterwards, after that or following that before an action, a relation the "
        "other way round (the kitchen is south of the office) (e.g. 0.5)",
        low=0,
        high=1,
    )
    swap_entities: float = setting(
        0.0,
        "bAbI: chance that each training story's names, places and objects are shuffled among their own kind at "
        "each step (one exchange for its story, question and answer; kinds learned from the training stories), "
        "e.g. 0.5",
        low=0,
        high=1,
    )
    swap_people: bool = setting(
        False,
        "bAbI, with --swap-entities: shuffle bAbI's people she among she and he among he, also where no "
        "question asks about them (task 2's Mary, John...)",
    )
    balance_tasks: bool = setting(
        False, "repeat the questions of smaller tasks so that every task weighs about the same in an epoch"
    )
    task_repeats: dict[str, int] = setting(
        {},
        "take this task's training questions N times per epoch (e.g. babi:19=4, for a task that learns slowly); "
        "may be given several times",
        flag="repeat-task",
        metavar="TASK=N",
    )
    lr_decay: float = setting(
        1.0,
        "multiply the learning rate by FACTOR after each epoch without a better validation accuracy (1: constant)",
        label="The learning-rate decay", low=0.01, high=1, metavar="FACTOR",
    )  # fmt: skip
    tie_break_loss: bool = setting(
        False,
        "an epoch with the best validation accuracy so far but a lower validation loss also counts as better, and "
        "100% validation accuracy does not end training (for small validation sets)",
    )
    weight_average: float = setting(
        0.0,
        "validate and keep an exponential moving average of the weights, updated every step with this decay (e.g. "
        "0.999; 0: the weights of the last step)",
        label="The weight average's decay", low=0, high=0.9999, metavar="DECAY",
    )  # fmt: skip
    seed: int = setting(0, "seed of the weights, the batches and the validation split", label="Seed", low=0,
                        high=2**31 - 1)  # fmt: skip
    val_fraction: float = setting(0.1, "bAbI: the share of the training stories held out for validation",
                                  above=0, below=1)  # fmt: skip
    val_split: str = setting(
        "story",
        choices=("story", "question"),
        help="bAbI: hold out whole stories for validation, or single questions, as runs made before the story "
        "split did (babi-joint; their other questions, with the same facts, stay in training)",
    )
    compile: bool = setting(
        False,
        "run training steps through torch.compile with dynamic shapes (CPU only): about 20% faster steps after "
        "compiling for about a minute",
    )


@dataclass
class RunSpec(Settings):
    """What to train: the task and its data, the model, and the training."""

    task: str = setting("", TASK_HELP, label="The task")
    size: str = setting("1k", "bAbI training set size", choices=("1k", "10k"))
    limit: int | None = setting(
        None, "use only the first N training examples of each task", label="Questions per task", low=0,
        zero="all", metavar="N",
    )  # fmt: skip
    phrases: bool = setting(False, "SST: also train on every labelled phrase")
    hold_out: int = setting(
        0,
        "SST, POS: keep N training sentences (one fixed choice, the same for every seed) out of training, phrases "
        "and all, to compare recipes on more sentences than the dev set has: `eval --split held-out`",
        low=0,
        metavar="N",
    )
    init_from: str | None = setting(
        None,
        "start from this checkpoint's weights (trained on the same data and validation split, with the same model "
        "settings), e.g. to train longer",
        metavar="CHECKPOINT",
    )
    description: str = setting("", "one line shown in the app's checkpoint picker")
    model: ModelSettings = setting(ModelSettings())
    train: TrainConfig = setting(TrainConfig())

    def check_together(self) -> None:
        if not self.task:
            raise ValueError("name the task to train (--task)")


@dataclass
class EnsembleSpec(Settings):
    """One model that averages the answers of trained SST or POS checkpoints."""

    members: list[str] = setting([], "checkpoint directories of one task, vocabulary and model settings")
    task: str | None = setting(
        None,
        "the task it answers, if not its members' own: sst:binary for sst:fine members (the probabilities of very "
        "negative and negative add up to negative, those of positive and very positive to positive; neutral is "
        "dropped)",
    )
    description: str = setting("", "one line shown in the app's checkpoint picker")
    embedding_vocab: int = setting(
        0,
        "also give the N most frequent words of the members' pretrained vectors a place, each read as its vector, "
        "as `train --embedding-vocab` gives words that training never shows (needs requirements-train.txt)",
        low=0,
        must="a number of words",
        metavar="N",
    )
    share_weights_with: list[str] = setting(
        [],
        "a checkpoint beside --out whose weight files it names instead of copying them, where a member's "
        "weights are the same file byte for byte (sst-fine's members are four of sst-binary's); once per checkpoint",
        metavar="CHECKPOINT",
    )


@dataclass
class CollectionSpec(Settings):
    """One checkpoint per task kept together (the papers' one model per bAbI task)."""

    members: dict[str, str] = setting({}, "task -> its checkpoint directory (in a recipe: the step that trains it)")
    description: str = setting("", "one line that says what the collection is")
    paper: str = setting("dmn", "the paper column its table is compared with", choices=("dmn", "dmn+ 10k"))
    notes: dict[str, str] = setting({}, "task -> a word for its row of the table")


SETTINGS_KEY = "settings"  # where a checkpoint's config.json records the settings it was made with
