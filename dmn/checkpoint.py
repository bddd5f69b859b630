"""Checkpoints: a directory of model.safetensors, config.json, vocab.json and metrics.json.

An ensemble (`Ensemble`) keeps each member's weights in a file of its own (model.safetensors,
model-2.safetensors, ...), named in config.json's "members"; a member whose weights are already a
file of a sibling checkpoint names that file instead ("../sst-binary/model-2.safetensors", with its
sha256), so two shipped ensembles of the same models keep one copy. One that answers another task
than its members also lists how their answers read as its own ("member_answers"). Weights are safetensors and
everything else is JSON, so loading never unpickles. A checkpoint is written into a temporary
directory beside its destination and renamed into place, so a crash never leaves a half-written
checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from dmn.data import Vocab
from dmn.ensemble import Ensemble
from dmn.kinds import KINDS_FILE, WordKinds
from dmn.model import DMN, DMNConfig

FILES = ("model.safetensors", "config.json", "vocab.json", "metrics.json")
OPTIONAL_FILES = (KINDS_FILE,)  # a bAbI model's word kinds, for reading new names, places and objects
MEMBER_WEIGHTS = re.compile(r"model(-[0-9]+)?\.safetensors")  # the only weight file names a checkpoint may name
SHARED_WEIGHTS = re.compile(r"\.\./[A-Za-z0-9][A-Za-z0-9_.-]*/model(-[0-9]+)?\.safetensors")  # a sibling's member


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
            if not (path / "config.json").exists():
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
    share_with: Sequence[str | os.PathLike] = (),
) -> Path:
    """Write the checkpoint directory atomically (temporary directory, then rename). For an
    ensemble, config["members"] holds one dict per member, to which its weight file is added; a
    member whose weights are byte for byte a weight file of one of the `share_with` checkpoints
    that sit beside `path` names that file and its sha256 instead of a copy of its own. `kinds`
    (bAbI) is written as kinds.json."""
    path = Path(path)
    members = list(model.members) if isinstance(model, Ensemble) else [model]
    if share_with and not isinstance(model, Ensemble):
        raise ValueError("only an ensemble's members can share weight files with another checkpoint")
    shared = _sibling_weights(path, share_with)  # sha256 -> "../name/model-N.safetensors"
    blobs = [save({k: v.detach().cpu().contiguous() for k, v in member.state_dict().items()}) for member in members]
    entries = []
    for i, blob in enumerate(blobs):
        digest = hashlib.sha256(blob).hexdigest()
        own = _member_file(i)
        entries.append({"weights": shared[digest], "sha256": digest} if digest in shared else {"weights": own})
    full_config = {**config, "model": model.config.to_dict()}
    if isinstance(model, Ensemble):
        if len(config.get("members", [])) != len(members):
            raise ValueError("an ensemble's config needs one entry in 'members' per member")
        full_config["members"] = [{**info, **entry} for info, entry in zip(config["members"], entries, strict=True)]
    with _written_atomically(path) as tmp:
        for entry, blob in zip(entries, blobs, strict=True):
            if "sha256" not in entry:
                (tmp / entry["weights"]).write_bytes(blob)
        _write_json(tmp, {"config.json": full_config, "vocab.json": vocab.to_json(), "metrics.json": metrics})
        if kinds is not None:
            (tmp / KINDS_FILE).write_text(kinds.dumps(), encoding="utf-8")
    return path


def _member_file(i: int) -> str:
    """The weight file of an ensemble's i-th member (from 0): model.safetensors, model-2.safetensors, ..."""
    return FILES[0] if i == 0 else f"model-{i + 1}.safetensors"


def _sibling_weights(path: Path, checkpoints: Sequence[str | os.PathLike]) -> dict[str, str]:
    """sha256 -> "../name/file" for every weight file of those checkpoints that sit beside `path`
    (others, or ones not there, share nothing: the members are written in full)."""
    found = {}
    for other in map(Path, checkpoints):
        if other.resolve().parent != path.resolve().parent or other.name == path.name or not other.is_dir():
            continue
        for file in sorted(other.iterdir()):
            if MEMBER_WEIGHTS.fullmatch(file.name):
                found.setdefault(_sha256(file), f"../{other.name}/{file.name}")
    return found


def _sha256(file: Path) -> str:
    return hashlib.sha256(file.read_bytes()).hexdigest()


def checkpoint_files(path: str | os.PathLike) -> dict[str, Path | bytes]:
    """What a copy of this checkpoint on its own holds: file name -> the file to copy, or bytes. A
    member shared with a sibling checkpoint gets its own model-N.safetensors and config.json names it."""
    path = Path(path)
    files: dict[str, Path | bytes] = {
        file.name: file for file in sorted(path.iterdir()) if file.is_file() and is_checkpoint_file(file.name)
    }
    config = _read_json(path / "config.json")
    members = config.get("members")
    if not isinstance(members, list) or not any(isinstance(m, dict) and "sha256" in m for m in members):
        return files
    own = []
    for i, member in enumerate(members):
        if isinstance(member, dict) and "sha256" in member:
            name = _member_file(i)
            files[name] = _shared_file(path, member)
            member = {k: v for k, v in member.items() if k != "sha256"} | {"weights": name}
        own.append(member)
    files["config.json"] = (json.dumps({**config, "members": own}, indent=2) + "\n").encode("utf-8")
    return files


def _shared_file(path: Path, member: dict) -> Path:
    """The sibling's weight file a member names, checked against its sha256 (CheckpointError if changed)."""
    name = member.get("weights")
    if not isinstance(name, str) or not SHARED_WEIGHTS.fullmatch(name):
        raise CheckpointError(f"{path}: a shared member must name ../checkpoint/model[-N].safetensors, not {name!r}")
    file = path / name
    if not file.is_file():
        raise CheckpointError(f"{path}: missing {name} (this ensemble shares that checkpoint's weights)")
    if _sha256(file) != member["sha256"]:
        raise CheckpointError(f"{path}: {name} has changed since this ensemble was made (its sha256 differs)")
    return file


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
            for file_name, content in checkpoint_files(source).items():
                if isinstance(content, bytes):
                    (tmp / name / file_name).write_bytes(content)
                else:
                    shutil.copy2(content, tmp / name / file_name)
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
        if not listed or not all(isinstance(m, dict) and _names_weights(m) for m in listed):
            raise CheckpointError(f"{path}: config.json's members must each name a file model[-N].safetensors")
        files = [_shared_file(path, m) if "sha256" in m else path / m["weights"] for m in listed]
        model = Ensemble([_load_weights(file, model_config) for file in files], answer_map)
    model.to(device).eval()
    kinds = None
    if (path / KINDS_FILE).exists():
        try:
            kinds = WordKinds.from_json(_read_json(path / KINDS_FILE))
        except (TypeError, ValueError) as err:
            raise CheckpointError(f"{path}: {err}") from None
    return Checkpoint(model=model, vocab=vocab, config=config, metrics=metrics, path=path, kinds=kinds)


def _names_weights(member: dict) -> bool:
    """Whether an ensemble member names its own weight file, or a sibling's with its sha256."""
    name = member.get("weights")
    if not isinstance(name, str):
        return False
    if "sha256" in member:
        return SHARED_WEIGHTS.fullmatch(name) is not None and isinstance(member["sha256"], str)
    return MEMBER_WEIGHTS.fullmatch(name) is not None


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
