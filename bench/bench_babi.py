"""Speed of the DMN on real bAbI data: training throughput, single-question latency, batched
inference throughput, peak memory, and the achieved share of this machine's float32 matmul peak.

    python bench/bench_babi.py [--data-dir DIR] [--device auto|cpu|cuda] [--threads N] [--no-fused-gru] [--compile]
        [--json FILE]

Targets (2-core CPU, see README): >= 5,000 training examples/s on qa1-10k with the DMN+ settings
(80 hidden, 3 passes, batch 100); <= 1 ms median forward latency for one task-1 question.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dmn import kernels  # noqa: E402
from dmn.data import Vocab, batches, make_batch  # noqa: E402
from dmn.device import pick_device  # noqa: E402
from dmn.model import DMN, VARIANTS, DMNConfig  # noqa: E402
from dmn.tasks.babi import load_babi  # noqa: E402
from dmn.train import adam  # noqa: E402

HIDDEN, PASSES, BATCH = 80, 3, 100
WARMUP_STEPS = 10  # untimed; their FLOPs give FLOPs per example (stories vary in length)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_peak(device: torch.device, n: int = 2048, repeats: int = 10) -> float:
    """Best float32 GFLOP/s of an n x n matmul on this device."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def build_model(vocab: Vocab, examples, device: torch.device) -> DMN:
    torch.manual_seed(0)
    config = DMNConfig(
        len(vocab.words),
        len(vocab.answers),
        hidden=HIDDEN,
        passes=PASSES,
        max_answer_len=max(len(e.answer) for e in examples) + 1,
        **VARIANTS["dmn+"],
    )
    return DMN(config).to(device)


