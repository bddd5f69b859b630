"""Downloading the official datasets: pinned sha256, safe extraction.

babi  the bAbI v1.2 archive (Facebook), unpacked into DATA/tasks_1-20_v1-2
sst   the Stanford Sentiment Treebank's trainDevTestTrees_PTB.zip, its three tree files into DATA/sst
ewt   the Universal Dependencies English EWT files at a pinned commit, into DATA/pos/ud_english_ewt
"""

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

from dmn.data import EWT_DIR, SST_DIR, SST_SPLITS

BABI_URL = "https://dl.fbaipublicfiles.com/babi/tasks_1-20_v1-2.tar.gz"
# sha256 and size of tasks_1-20_v1-2.tar.gz, as recorded for this archive by Hugging Face datasets
BABI_SHA256 = "0364ebde659f14d11bc21744516c5ec49d3d06cb692733f66680771244998898"
BABI_BYTES = 15_719_851

SST_URL = "https://nlp.stanford.edu/sentiment/trainDevTestTrees_PTB.zip"
# sha256 of trainDevTestTrees_PTB.zip (789,539 bytes), as pinned for this archive by Flux.jl's
# sentiment treebank loader and by other projects' download pins
SST_SHA256 = "5c613a4f673fc74097d523a2c83f38e0cc462984d847b82c7aaf36b01cbbbfcc"

# UD_English-EWT as released in UD 2.16 (master, 2025-05-10); sha256 of each file at that commit
EWT_COMMIT = "15d613d8447b3478787d4c278730a1e48a945efb"
EWT_URL = f"https://raw.githubusercontent.com/UniversalDependencies/UD_English-EWT/{EWT_COMMIT}/{{name}}"
EWT_SHA256 = {
    "en_ewt-ud-train.conllu": "3fb78e2b55482c8ee00caa653af436c88c9e5bc9a73ce26e4ae3ddc79d2b7e7b",
    "en_ewt-ud-dev.conllu": "531a54ff90d6ab12201c5a50c3e78e6ddac4de69abc4bce5d275d3cd29efe2b6",
    "en_ewt-ud-test.conllu": "e266e515a0a7547657ed3d90d9ba46487d6bd251f27ad4269d4e8a427c8555cd",
    "LICENSE.txt": "b3d1b0f4c6ae151f7eb78738f46ebd5ee140f8a7f76501ba26af123140d35ae7",  # CC BY-SA 4.0
}


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


def download_babi(data_dir: Path, url: str = BABI_URL, sha256: str = BABI_SHA256) -> Path:
    """Fetch and unpack bAbI v1.2 into data_dir/tasks_1-20_v1-2 (skipped when already there)."""
    target = data_dir / "tasks_1-20_v1-2"
    if (target / "en").is_dir():
        return target
    safe_extract(fetched(url, data_dir / "tasks_1-20_v1-2.tar.gz", sha256), data_dir)
    return target


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


def download_sst(data_dir: Path, url: str = SST_URL, sha256: str = SST_SHA256) -> Path:
    """Fetch trainDevTestTrees_PTB.zip and put its train, dev and test trees in data_dir/sst
    (skipped when they are all there)."""
    target = data_dir / SST_DIR
    wanted = {f"trees/{name}": target / name for name in SST_SPLITS.values()}
    if all(path.is_file() for path in wanted.values()):
        return target
    extract_members(fetched(url, data_dir / "trainDevTestTrees_PTB.zip", sha256), wanted)
    return target


def download_ewt(data_dir: Path, url: str = EWT_URL, sha256: dict[str, str] = EWT_SHA256) -> Path:
    """Fetch UD English EWT's files (url has a {name} field) into data_dir/pos/ud_english_ewt,
    each checked against its pinned sha256 (files already there with it are kept)."""
    target = data_dir / EWT_DIR
    for name, digest in sha256.items():
        fetched(url.format(name=name), target / name, digest)
    return target


class Download(NamedTuple):
    run: Callable[[Path], Path]  # data_dir -> the folder it filled
    title: str
    size: str  # about how much it fetches
    folder: Path  # where under the data folder the data is read from


DOWNLOADS = {
    "babi": Download(download_babi, "bAbI v1.2", "16 MB", Path("babi") / "en"),
    "sst": Download(download_sst, "The Stanford Sentiment Treebank", "0.8 MB", SST_DIR),
    "ewt": Download(download_ewt, "Universal Dependencies English EWT", "18 MB", EWT_DIR),
}
