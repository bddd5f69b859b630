"""The paper's bAbI setup: one gate-supervised DMN per task on 1k examples, then a table.

    python scripts/babi_per_task.py [--tasks 1,2,...] [--out runs/per-task] [--variant dmn] [--seeds N]
                                    [--size 1k|10k] [--no-gate-supervision] [--also DIR] [--data-dir DIR]
                                    [--collect DIR]
                                    [-- extra train args]

(--size 10k --no-gate-supervision --variant dmn+ is the DMN+ paper's setting.)

Each model is trained with `python -m dmn train` (so every one is remade by that command), into
OUT/qaN/seedS. With --seeds N, a task whose best validation accuracy is still below 95% is trained
again with the next seed, up to N runs (--seeds 0: none; the finished runs in OUT count), and the
run with the best validation accuracy gives the task's test accuracy (the DMN+ authors kept the
best of 10 runs by validation on the hard tasks; of runs that tie, OUT's come first, then those of
each --also folder in turn);
the test set never chooses. The table gives each task's chosen test accuracy beside the paper's
(the DMN's 1k table; the DMN+ paper's 10k one for --size 10k --no-gate-supervision), its runs and
their total training time. With --collect DIR the chosen runs are written as a recipe (--recipe,
default configs/NAME.json: each task's chosen run, then the collection) and the recipe is run, which
writes the collection; `python -m dmn eval --checkpoint DIR` measures it again. A run whose folder
already holds a finished model is not trained again, so an interrupted table resumes.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dmn import cli  # noqa: E402
from dmn.checkpoint import load_checkpoint  # noqa: E402
from dmn.evaluate import PASS_THRESHOLD, mean_loss, summary  # noqa: E402
from dmn.settings import SETTINGS_KEY  # noqa: E402
from dmn.tasks.babi import BABI_TASK_NAMES, PAPER_COLUMNS  # noqa: E402
from dmn.train import validation_set  # noqa: E402


def finished_metrics(run: Path) -> dict | None:
    """A run's metrics, or None while it has none or is still training (or died training)."""
    file = run / "metrics.json"
    metrics = json.loads(file.read_text()) if file.exists() else None
    return None if metrics is None or metrics.get("status") == "training" else metrics


def train(task: int, seed: int, out: Path, args: argparse.Namespace) -> dict:
    """Train (unless already done; a run that died is trained again) and return the run's metrics."""
    metrics = finished_metrics(out)
    if metrics is None:
        command = [sys.executable, "-m", "dmn", "train", "--task", f"babi:{task}", "--size", args.size]
        command += ["--variant", args.variant, *([] if args.no_gate_supervision else ["--gate-supervision"])]
        command += ["--seed", str(seed), "--out", str(out), *(["--data-dir", args.data_dir] if args.data_dir else [])]
        command += args.extra
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        metrics = json.loads((out / "metrics.json").read_text())
    return metrics


def finished_runs(folders: list[str], task: int) -> list[tuple[dict, Path]]:
    """(metrics, folder) of the finished runs of a task in these per-task folders (FOLDER/qaN/seedS)."""
    runs = [run for folder in folders for run in sorted((Path(folder) / f"qa{task}").glob("seed*"))]
    return [(metrics, run) for run in runs if (metrics := finished_metrics(run)) is not None]


def answer_loss(run: Path, data_dir: str | None) -> float:
    """The loss of a run's answers on the validation questions it was chosen on (the gates left out,
    so runs of any gate weight compare)."""
    checkpoint = load_checkpoint(run)
    examples = validation_set(checkpoint.config, checkpoint.metrics, data_dir)
    return mean_loss(checkpoint.model, checkpoint.vocab, examples)


def choose(runs: list[tuple[dict, Path]], data_dir: str | None) -> tuple[dict, Path]:
    """The run with the best validation accuracy; of runs that tie, the lowest answer loss on
    validation (a run's own validation questions, as its accuracy), then the first."""
    best = max(metrics["validation_accuracy"] for metrics, _ in runs)
    tied = [run for run in runs if run[0]["validation_accuracy"] == best]
    return tied[0] if len(tied) == 1 else min(tied, key=lambda run: answer_loss(run[1], data_dir))


