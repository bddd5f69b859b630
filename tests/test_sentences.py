"""Sentence tasks: SST trees, CoNLL-U and Penn Treebank readers, word-level facts, tagging, GloVe."""

import numpy as np
import pytest
import torch

from dmn.data import DataFormatError, Example, Vocab, make_batch, parse_trees, tokenize_sentence
from dmn.embeddings import add_pretrained_words, glove_text, initialise_embedding
from dmn.evaluate import accuracy_by_task, accuracy_by_word_kind
from dmn.model import DMN, VARIANTS, DMNConfig
from dmn.tasks import HELD_OUT, load_task
from dmn.tasks.pos import parse_conllu, parse_ptb
from dmn.tasks.sst import SST_FINE_LABELS, parse_sst
from tests.test_model import build


@pytest.mark.parametrize(
    "task, counts",
    [("sst:fine", (8544, 1101, 2210)), ("sst:binary", (6920, 872, 1821)), ("pos:ewt", (12544, 2001, 2077))],
)
def test_real_files_have_the_published_sizes(data_dir, task, counts):
    assert tuple(len(load_task(task, split, data_dir=data_dir)) for split in ("train", "dev", "test")) == counts


def test_every_word_is_a_fact_and_tagging_has_one_tag_per_word(data_dir):
    for ex in load_task("pos:ewt", "dev", data_dir=data_dir):
        assert all(len(fact) == 1 for fact in ex.context) and len(ex.answer) == len(ex.context)
    first = load_task("pos:ewt", "train", data_dir=data_dir)[0]  # "Al - Zaman : American forces killed ..."
    assert [f[0] for f in first.context[:4]] == ["Al", "-", "Zaman", ":"]
    assert first.answer[:4] == ["NNP", "HYPH", "NNP", ":"]


def test_sst_phrases_add_every_labelled_subtree_once(data_dir):
    sentences = load_task("sst:binary", "train", data_dir=data_dir)
    phrases = load_task("sst:binary", "train", data_dir=data_dir, phrases=True)
    assert len(phrases) > 10 * len(sentences)
    assert len({(tuple(f[0] for f in e.context), e.answer[0]) for e in phrases}) == len(phrases)


def words(ex: Example) -> str:
    return " ".join(fact[0] for fact in ex.context)


def test_held_out_training_sentences_leave_training_with_their_phrases(data_dir):
    held = load_task("sst:fine", HELD_OUT, data_dir=data_dir, hold_out=2000)
    kept = load_task("sst:fine", "train", data_dir=data_dir, hold_out=2000)
    assert (len(held), len(kept)) == (2000, 6544)
    every = load_task("sst:fine", "train", data_dir=data_dir)
    assert sorted(map(words, held + kept)) == sorted(map(words, every))
    assert held == load_task("sst:fine", HELD_OUT, data_dir=data_dir, hold_out=2000)  # one fixed choice
    binary = load_task("sst:binary", HELD_OUT, data_dir=data_dir, hold_out=2000)  # the same trees, neutral dropped
    assert len(binary) == sum(ex.answer != ["neutral"] for ex in held) == 1613
    assert {words(ex) for ex in binary} <= {words(ex) for ex in held}
    trained_on = {words(ex) for ex in load_task("sst:fine", "train", data_dir=data_dir, phrases=True, hold_out=2000)}
    assert sum(words(ex) in trained_on for ex in held) == 4  # only the 4 that a kept tree also holds as a phrase
    tagged = load_task("pos:ewt", HELD_OUT, data_dir=data_dir, hold_out=500)
    assert len(tagged) == 500 and len(load_task("pos:ewt", "train", data_dir=data_dir, hold_out=500)) == 12044
    for task, split, count, message in [
        ("babi:1", "train", 5, "only SST and POS hold training sentences out"),
        ("sst:fine", HELD_OUT, 0, "needs the number of training sentences held out"),
        ("sst:fine", "train", 8544, "takes 1 to 8,543 of the 8,544 training sentences, not 8544"),
    ]:
        with pytest.raises(ValueError, match=message):
            load_task(task, split, data_dir=data_dir, hold_out=count)


