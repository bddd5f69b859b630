"""The paper's bAbI setup: one gate-supervised DMN per task on 1k examples, then a table.

    python scripts/babi_per_task.py [--tasks 1,2,...] [--out runs/per-task] [--variant dmn] [-- extra train args]

Each task is trained with `python -m dmn train` (so every model is remade by that command), into
OUT/qaN; the table gives each model's test accuracy beside the paper's and its training time. A task
whose OUT/qaN already holds a finished model is not trained again, so an interrupted run resumes.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default=",".join(map(str, BABI_TASK_NAMES)))
    parser.add_argument("--out", default="runs/per-task")
    parser.add_argument("--variant", default="dmn")
    parser.add_argument("extra", nargs="*", help="more arguments for `python -m dmn train` (after --)")
    args = parser.parse_args()
    rows = []
    for task in (int(t) for t in args.tasks.split(",")):
        out = Path(args.out) / f"qa{task}"
        command = [
            sys.executable,
            "-m",
            "dmn",
            "train",
            "--task",
            f"babi:{task}",
            "--size",
            "1k",
            "--variant",
            args.variant,
            "--gate-supervision",
            "--out",
            str(out),
            *args.extra,
        ]
        metrics_file = out / "metrics.json"
        if not metrics_file.exists():
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        metrics = json.loads(metrics_file.read_text())
        rows.append((task, metrics["test_accuracy"][f"babi:{task}"], metrics["epochs_run"], metrics["train_seconds"]))
        print(f"task {task}: {rows[-1][1]:.1%} in {rows[-1][3]:.0f} s", file=sys.stderr)

    print("| task | ours % | paper DMN % | epochs | time (s) |")
    print("|---|---|---|---|---|")
    for task, acc, epochs, seconds in rows:
        print(
            f"| {task} {BABI_TASK_NAMES[task]} | {acc * 100:.1f} | {PAPER_DMN_BABI[task]:.1f} | {epochs} | "
            f"{seconds:.0f} |"
        )
    mean = sum(r[1] for r in rows) / len(rows)
    paper = sum(PAPER_DMN_BABI[r[0]] for r in rows) / len(rows)
    passed = sum(r[1] >= PASS_THRESHOLD for r in rows)
    paper_passed = sum(PAPER_DMN_BABI[r[0]] >= PASS_THRESHOLD * 100 for r in rows)
    print(f"| **mean** | **{mean * 100:.1f}** | **{paper:.1f}** | | {sum(r[3] for r in rows):.0f} |")
    print(f"| passed (>= 95%) | {passed}/{len(rows)} | {paper_passed}/{len(rows)} | | |")


if __name__ == "__main__":
    main()