def train_throughput(examples, device: torch.device, seconds: float, compile: bool = False) -> dict:
    """Examples/s of full training steps (batching, forward, backward, Adam) on the data.

    FLOPs are those of the matrix products (FlopCounterMode), counted over the first warm-up
    steps; the next ones compile the model (with `compile`) and warm it up, untimed."""
    vocab = Vocab.build(examples)
    model = build_model(vocab, examples, device)
    forward = torch.compile(model, dynamic=True) if compile else model
    optimizer = adam(model, lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    flops, seen, steps, start, compile_seconds = 0, 0, 0, None, 0.0
    counter = FlopCounterMode(display=False)
    while True:
        for batch in batches(examples, vocab, BATCH, model.config.max_facts, generator):
            step_start = time.perf_counter()
            batch = batch.to(device)
            counting = steps < WARMUP_STEPS
            # the counter sees only operations dispatched from Python, not the matrix products
            # inside the fused GRU kernel: these steps run PyTorch's GRU, whose FLOPs are the same
            with counter if counting else contextlib.nullcontext(), kernels.enabled(kernels.is_on() and not counting):
                loss = model.loss((model if counting else forward)(batch), batch, gate_weight=1.0)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
            optimizer.step()
            steps += 1
            if counting:
                flops += counter.get_total_flops()
                flop_examples = seen + len(batch.examples)
            elif steps == WARMUP_STEPS + 1 and compile:
                compile_seconds = time.perf_counter() - step_start
            if steps == 2 * WARMUP_STEPS:  # warm-up over: start the clock
                sync(device)
                start, seen = time.perf_counter(), 0
                continue
            seen += len(batch.examples)
            if start is not None and time.perf_counter() - start > seconds:
                sync(device)
                elapsed = time.perf_counter() - start
                return {
                    "examples_per_s": seen / elapsed,
                    "flops_per_example": flops / flop_examples,
                    "mean_facts": sum(min(len(e.context), 50) for e in examples) / len(examples),
                    "compile_seconds": compile_seconds,
                }


class OperationCounter(TorchDispatchMode):
    """Counts the PyTorch operations that run (views included): for a model this small, the
    number of operations, not their arithmetic, sets the time of one question."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


@torch.inference_mode()
def inference(examples, device: torch.device, questions: int, compile: bool = False) -> dict:
    """Single-question forward latency (median, p90), operations per question (of the model as
    written, not compiled), and batched forward throughput."""
    vocab = Vocab.build(examples)
    model = build_model(vocab, examples, device).eval()
    with OperationCounter() as counter:
        for ex in examples[:questions]:
            model(make_batch([ex], vocab, model.config.max_facts).to(device))
    forward = torch.compile(model, dynamic=True) if compile else model
    latencies = []
    for ex in examples[: questions + 20]:
        batch = make_batch([ex], vocab, model.config.max_facts).to(device)
        sync(device)
        start = time.perf_counter()
        forward(batch)
        sync(device)
        latencies.append(time.perf_counter() - start)
    compile_seconds = latencies[0] if compile else 0.0
    latencies = sorted(latencies[20:])  # the first 20 are warm-up
    prepared = [b.to(device) for b in batches(examples, vocab, 500, model.config.max_facts)]
    forward(prepared[0])
    sync(device)
    start = time.perf_counter()
    for b in prepared:
        forward(b)
    sync(device)
    return {
        "latency_median_ms": statistics.median(latencies) * 1e3,
        "latency_p90_ms": latencies[int(0.9 * len(latencies))] * 1e3,
        "operations_per_question": counter.count / questions,
        "batched_examples_per_s": len(examples) / (time.perf_counter() - start),
        "compile_seconds": compile_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seconds", type=float, default=20.0, help="timed training seconds per task")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's, one per core)")
    parser.add_argument("--no-fused-gru", action="store_true", help="run PyTorch's GRU, not the fused kernel")
    parser.add_argument("--compile", action="store_true", help="measure the model through torch.compile")
    args = parser.parse_args()
    with kernels.enabled(not args.no_fused_gru):
        run(args)


def run(args: argparse.Namespace) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()

    peak = matmul_peak(device)
    results: dict = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or "cpu",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "fused_gru": kernels.usable(torch.empty(0, device=device)),
        "compiled": args.compile,
        "matmul_peak_gflops": peak,
    }
    qa1 = load_babi([1], "10k", "train", args.data_dir)
    qa3 = load_babi([3], "1k", "train", args.data_dir)
    for name, examples in (("qa1-10k", qa1), ("qa3", qa3)):
        r = train_throughput(examples, device, args.seconds, args.compile)
        r["gflops"] = r["examples_per_s"] * r["flops_per_example"] / 1e9
        r["share_of_matmul_peak"] = r["gflops"] / peak
        results[f"train_{name}"] = r
    test = load_babi([1], "10k", "test", args.data_dir)
    results["inference_qa1"] = inference(test, device, questions=500, compile=args.compile)
    results["peak_memory_mb"] = (
        torch.cuda.max_memory_allocated() / 2**20
        if device.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )

    print(f"device: {results['device']} ({device}, {results['threads']} threads), torch {results['torch']}")
    print(f"GRU recurrences: {'the fused kernel (dmn/kernels)' if results['fused_gru'] else 'PyTorch'}")
    if args.compile:
        seconds = [results[k]["compile_seconds"] for k in ("train_qa1-10k", "train_qa3", "inference_qa1")]
        print("torch.compile (dynamic shapes), untimed compilation: {:.0f} s, {:.0f} s and {:.0f} s".format(*seconds))
    print(f"float32 matmul peak: {peak:.0f} GFLOP/s")
    for name in ("qa1-10k", "qa3"):
        r = results[f"train_{name}"]
        print(
            f"training {name:<8} DMN+ h{HIDDEN} x{PASSES} passes, batch {BATCH}: "
            f"{r['examples_per_s']:,.0f} examples/s  ({r['mean_facts']:.1f} facts/story, "
            f"{r['gflops']:.1f} GFLOP/s = {r['share_of_matmul_peak']:.1%} of peak)"
        )
    i = results["inference_qa1"]
    print(
        f"one task-1 question, forward: median {i['latency_median_ms']:.2f} ms, p90 {i['latency_p90_ms']:.2f} ms "
        f"({i['operations_per_question']:.0f} PyTorch operations on average)"
    )
    print(f"batched inference (batch 500): {i['batched_examples_per_s']:,.0f} questions/s")
    print(f"peak memory: {results['peak_memory_mb']:.0f} MB ({'GPU' if device.type == 'cuda' else 'process RSS'})")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