def test_tree_labels(tmp_path):
    path = tmp_path / "trees.txt"
    path.write_text("(3 (2 The) (4 (3 (2 film) (4 rocks)) (2 .)))\n(2 (2 It) (2 is))\n(0 (1 Bad) (0 !))\n")
    fine = parse_sst(path, "fine")
    assert [e.answer for e in fine] == [["positive"], ["neutral"], ["very-negative"]]
    assert [f[0] for f in fine[0].context] == ["The", "film", "rocks", "."]
    binary = parse_sst(path, "binary")  # the neutral sentence is dropped
    assert [e.answer for e in binary] == [["positive"], ["negative"]]
    phrases = parse_sst(path, "fine", phrases=True)
    pairs = [([f[0] for f in e.context], e.answer) for e in phrases]
    assert (["film", "rocks"], ["positive"]) in pairs and (["film", "rocks", "."], ["very-positive"]) in pairs
    assert set(SST_FINE_LABELS) >= {e.answer[0] for e in phrases}
    second = parse_sst(path, "fine", phrases=True, sentences={1})  # one tree and only its phrases
    assert sorted(map(words, second)) == ["It", "It is", "is"]


@pytest.mark.parametrize(
    "text, message",
    [("(3 (2 The) (4 rocks)\n", "not closed"), ("(3 (2 The)))\n", "unbalanced"), ("(7 (2 The))\n", "not 0-4")],
)
def test_malformed_trees_name_the_line(tmp_path, text, message):
    path = tmp_path / "bad.txt"
    path.write_text("(2 (2 fine) (2 .))\n" + text)
    with pytest.raises(DataFormatError, match=f"line 2.*{message}|line 2: {message}"):
        parse_sst(path, "fine")


def test_ptb_mrg_and_pos_files(tmp_path):
    mrg = tmp_path / "wsj_0001.mrg"
    mrg.write_text(
        "( (S (NP-SBJ (NNP Pierre) (NNP Vinken) ) (VP (MD will) (VP (VB join) (NP (DT the) (NN board) )))\n"
        "  (-NONE- *T*-1) (. .) ))\n( (S (NP (PRP It)) (VP (VBZ works)) (. .)) )\n"
    )
    pos = tmp_path / "wsj_0001.pos"
    pos.write_text(
        "======================================\n\n[ Pierre/NNP Vinken/NNP ]\n,/, will/MD join/VB\n"
        "[ the/DT board/NN ] 1\\/2/CD ./.\n\n======================================\n[ It/PRP ] works/VBZ ./.\n"
    )
    trees = parse_ptb(mrg)
    assert [f[0] for f in trees[0].context] == ["Pierre", "Vinken", "will", "join", "the", "board", "."]
    assert trees[0].answer == ["NNP", "NNP", "MD", "VB", "DT", "NN", "."]  # the -NONE- trace is left out
    tagged = parse_ptb(pos)
    assert len(tagged) == 2 and tagged[0].answer == ["NNP", "NNP", ",", "MD", "VB", "DT", "NN", "CD", "."]
    assert tagged[0].context[7] == ["1/2"]
    assert tagged[1].answer == ["PRP", "VBZ", "."]
    (tmp_path / "bad.pos").write_text("Pierre/NNP Vinken\n")
    with pytest.raises(DataFormatError, match="line 1: expected word/TAG"):
        parse_ptb(tmp_path / "bad.pos")


def test_conllu_skips_multiword_tokens_and_checks_columns(tmp_path):
    good = tmp_path / "good.conllu"
    good.write_text(
        "# text = Don't go.\n1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_\n1\tDo\tdo\tAUX\tVB\t_\t3\taux\t_\t_\n"
        "2\tn't\tnot\tPART\tRB\t_\t3\tadvmod\t_\t_\n3\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\t_\n"
        "4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_\n\n"
    )
    [ex] = parse_conllu(good)
    assert [f[0] for f in ex.context] == ["Do", "n't", "go", "."] and ex.answer == ["VB", "RB", "VB", "."]
    bad = tmp_path / "bad.conllu"
    bad.write_text("1\tDo\tdo\tAUX\tVB\t_\t3\n")
    with pytest.raises(DataFormatError, match="line 1: expected 10 tab-separated columns"):
        parse_conllu(bad)


