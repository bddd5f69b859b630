"""Where a training step's time goes, on qa1-10k with the benchmark's DMN+ settings (80 hidden,
3 passes, batch 100): the step split into forward, backward and Adam, the cost of one memory pass,
and the operations that take the most time.

    python bench/profile_step.py [--data-dir DIR] [--threads N] [--steps N]

Each figure is the mean over the same batches, after warm-up; run it twice, as the machine varies.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.profiler import profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_babi import BATCH, PASSES, build_model  # noqa: E402

from dmn.data import Batch, Vocab, batches  # noqa: E402
from dmn.tasks.babi import load_babi  # noqa: E402
from dmn.train import adam  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's, one per core)")
    parser.add_argument("--steps", type=int, default=100, help="batches timed for each figure")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    examples = load_babi([1], "10k", "train", args.data_dir)
    vocab = Vocab.build(examples)
    model = build_model(vocab, examples, torch.device("cpu"))
    optimizer = adam(model, lr=1e-3)
    data = list(batches(examples, vocab, BATCH, model.config.max_facts, torch.Generator().manual_seed(0)))
    data = data[: args.steps]

    def forward(batch: Batch, passes: int = PASSES) -> torch.Tensor:
        return model.loss(model(batch, passes), batch, gate_weight=1.0)

    def backward(batch: Batch, passes: int = PASSES) -> None:
        optimizer.zero_grad(set_to_none=True)
        forward(batch, passes).backward()

    def step(batch: Batch, passes: int = PASSES) -> None:
        backward(batch, passes)
        optimizer.step()

    def ms(run: Callable[[Batch], object]) -> float:
        start = time.perf_counter()
        for batch in data:
            run(batch)
        return (time.perf_counter() - start) / len(data) * 1e3

    for batch in data[:20]:  # warm-up
        step(batch)
    full, fwd, fwd_bwd = ms(step), ms(forward), ms(backward)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {len(data)} batches of {BATCH}")
    print(f"training step {full:.2f} ms: forward {fwd:.2f}, backward {fwd_bwd - fwd:.2f}, Adam {full - fwd_bwd:.2f}")
    by_passes = {p: ms(lambda b, p=p: step(b, p)) for p in (1, PASSES)}
    per_pass = (by_passes[PASSES] - by_passes[1]) / (PASSES - 1)
    print(f"one memory pass (gate, episode, memory update; forward and backward): {per_pass:.2f} ms")
    with profile() as prof:
        for batch in data[:20]:
            step(batch)
    print("operations by their own CPU time, over 20 steps (the profiler adds its own overhead):")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


if __name__ == "__main__":
    main()
