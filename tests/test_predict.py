from pathlib import Path

import pytest
import torch

from dmn.checkpoint import save_checkpoint
from dmn.model import VARIANTS
from dmn.predict import MAX_SENTENCES, InputError, Predictor, top_sequences
from tests.test_model import build


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    model, vocab, _ = build(VARIANTS["dmn"])
    path = save_checkpoint(tmp_path_factory.mktemp("ck") / "tiny", model, vocab, {"task": "babi:1"}, {})
    return Predictor.load(path, device="cpu")


def test_prediction_carries_answer_gates_and_facts(predictor):
    p = predictor.predict("Mary went to the kitchen.\nJohn went to the garden.", "Where is Mary?")
    assert p.facts == ["Mary went to the kitchen.", "John went to the garden."]
    assert len(p.gates) == 3 and all(len(g) == 2 for g in p.gates)
    assert len(p.top_answers) == 5 and p.top_answers[0] == (p.answer, p.confidence)
    assert 0 < p.confidence <= 1 and p.unknown_words == [] and p.dropped_facts == 0
    assert p.to_dict()["top_facts"] == p.top_facts


def test_unknown_words_are_reported_not_fatal(predictor):
    p = predictor.predict("Mary teleported to the moon.", "Where is Mary?")
    assert p.unknown_words == ["teleported", "moon"]
    assert p.answer is not None


def test_more_passes_on_a_tied_memory(predictor):
    assert len(predictor.predict("Mary went to the kitchen.", "Where is Mary?", passes=5).gates) == 5


@pytest.mark.parametrize(
    "story, question, message",
    [
        ("", "Where is Mary?", "story is empty"),
        ("  \n ... \n", "Where is Mary?", "story is empty"),
        ("Mary went home.", "  ?", "question is empty"),
        ("Mary went home.\n" * (MAX_SENTENCES + 1), "Where is Mary?", "too long"),
        ("Mary went home.", "Where is Mary?", None),
    ],
)
def test_bad_input_is_a_clear_error(predictor, story, question, message):
    if message is None:
        predictor.predict(story, question)
        return
    with pytest.raises(InputError, match=message):
        predictor.predict(story, question)


def test_top_sequences_is_exact_for_independent_steps():
    answers = ["<eos>", "a", "b"]
    probs = torch.tensor([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3], [1.0, 0.0, 0.0]])
    top = top_sequences(probs, answers, k=3)
    # "a" then end: 0.6 * 0.5; "a b" then end: 0.6 * 0.3 * 1.0; "b" then end: 0.3 * 0.5
    assert [w for w, _ in top] == [["a"], ["a", "b"], ["b"]]
    assert [round(p, 4) for _, p in top] == [0.3, 0.18, 0.15]


def test_importance_has_one_finite_number_per_fact():
    predictor = Predictor.load(Path(__file__).resolve().parents[1] / "checkpoints" / "babi-joint", device="cpu")
    two = predictor.predict("Mary went to the kitchen.\nJohn went to the garden.", "Where is Mary?")
    assert len(two.importance) == 2 and two.importance[0] > 0.5 and abs(two.importance[1]) < 0.05
    one = predictor.predict("Mary went to the kitchen.", "Where is Mary?")
    assert one.importance == [round(one.confidence, 6)]  # without its only fact nothing is left to answer from
