"""DMNs trained apart that answer together."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from dmn.data import Batch
from dmn.model import DMN, DMNOutput


class Ensemble(nn.Module):
    """DMNs of one configuration and vocabulary, trained apart, that answer together (the paper's
    ensemble for tagging): the answer probabilities and the gates of every pass are the members'
    means, so the gates of a pass still sum to 1 over the facts.

    With an answer_map the ensemble answers another task than its members: answer_map[i] is the
    ensemble's answer that member answer i counts towards, or None for one it drops; the mean
    probabilities are summed accordingly and renormalised (e.g. five sentiment classes read as two).
    """

    def __init__(self, members: Sequence[DMN], answer_map: Sequence[int | None] | None = None) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.config = members[0].config
        if any(member.config != self.config for member in members):
            raise ValueError("the members of an ensemble must share one model configuration")
        self.members = nn.ModuleList(members)
        self.answer_map = None if answer_map is None else list(answer_map)
        merge = None
        if self.answer_map is not None:
            if len(self.answer_map) != self.config.answer_size:
                raise ValueError(f"the answer map needs one entry per member answer ({self.config.answer_size})")
            kept = [(i, answer) for i, answer in enumerate(self.answer_map) if answer is not None]
            merge = torch.zeros(self.config.answer_size, 1 + max((answer for _, answer in kept), default=-1))
            for i, answer in kept:
                merge[i, answer] = 1.0  # [V members, V ensemble]
        self.register_buffer("merge", merge, persistent=False)

    @property
    def max_passes(self) -> int | None:
        return self.members[0].max_passes

    def combine(self, probabilities: Sequence[torch.Tensor]) -> torch.Tensor:
        """The ensemble's log-probabilities [B, A, V ensemble] from its members' answer
        probabilities (one [B, A, V] each): their mean, read through the answer map if there is one."""
        mean = torch.stack(list(probabilities)).mean(0)  # [B, A, V]
        tiny = torch.finfo(mean.dtype).tiny
        if self.merge is not None:
            mean = mean @ self.merge  # [B, A, V ensemble]
            mean = mean / mean.sum(-1, keepdim=True).clamp_min(tiny)
        return mean.clamp_min(tiny).log()

    def forward(self, batch: Batch, passes: int | None = None) -> DMNOutput:
        outputs = [member(batch, passes) for member in self.members]
        gates = torch.stack([out.gates for out in outputs]).mean(0)  # [B, P, F]
        return DMNOutput(self.combine([out.logits.softmax(-1) for out in outputs]), gates)
