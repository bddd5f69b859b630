import itertools
import string

import pytest
import torch

from dmn.data import PAD, UNK, Example, Vocab, make_batch
from dmn.ensemble import Ensemble
from dmn.model import DMN, VARIANTS, DMNConfig, InputModule
from dmn.train import adam

STORIES = [
    Example(
        [["mary", "went", "to", "the", "kitchen"], ["john", "went", "to", "the", "garden"]],
        ["where", "is", "mary"],
        ["kitchen"],
        [0],
    ),
    Example([["john", "went", "to", "the", "garden"]], ["where", "is", "john"], ["garden"], [0]),
    Example(
        [
            ["mary", "got", "the", "apple"],
            ["mary", "got", "the", "milk"],
            ["john", "went", "to", "the", "kitchen"],
        ],
        ["what", "is", "mary", "carrying"],
        ["apple", "milk"],
        [0, 1],
    ),
]
ALL_PARTS = [
    dict(VARIANTS["dmn"]),
    dict(VARIANTS["dmn+"]),
    {**VARIANTS["dmn"], "input_module": "fusion"},
    {**VARIANTS["dmn"], "gate": "softmax"},
    {**VARIANTS["dmn"], "episode": "attention_gru"},
    {**VARIANTS["dmn"], "episode": "softmax"},
    {**VARIANTS["dmn"], "memory_update": "relu"},
]


def build(parts: dict, hidden: int = 16, passes: int = 3, seed: int = 0):
    vocab = Vocab.build(STORIES)
    torch.manual_seed(seed)
    config = DMNConfig(
        len(vocab.words),
        len(vocab.answers),
        hidden=hidden,
        passes=passes,
        max_answer_len=3,
        dropout=0.0,
        **parts,
    )
    return DMN(config), vocab, make_batch(STORIES, vocab, max_facts=50)


@pytest.mark.parametrize("parts", ALL_PARTS, ids=lambda p: "-".join(p.values()))
def test_shapes_and_masked_gates(parts):
    model, vocab, batch = build(parts)
    out = model.eval()(batch)
    assert out.logits.shape == (3, 3, len(vocab.answers))
    assert out.gates.shape == (3, 3, 3)  # batch x pass x fact
    padding = ~batch.fact_mask.unsqueeze(1).expand_as(out.gates)
    assert (out.gates[padding] == 0).all()
    if model.config.gates_sum_to_one:
        torch.testing.assert_close(out.gates.sum(-1), torch.ones(3, 3))
    else:
        assert ((out.gates >= 0) & (out.gates <= 1)).all()


def test_padding_does_not_change_a_story_s_answer():
    """The same story alone and in a batch padded to longer stories gives the same output."""
    for parts in (VARIANTS["dmn"], VARIANTS["dmn+"]):
        model, vocab, batch = build(parts)
        model.eval()
        alone = model(make_batch(STORIES[1:2], vocab, 50))
        torch.testing.assert_close(model(batch).logits[1], alone.logits[0])
        torch.testing.assert_close(model(batch).gates[1, :, :1], alone.gates[0])


CUDA = pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here"))


@pytest.mark.parametrize("device", ["cpu", CUDA])
@pytest.mark.parametrize("parts", [VARIANTS["dmn"], VARIANTS["dmn+"], {**VARIANTS["dmn"], "episode": "softmax"}],
                         ids=["dmn", "dmn+", "dmn-softmax-episode"])  # fmt: skip
