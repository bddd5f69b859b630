import dataclasses
import json

import pytest
import torch

from dmn.data import Example, Vocab, batches
from dmn.evaluate import format_gate_table, gate_accuracy
from dmn.model import DMN, VARIANTS, DMNConfig
from dmn.settings import ModelSettings, RunSpec, TrainConfig
from dmn.tasks import load_task
from dmn.train import (
    Trainer,
    TrainingRun,
    WeightAverage,
    balance_tasks,
    repeat_tasks,
    split_validation,
    validation_set,
)


def toy_examples(n: int) -> list[Example]:
    places = ["kitchen", "garden", "office", "hallway"]
    return [
        Example(
            [["mary", "went", "to", "the", places[i % 4]], ["john", "went", "to", "the", places[(i + 1) % 4]]],
            ["where", "is", "mary"],
            [places[i % 4]],
            [0],
            task=f"toy:{i % 2}",
        )
        for i in range(n)
    ]


def make_trainer(epochs: int = 3, examples: list[Example] | None = None, **settings) -> Trainer:
    examples = examples or toy_examples(40)
    train, val = split_validation(examples, 0.1, seed=0)
    vocab = Vocab.build(examples)
    model = DMN(DMNConfig(len(vocab.words), len(vocab.answers), hidden=12, max_answer_len=2, **VARIANTS["dmn+"]))
    return Trainer(model, vocab, train, val, TrainConfig(epochs=epochs, batch_size=8, **{"patience": 100, **settings}))


def test_split_validation_holds_out_a_share_of_every_task():
    train, val = split_validation(toy_examples(100), 0.1, seed=3)
    assert len(train) == 90 and len(val) == 10
    assert {ex.task for ex in val} == {"toy:0", "toy:1"}
    assert not {id(e) for e in train} & {id(e) for e in val}


def test_validation_holds_out_whole_stories_of_the_real_files(data_dir):
    """A bAbI story's questions share its facts (and often a question and its answer): none of a
    held-out story may be in training. Holding out single questions leaks them."""
    examples = load_task("babi:2,17", "train", "1k", data_dir)
    train, val = split_validation(examples, 0.1, seed=0)
    for task, stories in (("babi:2", 200), ("babi:17", 125)):
        assert len({ex.story for ex in examples if ex.task == task}) == stories
    held_out = {(ex.task, ex.story) for ex in val}
    assert len(held_out) == 20 + 12 and not held_out & {(ex.task, ex.story) for ex in train}
    assert (len(train), len(val)) == (1804, 196)  # task 2: 20 stories of 5 questions; task 17: 12 of 8
    assert split_validation(examples, 0.1, seed=0) == (train, val)  # seeded
    _, by_question = split_validation(examples, 0.1, seed=0, by="question")
    assert len(by_question) == 200 and {(ex.task, ex.story) for ex in by_question} & {
        (ex.task, ex.story) for ex in train
    }
    with pytest.raises(ValueError, match="by story or question"):
        split_validation(examples, 0.1, seed=0, by="sentence")


def test_a_task_of_one_story_is_split_by_question():
    one_story = [dataclasses.replace(ex, story=0) for ex in toy_examples(20)]
    train, val = split_validation(one_story, 0.1, seed=0)
    assert (len(train), len(val)) == (18, 2)


def test_balance_tasks_repeats_the_smaller_tasks():
    examples = toy_examples(60)  # toy:0 and toy:1, 30 each
    small = [dataclasses.replace(ex, task="toy:small") for ex in toy_examples(3)]
    balanced = balance_tasks(examples + small)
    counts = {task: sum(ex.task == task for ex in balanced) for task in ("toy:0", "toy:1", "toy:small")}
    assert counts == {"toy:0": 30, "toy:1": 30, "toy:small": 30}
    assert sorted(map(id, balance_tasks(examples))) == sorted(map(id, examples))  # equal tasks: none repeated

    trainer = make_trainer()
    trainer_balanced = Trainer(
        trainer.model, trainer.vocab, examples + small, trainer.val_examples, TrainConfig(balance_tasks=True)
    )
    assert len(trainer_balanced.train_examples) == 90


