"""Command line: python -m dmn {download,train,eval,ask} ..."""

from __future__ import annotations

import argparse
import json
import random
import shlex
import signal
import sys
from pathlib import Path

import torch

from dmn import __version__
from dmn.checkpoint import CheckpointError, is_collection, load_checkpoint, load_collection, save_collection
from dmn.data import DataFormatError, DataNotFoundError, resolve_data_dir
from dmn.device import pick_device
from dmn.evaluate import (
    accuracy_by_task,
    accuracy_by_word_kind,
    accuracy_on_test_set,
    format_gate_table,
    format_table,
    gate_accuracy,
    summary,
)
from dmn.kinds import WordKinds, write_kinds
from dmn.make_ensemble import build_ensemble
from dmn.predict import InputError, Predictor
from dmn.recipe import Recipe, finished_with
from dmn.settings import SETTINGS_KEY, CollectionSpec, EnsembleSpec, RunSpec
from dmn.tasks import DOWNLOADS, HELD_OUT, family_of, load_task, rephrased
from dmn.train import TrainingRun, validation_set

REPHRASE_SEED = 0  # eval --rephrase: one fixed draw, the same for every checkpoint it compares


def _add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="folder holding the datasets (default: $DMN_DATA_DIR or ~/.cache/dmn/data)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dmn", description="Dynamic Memory Networks")
    parser.add_argument("--version", action="version", version=f"dmn {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("download", help="download an official dataset (sha256-checked) into the data folder")
    p.add_argument("dataset", choices=list(DOWNLOADS), help=", ".join(f"{n}: {d.title}" for n, d in DOWNLOADS.items()))
    _add_data_dir(p)

    p = commands.add_parser("train", help="train a DMN and write a checkpoint (or make one from a recipe)")
    p.add_argument(
        "--config",
        metavar="RECIPE",
        help="train from a recipe (configs/NAME.json: every step, into --work-dir, the last into its checkpoint "
        "or --out) or a checkpoint's config.json (its run again); flags given as well override its settings",
    )
    RunSpec.add_arguments(p)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--out", help="checkpoint directory to write (with --config: instead of the recipe's)")
    p.add_argument("--work-dir", default="runs", help="with --config: where the steps before the last write")
    _add_data_dir(p)

    p = commands.add_parser("eval", help="test accuracy of a checkpoint, per task")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--task", help="default: the tasks the checkpoint was trained on")
    p.add_argument(
        "--json",
        help="also write the accuracies to this JSON file (test_accuracy, validation_accuracy or held-out_accuracy)",
    )
    p.add_argument(
        "--split",
        choices=["test", "validation", HELD_OUT],
        default="test",
        help="test (default), the validation questions the checkpoint was chosen on (bAbI: the share of "
        "train its run held out; SST and POS: the dev set), or the training sentences its run kept out of "
        "training (`train --hold-out`)",
    )
    p.add_argument(
        "--unknown-words",
        action="store_true",
        help="also the accuracy on words in and outside the vocabulary (taggers), or on questions with and "
        "without an unknown word",
    )
    p.add_argument(
        "--gates",
        action="store_true",
        help="also how often each pass attends most to its supporting fact (bAbI), per task",
    )
    p.add_argument(
        "--rephrase",
        type=float,
        default=0.0,
        metavar="CHANCE",
        help="bAbI: tell the stories more freely first, as `train --vary-phrasing` does (one fixed draw), "
        "e.g. 1 to measure on validation how a model reads pronouns, openers and relations told the other way "
        "round where bAbI's own tasks do not use them",
    )
    p.add_argument("--device", default="auto")
    _add_data_dir(p)

    p = commands.add_parser(
        "ensemble", help="one checkpoint that averages the answers of trained SST or POS checkpoints"
    )
    EnsembleSpec.add_arguments(p)
    p.add_argument("--out", required=True, help="checkpoint directory to write")
    _add_data_dir(p)

    p = commands.add_parser(
        "kinds",
        help="learn a bAbI checkpoint's word kinds from its training data (kinds.json), so that it reads new "
        "names, places and objects as known words of their kind (`train` writes it for new checkpoints)",
    )
    p.add_argument("--checkpoint", required=True)
    _add_data_dir(p)

    p = commands.add_parser("ask", help="answer a question about a story")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--story", required=True, help="text file, one sentence per line ('-' for stdin)")
    p.add_argument("--question", required=True)
    p.add_argument("--passes", type=int)
    p.add_argument("--device", default="auto")
    return parser


def cmd_download(args: argparse.Namespace) -> int:
    download = DOWNLOADS[args.dataset]
    print(f"{download.title} is in {download.run(resolve_data_dir(args.data_dir))}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    device = pick_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.config:
        if not args.out:
            raise ValueError("name the checkpoint directory to write (--out)")
        return _train(RunSpec.from_arguments(args), Path(args.out), args, device)
    recipe = Recipe.load(args.config)
    folders = recipe.folders(args.work_dir, args.out)
    for number, step in enumerate(recipe.steps, 1):
        base = recipe.resolved(step, folders)
        settings = RunSpec.from_arguments(args, base.to_dict()) if step.kind == "train" else base
        folder = folders[step.name]
        print(f"step {number}/{len(recipe.steps)}, {step.name}: {step.kind} into {folder}")
        if finished_with(folder, settings):
            print("  done already (a finished checkpoint with these settings is there)")
            continue
        done = STEPS[step.kind](settings, folder, args, device)
        if done:
            return done
    return 0


def _train(spec: RunSpec, out: Path, args: argparse.Namespace, device: torch.device) -> int:
    spec = spec.checked()
    if spec.train.compile and device.type != "cpu":
        raise ValueError(
            "--compile is for the CPU, where the fused GRU kernel holds every recurrence; on a GPU the "
            "episode's steps would be traced one by one, once for every story length"
        )
    command = shlex.join(["python", "-m", "dmn", "train", *spec.arguments(), "--out", str(out)])
    run = TrainingRun(spec, args.data_dir, device, command=command)
    print(
        f"training {run.config['description']}: {len(run.train_examples)} train / {len(run.val_examples)} "
        f"validation questions, {sum(p.numel() for p in run.model.parameters())} parameters, on {device}"
    )
    metrics = _fit_until_interrupted(run, out)
    if metrics.get("status") == "cancelled":
        print("interrupted before the first epoch ended: no checkpoint written", file=sys.stderr)
        return 130
    print(
        f"best validation accuracy {metrics['validation_accuracy']:.2%} at epoch {metrics['best_epoch']}, "
        f"{metrics['train_seconds']:.0f} s"
    )
    print(format_table(metrics["test_accuracy"]))
    print(f"checkpoint written to {out}")
    return 0


def _fit_until_interrupted(run: TrainingRun, out: str) -> dict:
    """run.fit, where a first Ctrl-C ends training at the next step and the best model so far is
    still tested and written (a second one aborts)."""

    def stop(signum: int, frame: object) -> None:
        print("\nstopping after this step; the best model so far is tested and written", file=sys.stderr)
        run.stop("interrupted (Ctrl-C)")
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, stop)
    try:
        return run.fit(out, progress=True)
    finally:
        signal.signal(signal.SIGINT, previous)


def cmd_eval_collection(args: argparse.Namespace) -> int:
    """eval of a collection (one checkpoint per task): each member on its own task's test set, one table."""
    if args.split != "test" or args.task or args.unknown_words or args.gates or args.rephrase:
        raise ValueError("a collection is evaluated on the test sets of its members' tasks only: leave out the options")
    device = pick_device(args.device)
    collection = load_collection(args.checkpoint)
    accuracy = {}
    for task, member in collection.members.items():
        ckpt = load_checkpoint(member, device)
        accuracy |= accuracy_on_test_set(
            ckpt.model, ckpt.vocab, task, ckpt.config.get("size", "1k"), args.data_dir, device
        )
    print(format_table(accuracy, collection.config.get("paper", "dmn"), collection.config.get("notes")))
    if args.json:
        Path(args.json).write_text(json.dumps({"test_accuracy": accuracy, **summary(accuracy)}, indent=2) + "\n")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    if is_collection(args.checkpoint):
        return cmd_eval_collection(args)
    device = pick_device(args.device)
    ckpt = load_checkpoint(args.checkpoint, device)
    task = args.task or ckpt.config.get("task", "babi:all")
    if args.split == "validation":
        if args.task:
            raise ValueError("--split validation evaluates the tasks the checkpoint was chosen on: leave out --task")
        examples = validation_set(ckpt.config, ckpt.metrics, args.data_dir)
        print(f"validation split: {len(examples):,} questions (the paper's column is its test accuracy)")
    elif args.split == HELD_OUT:
        if not ckpt.config.get("hold_out"):
            raise ValueError(f"{args.checkpoint} was trained on every training sentence: it has none held out")
        examples = load_task(task, HELD_OUT, data_dir=args.data_dir, hold_out=ckpt.config["hold_out"])
        print(f"{len(examples):,} training sentences held out of training (the paper's column is its test accuracy)")
    else:
        examples = load_task(task, "test", ckpt.config.get("size", "1k"), args.data_dir)
    if args.rephrase:
        examples = rephrased(examples, args.rephrase, random.Random(REPHRASE_SEED))
        print(f"stories told more freely: each rewrite with chance {args.rephrase:g} (seed {REPHRASE_SEED})")
    accuracy = accuracy_by_task(ckpt.model, ckpt.vocab, examples, device)
    print(format_table(accuracy))
    if args.unknown_words:
        print("\nby whether the model's vocabulary has the words:")
        for name, (count, acc) in accuracy_by_word_kind(ckpt.model, ckpt.vocab, examples, device).items():
            print(f"  {name:<22} {acc * 100:6.1f}%  ({count:,})")
    if args.gates:
        print("\n" + format_gate_table(gate_accuracy(ckpt.model, ckpt.vocab, examples, device)))
    if args.json:
        written = {f"{args.split}_accuracy": accuracy, **summary(accuracy)}
        Path(args.json).write_text(json.dumps(written, indent=2) + "\n")
    return 0


def cmd_ensemble(args: argparse.Namespace) -> int:
    return _ensemble(EnsembleSpec.from_arguments(args), Path(args.out), args)


def _ensemble(spec: EnsembleSpec, out: Path, args: argparse.Namespace, device: torch.device | None = None) -> int:
    command = shlex.join(["python", "-m", "dmn", "ensemble", *spec.arguments(), "--out", str(out)])
    metrics = build_ensemble(spec, out, args.data_dir, command)
    print(f"{metrics['members']} members; validation accuracy {metrics['validation_accuracy']:.2%}")
    print(format_table(metrics["test_accuracy"]))
    print(f"checkpoint written to {out}")
    return 0


def _collect(spec: CollectionSpec, out: Path, args: argparse.Namespace, device: torch.device | None = None) -> int:
    """Keep trained checkpoints together as one collection, each with the test accuracy its run measured."""
    spec, command = spec.checked(), f"python -m dmn train --config {args.config}"
    members = {task: load_checkpoint(member) for task, member in spec.members.items()}
    accuracy = {task: ckpt.metrics.get("test_accuracy", {}).get(task) for task, ckpt in members.items()}
    missing = [task for task, acc in accuracy.items() if acc is None]
    if missing:
        raise ValueError(f"the members of {', '.join(missing)} were not tested on their task")
    seconds = sum(ckpt.metrics.get("train_seconds", 0) for ckpt in members.values())
    config = {"description": spec.description, "paper": spec.paper, "notes": spec.notes, "command": command,
              SETTINGS_KEY: spec.to_dict()}  # fmt: skip
    metrics = {"test_accuracy": accuracy, **summary(accuracy), "train_seconds": round(seconds, 1), "command": command}
    save_collection(out, {task: ckpt.path for task, ckpt in members.items()}, config, metrics)
    print(format_table(accuracy, spec.paper, spec.notes))
    print(f"collection written to {out}")
    return 0


STEPS = {"train": _train, "ensemble": _ensemble, "collection": _collect}  # a recipe's steps: how each kind runs


def cmd_kinds(args: argparse.Namespace) -> int:
    config = load_checkpoint(args.checkpoint).config
    task = str(config.get("task", ""))
    if not task or not family_of(task).learns_kinds:
        raise ValueError(f"{args.checkpoint} answers {task or 'no task'}: word kinds are learned for bAbI models")
    kinds = WordKinds.learn(load_task(task, "train", config.get("size", "1k"), args.data_dir))
    written = write_kinds(args.checkpoint, kinds)
    print(f"{len(kinds.slots):,} open slots, {len(kinds.questions)} question shapes: {written}")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    story = sys.stdin.read() if args.story == "-" else Path(args.story).read_text(encoding="utf-8")
    prediction = Predictor.load(args.checkpoint, args.device).predict(story, args.question, passes=args.passes)
    if prediction.read_as:
        print("read as: " + ", ".join(f"{new} as {known}" for new, known in prediction.read_as.items()))
    if prediction.unknown_words:
        print(f"warning: words the model does not know (read as <unk>): {', '.join(prediction.unknown_words)}")
    if prediction.guess:
        print(f"guess: {prediction.guess_reason}")
    if prediction.dropped_facts:
        print(f"note: the first {prediction.dropped_facts} sentences are beyond the model's memory")
    print(f"answer: {prediction.answer}  (probability {prediction.confidence:.3f})")
    header = "  ".join(f"pass {i + 1:<2}" for i in range(prediction.passes))
    print(f"\n{'fact':<44}{header}")
    for f, fact in enumerate(prediction.facts):
        cells = "  ".join(
            f"{prediction.gates[p][f]:.2f}{'*' if prediction.top_facts[p] == f else ' '}  "
            for p in range(prediction.passes)
        )
        print(f"{fact[:42]:<44}{cells}")
    print("\n* the most attended fact of each pass")
    return 0


COMMANDS = {
    "download": cmd_download,
    "train": cmd_train,
    "eval": cmd_eval,
    "ensemble": cmd_ensemble,
    "kinds": cmd_kinds,
    "ask": cmd_ask,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (
        DataFormatError,
        DataNotFoundError,
        CheckpointError,
        InputError,
        ValueError,
        RuntimeError,
        OSError,
    ) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
