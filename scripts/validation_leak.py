"""How much of bAbI's held-out validation was already seen in training, split by question or by story.

    python scripts/validation_leak.py [--size 1k|10k] [--seed 0] [--data-dir DIR]

For every task it prints the share of held-out questions whose story is also in training, and the
share that have a twin there: the same story, question and answer (asked again later in the story).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dmn.data import Example  # noqa: E402
from dmn.tasks.babi import BABI_TASK_NAMES, load_babi  # noqa: E402
from dmn.train import VAL_SPLITS, split_validation  # noqa: E402


def _twin(ex: Example) -> tuple:
    """What a question shares with its twin: the story, the question and the answer."""
    return ex.story, tuple(ex.question), tuple(ex.answer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1k")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    print(f"{'task':<32}" + "".join(f"{'story seen / twin, by ' + by:>32}" for by in VAL_SPLITS))
    for task in BABI_TASK_NAMES:
        examples = load_babi([task], args.size, "train", args.data_dir)
        cells = []
        for by in VAL_SPLITS:
            train, val = split_validation(examples, 0.1, args.seed, by)
            stories, twins = {ex.story for ex in train}, {_twin(ex) for ex in train}
            seen = sum(ex.story in stories for ex in val) / len(val)
            twin = sum(_twin(ex) in twins for ex in val) / len(val)
            cells.append(f"{seen:>25.0%} / {twin:>4.0%}")
        print(f"{task:<3}{BABI_TASK_NAMES[task]:<29}" + "".join(cells))


if __name__ == "__main__":
    main()