def test_repeat_tasks_takes_the_named_tasks_n_times_after_balancing():
    examples = toy_examples(60)  # toy:0 and toy:1, 30 each
    repeated = repeat_tasks(examples, {"toy:1": 3})
    assert {task: sum(ex.task == task for ex in repeated) for task in ("toy:0", "toy:1")} == {"toy:0": 30, "toy:1": 90}
    with pytest.raises(ValueError, match="cannot repeat toy:9: the training data has toy:0, toy:1"):
        repeat_tasks(examples, {"toy:9": 2})

    small = [dataclasses.replace(ex, task="toy:small") for ex in toy_examples(3)]
    trainer = make_trainer()
    both = TrainConfig(balance_tasks=True, task_repeats={"toy:small": 2})
    trained_on = Trainer(trainer.model, trainer.vocab, examples + small, trainer.val_examples, both).train_examples
    assert sum(ex.task == "toy:small" for ex in trained_on) == 60 and len(trained_on) == 120  # 3 x 10 x 2


def test_lr_decay_shrinks_the_learning_rate_after_every_epoch_without_progress():
    trainer = make_trainer(epochs=8)
    trainer.config.patience, trainer.config.lr_decay = None, 0.5
    result = trainer.fit()
    flat_epochs = sum(not report.improved for report in result.history)
    assert flat_epochs >= 1  # this data reaches its best validation score before the last epoch
    assert trainer.optimizer.param_groups[0]["lr"] == trainer.config.lr * 0.5**flat_epochs


def test_embedding_lr_scales_the_word_vectors_step_only():
    trainer = make_trainer(embedding_lr=0.1)
    groups = trainer.optimizer.param_groups
    words = trainer.model.embedding.weight
    assert [g["lr"] for g in groups] == [pytest.approx(1e-3), pytest.approx(1e-4)] and groups[1]["params"] == [words]
    assert sum(len(g["params"]) for g in groups) == len(list(trainer.model.parameters()))
    # Adam's first step moves every parameter with a gradient by about its learning rate
    before = {name: p.detach().clone() for name, p in trainer.model.named_parameters()}
    layout = trainer.model.config.layout
    batch = next(iter(batches(trainer.train_examples, trainer.vocab, 8, generator=torch.Generator(), **layout)))
    trainer.model.loss(trainer.model(batch), batch).backward()
    trainer.optimizer.step()
    moved = {name: (p.detach() - before[name]).abs().max().item() for name, p in trainer.model.named_parameters()}
    assert moved["embedding.weight"] == pytest.approx(1e-4, rel=0.05)
    assert moved["answer_module.W_a.weight"] == pytest.approx(1e-3, rel=0.05)


def test_weight_average_follows_the_moving_average_formula_and_is_applied_only_inside_its_block():
    model = torch.nn.Linear(2, 1)
    average = WeightAverage(model, decay=0.9)
    expected = model.weight.detach().clone()
    for t in range(20):
        with torch.no_grad():
            model.weight.add_(1.0)
        average.update(model)
        decay = min(0.9, (1 + t) / (10 + t))
        expected = decay * expected + (1 - decay) * model.weight.detach()
    own = model.weight.detach().clone()
    with average.applied(model):
        torch.testing.assert_close(model.weight.detach(), expected)
    assert torch.equal(model.weight.detach(), own)
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(model, decay=1.0)


def test_training_with_a_weight_average_validates_and_keeps_the_averaged_weights():
    trainer = make_trainer(epochs=3, weight_average=0.95)
    kept = []
    result = trainer.fit(on_best=lambda model: kept.append([p.detach().clone() for p in model.parameters()]))
    assert result.best_epoch >= 1 and kept
    final = [p.detach() for p in trainer.model.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(final, kept[-1], strict=True))  # the best epoch's average
    plain = make_trainer(epochs=3)
    plain.fit()
    assert any(not torch.equal(a, p.detach()) for a, p in zip(final, plain.model.parameters(), strict=True))


def test_callback_sees_every_epoch_and_can_stop():
    reports = []
    result = make_trainer(epochs=5).fit(on_epoch=lambda r: reports.append(r) or r.epoch == 2)
    assert [r.epoch for r in reports] == [1, 2] and result.cancelled
    assert 0 <= reports[-1].val_accuracy <= 1 and reports[-1].train_loss > 0


def test_stop_from_another_thread_ends_the_run_and_keeps_the_best_weights():
    trainer = make_trainer(epochs=50)
    bests = []

    def on_epoch(report):
        if report.epoch == 2:
            trainer.stop()

    result = trainer.fit(
        on_epoch=on_epoch, on_best=lambda m: bests.append({k: v.clone() for k, v in m.state_dict().items()})
    )
    assert result.cancelled and len(result.history) == 2
    best = bests[-1]
    assert all(torch.equal(v, best[k]) for k, v in trainer.model.state_dict().items())


