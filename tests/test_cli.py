import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dmn.checkpoint import load_checkpoint
from dmn.cli import main
from dmn.evaluate import accuracy_by_task
from dmn.predict import Predictor
from dmn.settings import ModelSettings, RunSpec, TrainConfig
from dmn.tasks import HELD_OUT, load_task
from dmn.train import TrainingRun
from tests.conftest import REPO


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dmn", *args], cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def trained(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "tiny"
    result = run_cli(
        "train",
        "--task",
        "babi:1",
        "--size",
        "1k",
        "--limit",
        "60",
        "--epochs",
        "2",
        "--hidden",
        "12",
        "--variant",
        "dmn+",
        "--gate-supervision",
        "--device",
        "cpu",
        "--data-dir",
        str(data_dir),
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    return out, result


def test_train_writes_a_complete_checkpoint(trained):
    out, result = trained
    assert sorted(p.name for p in out.iterdir()) == [
        "config.json", "kinds.json", "metrics.json", "model.safetensors", "vocab.json",
    ]  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["test_accuracy"]) == {"babi:1"}
    # 60 questions are 12 stories of 5: one whole story is held out for validation
    assert metrics["data"]["train_examples"] == 55 and metrics["data"]["validation_examples"] == 5
    assert metrics["command"].startswith("python -m dmn train --task babi:1")
    assert "1 single supporting fact" in result.stdout


def test_eval_prints_what_metrics_json_holds(trained, data_dir, tmp_path):
    out, _ = trained
    result = run_cli(
        "eval",
        "--checkpoint",
        str(out),
        "--data-dir",
        str(data_dir),
        "--device",
        "cpu",
        "--json",
        str(tmp_path / "eval.json"),
        "--unknown-words",
        "--gates",
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"1 single supporting fact +[\d.]+ +- +-\n", result.stdout)  # one supporting fact: pass 1 only
    metrics = json.loads((out / "metrics.json").read_text())
    printed = json.loads((tmp_path / "eval.json").read_text())
    assert printed["test_accuracy"] == metrics["test_accuracy"]
    assert f"{metrics['test_accuracy']['babi:1'] * 100:.1f}" in result.stdout
    assert "paper DMN" in result.stdout and "passed (>= 95%)" in result.stdout
    told = run_cli("eval", "--checkpoint", str(out), "--data-dir", str(data_dir), "--device", "cpu", "--rephrase", "1")
    assert told.returncode == 0 and "stories told more freely: each rewrite with chance 1" in told.stdout
    known = re.search(r"all words known .*\(([\d,]+)\)", result.stdout)  # task 1's few words: all seen in training
    assert known and known.group(1) == "1,000" and "with an unknown word" not in result.stdout


def test_eval_on_the_validation_split_of_a_subset_says_why_it_cannot(trained, data_dir):
    out, _ = trained  # trained with --limit 60
    result = run_cli("eval", "--checkpoint", str(out), "--split", "validation", "--data-dir", str(data_dir))
    assert result.returncode == 2 and "trained on a subset (--limit)" in result.stderr


def test_eval_on_the_validation_split_writes_the_recorded_validation_accuracy(data_dir, tmp_path, capsys):
    shipped = REPO / "checkpoints" / "sst-binary"
    out = tmp_path / "validation.json"
    args = ["eval", "--checkpoint", str(shipped), "--split", "validation", "--json", str(out), "--device", "cpu"]
    assert main([*args, "--data-dir", str(data_dir)]) == 0
    assert "validation split: 872 questions" in capsys.readouterr().out
    recorded = json.loads((shipped / "metrics.json").read_text())["validation_accuracy"]
    assert json.loads(out.read_text())["validation_accuracy"] == {"sst:binary": pytest.approx(recorded, abs=1e-9)}


def test_ask_prints_answer_and_gates(trained, tmp_path):
    out, _ = trained
    story = tmp_path / "story.txt"
    story.write_text("1 Mary went to the kitchen.\n2 John flew to the moon.\n")
    result = run_cli("ask", "--checkpoint", str(out), "--story", str(story), "--question", "Where is Mary?")
    assert result.returncode == 0, result.stderr
    assert "answer:" in result.stdout and "pass 1" in result.stdout and "Mary went to the kitchen." in result.stdout
    assert "read as: moon as " in result.stdout  # a new place, read as a known one
    assert "know (read as <unk>): flew\n" in result.stdout  # unknown words are named, not fatal


