"""The user's own checkpoints on disk: safe folder names, atomic installs from hidden staging
folders, and checkpoint zips (a download of any listed checkpoint, a checked upload)."""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import time
import unicodedata
import zipfile
from pathlib import Path

from app import service
from app.limits import Limits, TrainError
from dmn.checkpoint import CheckpointError, checkpoint_files, is_checkpoint_file, load_checkpoint

NAME_MAX = 64
STAGING_PREFIXES = (".training-", ".upload-")
EVENTS = "events.jsonl"  # a training run's epoch log in its staging folder (see app.jobs)


def _clean_name(raw: str | None) -> str:
    text = unicodedata.normalize("NFKD", raw or "").encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", text)
    text = re.sub(r"-{2,}", "-", text)
    return text.lstrip(".-_")[:NAME_MAX].rstrip(".-")


def sanitize_name(raw: str | None, fallback: str = "my-model") -> str:
    """A checkpoint folder name: only [A-Za-z0-9._-], no leading dot or dash, at most NAME_MAX long.

    Accents are dropped ("Modèle" -> "Modele"), other characters become "-". A name with nothing
    left ("../..", "", "★") becomes `fallback` (itself sanitised).
    """
    return _clean_name(raw) or _clean_name(fallback) or "my-model"


def taken_names(user_dir: Path | None = None) -> set[str]:
    """Names already used: anything in the user directory, and the shipped checkpoints."""
    user_dir = user_dir or service.user_checkpoint_dir()
    names = set()
    for folder in (user_dir, service.SHIPPED_DIR):
        if folder.is_dir():
            names.update(p.name for p in folder.iterdir())
    return names


def free_name(name: str, user_dir: Path | None = None) -> str:
    """`name` when nobody uses it, else name-2, name-3, ... (an existing name is never replaced)."""
    taken = taken_names(user_dir)
    if name not in taken:
        return name
    for i in range(2, 10_000):
        suffix = f"-{i}"
        candidate = name[: NAME_MAX - len(suffix)].rstrip(".-") + suffix
        if candidate not in taken:
            return candidate
    raise TrainError(f"No free name left for {name!r}: choose another name.")


def inside(folder: Path, name: str) -> Path:
    """folder/name, refusing any name that would point outside folder (or at it)."""
    folder = folder.resolve()
    path = (folder / name).resolve()
    if path.parent != folder:
        raise TrainError(f"{name!r} is not a plain folder name")
    return path


def install(source: Path, name: str, user_dir: Path | None = None) -> str:
    """Move a complete checkpoint folder into the user directory under a free name; return the name.

    The name is reserved with mkdir (atomic: two installs cannot take the same one) and the folder
    renamed over the empty reservation, so the picker never sees half a checkpoint.
    """
    user_dir = user_dir or service.user_checkpoint_dir()
    user_dir.mkdir(parents=True, exist_ok=True)
    name = sanitize_name(name)
    for _ in range(100):
        final = free_name(name, user_dir)
        target = inside(user_dir, final)
        try:
            target.mkdir()
        except FileExistsError:
            continue  # taken meanwhile: try the next free name
        try:
            os.replace(source, target)
        except OSError:
            target.rmdir()
            raise
        return final
    raise TrainError(f"Could not find a free name for {name!r}.")


def staging_folder(kind: str, user_dir: Path | None = None) -> Path:
    """A new hidden work folder inside the user directory (same file system: renames are atomic).

    Hidden folders are never listed as checkpoints. Stale ones of crashed runs are removed here.
    """
    user_dir = user_dir or service.user_checkpoint_dir()
    user_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(user_dir)
    return Path(tempfile.mkdtemp(prefix=f".{kind}-", dir=user_dir))


def remove_stale_staging(user_dir: Path, older_than: float = 24 * 3600) -> None:
    """Remove work folders left by a crashed process (neither they nor their epoch log touched for a day)."""
    now = time.time()
    for path in user_dir.glob(".*"):
        if path.name.startswith(STAGING_PREFIXES) and path.is_dir():
            try:
                events = path / EVENTS
                touched = max(path.stat().st_mtime, events.stat().st_mtime if events.exists() else 0)
                if now - touched > older_than:
                    shutil.rmtree(path, ignore_errors=True)
            except OSError:
                pass


REQUIRED_FILES = ("model.safetensors", "config.json", "vocab.json")


IGNORED_MEMBERS = ("__MACOSX/", ".DS_Store")  # what macOS adds when it zips a folder


ZIP_ROOT = Path(tempfile.gettempdir()) / "dmn-downloads"


def zip_checkpoint(key: str, keep_seconds: float = 3600) -> Path:
    """A zip of a listed checkpoint of any task (name/model.safetensors, name/*.json) in a new temporary
    folder; CheckpointError for a key that names no listed checkpoint."""
    key, info = service.ALL_CHECKPOINTS.resolve(key)
    ZIP_ROOT.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in ZIP_ROOT.iterdir():  # zips of earlier downloads (Gradio has copied them to its cache)
        try:
            if now - old.stat().st_mtime > keep_seconds:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    folder = Path(tempfile.mkdtemp(dir=ZIP_ROOT))
    name = sanitize_name(info.name, "checkpoint")
    target = folder / f"{name}.zip"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file_name, content in checkpoint_files(info.path).items():
            if isinstance(content, bytes):
                archive.writestr(f"{name}/{file_name}", content)
            else:
                archive.write(content, f"{name}/{file_name}")
    return target


