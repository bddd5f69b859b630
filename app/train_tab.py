"""The Train tab: settings, Start/Stop, a progress bar with ETA, live curves, a log, and the
checkpoint zips (download, upload). Built by `build()` inside `app.ui.build_demo()`.

Training runs in a background thread (`app.jobs.JOBS`); Start returns at once and a gr.Timer
polls the job every second, so no Gradio worker waits on a run and the Ask tab stays served.
API endpoints: train_start, train_status, train_stop, check_babi_file, upload_checkpoint,
download_checkpoint.
"""

from __future__ import annotations

import html
from typing import Any

import gradio as gr

from app import jobs, plots, prepare, service, train_data
from app.limits import Limits, TrainError, format_seconds
from app.registry import CheckpointRegistry, reread
from app.train_settings import TrainSettings, bounds
from app.user_checkpoints import install_checkpoint_zip, upload_name, zip_checkpoint
from dmn.checkpoint import CheckpointError
from dmn.data import resolve_data_dir
from dmn.tasks import family_of
from dmn.tasks.babi import BABI_TASK_NAMES

DEFAULTS = TrainSettings()  # every widget and API argument starts at its setting's default (app/train_settings.py)
POLL_SECONDS = 1.0
TOAST_SECONDS = 8

CSS = """
.dmn-progress { padding: 10px 12px; border: 1px solid var(--border-color-primary); border-radius: 8px; }
.dmn-progress-head { display: flex; justify-content: space-between; gap: 12px; flex-wrap: wrap;
  font-size: 15px; margin-bottom: 6px; }
.dmn-progress-time { opacity: 0.8; font-variant-numeric: tabular-nums; }
.dmn-bar { height: 12px; border-radius: 6px; background: #e5e7eb; overflow: hidden; }
.dmn-fill { height: 100%; background: #2563eb; border-radius: 6px; transition: width 0.8s linear; }
.dmn-bar.dmn-done .dmn-fill { background: #16a34a; }
.dmn-bar.dmn-failed .dmn-fill { background: #dc2626; }
.dmn-bar.dmn-waiting .dmn-fill { width: 30% !important; animation: dmn-slide 1.4s ease-in-out infinite; }
@keyframes dmn-slide { from { margin-left: -30%; } to { margin-left: 100%; } }
.dmn-progress-foot { font-size: 13px; opacity: 0.8; margin-top: 6px; }
.dmn-log-title { font-size: 13px; opacity: 0.8; margin-bottom: 4px; }
/* column-reverse keeps the newest line in view without any script */
.dmn-log { max-height: 170px; overflow-y: auto; display: flex; flex-direction: column-reverse;
  border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 6px 10px; }
.dmn-log pre { margin: 0; font-family: ui-monospace, monospace; font-size: 12px; white-space: pre-wrap;
  background: none; border: none; padding: 0; }
"""

FORMAT_HELP = """A text file like bAbI's own (UTF-8). Every line starts with a number; **1** starts a new
story. A statement is `number sentence`. A question is `number question` TAB `answer` TAB `numbers
of the supporting statements` (several answer words are separated by commas; the supporting numbers
are what gate supervision trains the attention towards):

```
1 Mary moved to the bathroom.
2 John went to the hallway.
3 Where is Mary?	bathroom	1
4 Daniel went back to the hallway.
5 Where is Daniel?	hallway	4
1 Sandra travelled to the office.
2 Where is Sandra?	office	1
```
The file is checked when you upload it; a malformed line is named. 10% of the stories (all their
questions) are held out to measure validation accuracy, or 10% of the questions when the file
holds a single story; there is no test set for your own file."""

EMPTY_PROGRESS = (
    "<div class='dmn-progress'><div class='dmn-progress-head'><span>No run yet: choose the settings and press "
    "<b>Start</b>.</span></div><div class='dmn-bar'><div class='dmn-fill' style='width:0%'></div></div></div>"
)


def intro(limits: Limits) -> str:
    return f"""## Train your own DMN
Choose what to train on and the model's settings, then press **Start**. After every epoch the curves
show the training loss and the accuracy on held-out validation questions; the best model so far is
kept. **Stop** ends the run at the next step and keeps that best model. The result appears in the Ask
tab's checkpoint picker (sentiment and part-of-speech models in their own tabs), and under *Your
checkpoints* below you can download any checkpoint, shipped or yours, as a zip, or upload
a checkpoint you trained elsewhere (`python -m dmn train ...`): it is listed in its tab at once.

**On this server:** {limits.describe()}."""


