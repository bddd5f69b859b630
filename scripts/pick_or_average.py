"""Pick one seed on the dev set, or average them? Measured on the training sentences they held out.

    python scripts/pick_or_average.py RUN RUN ... [--size 4] [--versus 10] [--embedding-vocab 20000] [--data-dir DIR]

The runs are seeds of one `sst:fine` command trained with the same `--hold-out`. For every set of
SIZE of them, and for each reading of the model (five classes; two classes with the N most
frequent GloVe words added, as `ensemble --task sst:binary --embedding-vocab N` reads it), it
counts the held-out sentences right of two choices: the seed of the set that the dev set picks
(the most dev sentences right; on a tie the first named) and the set's seeds averaged (`Ensemble`).
It prints every seed's counts, then per reading the mean of both over the sets, how many sets the
average gets at least as many right as the pick, and the same two choices among all the runs.
With `--versus M` it also averages every set of M seeds and sets them against the sets of SIZE:
their mean, and how many of the pairs of a set of M and a set of SIZE drawn from it the larger
set gets at least as many right.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dmn.checkpoint import load_checkpoint  # noqa: E402
from dmn.data import Example, Vocab, batches  # noqa: E402
from dmn.ensemble import Ensemble  # noqa: E402
from dmn.evaluate import decode  # noqa: E402
from dmn.make_ensemble import check_ensemble_members, translated_answers, with_pretrained_words  # noqa: E402
from dmn.model import DMN  # noqa: E402
from dmn.tasks import HELD_OUT, load_task  # noqa: E402


@torch.no_grad()
def answer_probabilities(model: DMN, vocab: Vocab, examples: list[Example]) -> torch.Tensor:
    """The model's answer probabilities for every example, in their order: [N, A, V]."""
    model.eval()
    rows = {}
    for batch in batches(examples, vocab, 500, **model.config.layout):
        for example, row in zip(batch.examples, model(batch).logits.softmax(-1), strict=True):
            rows[id(example)] = row
    return torch.stack([rows[id(example)] for example in examples])


def count_right(reader: Ensemble, vocab: Vocab, examples: list[Example], probabilities: list[torch.Tensor]) -> int:
    """Examples answered right by the ensemble of the members whose probabilities are given."""
    answers = decode(reader.combine(probabilities), vocab.answers)
    return sum(answer == example.answer for answer, example in zip(answers, examples, strict=True))


def compare(
    names: list[str],
    models: list[DMN],
    vocab: Vocab,
    reader: Ensemble,
    splits: dict[str, list[Example]],
    size: int,
    versus: int | None = None,
) -> None:
    """Print every model's dev and held-out counts, then the dev set's pick against the average
    over every set of `size` models and among all of them; with `versus`, the sets of `versus`
    models averaged against the sets of `size`."""
    probabilities = {
        split: [answer_probabilities(model, vocab, examples) for model in models] for split, examples in splits.items()
    }

    def right(split: str, members: tuple[int, ...]) -> int:
        return count_right(reader, vocab, splits[split], [probabilities[split][i] for i in members])

    dev, held = ([right(split, (i,)) for i in range(len(models))] for split in ("dev", HELD_OUT))
    for name, on_dev, on_held in zip(names, dev, held, strict=True):
        print(f"  {name:<32} dev right {on_dev:>5}   held-out right {on_held:>5}")

    def choices(members: tuple[int, ...]) -> tuple[int, int]:
        """Held-out sentences right of the dev set's pick among the members, and of their average."""
        pick = max(members, key=lambda i: (dev[i], -i))
        return held[pick], right(HELD_OUT, members)

    sets = {members: choices(members) for members in itertools.combinations(range(len(models)), size)}
    picked, averaged = (sum(column) / len(sets) for column in zip(*sets.values(), strict=True))
    wins = sum(average >= pick for pick, average in sets.values())
    print(
        f"  sets of {size} ({len(sets)}): the pick {picked:.1f}, the average {averaged:.1f} held-out right"
        f" on the mean ({averaged - picked:+.1f}); the average at least as good in {wins} of {len(sets)}"
    )
    pick_all, average_all = choices(tuple(range(len(models))))
    print(f"  all {len(models)}: the pick {pick_all}, the average {average_all} held-out right")
    if versus is None:
        return
    larger = {members: right(HELD_OUT, members) for members in itertools.combinations(range(len(models)), versus)}
    pairs = [
        (on_held, sets[inner][1])
        for members, on_held in larger.items()
        for inner in itertools.combinations(members, size)
    ]
    mean = sum(larger.values()) / len(larger)
    at_least = sum(large >= small for large, small in pairs)
    print(
        f"  sets of {versus} ({len(larger)}) averaged: {mean:.1f} held-out right on the mean ({mean - averaged:+.1f}"
        f" on the sets of {size}); at least as good as a set of {size} drawn from it in {at_least}"
        f" of {len(pairs)} pairs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--size", type=int, default=4, help="seeds in a set (default 4)")
    parser.add_argument("--versus", type=int, help="also average every set of this many seeds, set against SIZE's")
    parser.add_argument(
        "--embedding-vocab", type=int, default=20000, help="GloVe words added to the two-class reading (0: none)"
    )
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    runs = [load_checkpoint(path) for path in args.runs]
    first, fine = runs[0], [run.model for run in runs]
    try:
        check_ensemble_members(runs)
        if first.config["task"] != "sst:fine" or not first.config.get("hold_out"):
            raise ValueError(f"{first.path}: the runs must be sst:fine models that held training sentences out")
        if not 1 <= args.size <= len(runs):
            raise ValueError(f"--size must be between 1 and the number of runs ({len(runs)})")
        if args.versus is not None and not args.size < args.versus <= len(runs):
            raise ValueError(f"--versus must be above --size and at most the number of runs ({len(runs)})")
        grown, grown_vocab, _ = with_pretrained_words(first, fine, args.embedding_vocab)
    except ValueError as error:
        sys.exit(f"error: {error}")
    hold_out = first.config["hold_out"]
    binary_vocab, answer_map, _ = translated_answers(grown_vocab, "sst:fine", "sst:binary")
    readings = {
        "five classes": ("sst:fine", fine, first.vocab, Ensemble(fine[:1])),
        f"two classes, {args.embedding_vocab} GloVe words added": (
            "sst:binary",
            grown,
            binary_vocab,
            Ensemble(grown[:1], answer_map),
        ),
    }
    for reading, (task, models, vocab, reader) in readings.items():
        splits = {
            split: load_task(task, split, hold_out=hold_out, data_dir=args.data_dir) for split in ("dev", HELD_OUT)
        }
        print(f"\n{reading}: {len(splits['dev'])} dev sentences, {len(splits[HELD_OUT])} held out")
        compare([run.path.name for run in runs], models, vocab, reader, splits, args.size, args.versus)


if __name__ == "__main__":
    main()