def _member_file(info: zipfile.ZipInfo, zip_name: str) -> tuple[str | None, str | None]:
    """(folder, file name) of a zip member, or TrainError for a name that is not allowed."""
    name = info.filename
    shown = name[:80]
    if "\\" in name or "\x00" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise TrainError(f"{zip_name}: the member {shown!r} has a name that is not allowed (an absolute path?).")
    parts = name.rstrip("/").split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise TrainError(f"{zip_name}: the member {shown!r} points outside its folder; nothing was installed.")
    if len(parts) > 2:
        raise TrainError(f"{zip_name}: {shown!r} is nested too deep; put the files at the top or in one folder.")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise TrainError(f"{zip_name}: {shown!r} is a symbolic link; links are not allowed.")
    if info.flag_bits & 0x1:
        raise TrainError(f"{zip_name}: {shown!r} is encrypted.")
    if info.is_dir():
        if len(parts) != 1:
            raise TrainError(f"{zip_name}: the folder {shown!r} is nested too deep.")
        return parts[0], None
    folder, file = (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])
    if not is_checkpoint_file(file):
        raise TrainError(
            f"{zip_name}: {shown!r} is not allowed. A checkpoint zip holds only model.safetensors (and an "
            "ensemble's model-2.safetensors, ...), config.json, vocab.json and metrics.json (weights as "
            "safetensors, never pickles such as .pt, .pth, .bin or .pkl)."
        )
    return folder, file


def install_checkpoint_zip(path: str | os.PathLike | None, limits: Limits | None = None) -> str:
    """Check an uploaded checkpoint zip, unpack it, load it, and add it to the user directory.

    Returns the installed name; TrainError with a message for anything wrong: not a zip, a member
    that is not model.safetensors or one of the JSON files, a name that would escape the folder, a
    link, too large (compressed or unpacked), or a checkpoint that does not load.
    """
    if not path:
        raise TrainError("Choose a .zip file of a checkpoint to upload.")
    limits = limits or Limits.from_env()
    path = Path(path)
    zip_name = upload_name(path)
    cap = limits.max_upload_bytes
    if cap and path.stat().st_size > cap:
        raise TrainError(f"{zip_name} is {path.stat().st_size / 2**20:.1f} MB; the limit is {limits.max_upload_mb} MB.")
    if not zipfile.is_zipfile(path):
        raise TrainError(f"{zip_name} is not a zip file. Upload a .zip made by this tab's Download button.")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError) as err:
        raise TrainError(f"{zip_name} is not a readable zip file ({err}).") from None
    with archive:
        infos = [i for i in archive.infolist() if not any(m in i.filename for m in IGNORED_MEMBERS)]
        if len(infos) > 16:
            raise TrainError(
                f"{zip_name} holds {len(infos)} entries; a checkpoint has 4 files (an ensemble one more per member)."
            )
        files: dict[str, zipfile.ZipInfo] = {}
        folders = set()
        for info in infos:
            folder, file = _member_file(info, zip_name)
            if folder is not None:
                folders.add(folder)
            if file is None:
                continue
            if file in files:
                raise TrainError(f"{zip_name}: {file} is in it twice.")
            files[file] = info
        if len(folders) > 1:
            raise TrainError(f"{zip_name}: the files are spread over several folders ({', '.join(sorted(folders))}).")
        missing = [f for f in REQUIRED_FILES if f not in files]
        if missing:
            needs = ", ".join(REQUIRED_FILES)
            raise TrainError(f"{zip_name}: missing {', '.join(missing)}; a checkpoint needs {needs}.")
        total = sum(i.file_size for i in files.values())
        if cap and total > cap:
            raise TrainError(f"{zip_name} unpacks to {total / 2**20:.1f} MB; the limit is {limits.max_upload_mb} MB.")
        staging = staging_folder("upload")
        try:
            written = 0
            for file, info in files.items():
                with archive.open(info) as source, (staging / file).open("wb") as target:
                    while block := source.read(1 << 20):
                        written += len(block)
                        if cap and written > cap:
                            raise TrainError(f"{zip_name} unpacks to more than {limits.max_upload_mb} MB.")
                        target.write(block)
            try:
                load_checkpoint(staging)
            except CheckpointError as err:
                message = str(err).replace(str(staging), zip_name)
                raise TrainError(f"{zip_name} is not a checkpoint this app can load: {message}") from None
            except Exception as err:  # noqa: BLE001 - torch/safetensors can raise other things on odd files
                raise TrainError(f"{zip_name} is not a checkpoint this app can load ({type(err).__name__}).") from None
            default = next(iter(folders)) if folders else Path(zip_name).stem
            return install(staging, sanitize_name(default, "uploaded"))
        except (zipfile.BadZipFile, EOFError, OSError) as err:
            raise TrainError(f"{zip_name} is damaged: {err}") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def upload_name(path: str | os.PathLike) -> str:
    """The name a user gave their file (Gradio keeps it as the upload's file name)."""
    return Path(path).name