def limits_help(limits: Limits) -> str:
    def now(value: Any, unit: str = "") -> str:
        return "no limit" if value is None else f"{value:,}{unit}"

    return f"""Whoever hosts the app sets these environment variables (a positive whole number sets the
limit, 0 switches it off):

| variable | what it limits | default | now |
|---|---|---|---|
| `DMN_MAX_EPOCHS` | epochs a run may ask for (more is refused) | 256 | {now(limits.max_epochs)} |
| `DMN_MAX_TRAIN_EXAMPLES` | training questions of a run (above it, only the first questions of each task \
are used) | 200,000 | {now(limits.max_train_examples)} |
| `DMN_MAX_TRAIN_SECONDS` | wall time of a run; then it stops and keeps its best model | 21,600 (6 h) | \
{now(limits.max_train_seconds, " s")} |
| `DMN_MAX_UPLOAD_MB` | uploaded bAbI files and checkpoint zips (also what a zip may unpack to) | 50 | \
{now(limits.max_upload_mb, " MB")} |

One run at a time: a second **Start** while a run is going says so and shows that run's progress.
New checkpoints go to `DMN_CHECKPOINT_DIR` (now `{service.user_checkpoint_dir()}`); the shipped ones
are never changed. Names keep only letters, digits, `.`, `_` and `-`, and a name that is taken gets a
suffix (`my-model-2`). The data (bAbI, SST, EWT) comes from `DMN_DATA_DIR` (now
`{resolve_data_dir()}`), or is downloaded when missing. On a GPU machine training uses the GPU; on
ZeroGPU it runs inside `spaces.GPU`.

**API** (see "Use via API" at the bottom of the page): `train_start` starts a run and returns its
`job` id and a `token`; `train_status(job)` returns its state, epochs, curves and log; `train_stop(job,
token)` stops it. `check_babi_file`, `upload_checkpoint` and `download_checkpoint` do what the
buttons do."""


# --------------------------------------------------------------------------------------------
# Handlers


def _float(value: Any) -> Any:
    return float(value) if isinstance(value, bool) else value


def start(
    dataset: str,
    tasks: list[int] | None,
    size: str,
    own_file: str | None,
    variant: str,
    passes: float,
    hidden: float,
    epochs: float,
    batch_size: float,
    lr: float,
    gate_supervision: bool | float,
    seed: float,
    limit: float | None,
    name: str,
    patience: float | None = DEFAULTS.patience,
    phrases: bool = DEFAULTS.phrases,
    glove: bool = DEFAULTS.glove,
    spelling: bool = DEFAULTS.spelling,
    dropout: float = DEFAULTS.dropout,
    lr_decay: float = DEFAULTS.lr_decay,
    weight_average: float = DEFAULTS.weight_average,
    positional: bool = DEFAULTS.positional,
    balance_tasks: bool = DEFAULTS.balance_tasks,
    tie_break_loss: bool = DEFAULTS.tie_break_loss,
    vary_phrasing: float = DEFAULTS.vary_phrasing,
    swap_entities: float = DEFAULTS.swap_entities,
    swap_people: bool = DEFAULTS.swap_people,
) -> dict:
    """Start a training run in the background; returns its status with "started", "token" and "error".

    A second run while one is going is refused with "busy": the status is then the running job's.
    """
    settings = TrainSettings(
        dataset=dataset or "babi",
        tasks=list(tasks or []),
        size=size or "1k",
        file=own_file,
        variant=variant or "dmn",
        passes=passes,
        hidden=hidden,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        gate_supervision=_float(gate_supervision),
        seed=seed,
        limit=limit,
        patience=patience,
        name=name or "",
        phrases=phrases,  # check_settings turns the checkboxes into booleans
        glove=glove,
        spelling=spelling,
        dropout=dropout,
        lr_decay=lr_decay,
        weight_average=weight_average,
        positional=positional,
        balance_tasks=balance_tasks,
        tie_break_loss=tie_break_loss,
        vary_phrasing=vary_phrasing,
        swap_entities=swap_entities,
        swap_people=swap_people,
    )
    try:
        job = jobs.JOBS.start(settings)
    except jobs.Busy as busy:
        return {**busy.job.snapshot(), "started": False, "busy": True, "error": str(busy)}
    except TrainError as err:
        return {"job": None, "token": None, "state": None, "running": False, "started": False, "busy": False,
                "error": str(err)}  # fmt: skip
    return {**job.snapshot(token=job.token), "started": True, "busy": False, "error": None}


