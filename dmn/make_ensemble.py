"""Making an ensemble checkpoint from trained SST or POS checkpoints (`python -m dmn ensemble`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timezone

from dmn.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from dmn.data import EOS, Vocab
from dmn.embeddings import add_pretrained_words, load_vectors
from dmn.ensemble import Ensemble
from dmn.evaluate import accuracy_by_task, accuracy_on_test_set, summary
from dmn.model import DMN
from dmn.settings import SETTINGS_KEY, EnsembleSpec
from dmn.tasks import answer_translation, family_of, load_task
from dmn.train import validation_set


def translated_answers(vocab: Vocab, member_task: str, task: str) -> tuple[Vocab, list[int | None], list[list[str]]]:
    """How models of `member_task` with this vocabulary answer `task` (`answer_translation`): the
    vocabulary with the task's answers, the answer map of `Ensemble`, and the pairs (member answer,
    the task's answer or None) that config.json records."""
    translation = answer_translation(member_task, task)
    task_vocab = replace(vocab, answers=[EOS, *sorted({a for a in translation.values() if a not in (None, EOS)})])
    pairs = [[answer, translation[answer]] for answer in vocab.answers]
    answer_map = [None if target is None else task_vocab.answer_index[target] for _, target in pairs]
    return task_vocab, answer_map, pairs


def check_ensemble_members(members: Sequence[Checkpoint]) -> None:
    """ValueError unless these checkpoints can answer together: SST or POS models, none an ensemble,
    of one task, one choice of held-out sentences, one vocabulary and one model configuration."""
    first = members[0]
    member_task = first.config.get("task", "")
    if not family_of(member_task).word_level:
        raise ValueError(
            f"ensembles are built of SST or POS models, which all validate on the dev set, not {member_task}"
        )
    for member in members:
        if isinstance(member.model, Ensemble):
            raise ValueError(f"{member.path} is an ensemble already: list its members instead")
        if member.config.get("task") != member_task:
            raise ValueError(f"{member.path} was trained on {member.config.get('task')}, {first.path} on {member_task}")
        if member.config.get("hold_out", 0) != first.config.get("hold_out", 0):
            raise ValueError(f"{member.path} held out other training sentences than {first.path} (--hold-out)")
        if member.vocab.to_json() != first.vocab.to_json():
            raise ValueError(f"{member.path} has another vocabulary than {first.path}")
        if member.model.config != first.model.config:
            raise ValueError(f"{member.path} has other model settings than {first.path}")


def with_pretrained_words(
    first: Checkpoint, models: list[DMN], embedding_vocab: int
) -> tuple[list[DMN], Vocab, dict[str, int]]:
    """The models of `first`'s vocabulary, that vocabulary, and what config.json records of it,
    with the `embedding_vocab` most frequent words of `first`'s pretrained vectors added
    (`add_pretrained_words`; 0: as they are)."""
    if not embedding_vocab:
        return models, first.vocab, {}
    source = first.config.get("embeddings")
    if not source:
        raise ValueError(f"{first.path} was trained without pretrained vectors: --embedding-vocab needs them")
    grown, vocab = add_pretrained_words(models, first.vocab, load_vectors(source, first.vocab, embedding_vocab))
    return grown, vocab, {"embedding_vocab": embedding_vocab, "words_added": len(vocab.words) - len(first.vocab.words)}


def build_ensemble(
    spec: EnsembleSpec, out: str | os.PathLike, data_dir: str | os.PathLike | None = None, command: str = ""
) -> dict:
    """Write to `out` the ensemble of `spec.members` (`Ensemble`: their answer probabilities
    averaged), measured on the dev set and on the test set; returns its metrics. The members must
    be sentiment models or taggers of one task with one vocabulary and one model configuration.
    `spec.task` (default: theirs) may name another task that their answers translate to
    (`answer_translation`: sst:fine models answering sst:binary). `spec.embedding_vocab` gives the
    N most frequent words of the members' pretrained vectors a place, read as those vectors
    (`add_pretrained_words`)."""
    spec = spec.checked()
    if not spec.members:
        raise ValueError("an ensemble needs at least one member checkpoint")
    paths, description, embedding_vocab = spec.members, spec.description, spec.embedding_vocab
    members = [load_checkpoint(path) for path in paths]
    check_ensemble_members(members)
    first = members[0]
    member_task = first.config["task"]
    validation = validation_set(first.config, first.metrics, data_dir)  # also checks they saw the whole dev set
    models, vocab, grown = with_pretrained_words(first, [member.model for member in members], embedding_vocab)
    task = spec.task or member_task
    answer_map, translated = None, {}
    if task != member_task:
        vocab, answer_map, pairs = translated_answers(vocab, member_task, task)
        translated = {"member_task": member_task, "member_answers": pairs}
        validation = load_task(task, "dev", data_dir=data_dir)
    model = Ensemble(models, answer_map)
    val_by_task = accuracy_by_task(model, vocab, validation)
    accuracy = accuracy_on_test_set(model, vocab, task, data_dir=data_dir)
    config = {
        "task": task,
        "size": first.config.get("size", "1k"),
        "variant": first.config.get("variant", ""),
        "description": description or f"{len(members)} models averaged ({task})",
        "question": first.config.get("question", ""),
        "embeddings": first.config.get("embeddings"),
        **({"hold_out": first.config["hold_out"]} if first.config.get("hold_out") else {}),
        **grown,
        "command": command,
        SETTINGS_KEY: spec.to_dict(),
        **translated,
        "members": [
            {
                "checkpoint": member.path.name,
                "command": member.config.get("command", ""),
                "validation_accuracy": member.metrics.get("validation_accuracy"),
                "test_accuracy": member.metrics.get("mean"),
                **({"revised": member.metrics["revised"]} if member.metrics.get("revised") else {}),
            }
            for member in members
        ],
    }
    metrics = {
        "test_accuracy": accuracy,
        **summary(accuracy),
        "validation_accuracy": sum(val_by_task.values()) / len(val_by_task),
        "members": len(members),
        "data": {"task": task, "size": config["size"], "validation_examples": len(validation)},
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "command": command,
    }
    save_checkpoint(out, model, vocab, config, metrics, share_with=spec.share_weights_with)
    return metrics
