import json

import pytest
import torch

import dmn.checkpoint as checkpoint_module
from dmn.checkpoint import CheckpointError, find_checkpoints, load_checkpoint, save_checkpoint
from dmn.data import Example, Vocab, make_batch
from dmn.ensemble import Ensemble
from dmn.model import VARIANTS
from tests.test_model import STORIES, build, tagger


@pytest.fixture
def saved(tmp_path):
    model, vocab, _ = build(VARIANTS["dmn+"])
    path = save_checkpoint(tmp_path / "ck", model, vocab, {"task": "babi:1"}, {"mean": 0.5})
    return path, model, vocab


def test_round_trip_reproduces_outputs_exactly(saved):
    path, model, vocab = saved
    assert sorted(p.name for p in path.iterdir()) == sorted(checkpoint_module.FILES)
    assert [p.stat().st_mode & 0o777 for p in (path, *path.iterdir())] == [0o755] + [0o644] * 4
    loaded = load_checkpoint(path)
    batch = make_batch(STORIES, vocab, 50)
    before, after = model.eval()(batch), loaded.model(batch)
    assert torch.equal(before.logits, after.logits) and torch.equal(before.gates, after.gates)
    assert loaded.vocab.words == vocab.words and loaded.metrics == {"mean": 0.5}
    assert loaded.config["task"] == "babi:1" and loaded.config["model"]["gate"] == "softmax"


def test_overwrite_replaces_the_old_checkpoint_and_leaves_no_temporary_files(saved):
    path, model, vocab = saved
    save_checkpoint(path, model, vocab, {"task": "babi:2"}, {})
    assert load_checkpoint(path).config["task"] == "babi:2"
    assert [p.name for p in path.parent.iterdir()] == ["ck"]


def test_a_crash_while_saving_keeps_the_previous_checkpoint(saved, monkeypatch):
    path, model, vocab = saved

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module, "_write_json", crash)  # after the weights are written
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, vocab, {"task": "babi:9"}, {})
    assert load_checkpoint(path).config["task"] == "babi:1"
    assert [p.name for p in path.parent.iterdir()] == ["ck"]


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda p: (p / "model.safetensors").unlink(), "missing model.safetensors"),
        (lambda p: (p / "config.json").unlink(), "missing config.json"),
        (lambda p: (p / "config.json").write_text("{not json"), "not valid JSON"),
        (
            lambda p: (p / "model.safetensors").write_bytes((p / "model.safetensors").read_bytes()[:500]),
            "unreadable or truncated",
        ),
        (
            lambda p: (p / "vocab.json").write_text(
                json.dumps({"words": ["<pad>", "<unk>", "<eos>"], "answers": ["<eos>"]})
            ),
            "does not match",
        ),
    ],
    ids=["no-weights", "no-config", "bad-json", "truncated", "vocab-mismatch"],
)
def test_damaged_checkpoints_give_clear_errors(saved, damage, message):
    path = saved[0]
    damage(path)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_weights_that_do_not_fit_the_config(saved):
    path = saved[0]
    config = json.loads((path / "config.json").read_text())
    config["model"]["hidden"] = 8
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="do not fit config.json"):
        load_checkpoint(path)


def test_no_checkpoint_directory(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint directory"):
        load_checkpoint(tmp_path / "nothing")


def test_find_checkpoints_reads_descriptions_and_skips_broken_ones(saved, tmp_path):
    path, model, vocab = saved
    save_checkpoint(tmp_path / "other", model, vocab, {"task": "babi:2", "description": "two"}, {"mean": 0.9})
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "model.safetensors").write_bytes(b"")
    (tmp_path / "broken" / "config.json").write_text("{")
    infos = find_checkpoints(tmp_path, tmp_path / "missing")
    assert [(i.name, i.task, i.mean_accuracy) for i in infos] == [("ck", "babi:1", 0.5), ("other", "babi:2", 0.9)]
    assert infos[1].description == "two"


def test_round_trip_keeps_character_features(tmp_path):
    examples = [Example([["Mary"], ["walked"]], ["tags"], ["NNP", "VBD"])]
    vocab = Vocab.build(examples, lowercase=False, chars=True)
    model = tagger(vocab, chars=True)
    loaded = load_checkpoint(save_checkpoint(tmp_path / "ck", model, vocab, {"task": "pos:ewt"}, {}))
    assert loaded.vocab.chars == vocab.chars and loaded.model.input_module.spelling is not None
    batch = make_batch([*examples, Example([["Zed"]], ["tags"], ["NNP"])], vocab, 50, word_facts=True, tagging=True)
    assert torch.equal(model.eval()(batch).logits, loaded.model(batch).logits)


@pytest.fixture
def saved_ensemble(tmp_path):
    members = [build(VARIANTS["dmn+"], seed=seed)[0] for seed in (0, 1)]
    vocab = build(VARIANTS["dmn+"])[1]
    info = [{"checkpoint": "a"}, {"checkpoint": "b"}]
    path = save_checkpoint(tmp_path / "ck", Ensemble(members), vocab, {"task": "sst:binary", "members": info}, {})
    return path, members, vocab


def test_an_ensemble_round_trips_with_one_weight_file_per_member(saved_ensemble, tmp_path):
    path, members, vocab = saved_ensemble
    assert sorted(p.name for p in path.iterdir()) == sorted([*checkpoint_module.FILES, "model-2.safetensors"])
    loaded = load_checkpoint(path)
    assert isinstance(loaded.model, Ensemble) and len(loaded.model.members) == 2
    assert [m["weights"] for m in loaded.config["members"]] == ["model.safetensors", "model-2.safetensors"]
    batch = make_batch(STORIES, vocab, 50)
    before, after = Ensemble(members).eval()(batch), loaded.model(batch)
    assert torch.equal(before.logits, after.logits) and torch.equal(before.gates, after.gates)
    with pytest.raises(ValueError, match="one entry in 'members' per member"):
        save_checkpoint(tmp_path / "other", Ensemble(members), vocab, {"task": "sst:binary"}, {})


