"""The GRU layer every module reads with, written out so that the episode can scale its steps by
the attention gate; on the CPU a sequence runs in the fused kernel of dmn/kernels."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import nn

from dmn import kernels


class GRU(nn.Module):
    """A GRU layer, written out so that the episode can scale its steps by the attention gate.

        r_t = sigmoid(W_r x_t + U_r h_{t-1} + b_r)
        z_t = sigmoid(W_z x_t + U_z h_{t-1} + b_z)          (left out when update_gate=False)
        h~_t = tanh(W_n x_t + r_t * (U_n h_{t-1} + b_Un) + b_n)
        h_t = (1 - z_t) * h~_t + z_t * h_{t-1}                 (h~_t when update_gate=False)

    A step is so small that the number of operations, not their arithmetic, sets its time. So the
    input projections W x of all steps are one matrix product, and a sequence (`forward`) is one
    operation: the fused kernel of dmn/kernels on the CPU, else PyTorch's GRU kernel, or where
    that cannot serve (a gated episode on the GPU) `stepper`, five fused operations a step.
    """

    def __init__(self, input_size: int, hidden: int, update_gate: bool = True) -> None:
        super().__init__()
        self.hidden = hidden
        self.update_gate = update_gate
        n_gates = 3 if update_gate else 2
        self.W = nn.Linear(input_size, n_gates * hidden)
        self.U = nn.Linear(hidden, n_gates * hidden)

    def _apply(self, fn: Callable, recurse: bool = True) -> GRU:
        """After a move to the GPU, lay W, U and their biases out in one buffer, the layout
        cuDNN's GRU reads, as nn.GRU's flatten_parameters does: else torch.gru copies them into
        one at every call, and warns that it does. The parameters stay the same objects."""
        module = super()._apply(fn, recurse)
        weights = [self.W.weight, self.U.weight, self.W.bias, self.U.bias]
        if (
            self.update_gate
            and all(w.is_cuda and torch.backends.cudnn.is_acceptable(w) for w in weights)
            and torch._use_cudnn_rnn_flatten_weight()
        ):
            import torch.backends.cudnn.rnn as cudnn_rnn

            mode = cudnn_rnn.get_cudnn_mode("GRU")
            with torch.cuda.device_of(weights[0]), torch.no_grad():
                # weights, their count, input size, mode, H, projection, layers, batch first, bidirectional
                torch._cudnn_rnn_flatten_weight(weights, 4, self.W.in_features, mode, self.hidden, 0, 1, True, False)
        return module

    def split(self, Wx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """W x + b [..., n_gates*H] -> (W_rz x + b_rz [..., (n_gates-1)*H], W_n x + b_n [..., H]),
        with U's r and z biases folded into the first: the stepper's input."""
        H = self.hidden
        return Wx[..., :-H] + self.U.bias[:-H], Wx[..., -H:]

    def stepper(self) -> Callable[[tuple[torch.Tensor, torch.Tensor], torch.Tensor], torch.Tensor]:
        """step(Wx_t, h): one step from a projected input (`split`, one time step, [B, .]) and
        the state h [B, H]. Make it once per sequence: it holds U split and transposed."""
        H = self.hidden
        U_rz, U_n = self.U.weight[:-H].t().contiguous(), self.U.weight[-H:].t().contiguous()
        b_Un = self.U.bias[-H:]

        def step(Wx: tuple[torch.Tensor, torch.Tensor], h: torch.Tensor) -> torch.Tensor:
            Wx_rz, Wx_n = Wx
            gates = torch.sigmoid(torch.addmm(Wx_rz, h, U_rz))  # [r, z], or r alone
            r = gates[:, :H] if self.update_gate else gates
            h_tilde = torch.tanh(torch.addcmul(Wx_n, r, torch.addmm(b_Un, h, U_n)))
            return torch.lerp(h_tilde, h, gates[:, H:]) if self.update_gate else h_tilde

        return step

    def forward(
        self,
        x: torch.Tensor,
        h0: torch.Tensor | None = None,
        gate: torch.Tensor | None = None,
        Wx: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """x [B, T, input] -> the state after every step [B, T, H], from h0 [B, H] (default 0).

        gate [B, T] scales every step, h_t = g_t * GRU(x_t, h_{t-1}) + (1 - g_t) * h_{t-1} (the
        DMN's episode). Wx: the caller's W x + b [B, T, n_gates*H], which saves projecting x again.
        Runs the fused kernel on the CPU; else PyTorch's own GRU kernel (torch.gru, which lays out
        W and U as we do) for a plain GRU, or the `stepper`'s five operations a step.
        """
        if h0 is None:
            h0 = x.new_zeros(x.size(0), self.hidden)
        if kernels.usable(x):
            return kernels.gru_sequence(self.W(x) if Wx is None else Wx, self.U.weight, self.U.bias, h0, gate)
        if gate is None and self.update_gate:
            weights = (self.W.weight, self.U.weight, self.W.bias, self.U.bias)
            return torch.gru(x, h0.unsqueeze(0), weights, True, 1, 0.0, self.training, False, True)[0]
        step, h, states = self.stepper(), h0, []
        gates = gate.unsqueeze(-1).unbind(1) if gate is not None else [None] * x.size(1)
        for Wx_t, g_t in zip(_steps(self.split(self.W(x) if Wx is None else Wx)), gates, strict=True):
            h = step(Wx_t, h) if g_t is None else torch.lerp(h, step(Wx_t, h), g_t)
            states.append(h)
        return torch.stack(states, 1)


def _steps(projected: tuple[torch.Tensor, torch.Tensor]) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """A projected sequence ([B, T, .] twice) -> its time steps. unbind, not [:, t]: its backward
    is one stack, not T scatters."""
    return zip(*(part.unbind(1) for part in projected), strict=True)
