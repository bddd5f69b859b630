"""Part-of-speech tagging: UD English EWT (pos:ewt, its Penn Treebank tags) or the WSJ Penn
Treebank (pos:ptb, not downloadable). Every word is a fact and gets its own answer, its tag."""

from __future__ import annotations

import os
from pathlib import Path

from dmn.data import DataFormatError, Example, nonempty, parse_trees, read_lines, require
from dmn.download import Download, fetched
from dmn.tasks import Request, TaskFamily

TAGGING_QUESTION = ["what", "are", "the", "parts", "of", "speech"]


EWT_DIR = Path("pos") / "ud_english_ewt"


EWT_SPLITS = {"train": "en_ewt-ud-train.conllu", "dev": "en_ewt-ud-dev.conllu", "test": "en_ewt-ud-test.conllu"}


PTB_SECTIONS = {"train": range(0, 19), "dev": range(19, 22), "test": range(22, 25)}  # the usual WSJ split


def parse_ptb(path: str | os.PathLike, task: str = "pos:ptb") -> list[Example]:
    """Penn Treebank .mrg (parsed trees) or .pos (word/TAG) files as tagging examples."""
    path = Path(path)
    text = "\n".join(read_lines(path))
    sentences: list[list[tuple[str, str]]] = []
    if path.suffix == ".mrg":
        for tree in parse_trees(text, str(path)):
            leaves = [(leaf.word, leaf.label) for leaf in tree.leaves() if leaf.label != "-NONE-"]
            if leaves:
                sentences.append(leaves)
    else:  # .pos: word/TAG tokens, [ ] chunk brackets, sentences split by blank or ===== lines
        current: list[tuple[str, str]] = []
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.startswith("====="):
                if current:
                    sentences.append(current)
                current = []
                continue
            for token in line.split():
                if token in ("[", "]"):
                    continue
                word, slash, tag = token.rpartition("/")
                if not slash or not word or not tag:
                    raise DataFormatError(f"{path}, line {lineno}: expected word/TAG, got {token!r}")
                current.append((word.replace("\\/", "/"), tag.split("|")[0]))
        if current:
            sentences.append(current)
    examples = [Example([[w] for w, _ in s], TAGGING_QUESTION, [t for _, t in s], task=task) for s in sentences]
    return nonempty(examples, path)


def parse_conllu(path: str | os.PathLike, task: str = "pos:ewt") -> list[Example]:
    """A CoNLL-U file as tagging examples: the words (FORM) and their Penn Treebank tags (XPOS)."""
    path = Path(path)
    examples, words, tags = [], [], []
    for lineno, line in enumerate([*read_lines(path), ""], 1):
        if not line.strip():
            if words:
                examples.append(Example([[w] for w in words], TAGGING_QUESTION, tags, task=task))
            words, tags = [], []
            continue
        if line.startswith("#"):
            continue
        columns = line.split("\t")
        if len(columns) != 10:
            raise DataFormatError(f"{path}, line {lineno}: expected 10 tab-separated columns, found {len(columns)}")
        if "-" in columns[0] or "." in columns[0]:  # multi-word tokens and empty nodes carry no tag
            continue
        if not columns[0].isdigit():
            raise DataFormatError(f"{path}, line {lineno}: word id {columns[0]!r} is not a number")
        if columns[4] in ("", "_"):
            raise DataFormatError(f"{path}, line {lineno}: no XPOS tag for {columns[1]!r}")
        words.append(columns[1])
        tags.append(columns[4])
    return nonempty(examples, path)


def read(request: Request) -> list[Example]:
    if request.task == "pos:ewt":
        path = request.data_dir / EWT_DIR / EWT_SPLITS[request.split]
        require(path, "Universal Dependencies English EWT (en_ewt-ud-*.conllu)", "ewt")
        return request.kept(parse_conllu(path, request.task))
    if request.task != "pos:ptb":
        raise ValueError(f"unknown task {request.task!r}: use pos:ewt or pos:ptb")
    folder = request.data_dir / "pos" / "ptb"
    sections = [folder / f"{number:02d}" for number in PTB_SECTIONS[request.split]]
    files = sorted(f for section in sections for f in section.glob("*") if f.suffix in (".mrg", ".pos"))
    require(files[0] if files else folder / "00", "the WSJ Penn Treebank (sections 00-24 of .mrg or .pos files)")
    return request.kept([ex for f in files for ex in parse_ptb(f, request.task)])


# --------------------------------------------------------------------------------------------
# The download

# UD_English-EWT as released in UD 2.16 (master, 2025-05-10); sha256 of each file at that commit
EWT_COMMIT = "15d613d8447b3478787d4c278730a1e48a945efb"

EWT_URL = f"https://raw.githubusercontent.com/UniversalDependencies/UD_English-EWT/{EWT_COMMIT}/{{name}}"

EWT_SHA256 = {
    "en_ewt-ud-train.conllu": "3fb78e2b55482c8ee00caa653af436c88c9e5bc9a73ce26e4ae3ddc79d2b7e7b",
    "en_ewt-ud-dev.conllu": "531a54ff90d6ab12201c5a50c3e78e6ddac4de69abc4bce5d275d3cd29efe2b6",
    "en_ewt-ud-test.conllu": "e266e515a0a7547657ed3d90d9ba46487d6bd251f27ad4269d4e8a427c8555cd",
    "LICENSE.txt": "b3d1b0f4c6ae151f7eb78738f46ebd5ee140f8a7f76501ba26af123140d35ae7",  # CC BY-SA 4.0
}


def download_ewt(data_dir: Path, url: str = EWT_URL, sha256: dict[str, str] = EWT_SHA256) -> Path:
    """Fetch UD English EWT's files (url has a {name} field) into data_dir/pos/ud_english_ewt,
    each checked against its pinned sha256 (files already there with it are kept)."""
    target = data_dir / EWT_DIR
    for name, digest in sha256.items():
        fetched(url.format(name=name), target / name, digest)
    return target


# --------------------------------------------------------------------------------------------
# The family

FAMILY = TaskFamily(
    name="pos", title="Part of speech", tasks="pos:ewt, pos:ptb",
    read=read, fact_unit="word", answer_mode="tags",
    lowercase=False,  # a tagger keeps case ("US" is not "us")...
    case_fallback=True,  # ...but reads "Housing" as "housing" when only that is known
    download=Download("ewt", download_ewt, "Universal Dependencies English EWT", "18 MB", EWT_DIR), files=EWT_SPLITS,
    paper={"pos:ptb": 97.50, "pos:ewt": 97.50},  # Kumar et al. (2016), WSJ test accuracy %
)  # fmt: skip