def test_tiny_model_overfits_a_batch(parts, device):
    """With the training loop's optimiser (fused Adam), on the CPU and where there is one the GPU."""
    model, vocab, batch = build(parts, hidden=24)
    model, batch = model.to(device), batch.to(device)
    optimizer = adam(model, lr=0.01)
    for _ in range(150):
        loss = model.loss(model(batch), batch, gate_weight=1.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05
    out = model.eval()(batch)
    assert out.logits.argmax(-1)[2, :3].tolist() == [vocab.answer_index[w] for w in ("apple", "milk", "<eos>")]
    # gate supervision: pass 1 attends to the first supporting fact, pass 2 to the second
    assert out.gates[2, 0].argmax() == 0 and out.gates[2, 1].argmax() == 1


def test_passes_can_be_changed_where_the_memory_update_is_tied():
    model, _, batch = build(VARIANTS["dmn"])
    assert model(batch, passes=5).gates.shape[1] == 5
    untied, _, batch = build(VARIANTS["dmn+"])
    assert untied(batch, passes=2).gates.shape[1] == 2
    with pytest.raises(ValueError, match="untied passes"):
        untied(batch, passes=4)


def test_config_rejects_unknown_parts():
    with pytest.raises(ValueError, match="gate must be one of"):
        DMNConfig(10, 5, gate="tanh")
    with pytest.raises(ValueError, match="unknown model settings"):
        DMNConfig.from_dict({"vocab_size": 10, "answer_size": 5, "colour": "red"})
    assert DMNConfig(10, 5, **VARIANTS["dmn+"]).variant == "dmn+"
    assert DMNConfig(10, 5, **ALL_PARTS[2]).variant == "custom"


def test_positional_encoding_is_the_paper_s_weighted_sum():
    """f_i = sum_j l_j * L[w_ij] with l_jd = (1 - j/M) - (d/D)(1 - 2j/M), written out word by word."""
    torch.manual_seed(0)
    L = torch.nn.Embedding(30, 8, padding_idx=0)
    words = torch.randint(1, 30, (2, 3, 5))
    words[0, 1, 2:] = 0  # a two-word sentence
    words[1, 2, :] = 0  # a padding fact
    module = InputModule(DMNConfig(30, 3, hidden=8, **VARIANTS["dmn+"]))
    f = module.fuse(words, L)
    D = L.embedding_dim
    expected = torch.zeros(2, 3, D)
    for b, i in itertools.product(range(2), range(3)):
        sentence = [w for w in words[b, i].tolist() if w]
        M = len(sentence)
        for j, w in enumerate(sentence, 1):
            l_j = torch.tensor([(1 - j / M) - (d / D) * (1 - 2 * j / M) for d in range(1, D + 1)])
            expected[b, i] += l_j * L.weight[w].detach()
    torch.testing.assert_close(f, expected)
    assert f[1, 2].abs().sum() == 0
    f.sum().backward()
    assert L.weight.grad[0].abs().sum() == 0  # padding gets no gradient


@pytest.mark.parametrize("positional", [True, False])
def test_a_one_word_fact_is_its_word_vector_without_positional_weights(positional):
    """For one word (M = 1) the positional weights are l_d = d/D; --no-positional-encoding drops them."""
    torch.manual_seed(0)
    config = DMNConfig(12, 3, hidden=8, fact_unit="word", positional_encoding=positional, **VARIANTS["dmn+"])
    model = DMN(config)
    example = Example([["a"], ["b"], ["c"]], ["q"], ["x"])
    batch = make_batch([example], Vocab.build([example]), 10, word_facts=True)
    read = []
    model.input_module.forward_gru.register_forward_hook(lambda module, args, out: read.append(args[0]))
    model(batch)
    e = model.embedding(batch.facts[:, :, 0])  # [1, 3, D]
    weights = torch.arange(1, 9) / 8 if positional else torch.ones(8)
    torch.testing.assert_close(read[0], e * weights)


def tagger(vocab: Vocab, chars: bool, hidden: int = 16) -> DMN:
    torch.manual_seed(0)
    config = DMNConfig(
        len(vocab.words),
        len(vocab.answers),
        hidden=hidden,
        passes=1,
        max_answer_len=4,
        embed=8,
        fact_unit="word",
        answer_mode="tags",
        dropout=0.0,
        char_vocab_size=len(vocab.chars) if chars else 0,
        **VARIANTS["dmn+"],
    )
    return DMN(config)


def test_character_features_tag_words_never_seen_by_their_spelling():
    """Every word below is unknown to the vocabulary (one <unk> id), so only the spelling tells
    -ed from -ly: with character features a tiny tagger learns that and tags new words right."""
    seen = Vocab.build([Example([["the"]], ["tags"], ["DT"]), Example([["x"]], ["tags"], ["VBD", "RB"])])
    vocab = Vocab(seen.words, seen.answers, lowercase=False, chars=[PAD, UNK, *string.ascii_lowercase])
    words = ["walked", "slowly", "quickly", "jumped", "talked", "badly", "sadly", "kicked"]  # both orders
    tags = ["VBD" if w.endswith("ed") else "RB" for w in words]
    train = [Example([[w] for w in words[i : i + 2]], ["tags"], tags[i : i + 2]) for i in range(0, 8, 2)]
    batch = make_batch(train, vocab, 50, word_facts=True, tagging=True)
    assert batch.chars.shape == (4, 2, 1, 7) and (batch.facts == vocab.word_index[UNK]).all()
    accuracy = {}
    for chars in (True, False):
        model = tagger(vocab, chars)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
        for _ in range(100):
            loss = model.loss(model(batch), batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        unseen = [
            Example([["hopped"], ["gladly"]], ["tags"], ["VBD", "RB"]),
            Example([["gladly"], ["hopped"]], ["tags"], ["RB", "VBD"]),
        ]
        new = make_batch(unseen, vocab, 50, word_facts=True, tagging=True)
        predicted = model.eval()(new).logits[..., 1:].argmax(-1) + 1
        accuracy[chars] = (predicted == new.answer).float().mean().item()
    assert accuracy == {True: 1.0, False: 0.5}  # without spelling, both sentences are <unk> <unk>


def test_character_cnn_ignores_padding_and_needs_the_fusion_input():
    vocab = Vocab.build([Example([["ab"], ["c"]], ["tags"], ["X", "Y"])], lowercase=False, chars=True)
    model = tagger(vocab, chars=True)
    chars = torch.tensor([[[1, 2, 0], [3, 0, 0], [0, 0, 0]]])  # two words and a padding word
    spelled = model.input_module.spelling(chars)
    assert spelled.shape == (1, 3, 8) and spelled[0, 2].abs().sum() == 0
    longer = torch.tensor([[[1, 2, 0, 0, 0]]])  # more padding changes nothing
    torch.testing.assert_close(model.input_module.spelling(longer)[0, 0], spelled[0, 0])
    with pytest.raises(ValueError, match="character features need the fusion input module"):
        DMNConfig(10, 5, char_vocab_size=4, **VARIANTS["dmn"])


def test_positional_encoding_is_refused_outside_the_fusion_input_module():
    with pytest.raises(ValueError, match="positional encoding is a setting of the fusion input module"):
        DMNConfig(10, 5, positional_encoding=False, **VARIANTS["dmn"])


def test_an_ensemble_averages_its_members_probabilities_and_gates():
    members = [build(VARIANTS["dmn+"], seed=seed)[0].eval() for seed in (0, 1, 2)]
    _, _, batch = build(VARIANTS["dmn+"])
    ensemble = Ensemble(members)
    out = ensemble(batch)
    outputs = [member(batch) for member in members]
    mean_probabilities = torch.stack([o.logits.softmax(-1) for o in outputs]).mean(0)
    torch.testing.assert_close(out.logits.softmax(-1), mean_probabilities)
    torch.testing.assert_close(out.gates, torch.stack([o.gates for o in outputs]).mean(0))
    torch.testing.assert_close(out.gates.sum(-1), torch.ones(3, 3))  # still a distribution over the facts
    assert (out.gates[~batch.fact_mask.unsqueeze(1).expand_as(out.gates)] == 0).all()
    assert ensemble.max_passes == members[0].max_passes == 3
    with pytest.raises(ValueError, match="share one model configuration"):
        Ensemble([members[0], build(VARIANTS["dmn+"], hidden=8)[0]])


def test_the_softmax_gate_loss_scores_sigmoid_gates_as_one_distribution_over_the_facts():
    model, vocab, batch = build(VARIANTS["dmn"])
    gates = torch.full((3, 3, batch.fact_mask.size(1)), 0.1)
    gates[:, 0, 0], gates[:, 1, 1] = 0.9, 0.9  # each pass's supporting fact (where the example has one)
    gates = gates * batch.fact_mask.unsqueeze(1)
    output = model(batch)._replace(gates=gates)
    answer_only = model.loss(output, batch)
    Z = torch.logit(gates, eps=1e-6).masked_fill(~batch.fact_mask.unsqueeze(1), float("-inf"))
    log_p = Z.log_softmax(-1)
    # the supervised passes: pass 1 of every example (fact 0), pass 2 of the third (fact 1)
    expected = -torch.stack([log_p[0, 0, 0], log_p[1, 0, 0], log_p[2, 0, 0], log_p[2, 1, 1]]).mean()
    softmax = model.loss(output, batch, gate_weight=1.0, gate_loss="softmax")
    torch.testing.assert_close(softmax - answer_only, expected)
    assert model.loss(output, batch, gate_weight=1.0, gate_loss="bce") > answer_only  # the per-fact loss differs
    with pytest.raises(ValueError, match="gate_loss"):
        model.loss(output, batch, gate_weight=1.0, gate_loss="hinge")


def test_the_softmax_episode_sums_the_facts_weighted_by_one_softmax_of_the_sigmoid_gate_s_scores():
    """e = sum_t softmax_t(Z_t) c_t, Z the DMN gate before its sigmoid: the same gate network,
    whose sigmoid g gives softmax(Z) = (g / (1 - g)) / sum (g / (1 - g)) over the story's facts."""
    soft, _, batch = build({**VARIANTS["dmn"], "episode": "softmax"})
    sigmoid, _, _ = build(VARIANTS["dmn"])
    assert not any(name.startswith("memory.episode_gru") for name, _ in soft.named_parameters())
    sigmoid.load_state_dict(soft.state_dict(), strict=False)  # all but the episode GRU, which soft lacks
    soft.eval(), sigmoid.eval()
    c = soft.input_module(batch, soft.embedding)  # [B, F, H]
    q = soft.question_module(batch, soft.embedding)  # [B, H]
    m, gates = soft.memory(c, q, batch.fact_mask, passes=1)
    g = sigmoid.memory(c, q, batch.fact_mask, passes=1)[1].double()
    odds = (g / (1 - g)) * batch.fact_mask.unsqueeze(1)
    torch.testing.assert_close(gates.double(), odds / odds.sum(-1, keepdim=True))
    e = (gates[:, 0].unsqueeze(-1) * c).sum(1)  # [B, H]
    torch.testing.assert_close(m, soft.memory.memory_gru(e.unsqueeze(1), q)[:, 0])