def test_stop_with_a_reason_ends_with_that_reason():
    trainer = make_trainer(epochs=50)
    result = trainer.fit(on_epoch=lambda report: trainer.stop("time limit (1:00)") if report.epoch == 2 else None)
    assert result.cancelled and len(result.history) == 2
    assert result.stop_reason == trainer.stop_reason == "time limit (1:00)"

    early = make_trainer(epochs=50)  # stopped before it starts: no epoch, the reason kept; a second reason is ignored
    early.stop("shutting down")
    early.stop("another reason")
    result = early.fit()
    assert result.cancelled and result.history == [] and result.stop_reason == "shutting down"

    by_callback = make_trainer(epochs=5).fit(on_epoch=lambda report: True)
    assert by_callback.cancelled and by_callback.stop_reason == Trainer.STOPPED
    assert make_trainer(epochs=1).fit().stop_reason is None


def test_patience_none_runs_every_epoch_where_patience_would_stop():
    trainer = make_trainer(epochs=8)
    trainer.config.patience = 1
    stopped = trainer.fit()
    assert stopped.stopped_early and len(stopped.history) < 8  # this data stops a patient run early

    trainer = make_trainer(epochs=8)
    trainer.config.patience = None
    result = trainer.fit()
    assert [r.epoch for r in result.history] == list(range(1, 9))
    assert not result.stopped_early and not result.cancelled


def test_tie_break_loss_goes_on_past_100_percent_and_keeps_the_lowest_loss_among_the_best():
    plain = make_trainer(epochs=20, lr=0.02).fit()
    assert plain.best_val_accuracy == 1.0 and plain.stopped_early  # the toy task reaches 100%, which ends it

    trainer = make_trainer(epochs=20, lr=0.02, tie_break_loss=True)
    result = trainer.fit()
    assert len(result.history) == 20 and not result.stopped_early
    losses = [r.val_loss for r in result.history]
    assert all(loss > 0 for loss in losses)
    best = [r for r in result.history if r.val_accuracy == 1.0]
    assert len(best) > 1  # several epochs tie on accuracy; the loss chooses between them
    chosen = min(best, key=lambda r: r.val_loss)
    assert result.best_epoch == chosen.epoch
    assert trainer.validation_loss() == pytest.approx(chosen.val_loss)  # the chosen epoch's weights are back


