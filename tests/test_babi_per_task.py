"""scripts/babi_per_task.py chooses each task's run on validation; with --seeds 0 it trains nothing."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "babi_per_task.py"


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
    finished(new / "qa1" / "seed0", 1, validation=1.0, test=0.99)  # a tie: the earlier folder's run is kept
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