def train_status(job: str) -> dict:
    """The state of a training run: state, epoch, epochs, history (loss and validation accuracy per
    epoch), eta and elapsed seconds, log, saved_as (the new checkpoint's name once it is written)."""
    found = jobs.JOBS.get(job)
    if found is None:
        return {"job": job, "state": None, "running": False, "error": "There is no such run."}
    return {**found.snapshot(), "error": None}


def train_stop(job: str, token: str) -> dict:
    """Stop a run at its next step (the best checkpoint so far is kept); needs the token train_start gave."""
    stopping, message = jobs.JOBS.stop(job, token)
    found = jobs.JOBS.get(job)
    status = found.snapshot() if found else {"job": job}
    return {**status, "stopping": stopping, "error": None if stopping else message}


def after_start(status: dict, session: dict | None) -> tuple:
    """Remember the job this page watches (and its token, to stop it); start polling."""
    session = dict(session or {})
    if status.get("started"):
        return {"job": status["job"], "token": status["token"]}, None, gr.Timer(active=True), ""
    if status.get("busy"):
        gr.Info(status["error"], duration=TOAST_SECONDS)
        token = session.get("token") if session.get("job") == status["job"] else None
        return {"job": status["job"], "token": token}, None, gr.Timer(active=True), f"▶ {status['error']}"
    gr.Warning(status.get("error") or "Could not start.", duration=TOAST_SECONDS)
    return session, gr.update(), gr.update(), f"**✘ {html.escape(status.get('error') or '', quote=False)}**"


def stop(session: dict | None) -> Any:
    session = session or {}
    stopping, message = jobs.JOBS.stop(session.get("job"), session.get("token"))
    if not stopping:
        gr.Warning(message, duration=TOAST_SECONDS)
    return gr.update() if stopping else f"**✘ {html.escape(message)}**"


def progress_html(snap: dict | None) -> str:
    """The progress bar: state, epoch, elapsed time and the estimated time left."""
    if not snap or not snap.get("job"):
        return EMPTY_PROGRESS
    state, epoch, epochs = snap["state"], snap["epoch"], snap["epochs"]
    label = jobs.STATE_TEXT.get(state, state)
    where = f"epoch {epoch} of {epochs}" if epoch else ("preparing the data" if state == "preparing" else "epoch 1")
    if state == "training" and epoch == 0:
        where = f"epoch 1 of {epochs} running"
    step = snap.get("step") if snap["running"] else None
    if step:  # the epoch under way, by its batches
        where = f"epoch {step['epoch']} of {epochs}, batch {step['done']:,} of {step['total']:,}"
    elapsed = format_seconds(snap["elapsed"])
    if snap["running"]:
        if snap["eta"] is not None:
            left = f"about {format_seconds(snap['eta'])} left"
            if snap.get("time_limit") and epoch and snap["eta"] + 1 < _eta_without_limit(snap):
                left += " (time limit)"
        else:
            left = "time left: known after the first batches"
        timing = f"{elapsed} elapsed · {left}"
    else:
        timing = f"took {elapsed}"
    kind = {"done": "dmn-done", "stopped": "dmn-done", "failed": "dmn-failed", "cancelled": "dmn-failed"}.get(state, "")
    if snap["running"] and not snap["history"] and not snap.get("step"):
        kind = "dmn-waiting"
    width = 100 if state in ("done", "stopped") else round(100 * snap["fraction"], 1)
    foot = []
    if snap.get("best_val_accuracy") is not None:
        foot.append(f"best validation accuracy {snap['best_val_accuracy']:.1%} (epoch {snap['best_epoch']})")
    if snap.get("device"):
        foot.append(f"on {snap['device']}")
    if snap.get("saved_as"):
        foot.append(f"saved as <b>{html.escape(snap['saved_as'])}</b>")
    return (
        "<div class='dmn-progress'>"
        f"<div class='dmn-progress-head'><span><b>{html.escape(label)}</b> · {html.escape(snap['name'])} · "
        f"{where}</span><span class='dmn-progress-time'>{timing}</span></div>"
        f"<div class='dmn-bar {kind}' role='progressbar' aria-valuenow='{width}' aria-valuemin='0' "
        f"aria-valuemax='100'><div class='dmn-fill' style='width:{width}%'></div></div>"
        f"<div class='dmn-progress-foot'>{' · '.join(foot) or '&nbsp;'}</div></div>"
    )


