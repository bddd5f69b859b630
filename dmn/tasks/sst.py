"""The Stanford Sentiment Treebank (Socher et al., 2013): a sentence's sentiment, in two classes
(sst:binary, neutral sentences dropped) or five (sst:fine). Every word of the sentence is a fact."""

from __future__ import annotations

import os
from collections.abc import Container
from pathlib import Path

from dmn.data import EOS, DataFormatError, Example, Tree, nonempty, parse_trees, read_lines, require
from dmn.download import Download, extract_members, fetched
from dmn.tasks import Request, TaskFamily

SENTIMENT_QUESTION = ["what", "is", "the", "sentiment"]


SST_FINE_LABELS = ["very-negative", "negative", "neutral", "positive", "very-positive"]


# The binary setting's label of each fine-grained one (labels 0-1 negative, 3-4 positive; neutral dropped).
SST_BINARY_OF_FINE = {
    "very-negative": "negative",
    "negative": "negative",
    "positive": "positive",
    "very-positive": "positive",
}


SST_DIR = Path("sst")  # where SST and EWT are read from, under the data folder


SST_SPLITS = {"train": "train.txt", "dev": "dev.txt", "test": "test.txt"}


def _sst_label(tree: Tree, setting: str, where: str) -> str | None:
    if tree.label not in {"0", "1", "2", "3", "4"}:
        raise DataFormatError(f"{where}: sentiment label {tree.label!r} is not 0-4")
    fine = SST_FINE_LABELS[int(tree.label)]
    return fine if setting == "fine" else SST_BINARY_OF_FINE.get(fine)


def parse_sst(
    path: str | os.PathLike, setting: str = "binary", phrases: bool = False, sentences: Container[int] | None = None
) -> list[Example]:
    """SST trees (one per line) as sentiment examples: every word is a fact, the answer the label.

    setting "binary" drops neutral sentences (label 2) and maps 0-1 to negative, 3-4 to positive;
    "fine" keeps the five classes. phrases=True adds every labelled phrase (the usual training
    protocol), each once. `sentences` reads only the trees of these numbers (0-based, in the
    file's order), and only their phrases.
    """
    if setting not in ("binary", "fine"):
        raise ValueError(f"SST setting is 'binary' or 'fine', not {setting!r}")
    path = Path(path)
    examples, seen = [], set()
    lines = [(lineno, line) for lineno, line in enumerate(read_lines(path), 1) if line.strip()]
    for number, (lineno, line) in enumerate(lines):
        if sentences is not None and number not in sentences:
            continue
        where = f"{path}, line {lineno}"
        trees = parse_trees(line, where)
        if len(trees) != 1:
            raise DataFormatError(f"{where}: expected one tree, found {len(trees)}")
        for node in trees[0].subtrees() if phrases else trees[:1]:
            label = _sst_label(node, setting, where)
            words = [leaf.word for leaf in node.leaves()]
            if label is None or (phrases and (tuple(words), label) in seen):
                continue
            seen.add((tuple(words), label))
            examples.append(Example([[w] for w in words], SENTIMENT_QUESTION, [label], task=f"sst:{setting}"))
    return nonempty(examples, path)


def read(request: Request) -> list[Example]:
    path = request.data_dir / SST_DIR / SST_SPLITS[request.split]
    require(path, "the Stanford Sentiment Treebank (trainDevTestTrees_PTB: train.txt, dev.txt, test.txt)", "sst")
    sentences = None
    if request.keep is not None:  # the numbers of the trees to read, of all the file's
        sentences = request.keep(sum(1 for line in read_lines(path) if line.strip()))
    return parse_sst(path, request.task.partition(":")[2], phrases=request.phrases, sentences=sentences)


# --------------------------------------------------------------------------------------------
# The download

SST_URL = "https://nlp.stanford.edu/sentiment/trainDevTestTrees_PTB.zip"

# sha256 of trainDevTestTrees_PTB.zip (789,539 bytes), as pinned for this archive by Flux.jl's
# sentiment treebank loader and by other projects' download pins
SST_SHA256 = "5c613a4f673fc74097d523a2c83f38e0cc462984d847b82c7aaf36b01cbbbfcc"


def download_sst(data_dir: Path, url: str = SST_URL, sha256: str = SST_SHA256) -> Path:
    """Fetch trainDevTestTrees_PTB.zip and put its train, dev and test trees in data_dir/sst
    (skipped when they are all there)."""
    target = data_dir / SST_DIR
    wanted = {f"trees/{name}": target / name for name in SST_SPLITS.values()}
    if all(path.is_file() for path in wanted.values()):
        return target
    extract_members(fetched(url, data_dir / "trainDevTestTrees_PTB.zip", sha256), wanted)
    return target


# --------------------------------------------------------------------------------------------
# The family

FINE_AS_BINARY = {EOS: EOS, **{fine: SST_BINARY_OF_FINE.get(fine) for fine in SST_FINE_LABELS}}

FAMILY = TaskFamily(
    name="sst", title="Sentiment (SST)", tasks="sst:binary, sst:fine",
    read=read, fact_unit="word", answer_mode="sequence", phrases=True,
    download=Download("sst", download_sst, "The Stanford Sentiment Treebank", "0.8 MB", SST_DIR), files=SST_SPLITS,
    paper={"sst:binary": 88.6, "sst:fine": 52.1},  # Kumar et al. (2016), test accuracy %
    translations={("sst:fine", "sst:binary"): FINE_AS_BINARY},
)  # fmt: skip
