"""The Dynamic Memory Network (Kumar et al., 2016) and its DMN+ variant (Xiong et al., 2016).

Read top to bottom: configuration, the four modules (input, question, episodic memory, answer),
then the DMN that wires them together. Equations are named after the papers' notation.
Shapes: B batch, F facts, W words per fact, L story words, Q question words, H hidden units,
P memory passes, A answer steps, V answer vocabulary.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from dmn.data import Batch
from dmn.gru import GRU

# Switches that make up each named variant; every part can also be set on its own.
VARIANTS: dict[str, dict[str, str]] = {
    "dmn": {"input_module": "gru", "gate": "sigmoid", "episode": "gated_gru", "memory_update": "gru"},
    "dmn+": {
        "input_module": "fusion",
        "gate": "softmax",
        "episode": "attention_gru",
        "memory_update": "relu",
    },
}
# What each setting of DMNConfig may be; the parts above, and more.
CHOICES: dict[str, tuple[str, ...]] = {
    "fact_unit": ("sentence", "word"),
    "answer_mode": ("sequence", "tags"),
    "input_module": ("gru", "fusion"),
    "gate": ("sigmoid", "softmax"),
    "episode": ("gated_gru", "attention_gru", "softmax"),
    "memory_update": ("gru", "relu"),
}


@dataclass
class DMNConfig:
    vocab_size: int
    answer_size: int
    hidden: int = 80
    passes: int = 3
    max_answer_len: int = 4  # answer steps, the end-of-answer token included
    max_facts: int = 50  # only the story's last max_facts facts are read
    embed: int = 0  # word vector size (0: the hidden size); e.g. 50 for GloVe 6B 50d
    fact_unit: str = "sentence"  # "sentence": one fact per sentence (bAbI) | "word": every word a fact
    answer_mode: str = "sequence"  # "sequence": answer words until <eos> | "tags": one answer per fact
    input_module: str = "gru"  # "gru": word GRU, facts at sentence ends | "fusion": DMN+ PE + biGRU
    gate: str = "sigmoid"  # "sigmoid": 9 features, two-layer sigmoid | "softmax": DMN+ 4 features
    episode: str = "gated_gru"  # "gated_gru": h = g*GRU(c,h) + (1-g)*h | "attention_gru": DMN+ | "softmax"
    memory_update: str = "gru"  # "gru": m = GRU(e, m) | "relu": untied m = ReLU(W^t[m; e; q] + b)
    dropout: float = 0.1
    positional_encoding: bool = True  # "fusion": weigh a fact's words by position (False: their plain sum)
    char_vocab_size: int = 0  # > 0: each fact word's vector adds a character CNN's reading of its spelling
    char_embed: int = 16  # character vector size of that CNN

    def __post_init__(self) -> None:
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, not {getattr(self, name)!r}")
        if self.passes < 1 or self.hidden < 1 or self.max_answer_len < 1 or self.max_facts < 1:
            raise ValueError("passes, hidden, max_answer_len and max_facts must be positive")
        if self.char_vocab_size and self.input_module != "fusion":
            raise ValueError("character features need the fusion input module (DMN+), which reads facts word by word")
        if not self.positional_encoding and self.input_module != "fusion":
            raise ValueError("positional encoding is a setting of the fusion input module (DMN+); the GRU one has none")

    @classmethod
    def from_dict(cls, data: dict) -> DMNConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model settings: {sorted(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def embed_size(self) -> int:
        return self.embed or self.hidden

    @property
    def gates_sum_to_one(self) -> bool:
        """Whether each pass's gates are one softmax over the facts (DMN+'s gate, or the softmax
        episode) rather than one sigmoid per fact."""
        return self.gate == "softmax" or self.episode == "softmax"

    @property
    def layout(self) -> dict:
        """How make_batch must lay out this model's inputs."""
        return {
            "max_facts": self.max_facts,
            "word_facts": self.fact_unit == "word",
            "tagging": self.answer_mode == "tags",
        }

    @property
    def variant(self) -> str:
        """'dmn' or 'dmn+' when the switches match one of them, else 'custom'."""
        parts = {k: getattr(self, k) for k in VARIANTS["dmn"]}
        return next((name for name, v in VARIANTS.items() if v == parts), "custom")


class DMNOutput(NamedTuple):
    logits: torch.Tensor  # [B, A, V] answer word scores at every decoding step
    gates: torch.Tensor  # [B, P, F] attention gate of every fact at every pass, 0 on padding