def log_html(lines: list[str]) -> str:
    text = html.escape("\n".join(lines)) if lines else "The run's log appears here."
    return f"<div class='dmn-log-title'>Log</div><div class='dmn-log'><pre>{text}</pre></div>"


def _eta_without_limit(snap: dict) -> float:
    """The seconds left of the epochs planned, at the recent epochs' pace (no time limit counted)."""
    return (jobs.seconds_per_epoch(snap["history"]) or 0.0) * (snap["epochs"] - snap["epoch"])


def message_md(snap: dict) -> str:
    icon = {"done": "✔", "stopped": "■", "cancelled": "■", "failed": "✘"}.get(snap["state"], "▶")
    return f"{icon} {html.escape(snap['message'], quote=False)}"


POLLED = ("progress", "message", "curves", "log", "seen", "timer", "stop")  # what `poll` redraws


def poll(session: dict | None, seen: dict | None) -> tuple[tuple, str | None]:
    """One timer tick: redraw what changed (curves only after a new epoch) and stop polling when the
    run has ended. Returns the POLLED outputs and, the tick after a run ended, its new checkpoint's
    name (for `CheckpointRegistry.announcing`, which lists it in the pickers)."""
    keep = dict.fromkeys(POLLED, gr.update())
    job = jobs.JOBS.get((session or {}).get("job"))
    if job is None:
        return tuple({**keep, "timer": gr.Timer(active=False)}.values()), None
    snap = job.snapshot()
    seen = seen if seen and seen.get("job") == snap["job"] else {"job": snap["job"], "running": True}
    out = dict(keep)
    out["progress"] = progress_html(snap)
    if seen.get("message") != snap["message"] or seen.get("state") != snap["state"]:
        out["message"] = message_md(snap)
        if snap["state"] == "failed":
            gr.Warning(snap["message"], duration=TOAST_SECONDS)
    if seen.get("epoch") != snap["epoch"] or seen.get("state") != snap["state"]:
        out["curves"] = plots.training_curves(snap["history"], snap["epochs"], snap["best_epoch"])
    if seen.get("log") != len(snap["log"]) or seen.get("state") != snap["state"]:
        out["log"] = log_html(snap["log"])
    owner = bool((session or {}).get("token"))
    out["stop"] = gr.update(interactive=owner and snap["state"] in ("preparing", "training"))
    new = None
    if not snap["running"]:
        out["timer"] = gr.Timer(active=False)
        if seen.get("running") and snap["saved_as"]:  # the run has just ended: list its checkpoint
            new = snap["saved_as"]
    out["seen"] = {
        "job": snap["job"],
        "epoch": snap["epoch"],
        "state": snap["state"],
        "message": snap["message"],
        "log": len(snap["log"]),
        "running": snap["running"],
    }
    return tuple(out[k] for k in POLLED), new


def on_load(session: dict | None, dataset: str, tasks: list[int] | None, size: str) -> tuple:
    """A page that opens while a run is going watches it; the data status is checked."""
    session = dict(session or {})
    current = jobs.JOBS.current()
    data = data_status(dataset, tasks, size)
    if current is not None:
        token = session.get("token") if session.get("job") == current.id else None
        return {"job": current.id, "token": token}, None, gr.Timer(active=True), data
    return session, gr.update(), gr.update(), data


def data_status(dataset: str, tasks: list[int] | None, size: str) -> str:
    return train_data.data_status(TrainSettings(dataset=dataset or "babi", tasks=list(tasks or []), size=size))


def show_dataset(dataset: str) -> tuple:
    """The settings that apply to a dataset: bAbI tasks, the file, the sentence options, gate supervision."""
    task = train_data.DATASETS.get(dataset, train_data.DATASETS["babi"]).task
    return (
        gr.update(visible=dataset == "babi"),
        gr.update(visible=dataset == "file"),
        gr.update(visible=task is not None),
        gr.update(visible=bool(task and family_of(task).phrases)),
        gr.update(visible=task is None),
        gr.update(label="Examples (0: all)" if task else "Questions per task (0: all)"),
    )


