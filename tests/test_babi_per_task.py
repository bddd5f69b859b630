"""scripts/babi_per_task.py chooses each task's run on validation; with --seeds 0 it trains nothing."""

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "babi_per_task.py"


@pytest.fixture(scope="module")
def per_task():
    spec = importlib.util.spec_from_file_location("babi_per_task", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def finished(run: Path, task: int, validation: float, test: float, seconds: float = 10.0) -> None:
    run.mkdir(parents=True)
    metrics = {"validation_accuracy": validation, "test_accuracy": {f"babi:{task}": test}, "epochs_run": 5,
               "train_seconds": seconds, "data": {"train_examples": 900, "validation_examples": 100}}  # fmt: skip
    (run / "metrics.json").write_text(json.dumps(metrics))


def test_seeds_0_chooses_on_validation_among_finished_runs_and_trains_none(per_task, tmp_path, monkeypatch, capsys):
    old, new = tmp_path / "old", tmp_path / "new"
    finished(old / "qa1" / "seed0", 1, validation=1.0, test=1.0)
    finished(new / "qa1" / "seed0", 1, validation=0.99, test=0.99)
    finished(old / "qa2" / "seed0", 2, validation=0.90, test=0.80)
    finished(new / "qa2" / "seed0", 2, validation=0.97, test=0.93, seconds=20)
    (new / "qa2" / "seed1").mkdir()
    (new / "qa2" / "seed1" / "metrics.json").write_text('{"status": "training"}')  # died training: not a candidate
    monkeypatch.setattr(per_task.subprocess, "run", lambda *a, **k: pytest.fail("trained a run"))
    monkeypatch.setattr(sys, "argv", ["babi_per_task.py", "--tasks", "1,2", "--seeds", "0", "--out", str(old),
                                      "--also", str(new)])  # fmt: skip
    per_task.main()
    table = capsys.readouterr().out
    assert "| 1 single supporting fact | 100.0 | 100.0 | 2 | 5 | 20 |" in table
    assert "| 2 two supporting facts | 93.0 | 98.2 | 2 | 5 | 30 |" in table
    monkeypatch.setattr(sys, "argv", ["babi_per_task.py", "--tasks", "3", "--seeds", "0", "--out", str(old)])
    with pytest.raises(SystemExit, match="task 3: no finished run"):
        per_task.main()


def test_of_runs_that_tie_on_validation_the_lower_answer_loss_is_chosen(per_task, tmp_path, monkeypatch, capsys,
                                                                         data_dir):  # fmt: skip
    """Two real task-1 runs, both 100% on validation: the earlier folder's has noise in its weights,
    so its answers are less sure and the later folder's run is chosen."""
    shipped = REPO / "checkpoints" / "babi-1k-per-task" / "babi1"
    runs = {name: tmp_path / name / "qa1" / "seed0" for name in ("noisy", "clean")}
    for run, test in zip(runs.values(), (0.98, 0.97), strict=True):
        shutil.copytree(shipped, run)
        metrics = json.loads((run / "metrics.json").read_text())
        (run / "metrics.json").write_text(json.dumps({**metrics, "test_accuracy": {"babi:1": test}}))
    weights = load_file(runs["noisy"] / "model.safetensors")
    torch.manual_seed(0)
    save_file({k: v + 0.05 * torch.randn_like(v) for k, v in weights.items()}, runs["noisy"] / "model.safetensors")
    losses = [per_task.answer_loss(run, str(data_dir)) for run in runs.values()]
    assert losses[0] > losses[1]
    monkeypatch.setattr(sys, "argv", ["babi_per_task.py", "--tasks", "1", "--seeds", "0", "--out",
                                      str(tmp_path / "noisy"), "--also", str(tmp_path / "clean"),
                                      "--data-dir", str(data_dir)])  # fmt: skip
    per_task.main()
    assert "| 1 single supporting fact | 97.0 | 100.0 | 2 |" in capsys.readouterr().out