def test_ptb_style_tokens():
    assert tokenize_sentence("It isn't bad at all, is it?") == [
        "It",
        "is",
        "n't",
        "bad",
        "at",
        "all",
        ",",
        "is",
        "it",
        "?",
    ]


def test_word_facts_and_tags_in_a_batch_and_a_tagger():
    examples = [
        Example([["The"], ["cat"], ["sat"]], ["what", "tags"], ["DT", "NN", "VBD"]),
        Example([["Dogs"], ["bark"]], ["what", "tags"], ["NNS", "VBP"]),
    ]
    vocab = Vocab.build(examples, lowercase=False)
    batch = make_batch(examples, vocab, max_facts=10, word_facts=True, tagging=True)
    assert batch.story.shape == (2, 3) and batch.fact_ends.tolist() == [[0, 1, 2], [0, 1, 0]]
    assert batch.answer.tolist()[1][2] == -100 and len(batch.answer[0]) == 3  # no end-of-answer token
    torch.manual_seed(0)
    config = DMNConfig(
        len(vocab.words),
        len(vocab.answers),
        hidden=16,
        passes=1,
        max_facts=10,
        fact_unit="word",
        answer_mode="tags",
        dropout=0.0,
        **VARIANTS["dmn"],
    )
    model = DMN(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(60):
        loss = model.loss(model(batch), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    predicted = model.eval()(batch).logits.argmax(-1)
    assert [vocab.answers[i] for i in predicted[0].tolist()] == ["DT", "NN", "VBD"]

    # accuracy on the words the vocabulary has and on those it lacks, one count per word
    unseen = Example([["The"], ["zorg"], ["sat"]], ["what", "tags"], ["DT", "NN", "VBD"])
    kinds = accuracy_by_word_kind(model, vocab, [*examples, unseen])
    assert kinds["known words"] == (7, 1.0) and kinds["unknown words"][0] == 1
    overall = accuracy_by_task(model, vocab, [*examples, unseen])[""]
    assert overall == pytest.approx((7 + kinds["unknown words"][1]) / 8)


def test_glove_text_loader_and_initialisation(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_text("the 0.1 0.2 0.3\ncat 1 2 3\ndog 4 5 6\n")
    vectors = glove_text(path, wanted={"the", "cat"})
    assert set(vectors) == {"the", "cat"} and np.allclose(vectors["cat"], [1, 2, 3])
    vocab = Vocab.build([Example([["The"], ["cat"], ["zebra"]], ["q"], ["a"])])
    weight = torch.zeros(len(vocab.words), 3)
    found = initialise_embedding(weight, vocab, vectors)
    assert [vocab.words[i] for i in found.nonzero().flatten()] == ["cat", "the"]  # of: cat, q, the, zebra
    assert weight[vocab.word_index["cat"]].tolist() == [1, 2, 3] and weight[0].abs().sum() == 0
    top = glove_text(path, wanted={"dog"}, top=1)
    assert list(top) == ["the", "dog"]  # the first word of the file, then the wanted one
    extended = vocab.with_words(top)
    assert extended.words == [*vocab.words, "dog"] and extended.encode(["Dog"]) == [len(vocab.words)]
    (tmp_path / "bad.txt").write_text("the 0.1 0.2 0.3\ncat 1 2\n")
    with pytest.raises(DataFormatError, match="line 2: expected 3 numbers"):
        glove_text(tmp_path / "bad.txt")


def test_pretrained_words_added_after_training_are_read_as_their_vectors():
    model, vocab, batch = build(VARIANTS["dmn+"])  # a bAbI model reads words alike: 16-dimensional vectors
    vectors = {"kitchen": np.full(16, 9.0, np.float32), "zebra": np.arange(16, dtype=np.float32)}
    [bigger], grown = add_pretrained_words([model.train()], vocab, vectors)
    assert grown.words == [*vocab.words, "zebra"] and bigger.config.vocab_size == len(vocab.words) + 1
    assert bigger.training and torch.equal(bigger.embedding.weight[:-1], model.embedding.weight)  # trained rows kept
    assert bigger.embedding.weight[-1].tolist() == list(range(16))
    torch.testing.assert_close(bigger.eval()(batch).logits, model.eval()(batch).logits, rtol=0, atol=0)
    zebra = make_batch([Example([["zebra"]], ["where", "is", "mary"], ["kitchen"])], grown, 50)
    assert zebra.facts.max() == len(vocab.words)  # the new word has its own row, not <unk>


def test_trees_over_several_lines():
    trees = parse_trees("( (S (NP (DT A))\n (VP (VBZ works))) )", "here")
    assert [(leaf.label, leaf.word) for leaf in trees[0].leaves()] == [("DT", "A"), ("VBZ", "works")]


def test_predictor_reads_a_sentence_word_by_word_and_tags_it(tmp_path):
    from dmn.checkpoint import save_checkpoint
    from dmn.predict import InputError, Predictor

    examples = [Example([["The"], ["cat"], ["sat"]], ["what", "tags"], ["DT", "NN", "VBD"])]
    vocab = Vocab.build(examples, lowercase=False)
    config = DMNConfig(
        len(vocab.words),
        len(vocab.answers),
        hidden=8,
        passes=2,
        max_facts=5,
        fact_unit="word",
        answer_mode="tags",
        **VARIANTS["dmn+"],
    )
    path = save_checkpoint(tmp_path / "tagger", DMN(config), vocab, {"task": "pos:ewt", "question": "what tags"}, {})
    p = Predictor.load(path, device="cpu").predict("The dog sat.")
    assert p.facts == ["The", "dog", "sat", "."] and len(p.tags) == 4 and len(p.gates) == 2
    assert all(tag in vocab.answers[1:] for tag, _ in p.tags)  # never the end token
    assert p.unknown_words == ["dog", "."]
    with pytest.raises(InputError, match="sentence is empty"):
        Predictor.load(path, device="cpu").predict("   ")


def test_tagger_trained_with_word_signatures_reads_unknown_words_by_shape(data_dir, tmp_path):
    from dmn.predict import Predictor
    from dmn.settings import ModelSettings, RunSpec, TrainConfig
    from dmn.train import TrainingRun

    spec = RunSpec(
        task="pos:ewt",
        limit=150,
        model=ModelSettings(variant="dmn+", hidden=16, passes=1, word_signatures=True),
        train=TrainConfig(epochs=1, rare_word_dropout=0.5),
    )
    run = TrainingRun(spec, data_dir)
    assert run.vocab.signatures and "<unk:Cap>" in run.vocab.words and run.vocab.rare
    metrics = run.fit(tmp_path / "tagger")
    assert metrics["epochs_run"] == 1
    predictor = Predictor.load(tmp_path / "tagger", device="cpu")
    assert predictor.vocab.signatures  # saved with the checkpoint
    assert predictor.vocab.encode(["Xanthippe"]) == [predictor.vocab.word_index["<unk:Cap>"]]
    assert "Xanthippe" in predictor.predict("Xanthippe sat .").unknown_words


def test_frozen_pretrained_vectors_stay_and_the_other_words_train(data_dir, tmp_path):
    from dmn.settings import ModelSettings, RunSpec, TrainConfig
    from dmn.train import TrainingRun

    vectors = tmp_path / "vectors.txt"
    vectors.write_text("the 0.5 -0.5 0.25 0\n, 1 0 0 1\n")
    model = ModelSettings(variant="dmn+", hidden=8, passes=1, embeddings=str(vectors), freeze_embeddings=True)
    spec = RunSpec(task="pos:ewt", limit=60, model=model, train=TrainConfig(epochs=1, batch_size=20))
    run = TrainingRun(spec, data_dir)
    weight = run.model.embedding.weight
    the, comma, word = (run.vocab.word_index[w] for w in ("the", ",", "said"))
    start = weight[word].detach().clone()
    run.fit(tmp_path / "frozen")
    assert weight[the].tolist() == [0.5, -0.5, 0.25, 0] and weight[comma].tolist() == [1, 0, 0, 1]
    assert not torch.equal(weight[word], start)  # a word without a vector still learns
    with pytest.raises(ValueError, match="needs pretrained ones"):
        TrainingRun(RunSpec(task="pos:ewt", limit=5, model=ModelSettings(freeze_embeddings=True)), data_dir)