def check_babi_file(own_file: str | None) -> str:
    """Check an uploaded bAbI-format file: what is in it, or the first malformed line."""
    if not own_file:
        return ""
    try:
        examples = train_data.read_babi_upload(own_file)
    except TrainError as err:
        gr.Warning(str(err), duration=TOAST_SECONDS)
        return f"✘ {html.escape(str(err), quote=False)}"
    return f"✔ {html.escape(upload_name(own_file))}: {train_data.describe_examples(examples)}."


def default_name(dataset: str, tasks: list[int] | None, size: str, own_file: str | None, variant: str) -> Any:
    settings = TrainSettings(
        dataset=dataset, tasks=sorted(set(tasks or [1])), size=size, file=own_file, variant=variant
    )
    name = prepare.default_name(settings)
    return gr.update(placeholder=f"{name}  (leave empty for this name)")


def upload_checkpoint(zip_file: str | None) -> tuple[tuple[str], str | None]:
    """Add an uploaded checkpoint zip to your checkpoints (checked first). Returns a message and the
    Ask, Sentiment, Part-of-speech and download pickers' new choices (each {"choices": [[label, key],
    ...]}; the new checkpoint is the "value" of the download picker and of its sentence tab's picker)."""
    if not zip_file:
        return ("",), None
    try:
        name = install_checkpoint_zip(zip_file)
    except TrainError as err:
        gr.Warning(str(err), duration=TOAST_SECONDS)
        return (f"✘ {html.escape(str(err), quote=False)}",), None
    path = (service.user_checkpoint_dir() / name).resolve()
    info = next((i for i in service.all_checkpoints() if i.path.resolve() == path), None)
    tab = service.checkpoint_tab(info) if info else "Ask"
    return (f"✔ Added **{html.escape(name)}**: it is in the {tab} tab's checkpoint picker now.",), name


def download_checkpoint(checkpoint: str | None) -> Any:
    """A zip of a checkpoint (name/model.safetensors and its JSON files)."""
    if not checkpoint:
        return gr.update(value=None, interactive=False, label="Download .zip")
    try:
        path = zip_checkpoint(checkpoint)
    except CheckpointError as err:
        gr.Warning(str(err), duration=TOAST_SECONDS)
        return gr.update(value=None, interactive=False, label="Download .zip")
    return gr.update(value=str(path), interactive=True, label=f"Download {path.name}")


# --------------------------------------------------------------------------------------------
# The tab

Parts = dict[str, Any]  # the tab's components by name
START_INPUTS = ("dataset", "tasks", "size", "own_file", "variant", "passes", "hidden", "epochs", "batch_size", "lr",
                "gate", "seed", "limit", "name", "patience", "phrases", "glove", "spelling", "dropout", "lr_decay",
                "weight_average", "positional", "balance_tasks", "tie_break_loss",
                "vary_phrasing", "swap_entities", "swap_people")  # fmt: skip  # `start`'s arguments
MORE_NUMBERS = {  # the "More settings" numbers: (label, info); values and bounds are the settings'
    "dropout": ("Dropout", "Share of the facts' and the answer's units zeroed at each training step."),
    "lr_decay": ("Learning-rate decay", "The learning rate is multiplied by this after each epoch without a better "
                 "validation score (1: constant)."),
    "weight_average": ("Weight average (0: off)", "Validate and keep a moving average of the weights, with this "
                       "decay per step (e.g. 0.999)."),
    "vary_phrasing": ("Freer phrasing (bAbI tasks)", "Chance that each sentence that can be is told anew at each "
                      "step: he or she for a repeated subject, 'then' before an action, a relation the other way "
                      "round. 0.5 taught the shipped model the stories people type."),
    "swap_entities": ("Swap names and places (bAbI stories)", "Chance that each story's names, places and objects "
                      "are shuffled among their kind at each step, the answer with them, so that a small training "
                      "set is not learnt by heart. On bAbI 1k, 0.5 and 800 epochs lifted task 3 from 39% to 93%."),
}  # fmt: skip
MORE_CHECKBOXES = {  # the "More settings" checkboxes: (label, info)
    "positional": ("Weigh a fact's words by their position (DMN+)", "DMN+'s positional encoding. Untick it to sum "
                   "the plain word vectors, as the shipped tagger does: for one-word facts the weights would scale a "
                   "vector's first dimensions down."),
    "balance_tasks": ("Balance the bAbI tasks", "Repeat the questions of a task with fewer of them (task 3 has no "
                      "10k file) so that every task weighs about the same in an epoch."),
    "tie_break_loss": ("Break ties by validation loss", "An epoch that equals the best validation accuracy at a "
                       "lower validation loss also counts as better, and 100% does not end the run (for small "
                       "validation sets)."),
    "swap_people": ("Swap the people too (bAbI stories)", "With names and places swapped: the people are shuffled "
                    "too, she among she and he among he, also where no question names them. On bAbI 1k it lifted "
                    "task 2 to 96.6%."),
}  # fmt: skip
ELEM_IDS = {"lr_decay": "train-lr-decay", "weight_average": "train-weight-average", "balance_tasks": "train-balance",
            "tie_break_loss": "train-tie-break", "vary_phrasing": "train-vary-phrasing",
            "swap_entities": "train-swap-entities",
            "swap_people": "train-swap-people"}  # fmt: skip  # the rest: train-<name>


