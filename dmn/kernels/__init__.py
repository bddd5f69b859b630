"""Fused CPU kernels for the DMN's recurrences (gru.cpp), compiled once per machine on first use.

`gru_sequence` runs a whole GRU sequence, optionally scaled step by step by an attention gate,
as one autograd operation: forward and backward are loops in C++ instead of a dozen PyTorch
operations a step. Where no C++ compiler is found (or DMN_FUSED_GRU=0), `available()` is False and
the model runs the same equations in PyTorch (dmn/model.py), which is also what the tests check
the kernel against.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

_lock = threading.Lock()
_state: dict[str, bool] = {"on": True}
_building = threading.Event()  # set while `build_in_background` builds the kernel


def usable(x: torch.Tensor) -> bool:
    """Whether the fused kernel serves this input: a float32 CPU tensor, with the kernel on and built.
    While a background build runs, the answer is no (PyTorch's path serves) rather than a wait."""
    return _state["on"] and x.device.type == "cpu" and x.dtype == torch.float32 and _ready()


def _ready() -> bool:
    if "ok" in _state:
        return _state["ok"]
    return False if _building.is_set() else available()


def build_in_background() -> None:
    """Start building (or loading) the kernel in a thread, as a server does at start-up: until it
    is ready, `usable` says no, so no request waits for the compiler."""
    if "ok" in _state or _building.is_set():
        return
    _building.set()

    def build() -> None:
        try:
            available()
        finally:
            _building.clear()

    threading.Thread(target=build, name="dmn-kernel-build", daemon=True).start()


def is_on() -> bool:
    """Whether the kernel is switched on (see `enabled`); `usable` also checks that it can run."""
    return _state["on"]


@contextmanager
def enabled(on: bool) -> Iterator[None]:
    """Turn the fused kernel on or off inside the block (tests and benchmarks compare both paths)."""
    before, _state["on"] = _state["on"], on
    try:
        yield
    finally:
        _state["on"] = before


def available() -> bool:
    """Whether the fused GRU kernel can run here: compiling it on the first call (about 10 s)."""
    if "ok" not in _state:
        with _lock:
            if "ok" not in _state:
                _state["ok"] = os.environ.get("DMN_FUSED_GRU", "1") != "0" and _build()
    return _state["ok"]


def _build() -> bool:
    from torch.utils import cpp_extension

    notice = threading.Timer(1.0, print, ["dmn: compiling the fused GRU kernel, once per machine (about 10 s)..."])
    notice.kwargs = {"file": sys.stderr, "flush": True}
    notice.start()  # says so only when the build is not already there
    name = f"dmn_gru_{_cpu_tag()}"
    try:
        with _build_lock(Path(cpp_extension._get_build_directory(name, verbose=False))):
            cpp_extension.load(
                name=name,
                sources=[str(Path(__file__).with_name("gru.cpp"))],
                extra_cflags=["-O3", "-fopenmp-simd", "-march=native"],
                is_python_module=False,
            )
        _register_shapes()
        return True
    except Exception as error:  # no compiler, no ninja, or a failed build: PyTorch's GRU serves instead
        warnings.warn(f"the fused GRU kernel could not be built ({error}); using PyTorch's GRU", stacklevel=3)
        return False
    finally:
        notice.cancel()


@contextmanager
def _build_lock(build_directory: Path) -> Iterator[None]:
    """Hold an OS lock on the build folder while loading or building the kernel, and remove the
    lock file of a build that was killed midway (an app stopped while it compiled): PyTorch would
    wait on that file forever. The OS frees our lock when its process dies, so while we hold it no
    other build of ours runs and any PyTorch lock file is such a leftover."""
    try:
        import fcntl
    except ImportError:  # not POSIX: PyTorch's own lock file only
        yield
        return
    build_directory.mkdir(parents=True, exist_ok=True)
    with (build_directory / "dmn.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes or the process dies
        leftover = build_directory / "lock"
        if leftover.exists():
            print(f"dmn: removing {leftover}, left by a build that was stopped midway", file=sys.stderr)
            leftover.unlink(missing_ok=True)
        yield


def _cpu_tag() -> str:
    """A short hash of this CPU's model and features. The kernel is built for the CPU it runs on
    (-march=native), so a home folder shared by different machines keeps one build per CPU."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = "".join(next((line for line in lines if line.startswith(key)), "") for key in ("model name", "flags"))
    except OSError:
        cpu = platform.processor()
    return hashlib.sha256(f"{platform.machine()} {cpu}".encode()).hexdigest()[:10]


def _register_shapes() -> None:
    """The shapes the kernel's operations return, for torch.compile (train --compile) to trace them."""

    @torch.library.register_fake("dmn_gru::forward")
    def _(gi, U, b_hh, gate, h0):  # noqa: ANN001, ANN202
        B, T, GH = gi.shape
        return [gi.new_empty(T, B, U.shape[1]), gi.new_empty(T, B, GH), gi.new_empty(T, B, GH)]

    @torch.library.register_fake("dmn_gru::backward")
    def _(grad_states, U, gate, h0, states, acts, gh):  # noqa: ANN001, ANN202
        T, B, GH = acts.shape
        like = torch.empty_like
        return [acts.new_empty(B, T, GH), like(U), U.new_empty(GH), like(gate), like(h0)]


class _GRUSequence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, gi, U, b_hh, gate, h0):  # noqa: ANN001, ANN205
        states, acts, gh = torch.ops.dmn_gru.forward(gi, U, b_hh, gate, h0)
        ctx.save_for_backward(U, gate, h0, states, acts, gh)
        return states.transpose(0, 1)  # [B, T, H]

    @staticmethod
    def backward(ctx, grad_states):  # noqa: ANN001, ANN205
        U, gate, h0, states, acts, gh = ctx.saved_tensors
        d_gi, d_U, d_b, d_gate, d_h0 = torch.ops.dmn_gru.backward(grad_states, U, gate, h0, states, acts, gh)
        return d_gi, d_U, d_b, d_gate if gate.numel() else None, d_h0


def gru_sequence(
    gi: torch.Tensor, U: torch.Tensor, b_hh: torch.Tensor, h0: torch.Tensor, gate: torch.Tensor | None = None
) -> torch.Tensor:
    """gi = W x + b_ih [B, T, G*H], U [G*H, H], b_hh [G*H], h0 [B, H], gate [B, T] or None ->
    the states h_1..h_T [B, T, H]; G = 3 with an update gate, 2 without (see gru.cpp)."""
    inputs = (gi, U, b_hh, gi.new_empty(0) if gate is None else gate, h0)
    if torch.is_grad_enabled() and any(t.requires_grad for t in inputs):
        return _GRUSequence.apply(*inputs)
    return torch.ops.dmn_gru.forward(*inputs)[0].transpose(0, 1)  # no graph to record: skip autograd's wrapper
