"""The shipped checkpoints load, answer, and their metrics.json matches what `eval` computes."""

import pytest

from dmn.checkpoint import find_checkpoints, is_collection, load_checkpoint, load_collection
from dmn.evaluate import accuracy_by_task, accuracy_on_test_set
from dmn.predict import Predictor
from dmn.train import validation_set
from tests.conftest import REPO

SHIPPED = find_checkpoints(REPO / "checkpoints")
COLLECTIONS = [p for p in sorted((REPO / "checkpoints").iterdir()) if is_collection(p)]


def test_the_joint_babi_checkpoint_ships():
    assert "babi-joint" in [c.name for c in SHIPPED]


@pytest.mark.parametrize("info", SHIPPED, ids=lambda c: c.name)
def test_files_are_small_enough_for_spaces(info):
    assert all(p.stat().st_size < 10 * 2**20 for p in info.path.iterdir())


@pytest.mark.parametrize("info", SHIPPED, ids=lambda c: c.name)
def test_metrics_match_a_fresh_evaluation(info, data_dir):
    ckpt = load_checkpoint(info.path)
    recorded = ckpt.metrics["test_accuracy"]
    measured = accuracy_on_test_set(ckpt.model, ckpt.vocab, ckpt.config["task"], ckpt.config["size"], data_dir, "cpu")
    assert measured == pytest.approx(recorded, abs=1e-9)
    assert ckpt.metrics["command"].startswith(("python -m dmn train", "python -m dmn ensemble"))
    members = ckpt.config.get("members", [])  # an ensemble: every member was made by a command too
    assert all(member["command"].startswith("python -m dmn train") for member in members)


def test_the_recorded_validation_accuracy_is_that_of_the_rebuilt_validation_set(data_dir):
    ckpt = load_checkpoint(REPO / "checkpoints" / "sst-fine")  # sst-binary: through the CLI in test_cli
    examples = validation_set(ckpt.config, ckpt.metrics, data_dir)
    accuracy = accuracy_by_task(ckpt.model, ckpt.vocab, examples)
    assert sum(accuracy.values()) / len(accuracy) == pytest.approx(ckpt.metrics["validation_accuracy"], abs=1e-9)


def test_the_joint_model_answers_a_simple_story():
    p = Predictor.load(REPO / "checkpoints" / "babi-joint", device="cpu").predict(
        "Mary moved to the bathroom.\nJohn went to the hallway.\nMary travelled to the office.", "Where is Mary?"
    )
    assert p.answer == "office"
    assert p.top_facts[0] == 2  # the first pass attends to the sentence that answers it


@pytest.mark.parametrize("path", COLLECTIONS, ids=lambda p: p.name)
def test_a_shipped_collection_has_one_small_model_per_task_that_its_metrics_measure(path, data_dir):
    collection = load_collection(path)
    assert sorted(collection.members, key=lambda t: int(t[5:])) == [f"babi:{t}" for t in range(1, 21)]
    measured = {}
    for task, member in collection.members.items():
        assert all(f.stat().st_size < 10 * 2**20 for f in member.iterdir())  # Spaces without LFS
        ckpt = load_checkpoint(member)
        assert ckpt.config["task"] == task and ckpt.metrics["command"].startswith("python -m dmn train")
        measured |= accuracy_on_test_set(ckpt.model, ckpt.vocab, task, ckpt.config["size"], data_dir, "cpu")
    assert measured == pytest.approx(collection.metrics["test_accuracy"], abs=1e-9)
    assert collection.metrics["command"] == f"python -m dmn train --config configs/{path.name}.json"  # its recipe
