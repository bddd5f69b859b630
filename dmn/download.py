"""Downloading the official dataset archives: pinned sha256, safe extraction."""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import tempfile
import urllib.request
from pathlib import Path

BABI_URL = "https://dl.fbaipublicfiles.com/babi/tasks_1-20_v1-2.tar.gz"
# sha256 and size of tasks_1-20_v1-2.tar.gz, as recorded for this archive by Hugging Face datasets
BABI_SHA256 = "0364ebde659f14d11bc21744516c5ec49d3d06cb692733f66680771244998898"
BABI_BYTES = 15_719_851


class DownloadError(RuntimeError):
    """A download that failed or whose content is not what was pinned."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def safe_extract(archive: Path, target: Path) -> None:
    """Extract a tar archive, refusing links, devices and any member that would land outside target."""
    target = target.resolve()
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        for member in members:
            destination = (target / member.name).resolve()
            if not destination.is_relative_to(target):
                raise DownloadError(f"{archive}: member {member.name!r} would land outside {target}")
            if not (member.isfile() or member.isdir()):
                raise DownloadError(f"{archive}: member {member.name!r} is not a plain file or folder")
        tar.extractall(target, members=members, filter="data")


def fetch(url: str, destination: Path, sha256: str) -> None:
    """Download url to destination and check its sha256; nothing is left behind on failure."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=destination.parent, delete=False, suffix=".part") as tmp:
        partial = Path(tmp.name)
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                shutil.copyfileobj(response, tmp)
        except OSError as err:
            partial.unlink(missing_ok=True)
            raise DownloadError(f"could not download {url}: {err}") from None
    actual = sha256_of(partial)
    if actual != sha256:
        partial.unlink(missing_ok=True)
        raise DownloadError(f"{url}: sha256 {actual} does not match the pinned {sha256}")
    partial.replace(destination)


def download_babi(data_dir: Path, url: str = BABI_URL, sha256: str = BABI_SHA256) -> Path:
    """Fetch and unpack bAbI v1.2 into data_dir/tasks_1-20_v1-2 (skipped when already there)."""
    target = data_dir / "tasks_1-20_v1-2"
    if (target / "en").is_dir():
        return target
    archive = data_dir / "tasks_1-20_v1-2.tar.gz"
    if not archive.exists() or sha256_of(archive) != sha256:
        fetch(url, archive, sha256)
    safe_extract(archive, data_dir)
    return target
