"""The paper's bAbI setup: one gate-supervised DMN per task on 1k examples, then a table.

    python scripts/babi_per_task.py [--tasks 1,2,...] [--out runs/per-task] [--variant dmn] [--seeds N]
                                    [--size 1k|10k] [--no-gate-supervision] [-- extra train args]

(--size 10k --no-gate-supervision --variant dmn+ is the DMN+ paper's setting.)

Each model is trained with `python -m dmn train` (so every one is remade by that command), into
OUT/qaN/seedS. With --seeds N, a task whose best validation accuracy is still below 95% is trained
again with the next seed, up to N runs, and the run with the best validation accuracy gives the
task's test accuracy (the DMN+ authors kept the best of 10 runs by validation on the hard tasks);
the test set never chooses. The table gives each task's chosen test accuracy beside the paper's,
its runs and their total training time. A run whose folder already holds a finished model is not
trained again, so an interrupted table resumes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dmn.data import BABI_TASK_NAMES  # noqa: E402
from dmn.evaluate import PAPER_DMN_BABI, PASS_THRESHOLD  # noqa: E402


def train(task: int, seed: int, out: Path, args: argparse.Namespace) -> dict:
    """Train (unless already done) and return the run's metrics."""
    metrics_file = out / "metrics.json"
    if not metrics_file.exists():
        command = [sys.executable, "-m", "dmn", "train", "--task", f"babi:{task}", "--size", args.size]
        command += ["--variant", args.variant, *([] if args.no_gate_supervision else ["--gate-supervision"])]
        command += ["--seed", str(seed), "--out", str(out), *args.extra]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return json.loads(metrics_file.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default=",".join(map(str, BABI_TASK_NAMES)))
    parser.add_argument("--out", default="runs/per-task")
    parser.add_argument("--variant", default="dmn")
    parser.add_argument("--size", choices=["1k", "10k"], default="1k", help="training questions per task")
    parser.add_argument(
        "--no-gate-supervision", action="store_true", help="train without the supporting facts (the DMN+ setting)"
    )
    parser.add_argument("--seeds", type=int, default=1, help="at most this many runs of a task below 95%% validation")
    parser.add_argument("extra", nargs="*", help="more arguments for `python -m dmn train` (after --)")
    args = parser.parse_args()
    rows = []
    for task in (int(t) for t in args.tasks.split(",")):
        runs = []
        for seed in range(args.seeds):
            runs.append(train(task, seed, Path(args.out) / f"qa{task}" / f"seed{seed}", args))
            if max(m["validation_accuracy"] for m in runs) >= PASS_THRESHOLD:
                break
        best = max(runs, key=lambda m: m["validation_accuracy"])
        seconds = sum(m["train_seconds"] for m in runs)
        rows.append((task, best["test_accuracy"][f"babi:{task}"], len(runs), best["epochs_run"], seconds))
        print(f"task {task}: {rows[-1][1]:.1%} (best of {len(runs)}) in {seconds:.0f} s", file=sys.stderr)

    print("| task | ours % | paper DMN % | runs | epochs | time (s) |")
    print("|---|---|---|---|---|---|")
    for task, acc, n_runs, epochs, seconds in rows:
        print(
            f"| {task} {BABI_TASK_NAMES[task]} | {acc * 100:.1f} | {PAPER_DMN_BABI[task]:.1f} | {n_runs} | {epochs} | "
            f"{seconds:.0f} |"
        )
    mean = sum(r[1] for r in rows) / len(rows)
    paper = sum(PAPER_DMN_BABI[r[0]] for r in rows) / len(rows)
    passed = sum(r[1] >= PASS_THRESHOLD for r in rows)
    paper_passed = sum(PAPER_DMN_BABI[r[0]] >= PASS_THRESHOLD * 100 for r in rows)
    print(f"| **mean** | **{mean * 100:.1f}** | **{paper:.1f}** | | | {sum(r[4] for r in rows):.0f} |")
    print(f"| passed (>= 95%) | {passed}/{len(rows)} | {paper_passed}/{len(rows)} | | | |")


if __name__ == "__main__":
    main()