def _elem_id(name: str) -> str:
    return ELEM_IDS.get(name, f"train-{name}")


def _data_settings() -> Parts:
    """What to train on: the dataset, its bAbI tasks, file or sentence options, and whether its data is here."""
    dataset = gr.Radio(
        [(d.label, key) for key, d in train_data.DATASETS.items()],
        value="babi",
        label="Train on",
        elem_id="train-dataset",
    )
    with gr.Column(visible=True) as babi_group:
        tasks = gr.Dropdown(
            service.task_choices(),
            value=[1],
            multiselect=True,
            label="bAbI tasks",
            info="One, several or all 20: one model learns all the tasks chosen.",
            elem_id="train-tasks",
        )
        with gr.Row():
            all_tasks = gr.Button("All 20 tasks", size="sm", scale=0, elem_id="train-all-tasks")
        size = gr.Radio(
            [("1k questions per task", "1k"), ("10k questions per task", "10k")],
            value="1k",
            label="Training set",
            elem_id="train-size",
        )
    with gr.Column(visible=False) as file_group:
        own_file = gr.File(label="Your file in bAbI format (.txt)", file_types=[".txt"], elem_id="train-file")
        file_md = gr.Markdown(elem_id="train-file-status")
        with gr.Accordion("The bAbI format", open=False):
            gr.Markdown(FORMAT_HELP)
    with gr.Column(visible=False) as sentence_group:
        phrases = gr.Checkbox(
            False, label="Train on phrases", elem_id="train-phrases",
            info="Also train on every labelled phrase of SST's trees (far more examples, slower).",
        )  # fmt: skip
        glove_ok = train_data.glove_available()
        glove = gr.Checkbox(
            False, label="Start from GloVe 50d vectors", interactive=glove_ok, elem_id="train-glove",
            info="Pretrained word vectors (GloVe 6B 50d) instead of random ones."
            if glove_ok else train_data.GLOVE_MISSING,
        )  # fmt: skip
        spelling = gr.Checkbox(
            False, label="Read unknown words by their spelling", elem_id="train-spelling",
            info="A character CNN reads every word's letters, and a word never seen in training is read "
            "by its shape (capitals, digits, ending), as the shipped tagger does. Needs DMN+.",
        )  # fmt: skip
    data_md = gr.Markdown(elem_id="train-data")
    return dict(
        dataset=dataset, babi_group=babi_group, tasks=tasks, all_tasks=all_tasks, size=size, file_group=file_group,
        own_file=own_file, file_md=file_md, sentence_group=sentence_group, phrases=phrases, glove=glove,
        spelling=spelling, data_md=data_md,
    )  # fmt: skip