def test_an_ensemble_that_answers_another_task_round_trips(tmp_path):
    members = [build(VARIANTS["dmn+"], seed=seed)[0] for seed in (0, 1)]
    vocab = build(VARIANTS["dmn+"])[1]
    pairs = [["<eos>", "<eos>"], ["apple", "food"], ["garden", None], ["kitchen", "room"], ["milk", "food"]]
    merged = Vocab(vocab.words, ["<eos>", "food", "room"])
    config = {"task": "sst:binary", "members": [{"checkpoint": "a"}, {"checkpoint": "b"}], "member_answers": pairs}
    path = save_checkpoint(tmp_path / "ck", Ensemble(members, [0, 1, None, 2, 1]), merged, config, {})
    loaded = load_checkpoint(path)
    assert loaded.model.answer_map == [0, 1, None, 2, 1]
    batch = make_batch(STORIES, vocab, 50)
    assert torch.equal(Ensemble(members, [0, 1, None, 2, 1]).eval()(batch).logits, loaded.model(batch).logits)
    broken = {
        "names an answer vocab.json lacks": ({**config, "member_answers": [*pairs[:4], ["milk", "drink"]]}, "drink"),
        "is not pairs": ({**config, "member_answers": {"apple": "food"}}, "must be \\[member answer"),
        "is one pair short": ({**config, "member_answers": pairs[:4]}, "does not match the model's vocabulary"),
        "is not an ensemble": ({k: v for k, v in config.items() if k != "members"}, "only an ensemble reads"),
    }
    for why, (bad, message) in broken.items():
        (path / "config.json").write_text(json.dumps({**bad, "model": loaded.model.config.to_dict()}))
        with pytest.raises(CheckpointError, match=message):
            load_checkpoint(path)
            pytest.fail(f"a member_answers that {why} was accepted")


@pytest.mark.parametrize(
    "members", [[{"weights": "../outside.safetensors"}], [{"weights": "model.pt"}], [], "model.safetensors"]
)
def test_an_ensemble_names_only_its_own_weight_files(saved, members):
    path, _, _ = saved
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, "members": members}))
    with pytest.raises(CheckpointError, match="must each name a file model"):
        load_checkpoint(path)


def test_a_missing_member_file_is_named(saved_ensemble):
    path, _, _ = saved_ensemble
    (path / "model-2.safetensors").unlink()
    with pytest.raises(CheckpointError, match="missing model-2.safetensors"):
        load_checkpoint(path)


def test_an_ensemble_shares_the_weight_files_of_a_checkpoint_beside_it(saved_ensemble, tmp_path):
    """sst-fine's members are four of sst-binary's: the second names the first's files, and a
    copy made on its own (the zip download, a collection) holds them again."""
    path, members, vocab = saved_ensemble
    third = build(VARIANTS["dmn+"], seed=2)[0]
    info = [{"checkpoint": "b"}, {"checkpoint": "c"}]
    subset = Ensemble([members[1], third])
    sharing = save_checkpoint(tmp_path / "subset", subset, vocab, {"task": "sst:binary", "members": info}, {},
                              share_with=[path, tmp_path / "not-there"])  # fmt: skip
    listed = json.loads((sharing / "config.json").read_text())["members"]
    assert [m["weights"] for m in listed] == ["../ck/model-2.safetensors", "model-2.safetensors"]
    assert sorted(p.name for p in sharing.iterdir()) == [
        "config.json",
        "metrics.json",
        "model-2.safetensors",
        "vocab.json",
    ]
    batch = make_batch(STORIES, vocab, 50)
    assert torch.equal(load_checkpoint(sharing).model(batch).logits, subset.eval()(batch).logits)

    alone = tmp_path / "elsewhere" / "alone"
    alone.mkdir(parents=True)
    for name, content in checkpoint_module.checkpoint_files(sharing).items():
        (alone / name).write_bytes(content if isinstance(content, bytes) else content.read_bytes())
    assert [m["weights"] for m in load_checkpoint(alone).config["members"]] == [
        "model.safetensors",
        "model-2.safetensors",
    ]
    assert torch.equal(load_checkpoint(alone).model(batch).logits, subset(batch).logits)

    (path / "model-2.safetensors").write_bytes((path / "model.safetensors").read_bytes())
    with pytest.raises(CheckpointError, match="model-2.safetensors has changed since this ensemble was made"):
        load_checkpoint(sharing)
    (path / "model-2.safetensors").unlink()
    with pytest.raises(CheckpointError, match="missing ../ck/model-2.safetensors"):
        load_checkpoint(sharing)


@pytest.mark.parametrize("weights", ["../../ck/model.safetensors", "../ck/model.pt", "/tmp/ck/model.safetensors"])
def test_a_shared_member_names_only_a_sibling_checkpoints_weight_file(saved, weights):
    path, _, _ = saved
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, "members": [{"weights": weights, "sha256": "0" * 64}]}))
    with pytest.raises(CheckpointError, match="must each name a file model"):
        load_checkpoint(path)


def test_only_an_ensemble_shares_weights(saved, tmp_path):
    path, model, vocab = saved
    with pytest.raises(ValueError, match="only an ensemble's members"):
        save_checkpoint(tmp_path / "x", model, vocab, {"task": "babi:1"}, {}, share_with=[path])
