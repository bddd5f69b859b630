"""Downloading the official datasets: pinned sha256, safe extraction. Each task family's module
(dmn/tasks) says what it fetches: bAbI v1.2, SST's trees, UD English EWT."""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple


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


def fetched(url: str, destination: Path, sha256: str) -> Path:
    """destination, downloaded from url first unless it is already there with the pinned sha256."""
    if not destination.is_file() or sha256_of(destination) != sha256:
        fetch(url, destination, sha256)
    return destination


def extract_members(archive: Path, members: dict[str, Path]) -> None:
    """Copy the named members of a zip archive to their destinations (each written whole, then
    renamed). Only these members are read, and where they land is ours, never the archive's."""
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        missing = sorted(set(members) - names)
        if missing:
            raise DownloadError(f"{archive}: no member {', '.join(missing)}")
        for name, destination in members.items():
            destination.parent.mkdir(parents=True, exist_ok=True)
            partial = destination.with_name(destination.name + ".part")
            with zf.open(name) as source, partial.open("wb") as out:
                shutil.copyfileobj(source, out)
            partial.replace(destination)


class Download(NamedTuple):
    name: str  # `python -m dmn download NAME`
    run: Callable[[Path], Path]  # data_dir -> the folder it filled
    title: str
    size: str  # about how much it fetches
    folder: Path  # where under the data folder the data is read from
