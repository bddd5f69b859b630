"""A run's data: checked settings turned into what TrainingRun reads and the command line that
trains the same (`prepare`), and the name its checkpoint gets when the user gives none."""

from __future__ import annotations

from collections.abc import Callable

from app.limits import Limits
from app.train_data import (
    DATASETS,
    PreparedData,
    babi_train_files,
    count_questions,
    describe_examples,
    ensure_data,
    per_task_limit,
    read_babi_upload,
    sentence_download,
    sentence_files,
    task_spec,
)
from app.train_settings import (
    TrainSettings,
    _babi_default_name,
    _file_default_name,
    _sentence_default_name,
    spec_of,
    train_command,
)
from app.user_checkpoints import upload_name
from dmn.data import resolve_data_dir


def _prepare_babi(s: TrainSettings, limits: Limits, log: Callable[[str], None]) -> PreparedData:
    files = ensure_data("babi", lambda data_dir: babi_train_files(s.tasks, s.size, data_dir), log)
    for task, path in files.items():
        if s.size == "10k" and path.parent.name == "en":
            log(f"Task {task} has no 10k training file here: its 1k file is used.")
    counts = {t: count_questions(p) for t, p in files.items()}
    limit, cut = per_task_limit(counts, s.limit, limits.max_train_examples)
    if cut:
        log(_cut_message(limits, f"{limit:,} questions of each task"))
    spec = task_spec(s.tasks)
    command = train_command(spec_of(s, spec, s.size, limit))
    tasks = "all tasks" if spec == "babi:all" else "task " + spec.partition(":")[2]
    return PreparedData(
        task=spec,
        size=s.size,
        data_dir=str(resolve_data_dir()),
        examples=None,
        limit=limit,
        description=f"{_variant_name(s)} on bAbI {tasks} ({s.size}), trained in the app",
        command=command,
    )


def _prepare_sentences(s: TrainSettings, limits: Limits, log: Callable[[str], None]) -> PreparedData:
    dataset = DATASETS[s.dataset]
    download = sentence_download(dataset.task).name
    ensure_data(download, lambda data_dir: sentence_files(dataset.task, data_dir), log)
    limit, cap = s.limit, limits.max_train_examples
    if cap and (limit is None or limit > cap):
        limit = cap
        log(f"This server trains on at most {cap:,} examples (DMN_MAX_TRAIN_EXAMPLES): using the first {cap:,}.")
    return PreparedData(
        task=dataset.task,
        size=s.size,
        data_dir=str(resolve_data_dir()),
        examples=None,
        limit=limit,
        description=f"{_variant_name(s)} on {dataset.label}, trained in the app",
        command=train_command(spec_of(s, dataset.task, s.size, limit)),
    )


def _prepare_file(s: TrainSettings, limits: Limits, log: Callable[[str], None]) -> PreparedData:
    examples = read_babi_upload(s.file, limits)
    name = upload_name(s.file or "")
    log(f"{name}: {describe_examples(examples)}.")
    limit, cut = per_task_limit({"file": len(examples)}, s.limit, limits.max_train_examples)
    if cut:
        log(_cut_message(limits, f"{limit:,}"))
    return PreparedData(
        task=examples[0].task,
        size="format",  # the model card reads "trained on file:x, bAbI format"
        data_dir=None,
        examples=examples,
        limit=limit,
        description=f"{_variant_name(s)} on your file {name}, trained in the app",
        command=f"trained in the app's Train tab on an uploaded file ({name})",
    )


def _cut_message(limits: Limits, first: str) -> str:
    return (
        f"This server trains on at most {limits.max_train_examples:,} questions (DMN_MAX_TRAIN_EXAMPLES): "
        f"using the first {first}."
    )


def _variant_name(s: TrainSettings) -> str:
    return "DMN+" if s.variant == "dmn+" else "DMN"


Prepare = Callable[[TrainSettings, Limits, Callable[[str], None]], PreparedData]
STEPS: dict[str, tuple[Prepare, Callable[[TrainSettings], str]]] = {
    "babi": (_prepare_babi, _babi_default_name),
    "file": (_prepare_file, _file_default_name),
}
SENTENCE_STEPS = (_prepare_sentences, _sentence_default_name)  # every dataset of a sentence task


def _steps(s: TrainSettings) -> tuple[Prepare, Callable[[TrainSettings], str]]:
    """How the settings' dataset is prepared and named (an unknown dataset as bAbI)."""
    dataset = s.dataset if s.dataset in DATASETS else "babi"
    return SENTENCE_STEPS if DATASETS[dataset].task else STEPS[dataset]


def prepare(s: TrainSettings, limits: Limits, log: Callable[[str], None]) -> PreparedData:
    """The data and command of a run of checked settings (downloading a missing dataset; TrainError
    when that fails), within the server's data limit; `log` hears what was done."""
    return _steps(s)[0](s, limits, log)


def default_name(s: TrainSettings) -> str:
    """The checkpoint name of a run whose user gave none: dmn-task1-1k, dmnplus-sst-binary, ..."""
    return _steps(s)[1](s)