def _masked_last(outputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """outputs [B, T, H] -> the output at position length-1 of each row, [B, H]."""
    index = (lengths - 1).clamp(min=0).view(-1, 1, 1).expand(-1, 1, outputs.size(-1))
    return outputs.gather(1, index).squeeze(1)


# --------------------------------------------------------------------------------------------
# Input module


class CharCNN(nn.Module):
    """A word's spelling -> a vector (character-level word features, as in dos Santos & Zadrozny
    2014): character vectors, a width-3 convolution, tanh, then the maximum over the characters."""

    def __init__(self, n_chars: int, char_embed: int, out: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(n_chars, char_embed, padding_idx=0)
        self.conv = nn.Conv1d(char_embed, out, kernel_size=3, padding=1)

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        """chars [..., C] (0 = padding) -> [..., out], zero for words that are all padding."""
        C = chars.size(-1)
        flat = chars.reshape(-1, C)  # [N, C]
        h = torch.tanh(self.conv(self.embedding(flat).transpose(1, 2)))  # [N, out, C]
        padding = (flat == 0).unsqueeze(1)  # [N, 1, C]
        h = h.masked_fill(padding, -1.0).amax(-1) * (~padding).any(-1)  # tanh >= -1: padding never wins
        return h.view(*chars.shape[:-1], -1)


class InputModule(nn.Module):
    """Story -> facts c_1..c_T.

    "gru" (DMN): h_t = GRU(L[w_t], h_{t-1}) over the whole story; c_i = h at the i-th <eos>.
    "fusion" (DMN+): f_i = sum_j l_j * L[w_ij] with l_jd = (1 - j/M) - (d/D)(1 - 2j/M),
    then a bidirectional GRU over f_1..f_T whose two directions are summed. Without
    positional_encoding f_i = sum_j L[w_ij] (for one-word facts l_d = d/D would scale the word's
    vector down in its first dimensions). With character features a word's vector is
    L[w] + CharCNN(spelling of w).
    """

    def __init__(self, config: DMNConfig) -> None:
        super().__init__()
        self.kind = config.input_module
        self.positional = config.positional_encoding
        self.forward_gru = GRU(config.embed_size, config.hidden)
        if self.kind == "fusion":
            self.backward_gru = GRU(config.embed_size, config.hidden)
        self.spelling = (
            CharCNN(config.char_vocab_size, config.char_embed, config.embed_size) if config.char_vocab_size else None
        )
        self.dropout = nn.Dropout(config.dropout)
        D = config.embed_size
        self.register_buffer("d_over_D", torch.arange(1, D + 1) / D, persistent=False)  # [D] for l_jd

    def forward(self, batch: Batch, L: nn.Embedding) -> torch.Tensor:
        """-> facts c [B, F, H], zero on padding. L is the word embedding shared with the question."""
        if self.kind == "gru":
            h = self.forward_gru(L(batch.story))  # [B, L, H]
            c = h.gather(1, batch.fact_ends.unsqueeze(-1).expand(-1, -1, h.size(-1)))
        else:
            f = self.fuse(batch.facts, L, batch.chars)  # [B, F, D]
            reverse = self._reversal(batch.fact_mask.sum(1), f.size(1)).unsqueeze(-1)  # [B, F, 1]
            backward = self.backward_gru(f.gather(1, reverse.expand_as(f)))  # read from the last fact
            c = self.forward_gru(f) + backward.gather(1, reverse.expand_as(backward))
        return self.dropout(c) * batch.fact_mask.unsqueeze(-1)

    def fuse(self, words: torch.Tensor, L: nn.Embedding, chars: torch.Tensor | None = None) -> torch.Tensor:
        """Each fact's word ids [B, F, W] (0 = padding) -> f [B, F, D], the positionally weighted sum
        of their vectors (or their plain sum); chars [B, F, W, C] feeds the character CNN.

        With l_jd = alpha_j + (d/D) * gamma_j, alpha_j = 1 - j/M, gamma_j = 2j/M - 1, the sum over
        words splits into two weighted sums: f_d = sum_j alpha_j e_jd + (d/D) sum_j gamma_j e_jd.
        Each is one embedding_bag over L, which never lays out the [B, F, W, D] word vectors.
        """
        B, n_facts, W = words.shape
        word_mask = words != 0
        spelling = self.spelling(chars) if self.spelling is not None else None  # [B, F, W, D]

        def weighted_sum(weights: torch.Tensor) -> torch.Tensor:  # weights [B, F, W] -> [B, F, D]
            s = F.embedding_bag(
                words.view(-1, W), L.weight, per_sample_weights=weights.view(-1, W), mode="sum", padding_idx=0
            ).view(B, n_facts, -1)
            return s if spelling is None else s + (weights.unsqueeze(-1) * spelling).sum(2)

        if not self.positional:
            return weighted_sum(word_mask.to(L.weight.dtype))
        alpha, gamma = self.positional_weights(word_mask.to(L.weight.dtype))
        return weighted_sum(alpha) + self.d_over_D * weighted_sum(gamma)

    @staticmethod
    def positional_weights(word_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """word_mask [B, F, W] (1.0 on words) -> alpha_j = 1 - j/M and gamma_j = 2j/M - 1 [B, F, W]
        (M words in the sentence), zero on padding: l_jd = alpha_j + (d/D) gamma_j."""
        M = word_mask.sum(-1, keepdim=True).clamp_(min=1)  # [B, F, 1] words per sentence
        j = torch.arange(1, word_mask.size(-1) + 1, dtype=word_mask.dtype, device=word_mask.device)  # [W]
        j_over_M = j / M * word_mask
        alpha = word_mask - j_over_M
        return alpha, j_over_M - alpha

    @staticmethod
    def _reversal(lengths: torch.Tensor, n_steps: int) -> torch.Tensor:
        """The gather index [B, F] that reverses each row's first `length` steps and leaves the
        padding at the end; applied twice it restores the order."""
        steps = torch.arange(n_steps, device=lengths.device).unsqueeze(0)  # [1, F]
        return (lengths.unsqueeze(1) - 1 - steps).where(steps < lengths.unsqueeze(1), steps)


# --------------------------------------------------------------------------------------------
# Question module


class QuestionModule(nn.Module):
    """q = the final hidden state of a GRU over the question words (embedding shared with input)."""

    def __init__(self, config: DMNConfig) -> None:
        super().__init__()
        self.gru = GRU(config.embed_size, config.hidden)

    def forward(self, batch: Batch, L: nn.Embedding) -> torch.Tensor:
        h = self.gru(L(batch.question))  # [B, Q, H]
        return _masked_last(h, batch.question_lengths)  # [B, H]


# --------------------------------------------------------------------------------------------
# Episodic memory module


class GatePrelude(NamedTuple):
    """What the gate computes once per question, for all passes (`AttentionGate.prepare`)."""

    W1_q_z: torch.Tensor  # [B, F, H] W1_q z_q + b1, the features without m
    cWb: torch.Tensor  # [B, F, H] c W_b for the bilinear m term ("sigmoid"), else c
    padding: torch.Tensor  # [B, F] True on padded facts


class AttentionGate(nn.Module):
    """g_t^i = G(c_t, m^{i-1}, q): how much fact t matters on pass i.

    "sigmoid" (DMN): z = [c, m, q, c*q, c*m, |c-q|, |c-m|, c^T W_b q, c^T W_b m],
        g = sigmoid(W2 tanh(W1 z + b1) + b2)
    "softmax" (DMN+): z = [c*q, c*m, |c-q|, |c-m|], Z = W2 tanh(W1 z + b1) + b2, g = softmax_t(Z)
    With the softmax episode the sigmoid gate's Z, before the sigmoid, is one softmax over the
    facts too: g = softmax_t(Z).

    W1 z is split into the features that involve m (W1_m, every pass) and those that do not
    (W1_q, computed once by `prepare` for all passes); the sum is the same W1 z.
    """

    def __init__(self, config: DMNConfig) -> None:
        super().__init__()
        self.kind = config.gate
        self.over_facts = config.gates_sum_to_one
        H = config.hidden
        sigmoid = self.kind == "sigmoid"
        if sigmoid:
            self.W_b = nn.Parameter(torch.empty(H, H))
        self.W1_q = nn.Linear(4 * H + 1 if sigmoid else 2 * H, H)  # [c, q, c*q, |c-q|, c W_b q]
        self.W1_m = nn.Linear(3 * H + 1 if sigmoid else 2 * H, H, bias=False)  # [m, c*m, |c-m|, c W_b m]
        self.W2 = nn.Linear(H, 1)

    def prepare(self, c: torch.Tensor, q: torch.Tensor, mask: torch.Tensor) -> GatePrelude:
        """The pass-independent part: W1_q z_q + b1 [B, F, H], c W_b (or c) for the m terms, and
        the padding [B, F] (mask [B, F] is True on real facts)."""
        q = q.unsqueeze(1).expand_as(c)
        if self.kind == "sigmoid":
            cWb = c @ self.W_b  # [B, F, H]
            z_q = [c, q, c * q, (c - q).abs(), (cWb * q).sum(-1, keepdim=True)]
            return GatePrelude(self.W1_q(torch.cat(z_q, -1)), cWb, ~mask)
        return GatePrelude(self.W1_q(torch.cat([c * q, (c - q).abs()], -1)), c, ~mask)

    def forward(self, c: torch.Tensor, m: torch.Tensor, prepared: GatePrelude) -> torch.Tensor:
        """c [B, F, H], m [B, H] -> gates [B, F], zero on padding."""
        m = m.unsqueeze(1)  # [B, 1, H], broadcast over the facts
        z_m = [c * m, (c - m).abs()]
        if self.kind == "sigmoid":
            z_m = [m.expand_as(c), *z_m, (prepared.cWb * m).sum(-1, keepdim=True)]
        Z = self.W2(torch.tanh(prepared.W1_q_z + self.W1_m(torch.cat(z_m, -1)))).squeeze(-1)  # [B, F]
        if not self.over_facts:
            return torch.sigmoid(Z).masked_fill(prepared.padding, 0.0)
        return torch.softmax(Z.masked_fill(prepared.padding, float("-inf")), dim=-1)


class EpisodicMemory(nn.Module):
    """For i = 1..P, starting from m^0 = q:

    gate     g^i = G(c, m^{i-1}, q)
    episode  h_t^i = g_t^i * GRU(c_t, h_{t-1}^i) + (1 - g_t^i) * h_{t-1}^i ;  e^i = h_T^i
             ("attention_gru", DMN+: the GRU without its update gate, whose role g_t^i takes)
             e^i = sum_t g_t^i c_t  ("softmax": the gates one softmax over the facts; the paper's
             variant for gate-supervised bAbI, which picks one sentence per pass)
    memory   m^i = GRU(e^i, m^{i-1})  ("gru", DMN, tied across passes)
             m^i = ReLU(W^i [m^{i-1}; e^i; q] + b^i)  ("relu", DMN+, untied per pass)

    Gates are zero on padded facts, so h_T^i is the state after the story's last fact.
    """

    def __init__(self, config: DMNConfig) -> None:
        super().__init__()
        H = config.hidden
        self.gate = AttentionGate(config)
        self.soft_episode = config.episode == "softmax"
        if not self.soft_episode:
            self.episode_gru = GRU(H, H, update_gate=config.episode == "gated_gru")
        self.kind = config.memory_update
        if self.kind == "gru":
            self.memory_gru = GRU(H, H)
        else:
            self.W_t = nn.ModuleList(nn.Linear(3 * H, H) for _ in range(config.passes))

    @property
    def max_passes(self) -> int | None:
        """Untied updates have one weight matrix per trained pass; the GRU update has no limit."""
        return None if self.kind == "gru" else len(self.W_t)

    def forward(
        self, c: torch.Tensor, q: torch.Tensor, mask: torch.Tensor, passes: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """c [B, F, H], q [B, H], mask [B, F] -> final memory m [B, H] and gates [B, P, F]."""
        prepared = self.gate.prepare(c, q, mask)
        if not self.soft_episode:
            Wc = self.episode_gru.W(c)  # W c_t + b for every fact, the same on every pass
            h0 = torch.zeros_like(q)
        m, gates = q, []
        for i in range(passes):
            g = self.gate(c, m, prepared)  # [B, F]
            if self.soft_episode:
                e = (g.unsqueeze(-1) * c).sum(1)  # [B, H]
            else:
                e = self.episode_gru(c, h0, gate=g, Wx=Wc)[:, -1]  # h_T: padded facts (g = 0) leave h as it was
            if self.kind == "gru":
                m = self.memory_gru(e.unsqueeze(1), m)[:, 0]
            else:
                m = F.relu(self.W_t[i](torch.cat([m, e, q], -1)))
            gates.append(g)
        return m, torch.stack(gates, 1)


# --------------------------------------------------------------------------------------------
# Answer module


class AnswerModule(nn.Module):
    """A GRU decoder started at a_0 = m: a_t = GRU([y_{t-1}, q], a_{t-1}), y_t = softmax(W_a a_t).

    y_0 is zero. For answers ("sequence") it emits max_answer_len steps, and the answer ends at
    the first end-of-answer token. For tagging ("tags") it is triggered at every word: step t
    reads that word's fact c_t in place of q and emits the word's tag.
    """

    def __init__(self, config: DMNConfig) -> None:
        super().__init__()
        self.gru = GRU(config.answer_size + config.hidden, config.hidden)
        self.W_a = nn.Linear(config.hidden, config.answer_size)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, m: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """m [B, H], inputs [B, A, H] (q at every step, or the facts c) -> logits [B, A, V]."""
        a = m
        y = m.new_zeros(m.size(0), self.W_a.out_features)
        logits = []
        for x in inputs.unbind(1):
            a = self.gru(torch.cat([y, x], -1).unsqueeze(1), a)[:, 0]
            logits.append(self.W_a(self.dropout(a)))
            y = torch.softmax(logits[-1], -1)
        return torch.stack(logits, 1)


# --------------------------------------------------------------------------------------------
# The DMN


class DMN(nn.Module):
    def __init__(self, config: DMNConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed_size, padding_idx=0)  # L
        self.input_module = InputModule(config)
        self.question_module = QuestionModule(config)
        self.memory = EpisodicMemory(config)
        self.answer_module = AnswerModule(config)
        self._init_weights()

    def _init_weights(self) -> None:
        """Xavier for matrices (reimplementers found training stuck without it), zero biases."""
        for name, p in self.named_parameters():
            if name in ("embedding.weight", "input_module.spelling.embedding.weight"):
                nn.init.uniform_(p, -0.1, 0.1)
                with torch.no_grad():
                    p[0].zero_()
            elif p.dim() >= 2:
                nn.init.xavier_uniform_(p)
            else:
                nn.init.zeros_(p)

    @property
    def max_passes(self) -> int | None:
        """The most passes this model can run (None: any number)."""
        return self.memory.max_passes

    def forward(self, batch: Batch, passes: int | None = None) -> DMNOutput:
        passes = passes or self.config.passes
        limit = self.max_passes
        if limit is not None and passes > limit:
            raise ValueError(f"this model was trained with {limit} untied passes; it cannot run {passes}")
        c = self.input_module(batch, self.embedding)  # [B, F, H] facts
        q = self.question_module(batch, self.embedding)  # [B, H]
        m, gates = self.memory(c, q, batch.fact_mask, passes)  # [B, H], [B, P, F]
        if self.config.answer_mode == "tags":
            logits = self.answer_module(m, c)  # [B, F, V]: one tag per fact
        else:
            logits = self.answer_module(m, q.unsqueeze(1).expand(-1, self.config.max_answer_len, -1))  # [B, A, V]
        return DMNOutput(logits, gates)

    def loss(self, output: DMNOutput, batch: Batch, gate_weight: float = 0.0, gate_loss: str = "bce") -> torch.Tensor:
        """Cross-entropy on the answer words, plus gate_weight times the cross-entropy of the
        gates of pass i against the i-th supporting fact (for the passes that have one).

        Gates that sum to one (DMN+'s, or with the softmax episode) are a distribution over the
        facts: -log g of the supporting fact.
        Sigmoid gates (DMN) are scored by gate_loss: "bce", each fact's gate against 0 or 1, the
        mean over the story's facts (the supporting fact weighs 1/F); "softmax", the gates'
        logits Z = log(g / (1 - g)) as one softmax over the facts, -log softmax(Z) of the
        supporting fact (the supporting fact weighs as much as all others together)."""
        answer_steps = batch.answer.size(1)
        if output.logits.size(1) < answer_steps:
            raise ValueError(f"answers of {answer_steps} steps need max_answer_len >= {answer_steps}")
        logits = output.logits[:, :answer_steps]
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch.answer.reshape(-1))
        if gate_weight <= 0:
            return loss
        passes = min(output.gates.size(1), batch.supporting.size(1))
        gates, target = output.gates[:, :passes], batch.supporting[:, :passes]  # [B, P, F], [B, P]
        has_target = target >= 0
        if not has_target.any():
            return loss
        target = target.clamp(min=0).unsqueeze(-1)
        if self.config.gates_sum_to_one:
            per_pass = -gates.gather(2, target).squeeze(-1).clamp(min=1e-8).log()  # [B, P]
        elif gate_loss == "softmax":  # the sigmoid gates' logits as one softmax over the facts
            Z = torch.logit(gates, eps=1e-6).masked_fill(~batch.fact_mask.unsqueeze(1), float("-inf"))
            per_pass = -Z.log_softmax(-1).gather(2, target).squeeze(-1)  # [B, P]
        elif gate_loss == "bce":  # independent sigmoid gates: binary cross-entropy over the story's facts
            one_hot = torch.zeros_like(gates).scatter_(2, target, 1.0)
            mask = batch.fact_mask.unsqueeze(1).float()
            bce = F.binary_cross_entropy(gates.clamp(1e-6, 1 - 1e-6), one_hot, reduction="none")
            per_pass = (bce * mask).sum(-1) / mask.sum(-1)
        else:
            raise ValueError(f"gate_loss must be 'bce' or 'softmax', not {gate_loss!r}")
        return loss + gate_weight * per_pass[has_target].mean()
