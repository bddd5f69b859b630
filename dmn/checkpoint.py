"""Checkpoints: a directory of model.safetensors, config.json, vocab.json and metrics.json.

An ensemble (`Ensemble`) keeps each member's weights in a file of its own (model.safetensors,
model-2.safetensors, ...), named in config.json's "members"; one that answers another task than
its members also lists how their answers read as its own ("member_answers"). Weights are safetensors and
everything else is JSON, so loading never unpickles. A checkpoint is written into a temporary
directory beside its destination and renamed into place, so a crash never leaves a half-written
checkpoint.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from dmn.data import Vocab
from dmn.ensemble import Ensemble
from dmn.kinds import KINDS_FILE, WordKinds
from dmn.model import DMN, DMNConfig

FILES = ("model.safetensors", "config.json", "vocab.json", "metrics.json")
OPTIONAL_FILES = (KINDS_FILE,)  # a bAbI model's word kinds, for reading new names, places and objects
MEMBER_WEIGHTS = re.compile(r"model(-[0-9]+)?\.safetensors")  # the only weight file names a checkpoint may name


def is_checkpoint_file(name: str) -> bool:
    """Whether a file of this name belongs in a checkpoint: one of FILES, or an ensemble member's weights."""
    return name in FILES or name in OPTIONAL_FILES or MEMBER_WEIGHTS.fullmatch(name) is not None


class CheckpointError(ValueError):
    """A checkpoint that is missing, incomplete, corrupt or does not fit its configuration."""


@dataclass
class Checkpoint:
    model: DMN | Ensemble
    vocab: Vocab
    config: dict  # {"model": ..., "train": ..., "task": ..., ...}; an ensemble's "members" instead of "train"
    metrics: dict
    path: Path
    kinds: WordKinds | None = None  # bAbI: the word kinds of its training stories (kinds.json), if saved


@dataclass
class CheckpointInfo:
    """What a picker shows about a checkpoint, read from its JSON files only (no weights)."""

    path: Path
    name: str
    description: str
    task: str
    variant: str
    mean_accuracy: float | None  # mean test accuracy (0-1), None when not evaluated


def find_checkpoints(*folders: str | os.PathLike) -> list[CheckpointInfo]:
    """Every checkpoint directory directly inside the folders, sorted by name; broken ones skipped."""
    found = []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if not (path / "model.safetensors").exists():
                continue
            try:
                config = _read_json(path / "config.json")
                metrics = _read_json(path / "metrics.json") if (path / "metrics.json").exists() else {}
            except CheckpointError:
                continue
            mean = metrics.get("mean")
            found.append(
                CheckpointInfo(
                    path=path,
                    name=path.name,
                    description=str(config.get("description", "")),
                    task=str(config.get("task", "")),
                    variant=str(config.get("variant", "")),
                    mean_accuracy=float(mean) if isinstance(mean, int | float) else None,
                )
            )
    return found


def save_checkpoint(
    path: str | os.PathLike,
    model: DMN | Ensemble,
    vocab: Vocab,
    config: dict,
    metrics: dict,
    kinds: WordKinds | None = None,
) -> Path:
    """Write the checkpoint directory atomically (temporary directory, then rename). For an
    ensemble, config["members"] holds one dict per member, to which its weight file is added.
    `kinds` (bAbI) is written as kinds.json."""
    path = Path(path)
    members = list(model.members) if isinstance(model, Ensemble) else [model]
    weights = [FILES[0] if i == 0 else f"model-{i + 1}.safetensors" for i in range(len(members))]
    full_config = {**config, "model": model.config.to_dict()}
    if isinstance(model, Ensemble):
        if len(config.get("members", [])) != len(members):
            raise ValueError("an ensemble's config needs one entry in 'members' per member")
        described = zip(config["members"], weights, strict=True)
        full_config["members"] = [{**info, "weights": name} for info, name in described]
    with _written_atomically(path) as tmp:
        for name, member in zip(weights, members, strict=True):
            save_file({k: v.detach().cpu().contiguous() for k, v in member.state_dict().items()}, tmp / name)
        _write_json(tmp, {"config.json": full_config, "vocab.json": vocab.to_json(), "metrics.json": metrics})
        if kinds is not None:
            (tmp / KINDS_FILE).write_text(kinds.dumps(), encoding="utf-8")
    return path


