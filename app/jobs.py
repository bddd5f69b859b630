"""Training jobs, one at a time: `JOBS.start(settings)` checks the settings and runs a `Job` in a
background thread, which prepares the data and calls `train_in_folder`.

That function drives `dmn.train.TrainingRun` in a hidden staging folder inside the user checkpoint
directory and talks to the app only through files there (events.jsonl: one line per epoch, and
"step" lines on the batches done within an epoch; a STOP file: stop at the next step), so it works
the same in this process and inside `spaces.GPU` on ZeroGPU, where it runs in a child process.
When it returns, the finished checkpoint is renamed into the user directory under a free,
sanitised name (an existing name gets a suffix: "my-model-2") and the staging folder is removed.
"""

from __future__ import annotations

import contextvars
import json
import secrets
import shutil
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from app import prepare, service
from app.limits import Limits, TrainError, format_seconds
from app.train_data import DATASETS, read_babi_upload
from app.train_settings import TrainSettings, check_settings, run_spec
from app.user_checkpoints import EVENTS, free_name, install, sanitize_name, staging_folder
from dmn.checkpoint import CheckpointError, load_checkpoint
from dmn.data import DataFormatError, DataNotFoundError, Example
from dmn.settings import RunSpec
from dmn.train import TrainingRun

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


def seconds_per_epoch(history: list[dict]) -> float | None:
    """The mean time of the last three epochs (each a dict with "seconds"); None before the first ends."""
    recent = history[-3:]
    return sum(e["seconds"] for e in recent) / len(recent) if recent else None


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
        per_epoch = seconds_per_epoch(self.history)
        if per_epoch is None and step and step["done"] and step["seconds"] > 0:
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
        data = prepare.prepare(s, self.limits, self.add_log)
        spec = run_spec(s, data)
        with self._lock:
            if self.stop_reason:
                self._end("cancelled", "Stopped before training began: nothing was saved.")
                return
            self.state = "training"
            self.message = f"Training {data.description.removesuffix(', trained in the app')}…"
        self.add_log(f"Training {spec.model.variant.upper()}, {s.passes} passes, hidden {s.hidden}, {s.epochs} epochs.")
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
        name = sanitize_name(requested, prepare.default_name(settings))
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
