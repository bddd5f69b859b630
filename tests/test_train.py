import torch

from dmn.data import Example, Vocab
from dmn.model import DMN, VARIANTS, DMNConfig
from dmn.train import TrainConfig, Trainer, split_validation


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


def make_trainer(epochs: int = 3) -> Trainer:
    examples = toy_examples(40)
    train, val = split_validation(examples, 0.1, seed=0)
    vocab = Vocab.build(examples)
    model = DMN(DMNConfig(len(vocab.words), len(vocab.answers), hidden=12, max_answer_len=2, **VARIANTS["dmn+"]))
    return Trainer(model, vocab, train, val, TrainConfig(epochs=epochs, batch_size=8, patience=100))


def test_split_validation_holds_out_a_share_of_every_task():
    train, val = split_validation(toy_examples(100), 0.1, seed=3)
    assert len(train) == 90 and len(val) == 10
    assert {ex.task for ex in val} == {"toy:0", "toy:1"}
    assert not {id(e) for e in train} & {id(e) for e in val}


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
