"""The model on a GPU: the CPU's answers, gates and gradients, training, checkpoints that move
between devices, and the shipped models' accuracy. Skipped where there is no CUDA device (CI has
none); `python -m pytest tests/test_cuda.py` on a GPU machine runs them (and test_model's
overfitting test runs there on the GPU too)."""

import copy

import pytest
import torch

from dmn.checkpoint import find_checkpoints, load_checkpoint
from dmn.data import Example, Vocab, make_batch
from dmn.evaluate import accuracy_on_test_set
from dmn.gru import GRU
from dmn.model import VARIANTS
from dmn.predict import Predictor
from dmn.train import adam
from tests.conftest import REPO
from tests.test_cli import run_cli
from tests.test_model import ALL_PARTS, STORIES, build, tagger

pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here"),
    # cuDNN's warning that it copies a GRU's weights into one buffer at every call (see GRU._apply)
    pytest.mark.filterwarnings("error:RNN module weights are not part of single contiguous chunk"),
]


def _outputs_and_grads(model, batch):
    model.zero_grad()
    output = model(batch)
    model.loss(output, batch, gate_weight=1.0).backward()
    return output, [p.grad for p in model.parameters()]


@pytest.mark.parametrize("parts", ALL_PARTS, ids=lambda p: "-".join(p.values()))
def test_the_model_on_the_gpu_computes_what_it_computes_on_the_cpu(parts):
    """Answers, gates and every gradient, padding included. TF32 is off here so that the check is
    of the equations (cuDNN's GRU, the stepper), not of TF32's rounding."""
    model, _, batch = build(parts)
    cpu_output, cpu_grads = _outputs_and_grads(model, batch)
    with torch.backends.cudnn.flags(allow_tf32=False):
        gpu_output, gpu_grads = _outputs_and_grads(copy.deepcopy(model).cuda(), batch.to("cuda"))
    torch.testing.assert_close(gpu_output.logits.cpu(), cpu_output.logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(gpu_output.gates.cpu(), cpu_output.gates, rtol=1e-4, atol=1e-5)
    for got, want in zip(gpu_grads, cpu_grads, strict=True):
        torch.testing.assert_close(got.cpu(), want, rtol=1e-3, atol=1e-5)


def test_the_tagger_with_character_features_on_the_gpu_computes_what_it_computes_on_the_cpu():
    sentences = [[word for fact in ex.context for word in fact] for ex in STORIES]
    examples = [Example([[w] for w in s], ["tags"], [w[0].upper() for w in s]) for s in sentences]
    vocab = Vocab.build(examples, chars=True)
    model = tagger(vocab, chars=True)
    batch = make_batch(examples, vocab, 50, word_facts=True, tagging=True)
    cpu_output, cpu_grads = _outputs_and_grads(model, batch)
    with torch.backends.cudnn.flags(allow_tf32=False):
        gpu_output, gpu_grads = _outputs_and_grads(copy.deepcopy(model).cuda(), batch.to("cuda"))
    torch.testing.assert_close(gpu_output.logits.cpu(), cpu_output.logits, rtol=1e-4, atol=1e-5)
    for got, want in zip(gpu_grads, cpu_grads, strict=True):
        torch.testing.assert_close(got.cpu(), want, rtol=1e-3, atol=1e-5)


def test_on_the_gpu_each_gru_s_weights_stay_one_buffer_through_training_and_loading():
    """GRU._apply lays them out as cuDNN reads them; steps and load_state_dict write in place."""
    model, _, batch = build(VARIANTS["dmn+"])
    model.cuda()
    grus = [m for m in model.modules() if isinstance(m, GRU) and m.update_gate]

    def one_buffer(gru: GRU) -> bool:
        return gru.W.weight.untyped_storage().data_ptr() == gru.U.bias.untyped_storage().data_ptr()

    assert grus and all(map(one_buffer, grus))
    optimizer = adam(model, lr=0.01)
    model.loss(model(batch.to("cuda")), batch.to("cuda"), gate_weight=1.0).backward()
    optimizer.step()
    model.load_state_dict(model.state_dict())
    assert all(map(one_buffer, grus))
    with torch.no_grad():
        on_gpu = model(batch.to("cuda")).logits.cpu()
        torch.testing.assert_close(on_gpu, model.cpu()(batch).logits, rtol=1e-2, atol=1e-3)


def test_train_on_the_gpu_then_eval_and_ask_on_either_device(data_dir, tmp_path):
    out = tmp_path / "gpu"
    common = ["--data-dir", str(data_dir)]
    trained = run_cli(
        "train", "--task", "babi:1", "--size", "1k", "--limit", "200", "--epochs", "3", "--hidden", "16",
        "--variant", "dmn+", "--gate-supervision", "--device", "cuda", "--out", str(out), *common,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert "on cuda" in trained.stdout and "contiguous chunk" not in trained.stderr
    gpu, cpu = load_checkpoint(out, "cuda"), load_checkpoint(out, "cpu")
    batch = make_batch(STORIES, cpu.vocab, cpu.model.config.max_facts)
    with torch.no_grad(), torch.backends.cudnn.flags(allow_tf32=False):
        torch.testing.assert_close(gpu.model(batch.to("cuda")).logits.cpu(), cpu.model(batch).logits)
    evaluated = run_cli("eval", "--checkpoint", str(out), "--device", "cuda", *common)
    assert evaluated.returncode == 0, evaluated.stderr
    assert f"{gpu.metrics['test_accuracy']['babi:1'] * 100:.1f}" in evaluated.stdout
    story = tmp_path / "story.txt"
    story.write_text("1 Mary went to the kitchen.\n2 John went to the garden.\n")
    for device in ("cuda", "cpu"):
        asked = run_cli("ask", "--checkpoint", str(out), "--story", str(story), "--question", "Where is Mary?",
                        "--device", device)  # fmt: skip
        assert asked.returncode == 0 and "answer:" in asked.stdout, asked.stderr


@pytest.mark.parametrize("info", find_checkpoints(REPO / "checkpoints"), ids=lambda c: c.name)
def test_a_shipped_checkpoint_on_the_gpu_scores_what_its_metrics_say(info, data_dir):
    """On the GPU, with PyTorch's defaults (TF32 in cuDNN), the test accuracy of every task is the
    CPU's (metrics.json, which test_shipped checks exactly) to within 0.3 points."""
    ckpt = load_checkpoint(info.path, "cuda")
    measured = accuracy_on_test_set(ckpt.model, ckpt.vocab, ckpt.config["task"], ckpt.config["size"], data_dir, "cuda")
    recorded = ckpt.metrics["test_accuracy"]
    assert measured.keys() == recorded.keys()
    for task, accuracy in measured.items():
        assert accuracy == pytest.approx(recorded[task], abs=0.003), task


def test_the_predictor_answers_on_the_gpu_as_on_the_cpu():
    story = "Mary moved to the bathroom.\nJohn went to the hallway.\nMary travelled to the office."
    gpu = Predictor.load(REPO / "checkpoints" / "babi-joint", device="auto").predict(story, "Where is Mary?")
    cpu = Predictor.load(REPO / "checkpoints" / "babi-joint", device="cpu").predict(story, "Where is Mary?")
    assert gpu.answer == cpu.answer == "office"
    assert gpu.confidence == pytest.approx(cpu.confidence, abs=1e-3)
    for gpu_pass, cpu_pass in zip(gpu.gates, cpu.gates, strict=True):
        assert gpu_pass == pytest.approx(cpu_pass, abs=1e-3)