def test_kinds_writes_again_what_train_wrote(trained, data_dir, tmp_path):
    out, _ = trained
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "kinds.json").unlink()
    result = run_cli("kinds", "--checkpoint", str(copy), "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    # learned from the whole training file (train learned from its first 60 questions)
    assert json.loads((copy / "kinds.json").read_text())["questions"] == ["where is _"]
    assert "open slots" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["ask", "--checkpoint", "{ck}", "--story", "{story}", "--question", ""], "question is empty"),
        (["ask", "--checkpoint", "{tmp}/none", "--story", "{story}", "--question", "Where?"], "no checkpoint"),
        (["train", "--task", "babi:1", "--data-dir", "{tmp}", "--out", "{tmp}/x"], "python -m dmn download babi"),
        (["train", "--task", "babi:1", "--data-dir", "{bad}", "--out", "{tmp}/x"], "line 2"),
        (["train", "--task", "babi:42", "--out", "{tmp}/x"], "tasks 1-20"),
        (["train", "--task", "babi:1", "--data-dir", "{empty}", "--out", "{tmp}/x"], "no questions found"),
        (
            ["train", "--task", "sst:fine", "--word-dropout", "1", "--out", "{tmp}/x"],
            "--word-dropout must be in [0, 1)",
        ),
        (["train", "--task", "sst:fine", "--embedding-lr", "0", "--out", "{tmp}/x"], "--embedding-lr must be above 0"),
    ],
    ids=[
        "empty-question",
        "no-checkpoint",
        "no-data",
        "malformed-data",
        "bad-task",
        "no-questions",
        "word-dropout",
        "embedding-lr",
    ],
)
def test_errors_are_one_clear_line(trained, tmp_path, capsys, args, message):
    story = tmp_path / "story.txt"
    story.write_text("Mary went home.\n")
    bad = tmp_path / "bad" / "babi" / "en"
    bad.mkdir(parents=True)
    (bad / "qa1_single-supporting-fact_train.txt").write_text("1 Mary went home.\n2 Where is Mary?\thome\n")
    empty = tmp_path / "empty" / "babi" / "en"
    empty.mkdir(parents=True)
    (empty / "qa1_single-supporting-fact_train.txt").write_text("1 Mary went home.\n")
    fill = {
        "ck": str(trained[0]),
        "story": str(story),
        "tmp": str(tmp_path),
        "bad": str(tmp_path / "bad"),
        "empty": str(tmp_path / "empty"),
    }
    assert main([a.format(**fill) for a in args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_patience_0_turns_early_stopping_off(tmp_path, capsys, monkeypatch):
    import dmn.cli

    specs = []

    def capture(spec, *args, **kwargs):  # stands in for TrainingRun: records what the CLI asked for
        specs.append(spec)
        raise ValueError("captured")

    monkeypatch.setattr(dmn.cli, "TrainingRun", capture)
    out = str(tmp_path / "x")
    for patience in ("0", "3"):
        assert main(["train", "--task", "babi:1", "--patience", patience, "--device", "cpu", "--out", out]) == 2
    assert [spec.train.patience for spec in specs] == [None, 3]
    capsys.readouterr()
    assert main(["train", "--task", "babi:1", "--patience", "-1", "--out", out]) == 2
    assert "--patience must be 0 (no early stopping) or more" in capsys.readouterr().err and len(specs) == 2
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "0 turns early stopping off" in " ".join(capsys.readouterr().out.split())


def test_repeat_task_and_tie_break_reach_the_training_settings(tmp_path, capsys, monkeypatch):
    import dmn.cli

    specs = []

    def capture(spec, *args, **kwargs):  # stands in for TrainingRun: records what the CLI asked for
        specs.append(spec)
        raise ValueError("captured")

    monkeypatch.setattr(dmn.cli, "TrainingRun", capture)
    args = ["train", "--task", "babi:all", "--repeat-task", "babi:17=4", "--repeat-task", "babi:19=2",
            "--tie-break-loss", "--init-from", "runs/start", "--out", str(tmp_path / "x")]  # fmt: skip
    assert main(args) == 2
    assert specs[0].train.task_repeats == {"babi:17": 4, "babi:19": 2} and specs[0].train.tie_break_loss
    assert specs[0].train.val_split == "story"
    assert main([*args, "--val-split", "question"]) == 2 and specs[1].train.val_split == "question"
    assert specs[0].init_from == "runs/start"
    assert main([*args, "--vary-phrasing", "0.5"]) == 2 and specs[2].train.vary_phrasing == 0.5
    assert "--vary-phrasing 0.5" in " ".join(specs[2].arguments())
    for bad in ("babi:17", "babi:17=0", "=3"):
        with pytest.raises(SystemExit):
            main(["train", "--task", "babi:all", "--repeat-task", bad, "--out", str(tmp_path / "x")])
        assert "expected TASK=N with N >= 1" in capsys.readouterr().err


def test_ctrl_c_stops_training_and_still_writes_the_tested_best_model(data_dir, tmp_path):
    import os
    import signal
    import time

    out = tmp_path / "interrupted"
    args = ["train", "--task", "babi:1", "--limit", "100", "--epochs", "500", "--patience", "0", "--hidden", "12"]
    process = subprocess.Popen(
        [sys.executable, "-m", "dmn", *args, "--device", "cpu", "--data-dir", str(data_dir), "--out", str(out)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    deadline = time.monotonic() + 120
    while not (out / "model.safetensors").exists() and time.monotonic() < deadline:  # the first epoch's best
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert "stopping after this step" in stderr and "checkpoint written" in stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stopped"] == "interrupted (Ctrl-C)" and metrics["epochs_run"] < 500
    assert set(metrics["test_accuracy"]) == {"babi:1"}


def train_tiny_sst(task: str, seed: str, out: Path, data_dir: Path, *more: str) -> str:
    args = ["--task", task, "--epochs", "1", "--hidden", "8", "--variant", "dmn+", "--seed", seed, "--threads", "1"]
    result = run_cli("train", *args, *more, "--data-dir", str(data_dir), "--out", str(out))
    assert result.returncode == 0, result.stderr
    return str(out)


def assert_eval_matches_metrics(checkpoint: Path, task: str, data_dir: Path, tmp_path: Path) -> None:
    """`eval` on the test and the validation set prints what the checkpoint's metrics.json says."""
    metrics = json.loads((checkpoint / "metrics.json").read_text())
    recorded = {"test": metrics["test_accuracy"][task], "validation": metrics["validation_accuracy"]}
    for split, accuracy in recorded.items():
        written = tmp_path / f"{split}.json"
        args = ["--split", split, "--data-dir", str(data_dir), "--json", str(written)]
        assert main(["eval", "--checkpoint", str(checkpoint), *args]) == 0
        assert json.loads(written.read_text())[f"{split}_accuracy"][task] == pytest.approx(accuracy, abs=1e-9)


def test_ensemble_writes_a_checkpoint_that_eval_measures_alike(trained, data_dir, tmp_path, capsys):
    members = [train_tiny_sst("sst:binary", seed, tmp_path / f"sst-{seed}", data_dir) for seed in ("0", "1")]
    out = tmp_path / "both"
    result = run_cli("ensemble", *members, "--out", str(out), "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    assert "2 members; validation accuracy" in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["members"] == 2 and metrics["command"].startswith("python -m dmn ensemble")
    config = json.loads((out / "config.json").read_text())
    assert [m["checkpoint"] for m in config["members"]] == ["sst-0", "sst-1"]
    assert all(m["command"].startswith("python -m dmn train --task sst:binary") for m in config["members"])
    assert_eval_matches_metrics(out, "sst:binary", data_dir, tmp_path)
    shared = tmp_path / "shared"  # the same members again, naming both's weight files instead of copies
    args = [members[1], members[0], "--share-weights-with", str(out), "--out", str(shared), "--data-dir", str(data_dir)]
    assert main(["ensemble", *args]) == 0
    config = json.loads((shared / "config.json").read_text())
    assert [m["weights"] for m in config["members"]] == ["../both/model-2.safetensors", "../both/model.safetensors"]
    assert "--share-weights-with" in config["command"] and not list(shared.glob("*.safetensors"))
    assert_eval_matches_metrics(shared, "sst:binary", data_dir, tmp_path)
    capsys.readouterr()
    reordered = tmp_path / "reordered"  # the second member with two of its words swapped: another vocabulary
    shutil.copytree(members[1], reordered)
    vocab = json.loads((reordered / "vocab.json").read_text())
    vocab["words"][5], vocab["words"][6] = vocab["words"][6], vocab["words"][5]
    (reordered / "vocab.json").write_text(json.dumps(vocab))
    mismatches = [
        ([str(trained[0]), members[0]], "built of SST or POS models"),
        ([members[0], str(trained[0])], "was trained on babi:1"),
        ([members[0], str(reordered)], "another vocabulary"),
        ([members[0], str(REPO / "checkpoints" / "sst-binary")], "is an ensemble already"),
        ([members[0], "--task", "sst:fine"], "only sst:fine models can answer sst:binary"),
        ([members[0], "--embedding-vocab", "5"], "trained without pretrained vectors"),
        ([members[0], "--embedding-vocab", "-5"], "a number of words, not -5"),
    ]
    for paths, message in mismatches:
        assert main(["ensemble", *paths, "--out", str(tmp_path / "x"), "--data-dir", str(data_dir)]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_fine_grained_models_answer_the_binary_task(data_dir, tmp_path, capsys):
    vectors = tmp_path / "vectors.txt"  # two words SST never uses come first, as the most frequent
    vectors.write_text("zqxgood 1 0 0 0\nzqxbad 0 1 0 0\nthe 0 0 1 0\nfilm 0 0 0 1\n")
    fine = train_tiny_sst("sst:fine", "0", tmp_path / "fine", data_dir, "--embeddings", str(vectors))
    out = tmp_path / "fine-as-binary"
    grow = ["--embedding-vocab", "2"]
    result = run_cli("ensemble", fine, "--task", "sst:binary", *grow, "--out", str(out), "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "sst:binary" and config["member_task"] == "sst:fine"
    assert json.loads((out / "vocab.json").read_text())["answers"] == ["<eos>", "negative", "positive"]
    assert dict(map(tuple, config["member_answers"]))["neutral"] is None
    assert json.loads((out / "vocab.json").read_text())["words"][-2:] == ["zqxgood", "zqxbad"]
    member = load_checkpoint(fine)
    assert config["words_added"] == 2 and config["model"]["vocab_size"] == len(member.vocab.words) + 2
    grown, trained = load_checkpoint(out).model.members[0].embedding.weight, member.model.embedding.weight
    assert torch.equal(grown[-2:], torch.eye(4)[:2]) and torch.equal(grown[:-2], trained)  # new words: their vectors
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["validation_examples"] == 872  # the binary dev set: neutral sentences dropped
    assert_eval_matches_metrics(out, "sst:binary", data_dir, tmp_path)
    wider = train_tiny_sst("sst:fine", "0", tmp_path / "wider", data_dir, "--embeddings", str(vectors), "--hidden", "9")
    assert main(["ensemble", wider, fine, "--out", str(tmp_path / "x"), "--data-dir", str(data_dir)]) == 2
    assert "has other model settings" in capsys.readouterr().err
    # a run on the dev set may go on from it with other training data and another seed
    model = ModelSettings(variant="dmn+", hidden=8, embeddings=str(vectors))
    spec = RunSpec("sst:fine", phrases=True, init_from=fine, model=model, train=TrainConfig(seed=5))
    going_on = TrainingRun(spec, data_dir=str(data_dir))
    assert len(going_on.train_examples) > 100_000  # every phrase, where the tiny model saw 8,544 sentences
    start = member.model.state_dict()
    assert all(torch.equal(v, start[k]) for k, v in going_on.model.state_dict().items())
    said = Predictor.load(out, "cpu").predict("not bad at all").top_answers  # a tiny model: any answer
    assert {word for answer, _ in said for word in answer.split(",") if word} == {"negative", "positive"}


def test_held_out_sentences_are_left_out_of_training_and_measured_by_eval(data_dir, tmp_path, capsys):
    members = [
        train_tiny_sst("sst:fine", seed, tmp_path / f"held-{seed}", data_dir, "--hold-out", "300") for seed in "01"
    ]
    assert json.loads((Path(members[0]) / "config.json").read_text())["hold_out"] == 300
    assert json.loads((Path(members[0]) / "metrics.json").read_text())["data"]["train_examples"] == 8544 - 300
    out = tmp_path / "both-as-binary"
    assert main(["ensemble", *members, "--task", "sst:binary", "--out", str(out), "--data-dir", str(data_dir)]) == 0
    held = load_task("sst:binary", HELD_OUT, data_dir=data_dir, hold_out=300)
    ensemble = load_checkpoint(out)
    expected = accuracy_by_task(ensemble.model, ensemble.vocab, held)["sst:binary"]
    capsys.readouterr()
    written = tmp_path / "held-out.json"
    args = ["--split", HELD_OUT, "--data-dir", str(data_dir), "--json", str(written)]
    assert main(["eval", "--checkpoint", str(out), *args]) == 0
    assert f"{len(held):,} training sentences held out of training" in capsys.readouterr().out
    assert json.loads(written.read_text())["held-out_accuracy"]["sst:binary"] == pytest.approx(expected, abs=1e-9)
    # scripts/pick_or_average.py counts what the library measures, seed by seed and averaged
    script = [sys.executable, "scripts/pick_or_average.py", *members, "--size", "1", "--versus", "2"]
    script += ["--embedding-vocab", "0"]
    result = subprocess.run(
        [*script, "--data-dir", str(data_dir)], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    five_classes, two_classes = result.stdout.split("two classes")
    held_fine = load_task("sst:fine", HELD_OUT, data_dir=data_dir, hold_out=300)
    for member in map(load_checkpoint, members):
        right = round(accuracy_by_task(member.model, member.vocab, held_fine)["sst:fine"] * len(held_fine))
        assert re.search(rf"{member.path.name} +dev right +\d+ +held-out right +{right}\n", five_classes)
    assert "sets of 1 (2)" in two_classes and "the average at least as good in 2 of 2" in two_classes
    both = round(expected * len(held))
    assert f"the average {both} held-out right\n  sets of 2 (1) averaged: {both}.0 held-out right" in two_classes
    at_least = sum(both >= int(alone) for alone in re.findall(r"held-out right +(\d+)", two_classes))
    assert f"drawn from it in {at_least} of 2 pairs\n" in two_classes
    every = train_tiny_sst("sst:fine", "0", tmp_path / "every", data_dir)
    assert main(["eval", "--checkpoint", every, *args]) == 2
    assert "trained on every training sentence: it has none held out" in capsys.readouterr().err
    assert main(["ensemble", members[0], every, "--out", str(tmp_path / "x"), "--data-dir", str(data_dir)]) == 2
    assert "held out other training sentences" in capsys.readouterr().err
    with pytest.raises(ValueError, match="training sentences held out 300 \\(this run: 0\\)"):
        model = ModelSettings(variant="dmn+", hidden=8)
        TrainingRun(RunSpec("sst:fine", init_from=members[0], model=model), data_dir=str(data_dir))


def test_a_collection_keeps_one_checkpoint_per_task_and_eval_measures_each_on_its_own_task(trained, data_dir, tmp_path):
    from dmn.checkpoint import load_collection, save_collection

    out, _ = trained
    metrics = json.loads((out / "metrics.json").read_text())
    config = {"description": "one per task", "paper": "dmn+ 10k", "notes": {"babi:1": "a note"}, "command": "x"}
    path = save_collection(tmp_path / "per-task", {"babi:1": out}, config, {"test_accuracy": metrics["test_accuracy"]})
    assert sorted(p.name for p in path.iterdir()) == ["babi1", "collection.json", "metrics.json"]
    assert load_collection(path).members == {"babi:1": path / "babi1"}
    written = tmp_path / "eval.json"
    result = run_cli("eval", "--checkpoint", str(path), "--data-dir", str(data_dir), "--json", str(written))
    assert result.returncode == 0, result.stderr
    assert "DMN+ 10k %" in result.stdout and "a note" in result.stdout and "passed (>= 95%)" in result.stdout
    measured = json.loads(written.read_text())
    assert measured["test_accuracy"] == pytest.approx(metrics["test_accuracy"]) and {"mean", "passed"} <= set(measured)
    refused = run_cli("eval", "--checkpoint", str(path), "--gates", "--data-dir", str(data_dir))
    assert refused.returncode == 2 and "collection" in refused.stderr
    (path / "collection.json").write_text(json.dumps({"members": {"babi:1": "../elsewhere"}}))
    assert "folders inside it" in run_cli("eval", "--checkpoint", str(path)).stderr