def _model_settings() -> Parts:
    """The model and the training: variant, passes, hidden size, epochs, batch, learning rate, gates, limits."""
    variant = gr.Radio(
        [("DMN (Kumar et al. 2016)", "dmn"), ("DMN+ (Xiong et al. 2016)", "dmn+")],
        value=DEFAULTS.variant,
        label="Model",
        elem_id="train-variant",
    )
    with gr.Row():
        passes = gr.Slider(*bounds("passes"), value=DEFAULTS.passes, step=1, label="Passes",
                           info="Times the memory reads the story")  # fmt: skip
        hidden = gr.Slider(8, 256, value=DEFAULTS.hidden, step=8, label="Hidden size", info="Units in every GRU",
                           elem_id="train-hidden")  # fmt: skip
    with gr.Row():
        epochs = gr.Number(DEFAULTS.epochs, label="Epochs", precision=0, elem_id="train-epochs")
        batch_size = gr.Number(DEFAULTS.batch_size, label="Batch size", precision=0, elem_id="train-batch")
        lr = gr.Number(DEFAULTS.lr, label="Learning rate", elem_id="train-lr")
    gate = gr.Checkbox(
        bool(DEFAULTS.gate_supervision),
        label="Gate supervision: train the attention towards the supporting facts",
        info="The DMN paper does this on bAbI; DMN+ learns without it. Needs the supporting-fact numbers of the data.",
        elem_id="train-gate",
    )
    with gr.Row():
        limit = gr.Number(
            0, label="Questions per task (0: all)", precision=0, elem_id="train-limit",
            info="Fewer questions train faster.",
        )  # fmt: skip
        patience = gr.Number(
            DEFAULTS.patience, label="Patience (0: never)", precision=0, elem_id="train-patience",
            info="Stop after this many epochs without a better validation score (0: run every epoch).",
        )  # fmt: skip
        seed = gr.Number(DEFAULTS.seed, label="Seed", precision=0, elem_id="train-seed", info="Same seed, same run.")
    return dict(variant=variant, passes=passes, hidden=hidden, epochs=epochs, batch_size=batch_size, lr=lr, gate=gate,
                limit=limit, patience=patience, seed=seed)  # fmt: skip


def _more_settings() -> Parts:
    """The "More settings" accordion: dropout, learning-rate decay, weight average, freer phrasing, swapped
    names and four switches."""
    with gr.Accordion("More settings", open=False, elem_id="train-more"):
        with gr.Row():
            parts = {
                name: gr.Number(
                    getattr(DEFAULTS, name),
                    label=label,
                    minimum=bounds(name)[0],
                    maximum=bounds(name)[1],
                    elem_id=_elem_id(name),
                    info=info,
                )  # fmt: skip
                for name, (label, info) in MORE_NUMBERS.items()
            }
        rows = [["positional", "swap_people"], ["balance_tasks", "tie_break_loss"]]
        for row in rows:
            with gr.Row():
                for name in row:
                    label, info = MORE_CHECKBOXES[name]
                    parts[name] = gr.Checkbox(getattr(DEFAULTS, name), label=label, elem_id=_elem_id(name), info=info)
    return parts


def _name_and_buttons() -> Parts:
    """The new checkpoint's name, Start and Stop."""
    name = gr.Textbox(
        label="Name of the new checkpoint",
        placeholder="dmn-task1-1k  (leave empty for this name)",
        info="Letters, digits, . _ - (other characters become -); a taken name gets a suffix.",
        max_length=200,
        elem_id="train-name",
    )
    with gr.Row():
        start_btn = gr.Button("Start", variant="primary", elem_id="train-start")
        stop_btn = gr.Button("Stop", variant="stop", interactive=False, elem_id="train-stop")
    return dict(name=name, start=start_btn, stop=stop_btn)


def _progress_column() -> Parts:
    return dict(
        progress=gr.HTML(EMPTY_PROGRESS, elem_id="train-progress"),
        message=gr.Markdown(elem_id="train-message"),
        curves=gr.Plot(plots.training_curves([]), show_label=False, elem_id="train-curves"),
        log=gr.HTML(log_html([]), elem_id="train-log"),
    )


def _checkpoint_zips(pickers: CheckpointRegistry) -> Parts:
    """Your checkpoints: the download picker (subscribed to `pickers`) and button, and the upload."""
    gr.Markdown("### Your checkpoints")
    with gr.Row(equal_height=False):
        with gr.Column():
            mine = gr.Dropdown(
                service.ALL_CHECKPOINTS.choices(),
                value=None,
                label="Download a checkpoint",
                allow_custom_value=True,
                info="Any checkpoint, shipped or yours: question answering, sentiment or part of speech. "
                "A zip of its folder: model.safetensors and its JSON files.",
                elem_id="train-mine",
            )
            pickers.subscribe("mine", mine, service.ALL_CHECKPOINTS)
            download = gr.DownloadButton("Download .zip", interactive=False, elem_id="train-download")
        with gr.Column():
            upload = gr.File(label="Upload a checkpoint (.zip)", file_types=[".zip"], elem_id="train-upload")
            upload_md = gr.Markdown(elem_id="train-upload-status")
    return dict(mine=mine, download=download, upload=upload, upload_md=upload_md)


