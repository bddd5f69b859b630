"""Command line: python -m dmn {download,train,eval,ask} ..."""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
from pathlib import Path

import torch

from dmn import __version__
from dmn.checkpoint import CheckpointError, is_collection, load_checkpoint, load_collection
from dmn.data import HELD_OUT, DataFormatError, DataNotFoundError, load_task, resolve_data_dir
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
from dmn.model import VARIANTS
from dmn.predict import InputError, Predictor
from dmn.train import VAL_SPLITS, RunSpec, TrainConfig, TrainingRun, build_ensemble, validation_set


def _add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="folder holding the datasets (default: $DMN_DATA_DIR or ~/.cache/dmn/data)")


def _task_repeat(text: str) -> tuple[str, int]:
    """'babi:19=4' -> ('babi:19', 4)."""
    task, _, times = text.rpartition("=")
    if not task or not times.isdigit() or int(times) < 1:
        raise argparse.ArgumentTypeError(f"expected TASK=N with N >= 1 (e.g. babi:19=4), not {text!r}")
    return task, int(times)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dmn", description="Dynamic Memory Networks")
    parser.add_argument("--version", action="version", version=f"dmn {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("download", help="download an official dataset (sha256-checked) into the data folder")
    p.add_argument("dataset", choices=["babi", "sst", "ewt"], help="bAbI, SST (sentiment) or UD English EWT (tagging)")
    _add_data_dir(p)

    p = commands.add_parser("train", help="train a DMN and write a checkpoint")
    p.add_argument(
        "--task", required=True, help="babi:N, babi:N,M,..., babi:all, sst:binary, sst:fine, pos:ewt or pos:ptb"
    )
    p.add_argument("--size", choices=["1k", "10k"], default="1k", help="bAbI training set size")
    p.add_argument("--variant", choices=sorted(VARIANTS), default="dmn")
    for part, choices in (
        ("input-module", ("gru", "fusion")),
        ("gate", ("sigmoid", "softmax")),
        ("episode", ("gated_gru", "attention_gru")),
        ("memory-update", ("gru", "relu")),
    ):
        p.add_argument(f"--{part}", choices=choices, help="override this part of the variant")
    p.add_argument(
        "--gate-supervision",
        type=float,
        nargs="?",
        const=1.0,
        default=0.0,
        metavar="WEIGHT",
        help="train the gates towards the supporting facts (weight, default 1 when given)",
    )
    p.add_argument(
        "--gate-loss",
        choices=["bce", "softmax"],
        default="bce",
        help="with --gate-supervision and sigmoid gates (DMN): each fact's gate against 0 or 1 (bce), or the "
        "gates' logits as one softmax over the facts (softmax)",
    )
    p.add_argument("--hidden", type=int, default=80)
    p.add_argument("--passes", type=int, default=3)
    p.add_argument("--max-facts", type=int, default=50, help="read only the story's last N sentences")
    p.add_argument("--dropout", type=float, default=0.1)
    defaults = TrainConfig()
    p.add_argument("--epochs", type=int, default=defaults.epochs)
    p.add_argument("--batch-size", type=int, default=defaults.batch_size)
    p.add_argument("--lr", type=float, default=defaults.lr)
    p.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    p.add_argument("--clip", type=float, default=defaults.clip, help="maximum gradient norm")
    p.add_argument(
        "--patience",
        type=int,
        default=defaults.patience,
        metavar="EPOCHS",
        help=f"stop after this many epochs without a better validation accuracy, or at 100%% (default "
        f"{defaults.patience}); 0 turns early stopping off: every epoch is run",
    )
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument(
        "--val-split",
        choices=VAL_SPLITS,
        default=defaults.val_split,
        help="bAbI: hold out whole stories for validation (default), or single questions, as runs made before "
        "the story split did (their other questions, with the same facts, stay in training)",
    )
    p.add_argument("--limit", type=int, help="use only the first N training examples of each task")
    p.add_argument("--phrases", action="store_true", help="SST: also train on every labelled phrase")
    p.add_argument(
        "--hold-out",
        type=int,
        default=0,
        metavar="N",
        help="SST, POS: keep N training sentences (one fixed choice, the same for every seed) out of training, "
        "phrases and all, to compare recipes on more sentences than the dev set has: `eval --split held-out`",
    )
    p.add_argument("--embeddings", help="start the word vectors from 'glove' (GloVe 6B 50d) or a GloVe text file")
    p.add_argument(
        "--embedding-vocab",
        type=int,
        default=0,
        metavar="N",
        help="with --embeddings: also put the N most frequent words of the vectors in the vocabulary",
    )
    p.add_argument(
        "--word-signatures",
        action="store_true",
        help="read an unknown word as its shape class (capitals, digits, hyphen, suffix) instead of <unk>",
    )
    p.add_argument(
        "--freeze-embeddings",
        action="store_true",
        help="with --embeddings: words that have a pretrained vector keep it unchanged during training",
    )
    p.add_argument(
        "--repeat-task",
        type=_task_repeat,
        action="append",
        default=[],
        metavar="TASK=N",
        help="take this task's training questions N times per epoch (e.g. babi:19=4, for a task that learns "
        "slowly); may be given several times",
    )
    p.add_argument(
        "--tie-break-loss",
        action="store_true",
        help="an epoch with the best validation accuracy so far but a lower validation loss also counts as better, "
        "and 100%% validation accuracy does not end training (for small validation sets)",
    )
    p.add_argument(
        "--init-from",
        metavar="CHECKPOINT",
        help="start from this checkpoint's weights (trained on the same data and validation split, with the "
        "same model settings), e.g. to train longer",
    )
    p.add_argument(
        "--char-features",
        action="store_true",
        help="also read each word's spelling with a character CNN (needs the DMN+ input module)",
    )
    p.add_argument(
        "--no-positional-encoding",
        dest="positional_encoding",
        action="store_false",
        help="DMN+ input module: a fact is the plain sum of its word vectors, without the positional "
        "weights, which scale dimension d of a one-word fact (sentiment, tagging) by d/D",
    )
    p.add_argument(
        "--rare-word-dropout",
        type=float,
        default=defaults.rare_word_dropout,
        help="chance that a word seen once in training is hidden as unknown at each step (e.g. 0.5)",
    )
    p.add_argument(
        "--embedding-lr",
        type=float,
        default=defaults.embedding_lr,
        metavar="SHARE",
        help="the word vectors learn at SHARE times --lr (e.g. 0.1, to keep pretrained vectors near where "
        "they started; default 1)",
    )
    p.add_argument(
        "--word-dropout",
        type=float,
        default=defaults.word_dropout,
        help="chance that any training word is hidden as unknown at each step (e.g. 0.1): trains the "
        "unknown-word vector even where no word is seen only once (SST trained on phrases)",
    )
    p.add_argument(
        "--balance-tasks",
        action="store_true",
        help="repeat the questions of smaller tasks so that every task weighs about the same in an epoch",
    )
    p.add_argument(
        "--lr-decay",
        type=float,
        default=defaults.lr_decay,
        metavar="FACTOR",
        help="multiply the learning rate by FACTOR after each epoch without a better validation accuracy "
        "(default 1: constant)",
    )
    p.add_argument(
        "--weight-average",
        type=float,
        default=defaults.weight_average,
        metavar="DECAY",
        help="validate and keep an exponential moving average of the weights, updated every step with this "
        "decay (e.g. 0.999; default 0: the weights of the last step)",
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="run training steps through torch.compile with dynamic shapes (CPU only): about 20%% faster "
        "steps after compiling for about a minute",
    )
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--description", default="", help="one line shown in the app's checkpoint picker")
    p.add_argument("--out", required=True, help="checkpoint directory to write")
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
    p.add_argument("--device", default="auto")
    _add_data_dir(p)

    p = commands.add_parser(
        "ensemble", help="one checkpoint that averages the answers of trained SST or POS checkpoints"
    )
    p.add_argument("members", nargs="+", help="checkpoint directories of one task, vocabulary and model settings")
    p.add_argument("--description", default="", help="one line shown in the app's checkpoint picker")
    p.add_argument(
        "--task",
        help="the task it answers, if not its members' own: sst:binary for sst:fine members (the probabilities of "
        "very negative and negative add up to negative, those of positive and very positive to positive; "
        "neutral is dropped)",
    )
    p.add_argument(
        "--embedding-vocab",
        type=int,
        default=0,
        metavar="N",
        help="also give the N most frequent words of the members' pretrained vectors a place, each read as its "
        "vector, as `train --embedding-vocab` gives words that training never shows (needs requirements-train.txt)",
    )
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
    from dmn.download import DOWNLOADS

    download = DOWNLOADS[args.dataset]
    print(f"{download.title} is in {download.run(resolve_data_dir(args.data_dir))}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    if args.patience < 0:
        raise ValueError(f"--patience must be 0 (no early stopping) or more, not {args.patience}")
    if not 0 < args.lr_decay <= 1:
        raise ValueError(f"--lr-decay must be in (0, 1], not {args.lr_decay}")
    if not 0 <= args.weight_average < 1:
        raise ValueError(f"--weight-average must be in [0, 1), not {args.weight_average}")
    for flag in ("rare_word_dropout", "word_dropout"):
        if not 0 <= getattr(args, flag) < 1:
            raise ValueError(f"--{flag.replace('_', '-')} must be in [0, 1), not {getattr(args, flag)}")
    if args.embedding_lr <= 0:
        raise ValueError(
            f"--embedding-lr must be above 0 (--freeze-embeddings keeps vectors fixed), not {args.embedding_lr}"
        )
    device = pick_device(args.device)
    if args.compile and device.type != "cpu":
        raise ValueError(
            "--compile is for the CPU, where the fused GRU kernel holds every recurrence; on a GPU the "
            "episode's steps would be traced one by one, once for every story length"
        )
    if args.threads:
        torch.set_num_threads(args.threads)
    spec = RunSpec(
        task=args.task,
        size=args.size,
        variant=args.variant,
        parts={name: getattr(args, name) for name in VARIANTS["dmn"] if getattr(args, name) is not None},
        hidden=args.hidden,
        passes=args.passes,
        max_facts=args.max_facts,
        dropout=args.dropout,
        limit=args.limit,
        phrases=args.phrases,
        hold_out=args.hold_out,
        embeddings=args.embeddings,
        word_signatures=args.word_signatures,
        embedding_vocab=args.embedding_vocab,
        char_features=args.char_features,
        positional_encoding=args.positional_encoding,
        freeze_embeddings=args.freeze_embeddings,
        init_from=args.init_from,
        description=args.description,
        train=TrainConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            weight_decay=args.weight_decay,
            clip=args.clip,
            patience=args.patience or None,  # 0: no early stopping
            gate_supervision=args.gate_supervision,
            gate_loss=args.gate_loss,
            rare_word_dropout=args.rare_word_dropout,
            word_dropout=args.word_dropout,
            embedding_lr=args.embedding_lr,
            balance_tasks=args.balance_tasks,
            task_repeats=dict(args.repeat_task),
            lr_decay=args.lr_decay,
            tie_break_loss=args.tie_break_loss,
            val_split=args.val_split,
            weight_average=args.weight_average,
            compile=args.compile,
            seed=args.seed,
        ),
    )
    run = TrainingRun(spec, args.data_dir, device, command="python -m dmn " + shlex.join(sys.argv[1:]))
    print(
        f"training {run.config['description']}: {len(run.train_examples)} train / {len(run.val_examples)} "
        f"validation questions, {sum(p.numel() for p in run.model.parameters())} parameters, on {device}"
    )
    metrics = _fit_until_interrupted(run, args.out)
    if metrics.get("status") == "cancelled":
        print("interrupted before the first epoch ended: no checkpoint written", file=sys.stderr)
        return 130
    print(
        f"best validation accuracy {metrics['validation_accuracy']:.2%} at epoch {metrics['best_epoch']}, "
        f"{metrics['train_seconds']:.0f} s"
    )
    print(format_table(metrics["test_accuracy"]))
    print(f"checkpoint written to {args.out}")
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
    if args.split != "test" or args.task or args.unknown_words or args.gates:
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
    command = "python -m dmn " + shlex.join(sys.argv[1:])
    metrics = build_ensemble(
        args.members, args.out, args.data_dir, args.description, command, args.task, args.embedding_vocab
    )
    print(f"{metrics['members']} members; validation accuracy {metrics['validation_accuracy']:.2%}")
    print(format_table(metrics["test_accuracy"]))
    print(f"checkpoint written to {args.out}")
    return 0


def cmd_kinds(args: argparse.Namespace) -> int:
    config = load_checkpoint(args.checkpoint).config
    task = str(config.get("task", ""))
    if not task.startswith("babi:"):
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
