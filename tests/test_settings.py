"""Settings declared once (dmn/settings.py) and the recipes that remake every shipped checkpoint
(configs/*.json, dmn/recipe.py)."""

import json
import shlex
from pathlib import Path

import pytest

from dmn.checkpoint import COLLECTION_FILE, find_checkpoints, is_collection
from dmn.cli import build_parser, main
from dmn.recipe import Recipe
from dmn.settings import SETTINGS_KEY, EnsembleSpec, ModelSettings, RunSpec, TrainConfig

REPO = Path(__file__).resolve().parents[1]


def parsed(command: str) -> RunSpec | EnsembleSpec:
    """The settings a recorded `python -m dmn train|ensemble ...` command line gives."""
    args = build_parser().parse_args(shlex.split(command)[3:])
    return (RunSpec if args.command == "train" else EnsembleSpec).from_arguments(args)


def test_settings_round_trip_through_json_and_through_flags():
    spec = RunSpec(
        "babi:1,2",
        size="10k",
        limit=30,
        init_from="runs/x",
        model=ModelSettings(variant="dmn+", gate="sigmoid", hidden=16, positional_encoding=False),
        train=TrainConfig(patience=None, gate_supervision=0.5, task_repeats={"babi:2": 3}, lr_decay=0.5),
    )
    assert RunSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert parsed(shlex.join(["python", "-m", "dmn", "train", *spec.arguments()])) == spec
    assert RunSpec("babi:1").arguments() == ["--task", "babi:1"]  # defaults are left out
    with pytest.raises(ValueError, match="unknown TrainConfig settings: epoch"):
        RunSpec.from_dict({"task": "babi:1", "train": {"epoch": 3}})


def test_every_setting_is_checked_against_its_bounds_named_by_flag_or_by_label():
    def error(labels: bool = False, **model) -> str:
        with pytest.raises(ValueError) as caught:
            RunSpec("babi:1", model=ModelSettings(**model)).checked(labels)
        return str(caught.value)

    assert error(hidden=2) == "--hidden must be between 4 and 512, not 2"
    assert error(labels=True, hidden=2) == "Hidden size must be between 4 and 512, not 2"
    assert error(hidden=8.5) == "--hidden must be a whole number, not 8.5"
    assert error(variant="lstm") == "--variant must be one of dmn, dmn+, not 'lstm'"
    assert "needs pretrained ones" in error(freeze_embeddings=True)
    checked = RunSpec("babi:1", limit=0, model=ModelSettings(hidden=16.0), train=TrainConfig(patience=0)).checked()
    assert checked.limit is None and checked.train.patience is None  # 0 stands for none: all questions, never stop
    assert checked.model.hidden == 16 and isinstance(checked.model.hidden, int)
    with pytest.raises(ValueError, match=r"--lr-decay must be between 0.01 and 1, not 0"):
        TrainConfig(lr_decay=0).checked()
    with pytest.raises(ValueError, match="name the task"):
        RunSpec().checked()


def test_every_shipped_checkpoint_has_a_recipe_whose_last_step_is_its_settings():
    shipped = {info.path.name for info in find_checkpoints(REPO / "checkpoints")}
    shipped |= {path.name for path in (REPO / "checkpoints").iterdir() if is_collection(path)}
    recipes = {path.stem for path in (REPO / "configs").glob("*.json")}
    assert shipped and shipped <= recipes
    for name in shipped:
        recipe = Recipe.load(REPO / "configs" / f"{name}.json")
        assert recipe.checkpoint == f"checkpoints/{name}"
        folder = REPO / "checkpoints" / name
        config = json.loads((folder / (COLLECTION_FILE if is_collection(folder) else "config.json")).read_text())
        final = recipe.resolved(recipe.steps[-1], recipe.folders("runs"))
        assert type(final).from_dict(config[SETTINGS_KEY]) == final  # settings added since: their defaults
        if isinstance(final, RunSpec):  # the command it was trained with gives the same settings
            recorded = parsed(config["command"])
            if config["task"].startswith("babi:") and "val_split" not in config["train"]:  # before the story split
                recorded.train.val_split = "question"
            assert recorded == final