PRIVATE: dict[str, Any] = {"api_visibility": "private"}


def _wire_settings(c: Parts) -> None:
    """The settings that show, the data status and the default name follow the choices."""
    dataset, tasks, size, own_file, variant = c["dataset"], c["tasks"], c["size"], c["own_file"], c["variant"]
    shown = [c[k] for k in ("babi_group", "file_group", "sentence_group", "phrases", "gate", "limit")]
    dataset.change(show_dataset, [dataset], shown, **PRIVATE)
    gr.on([dataset.change, tasks.change, size.change], data_status, [dataset, tasks, size], [c["data_md"]], **PRIVATE)
    c["all_tasks"].click(lambda: list(BABI_TASK_NAMES), None, [tasks], **PRIVATE)
    variant.change(lambda v: v == "dmn", [variant], [c["gate"]], **PRIVATE)
    gr.on(
        [dataset.change, tasks.change, size.change, own_file.change, variant.change],
        default_name, [dataset, tasks, size, own_file, variant], [c["name"]], **PRIVATE,
    )  # fmt: skip
    own_file.upload(check_babi_file, [own_file], [c["file_md"]], api_name="check_babi_file")
    own_file.clear(lambda: "", None, [c["file_md"]], **PRIVATE)
    c["upload"].clear(lambda: "", None, [c["upload_md"]], **PRIVATE)
    c["mine"].change(download_checkpoint, [c["mine"]], [c["download"]], api_name="download_checkpoint")


def _wire_runs(demo: gr.Blocks, c: Parts, pickers: CheckpointRegistry, dropdowns: list[gr.Dropdown]) -> None:
    """Start, Stop, the polling timer and the upload: the events whose outputs include every picker."""
    session, seen, timer, message = c["session"], c["seen"], c["timer"], c["message"]
    polled = [c[k] for k in POLLED]
    poll_event: dict[str, Any] = dict(
        fn=pickers.announcing(poll), inputs=[session, seen], outputs=[*polled, *dropdowns], show_progress="hidden",
        concurrency_limit=None, **PRIVATE,
    )  # fmt: skip
    start_inputs = [c[k] for k in START_INPUTS]
    c["start"].click(start, start_inputs, [c["status_json"]], api_name="train_start", show_progress="hidden").then(
        after_start, [c["status_json"], session], [session, seen, timer, message], **PRIVATE
    ).then(**poll_event)
    c["stop"].click(stop, [session], [message], show_progress="hidden", **PRIVATE).then(**poll_event)
    timer.tick(**poll_event)
    c["upload"].upload(
        pickers.announcing(upload_checkpoint), [c["upload"]], [c["upload_md"], *dropdowns], api_name="upload_checkpoint"
    )
    on_load_outputs = [session, seen, timer, c["data_md"]]
    demo.load(on_load, [session, c["dataset"], c["tasks"], c["size"]], on_load_outputs, **PRIVATE).then(**poll_event)


def build(demo: gr.Blocks, pickers: CheckpointRegistry) -> None:
    """The Train tab's components and events (call inside `with gr.Tab(...)` in build_demo). Its download
    picker subscribes to `pickers`; a finished run or an upload tells `pickers`, which updates every picker."""
    limits = Limits.from_env()
    c: Parts = dict(session=gr.State({}), seen=gr.State(None), timer=gr.Timer(POLL_SECONDS, active=False),
                    status_json=gr.JSON(visible=False))  # fmt: skip
    gr.Markdown(intro(limits))
    with gr.Row(equal_height=False):
        with gr.Column(scale=4):
            c.update(_data_settings(), **_model_settings(), **_more_settings(), **_name_and_buttons())
        with gr.Column(scale=5):
            c.update(_progress_column(), seen=c["seen"], timer=c["timer"])
    c.update(_checkpoint_zips(pickers))
    with gr.Accordion("Limits, folders and the training API", open=False):
        gr.Markdown(limits_help(limits))
    _wire_settings(c)
    gr.api(train_status, api_name="train_status", concurrency_limit=None)
    gr.api(train_stop, api_name="train_stop", concurrency_limit=None)
    demo.load(reread(service.ALL_CHECKPOINTS), [c["mine"]], [c["mine"]], **PRIVATE)
    pickers.on_change(lambda dropdowns: _wire_runs(demo, c, pickers, dropdowns))