def write_recipe(path: Path, collection: Path, chosen: dict[str, Path], work_dir: Path, config: dict) -> None:
    """The recipe of a collection: a training step per task, named by its chosen run's folder under
    `work_dir`, with that run's settings; then the collection of them."""
    steps = {task: str(run.relative_to(work_dir)) for task, run in chosen.items()}
    recipe = {
        "checkpoint": str(collection),
        "about": f"{config['description']}: the run each task chose on validation ({config['command']})",
        "steps": [
            *({"name": steps[task], "train": json.loads((run / "config.json").read_text())[SETTINGS_KEY]}
              for task, run in chosen.items()),
            {"name": collection.name, "collection": {"members": steps, "description": config["description"],
                                                    "paper": config["paper"], "notes": config["notes"]}},
        ],
    }  # fmt: skip
    path.write_text(json.dumps(recipe, indent=2) + "\n")
    print(f"recipe written to {path}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default=",".join(map(str, BABI_TASK_NAMES)))
    parser.add_argument("--out", default="runs/per-task")
    parser.add_argument("--variant", default="dmn")
    parser.add_argument("--size", choices=["1k", "10k"], default="1k", help="training questions per task")
    parser.add_argument(
        "--no-gate-supervision", action="store_true", help="train without the supporting facts (the DMN+ setting)"
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="at most this many runs of a task below 95%% validation; 0: train nothing, choose among the finished "
        "runs in OUT and the --also folders",
    )
    parser.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="DIR",
        help="finished runs of the task in DIR/qaN/ (e.g. of another hidden size, beside --out) are candidates "
        "too: of all, the one with the best validation accuracy is chosen; may be given several times",
    )
    parser.add_argument("--data-dir", help="folder holding the datasets (default: $DMN_DATA_DIR or ~/.cache/dmn/data)")
    parser.add_argument("--collect", metavar="DIR", help="also write the chosen run of each task as one collection")
    parser.add_argument("--description", default="", help="the collection's one line")
    parser.add_argument(
        "--recipe",
        metavar="FILE",
        help="with --collect: where the recipe of the collection goes, the chosen run of each task and the "
        "collection (default configs/NAME.json); `python -m dmn train --config FILE` then remakes it",
    )
    parser.add_argument("extra", nargs="*", help="more arguments for `python -m dmn train` (after --)")
    args = parser.parse_args()
    paper_column = "dmn+ 10k" if args.size == "10k" and args.no_gate_supervision else "dmn"
    title, paper_scores = PAPER_COLUMNS[paper_column]
    rows, chosen, notes = [], {}, {}
    for task in (int(t) for t in args.tasks.split(",")):
        runs = []
        for seed in range(args.seeds):
            out = Path(args.out) / f"qa{task}" / f"seed{seed}"
            runs.append((train(task, seed, out, args), out))
            if max(m["validation_accuracy"] for m, _ in runs) >= PASS_THRESHOLD:
                break
        runs += finished_runs(args.also if args.seeds else [args.out, *args.also], task)
        if not runs:
            raise SystemExit(f"task {task}: no finished run in {', '.join([args.out, *args.also])}")
        best, chosen[f"babi:{task}"] = choose(runs, args.data_dir)
        seconds = sum(m["train_seconds"] for m, _ in runs)
        questions = best["data"]["train_examples"] + best["data"]["validation_examples"]
        if args.size == "10k" and questions < 10_000:
            notes[f"babi:{task}"] = f"trained on {questions:,} questions: no 10k training file here"
        rows.append((task, best["test_accuracy"][f"babi:{task}"], len(runs), best["epochs_run"], seconds))
        print(f"task {task}: {rows[-1][1]:.1%} (best of {len(runs)}) in {seconds:.0f} s", file=sys.stderr)

    print(f"| task | ours % | {title} | runs | epochs | time (s) |")
    print("|---|---|---|---|---|---|")
    for task, acc, n_runs, epochs, seconds in rows:
        note = f" ({notes[f'babi:{task}']})" if f"babi:{task}" in notes else ""
        print(
            f"| {task} {BABI_TASK_NAMES[task]}{note} | {acc * 100:.1f} | {paper_scores[task]:.1f} | {n_runs} | "
            f"{epochs} | {seconds:.0f} |"
        )
    accuracy = {f"babi:{task}": acc for task, acc, *_ in rows}
    result, paper = summary(accuracy), summary({t: paper_scores[int(t[5:])] / 100 for t in accuracy})
    total = sum(r[4] for r in rows)
    print(f"| **mean** | **{result['mean'] * 100:.1f}** | **{paper['mean'] * 100:.1f}** | | | {total:.0f} |")
    print(f"| passed (>= 95%) | {result['passed']}/{len(rows)} | {paper['passed']}/{len(rows)} | | | |")
    if args.collect:
        command = "python scripts/babi_per_task.py " + shlex.join(sys.argv[1:])
        config = {"description": args.description, "paper": paper_column, "notes": notes, "command": command}
        recipe = Path(args.recipe or f"configs/{Path(args.collect).name}.json")
        work_dir = Path(args.out).parent
        write_recipe(recipe, Path(args.collect), chosen, work_dir, config)
        cli.main(["train", "--config", str(recipe), "--work-dir", str(work_dir), "--out", args.collect])


if __name__ == "__main__":
    main()