def test_a_recipe_trains_its_steps_in_order_and_goes_on_where_it_stopped(data_dir, tmp_path, capsys):
    recipe = {
        "checkpoint": "checkpoints/tiny",
        "steps": [
            {"name": "first", "train": {"task": "babi:1", "limit": 40, "model": {"hidden": 8}, "train": {"epochs": 1}}},
            {"name": "tiny", "train": {"task": "babi:1", "limit": 40, "init_from": "first",
                                       "model": {"hidden": 8}, "train": {"epochs": 1, "lr": 0.0005}}},
        ],
    }  # fmt: skip
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(recipe))
    out, work = tmp_path / "out", tmp_path / "work"
    args = ["train", "--config", str(path), "--work-dir", str(work), "--out", str(out), "--data-dir", str(data_dir)]
    assert main(args) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["init_from"] == str(work / "first") and config[SETTINGS_KEY]["train"]["lr"] == 0.0005
    assert parsed(config["command"]).to_dict() == config[SETTINGS_KEY]  # the command it records gives its settings
    capsys.readouterr()
    assert main(args) == 0
    assert capsys.readouterr().out.count("done already") == 2
    # a setting added after a step was made counts as its default then: the step stays done
    older = json.loads((out / "config.json").read_text())
    del older[SETTINGS_KEY]["train"]["vary_phrasing"]
    (out / "config.json").write_text(json.dumps(older))
    assert main(args) == 0 and capsys.readouterr().out.count("done already") == 2
    # a checkpoint's config.json is a recipe of its own run; flags given override its settings
    again = tmp_path / "again"
    assert main(["train", "--config", str(out / "config.json"), "--epochs", "2", "--out", str(again),
                 "--data-dir", str(data_dir)]) == 0  # fmt: skip
    rebuilt = json.loads((again / "config.json").read_text())[SETTINGS_KEY]
    assert rebuilt == {**config[SETTINGS_KEY], "train": {**config[SETTINGS_KEY]["train"], "epochs": 2}}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"steps": [{"name": "x", "train": {"task": "babi:1", "hiden": 3}}]}))
    assert main(["train", "--config", str(bad), "--out", str(tmp_path / "x")]) == 2
    assert "unknown RunSpec settings: hiden" in capsys.readouterr().err


def test_a_collection_recipe_keeps_one_model_per_task_that_eval_measures_alike(data_dir, tmp_path):
    tiny = {"limit": 30, "model": {"hidden": 8}, "train": {"epochs": 1}}
    recipe = {
        "checkpoint": "checkpoints/per-task",
        "steps": [
            {"name": "one", "train": {"task": "babi:1", **tiny}},
            {"name": "six", "train": {"task": "babi:6", **tiny}},
            {"name": "per-task", "collection": {"members": {"babi:1": "one", "babi:6": "six"}, "description": "two"}},
        ],
    }
    path, out = tmp_path / "per-task.json", tmp_path / "per-task"
    path.write_text(json.dumps(recipe))
    args = ["--work-dir", str(tmp_path / "work"), "--out", str(out), "--data-dir", str(data_dir)]
    assert main(["train", "--config", str(path), *args]) == 0
    written = json.loads((out / COLLECTION_FILE).read_text())
    assert written["members"] == {"babi:1": "babi1", "babi:6": "babi6"} and written["description"] == "two"
    assert written[SETTINGS_KEY]["members"] == {"babi:1": str(tmp_path / "work" / "one"),
                                                "babi:6": str(tmp_path / "work" / "six")}  # fmt: skip
    assert main(["eval", "--checkpoint", str(out), "--json", str(tmp_path / "eval.json"), "--data-dir",
                 str(data_dir)]) == 0  # fmt: skip
    measured = json.loads((tmp_path / "eval.json").read_text())
    assert measured["test_accuracy"] == json.loads((out / "metrics.json").read_text())["test_accuracy"]