def test_on_step_counts_the_batches_of_every_epoch():
    trainer = make_trainer(epochs=2)
    steps = []
    trainer.fit(on_step=lambda done, total: steps.append((done, total)))
    n_batches = -(-len(trainer.train_examples) // trainer.config.batch_size)
    assert n_batches > 1
    assert steps == [(i, n_batches) for i in range(1, n_batches + 1)] * 2

    stopping = make_trainer(epochs=2)  # a stop ends the epoch after the batch under way
    seen = []

    def on_step(done, total):
        seen.append(done)
        if done == 2:
            stopping.stop("enough")

    result = stopping.fit(on_step=on_step)
    assert seen == [1, 2] and result.cancelled and result.stop_reason == "enough"


def test_vary_phrasing_trains_on_stories_told_anew_every_epoch(monkeypatch):
    import dmn.train

    told = []  # the first training story of each epoch, as batched
    real_batches = dmn.train.batches

    def recording(examples, *args, **kwargs):
        told.append(" | ".join(" ".join(fact) for fact in examples[0].context))
        return real_batches(examples, *args, **kwargs)

    monkeypatch.setattr(dmn.train, "batches", recording)
    stories = [  # toy stories as bAbI's, mary twice: a pronoun to use
        dataclasses.replace(ex, task="babi:1", context=[ex.context[0], ["mary", *ex.context[1][1:]]])
        for ex in toy_examples(40)
    ]
    trainer = make_trainer(epochs=6, examples=stories, vary_phrasing=1.0)
    trainer.fit()
    assert all(" she went to the " in story for story in told) and len(set(told)) > 1  # a new opener each epoch
    assert trainer.train_examples[0].context[1][0] == "mary"  # the stories kept are the originals
    told.clear()
    make_trainer(epochs=1).fit()
    assert "she" not in told[0]  # off by default


def test_swap_entities_trains_on_stories_whose_places_are_exchanged_anew_every_epoch(monkeypatch):
    import dmn.train

    seen = []  # the first training example of each epoch, as batched
    real_batches = dmn.train.batches

    def recording(examples, *args, **kwargs):
        seen.append(examples[0])
        return real_batches(examples, *args, **kwargs)

    monkeypatch.setattr(dmn.train, "batches", recording)
    trainer = make_trainer(epochs=8, swap_entities=1.0)
    assert trainer.swap_groups == [("garden", "hallway", "kitchen", "office")]
    trainer.fit()
    original = trainer.train_examples[0]
    for example in seen:
        assert example.answer == [example.context[0][-1]]  # the answer is exchanged with its fact
        assert [fact[:-1] for fact in example.context] == [fact[:-1] for fact in original.context]
    assert len({ex.context[0][-1] for ex in seen}) > 1 and original is trainer.train_examples[0]
    seen.clear()
    make_trainer(epochs=1).fit()
    assert seen[0].context == make_trainer().train_examples[0].context  # off by default


def test_init_from_starts_where_a_checkpoint_ended_and_refuses_another_split_or_shape(tmp_path):
    examples = toy_examples(40)

    def spec(**changes) -> RunSpec:
        model = ModelSettings(variant="dmn+", hidden=12)
        return RunSpec(task="toy:0", **changes, model=model, train=TrainConfig(epochs=2, batch_size=8))

    first = TrainingRun(spec(), examples=examples)
    first.fit(tmp_path / "first")
    trained = {k: v.clone() for k, v in first.model.state_dict().items()}

    again = TrainingRun(spec(init_from=str(tmp_path / "first")), examples=examples)
    assert again.model.state_dict().keys() == trained.keys()
    assert all(torch.equal(v, trained[k]) for k, v in again.model.state_dict().items())
    again.fit(tmp_path / "again")
    assert json.loads((tmp_path / "again" / "config.json").read_text())["init_from"] == str(tmp_path / "first")

    other_split = dataclasses.replace(spec(init_from=str(tmp_path / "first")), train=TrainConfig(seed=1))
    with pytest.raises(ValueError, match="another validation split: seed 0 \\(this run: 1\\)"):
        TrainingRun(other_split, examples=examples)
    by_question = dataclasses.replace(spec(init_from=str(tmp_path / "first")), train=TrainConfig(val_split="question"))
    with pytest.raises(ValueError, match="validation split by story \\(this run: question\\)"):
        TrainingRun(by_question, examples=examples)
    with pytest.raises(ValueError, match="other model settings: hidden 12 \\(this run: 16\\)"):
        wider = ModelSettings(variant="dmn+", hidden=16)
        TrainingRun(dataclasses.replace(spec(init_from=str(tmp_path / "first")), model=wider), examples=examples)
    renamed = [dataclasses.replace(ex, question=["where", "is", "bill"]) for ex in examples]  # same split, new word
    with pytest.raises(ValueError, match="another vocabulary"):
        TrainingRun(spec(init_from=str(tmp_path / "first")), examples=renamed)


def test_gate_accuracy_counts_the_passes_that_have_a_supporting_fact():
    trainer = make_trainer(epochs=20, lr=0.02, gate_supervision=1.0)
    trainer.fit()
    trained = gate_accuracy(trainer.model, trainer.vocab, trainer.val_examples)
    assert set(trained) == {"toy:0", "toy:1"}
    assert all(per_pass == [1.0, None, None] for per_pass in trained.values())  # fact 0 (Mary) supports the answer
    other_fact = [dataclasses.replace(ex, supporting=[1]) for ex in trainer.val_examples]  # John's fact: never chosen
    missed = gate_accuracy(trainer.model, trainer.vocab, other_fact)
    assert all(per_pass == [0.0, None, None] for per_pass in missed.values())
    table = format_gate_table(trained)
    assert "toy:0" in table and "100.0       -       -" in table
    assert "no gate accuracy" in format_gate_table({"sst:binary": [None, None]})


def test_validation_set_rebuilds_the_held_out_split_and_refuses_a_subset(data_dir):
    config = {"task": "babi:1", "size": "1k", "train": {"seed": 3, "val_fraction": 0.1, "val_split": "story"}}
    rebuilt = validation_set(config, {"data": {"validation_examples": 100}}, data_dir)
    examples = load_task("babi:1", "train", "1k", data_dir)
    assert rebuilt == split_validation(examples, 0.1, seed=3)[1]
    del config["train"]["val_split"]  # a run from before the story split held out single questions
    older = validation_set(config, {"data": {"validation_examples": 100}}, data_dir)
    assert older == split_validation(examples, 0.1, seed=3, by="question")[1] != rebuilt
    with pytest.raises(ValueError, match="validated on 6 questions, the rebuilt split has 100"):
        validation_set(config, {"data": {"validation_examples": 6}}, data_dir)