@contextmanager
def _written_atomically(path: Path) -> Iterator[Path]:
    """A temporary directory beside `path` to fill; on success it becomes `path` in one rename
    (replacing what was there), on any failure it is removed and `path` is left as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        for item in tmp.rglob("*"):  # readable by all, like a folder made by hand (mkdtemp's is private)
            item.chmod(0o755 if item.is_dir() else 0o644)
        tmp.chmod(0o755)
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_json(folder: Path, files: dict[str, dict]) -> None:
    for name, data in files.items():
        (folder / name).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Collections: one checkpoint per task, kept together (the papers' one model per bAbI task)

COLLECTION_FILE = "collection.json"
MEMBER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # a member folder: a plain name inside the collection


@dataclass
class Collection:
    path: Path
    members: dict[str, Path]  # task ("babi:3") -> its checkpoint directory
    config: dict  # description, command, paper (the column to compare with), notes per task
    metrics: dict


def is_collection(path: str | os.PathLike) -> bool:
    return (Path(path) / COLLECTION_FILE).is_file()


def load_collection(path: str | os.PathLike) -> Collection:
    """Read a collection's JSON files (its members' checkpoints are loaded one by one by their user)."""
    path = Path(path)
    config = _read_json(path / COLLECTION_FILE)
    members = config.get("members")
    if not isinstance(members, dict) or not members:
        raise CheckpointError(f"{path}: collection.json needs 'members': {{task: folder}}")
    bad = [name for name in members.values() if not (isinstance(name, str) and MEMBER_NAME.fullmatch(name))]
    if bad:
        raise CheckpointError(f"{path}: collection members must be folders inside it, not {bad}")
    missing = [name for name in members.values() if not (path / name / FILES[0]).exists()]
    if missing:
        raise CheckpointError(f"{path}: missing member checkpoints {missing}")
    metrics = _read_json(path / "metrics.json") if (path / "metrics.json").exists() else {}
    return Collection(path, {task: path / name for task, name in members.items()}, config, metrics)


def save_collection(path: str | os.PathLike, sources: dict[str, Path], config: dict, metrics: dict) -> Path:
    """Write a collection atomically: each task's checkpoint (`sources`: task -> checkpoint
    directory) copied into a folder of its own, then collection.json (config and the members) and
    metrics.json."""
    path = Path(path)
    with _written_atomically(path) as tmp:
        members = {}
        for task, source in sources.items():
            name = task.replace(":", "")  # babi:3 -> babi3
            (tmp / name).mkdir()
            for file in Path(source).iterdir():
                if file.is_file() and is_checkpoint_file(file.name):
                    shutil.copy2(file, tmp / name / file.name)
            members[task] = name
        _write_json(tmp, {COLLECTION_FILE: {**config, "members": members}, "metrics.json": metrics})
    return path


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path.parent}: missing {path.name}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    return data


def load_checkpoint(path: str | os.PathLike, device: torch.device | str = "cpu") -> Checkpoint:
    """Load a checkpoint directory; any missing, truncated or mismatched file is a CheckpointError."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path}: no checkpoint directory there")
    config = _read_json(path / "config.json")
    try:
        vocab = Vocab.from_json(_read_json(path / "vocab.json"))
        model_config = DMNConfig.from_dict(config.get("model") or {})
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{path}: {err}") from None
    answer_map = _answer_map(config, vocab, path)
    if model_config.vocab_size != len(vocab.words) or model_config.answer_size != len(answer_map or vocab.answers):
        raise CheckpointError(f"{path}: vocab.json does not match the model's vocabulary sizes")
    metrics = _read_json(path / "metrics.json") if (path / "metrics.json").exists() else {}
    members = config.get("members")
    if members is None:
        model = _load_weights(path / FILES[0], model_config)
    else:
        listed = members if isinstance(members, list) else []
        names = [m.get("weights") if isinstance(m, dict) else None for m in listed]
        if not names or not all(isinstance(n, str) and MEMBER_WEIGHTS.fullmatch(n) for n in names):
            raise CheckpointError(f"{path}: config.json's members must each name a file model[-N].safetensors")
        model = Ensemble([_load_weights(path / name, model_config) for name in names], answer_map)
    model.to(device).eval()
    kinds = None
    if (path / KINDS_FILE).exists():
        try:
            kinds = WordKinds.from_json(_read_json(path / KINDS_FILE))
        except (TypeError, ValueError) as err:
            raise CheckpointError(f"{path}: {err}") from None
    return Checkpoint(model=model, vocab=vocab, config=config, metrics=metrics, path=path, kinds=kinds)


def _answer_map(config: dict, vocab: Vocab, path: Path) -> list[int | None] | None:
    """An ensemble that answers another task than its members (config.json's "member_answers": each
    member answer, in the members' order, with the answer it counts towards or null) as
    Ensemble's answer_map; None for any other checkpoint."""
    pairs = config.get("member_answers")
    if pairs is None:
        return None
    if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
        raise CheckpointError(f"{path}: config.json's member_answers must be [member answer, answer or null] pairs")
    if "members" not in config:
        raise CheckpointError(f"{path}: config.json has member_answers but no members: only an ensemble reads them")
    unknown = [answer for _, answer in pairs if answer is not None and answer not in vocab.answer_index]
    if unknown:
        raise CheckpointError(f"{path}: config.json's member_answers name answers outside vocab.json: {unknown}")
    return [None if answer is None else vocab.answer_index[answer] for _, answer in pairs]


def _load_weights(weights: Path, config: DMNConfig) -> DMN:
    """A DMN of this configuration with the weights of this safetensors file."""
    if not weights.exists():
        raise CheckpointError(f"{weights.parent}: missing {weights.name}")
    try:
        state = load_file(weights)
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"{weights}: unreadable or truncated ({err})") from None
    model = DMN(config)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(f"{weights}: weights do not fit config.json ({err})") from None
    return model
