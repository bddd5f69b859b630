"""The fused GRU kernel (dmn/kernels) against the GRU's written-out equations, values and gradients."""

import subprocess
import sys
import threading
import time

import pytest
import torch

from dmn import kernels
from dmn.data import make_batch
from dmn.gru import GRU
from dmn.model import VARIANTS
from tests.test_model import STORIES, build

PATHS = ["pytorch", "fused"]


def _path(name: str):
    if name == "fused" and not kernels.available():
        pytest.skip("the fused GRU kernel could not be built here (no C++ compiler?)")
    return kernels.enabled(name == "fused")


def _written_out(gru: GRU, x: torch.Tensor, h0: torch.Tensor, gate: torch.Tensor | None) -> torch.Tensor:
    """The reference: the stepper's equations, one step at a time, each step scaled by the gate."""
    step, h, states = gru.stepper(), h0, []
    Wx = gru.split(gru.W(x))
    for t in range(x.size(1)):
        new = step((Wx[0][:, t], Wx[1][:, t]), h)
        h = new if gate is None else gate[:, t : t + 1] * new + (1 - gate[:, t : t + 1]) * h
        states.append(h)
    return torch.stack(states, 1)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("update_gate", [True, False])
@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize("batch", [3, 9, 40])  # U h: loops here for a few rows, BLAS for more, rows split over threads
def test_a_gru_sequence_follows_the_written_out_equations(path, update_gate, gated, batch):
    torch.manual_seed(0)
    gru = GRU(6, 5, update_gate=update_gate)
    with torch.no_grad():
        for p in gru.parameters():
            p.normal_()  # nonzero biases too, so that every term is checked
    x = torch.randn(batch, 4, 6, requires_grad=True)
    h0 = torch.randn(batch, 5, requires_grad=True)
    gate = torch.rand(batch, 4, requires_grad=True) if gated else None
    inputs = [x, h0, *gru.parameters(), *([gate] if gated else [])]
    expected = _written_out(gru, x, h0, gate)
    weights = torch.randn_like(expected)  # a loss that reaches every state differently
    expected_grads = torch.autograd.grad((expected * weights).sum(), inputs)
    with _path(path):
        states = gru(x, h0, gate=gate)
        grads = torch.autograd.grad((states * weights).sum(), inputs)
        with torch.no_grad():  # the kernel's path without autograd
            torch.testing.assert_close(gru(x, h0, gate=gate), expected)
    torch.testing.assert_close(states, expected)
    for got, want in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("variant", ["dmn", "dmn+"])
def test_the_model_is_the_same_with_and_without_the_fused_kernel(variant):
    """Answers, gates and every parameter's gradient agree, padding included."""
    model, _, batch = build(VARIANTS[variant])
    results = []
    for path in PATHS:
        with _path(path):
            model.zero_grad()
            output = model(batch)
            model.loss(output, batch, gate_weight=1.0).backward()
            results.append((output, [p.grad.clone() for p in model.parameters()]))
    (torch_output, torch_grads), (fused_output, fused_grads) = results
    torch.testing.assert_close(fused_output.logits, torch_output.logits)
    torch.testing.assert_close(fused_output.gates, torch_output.gates)
    for got, want in zip(fused_grads, torch_grads, strict=True):
        torch.testing.assert_close(got, want)


def test_the_kernel_serves_only_float32_cpu_tensors_and_can_be_switched_off():
    if not kernels.available():
        pytest.skip("the fused GRU kernel could not be built here")
    assert kernels.usable(torch.zeros(1))
    assert not kernels.usable(torch.zeros(1, dtype=torch.float64))
    with kernels.enabled(False):
        assert not kernels.usable(torch.zeros(1))
    assert kernels.usable(torch.zeros(1))


@pytest.mark.parametrize("batch", [3, 9])
def test_saturated_gates_stay_finite(batch):
    """Inputs far beyond where sigmoid and tanh saturate (the kernel clamps its rational tanh there)."""
    torch.manual_seed(0)
    gru = GRU(6, 5)
    x = 1000 * torch.randn(batch, 4, 6)
    with torch.no_grad(), _path("fused"):
        states = gru(x)
    with torch.no_grad(), _path("pytorch"):
        expected = gru(x)
    assert states.isfinite().all()
    torch.testing.assert_close(states, expected)


def test_a_compiled_training_step_matches_the_eager_one():
    """train --compile: torch.compile traces the model, the kernel included, as one graph with
    dynamic shapes; a batch of another size runs without tracing again."""
    if not kernels.available():
        pytest.skip("the fused GRU kernel could not be built here")
    import torch._dynamo

    model, vocab, _ = build(VARIANTS["dmn+"])
    batch = make_batch(STORIES[::2], vocab, 50)  # 2 stories of up to 3 facts of up to 5 words
    compiled = torch.compile(model, dynamic=True)
    results = []
    for forward in (model, compiled):
        model.zero_grad()
        model.loss(forward(batch), batch, gate_weight=1.0).backward()
        results.append([p.grad.clone() for p in model.parameters()])
    for got, want in zip(*results, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    other = make_batch(STORIES, vocab, 50)  # 3 stories
    torch.testing.assert_close(compiled(other).logits, model(other).logits, rtol=1e-4, atol=1e-5)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == graphs


def test_a_build_killed_midway_does_not_block_the_next_one(tmp_path):
    """PyTorch's lock file, left by a build that was killed, would make every later build wait
    forever; the next build removes it, under an OS lock that no other process holds meanwhile."""
    pytest.importorskip("fcntl")
    (tmp_path / "lock").write_text("")
    try_lock = "import fcntl, sys; fcntl.flock(open(sys.argv[1]), fcntl.LOCK_EX | fcntl.LOCK_NB)"
    other = [sys.executable, "-c", try_lock, str(tmp_path / "dmn.lock")]
    with kernels._build_lock(tmp_path):
        assert not (tmp_path / "lock").exists()
        assert subprocess.run(other, capture_output=True).returncode != 0  # another build waits
    assert subprocess.run(other, capture_output=True).returncode == 0


def test_a_background_build_lets_questions_run_on_pytorch_until_it_is_ready(monkeypatch):
    release, built = threading.Event(), threading.Event()

    def slow_build() -> bool:  # what `available` does on a machine without the kernel built
        release.wait(10)
        kernels._state["ok"] = True
        built.set()
        return True

    monkeypatch.setattr(kernels, "_state", {"on": True})
    monkeypatch.setattr(kernels, "available", slow_build)
    kernels.build_in_background()
    x = torch.zeros(2, 3)
    start = time.perf_counter()
    assert not kernels.usable(x)  # building: the PyTorch path serves at once
    assert time.perf_counter() - start < 1
    release.set()
    assert built.wait(10)
    assert kernels.usable(x)
