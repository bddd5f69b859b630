import random
from dataclasses import replace

import pytest
import torch

from dmn.data import (
    EOS,
    MAX_WORD_CHARS,
    UNK,
    DataFormatError,
    DataNotFoundError,
    Example,
    Vocab,
    batches,
    make_batch,
    split_story,
    tokenize,
    word_signature,
)
from dmn.tasks import load_task, rephrased
from dmn.tasks.babi import (
    BABI_TASK_NAMES,
    OPENERS,
    babi_file,
    load_babi,
    parse_babi,
    parse_task,
    told_the_other_way,
)

# -- the real files ---------------------------------------------------------------------------


@pytest.mark.parametrize("task", sorted(BABI_TASK_NAMES))
def test_every_1k_task_has_1000_train_and_test_questions(data_dir, task):
    for split in ("train", "test"):
        examples = parse_babi(babi_file(task, "1k", split, data_dir), task=f"babi:{task}")
        assert len(examples) == 1000
        assert all(ex.task == f"babi:{task}" and ex.question and ex.answer for ex in examples)
        # supporting ids point at earlier statements of the same story
        assert all(0 <= s < len(ex.context) for ex in examples for s in ex.supporting)


def test_10k_files_have_10000_questions(data_dir):
    assert len(load_babi([1], "10k", "train", data_dir)) == 10_000
    assert len(load_babi([19], "10k", "test", data_dir)) == 1_000


def test_missing_10k_task3_train_falls_back_to_1k(data_dir):
    if (data_dir / "babi" / "en-10k" / "qa3_three-supporting-facts_train.txt").exists():
        pytest.skip("this data folder has the 10k task-3 file")
    with pytest.warns(UserWarning, match="no 10k training file"):
        path = babi_file(3, "10k", "train", data_dir)
    assert path.parent.name == "en"


def test_supporting_facts_per_task(data_dir):
    two = parse_babi(babi_file(2, "1k", "train", data_dir))
    three = parse_babi(babi_file(3, "1k", "train", data_dir))
    assert all(len(ex.supporting) == 2 for ex in two)
    assert all(len(ex.supporting) == 3 for ex in three)
    first = parse_babi(babi_file(1, "1k", "train", data_dir))[0]
    # "1 Mary moved to the bathroom. 2 John went to the hallway. 3 Where is Mary? bathroom 1"
    assert first.context[first.supporting[0]] == ["mary", "moved", "to", "the", "bathroom"]
    assert first.question == ["where", "is", "mary"] and first.answer == ["bathroom"]


def test_multi_word_answers_are_word_sequences(data_dir):
    lists = parse_babi(babi_file(8, "1k", "train", data_dir))
    paths = parse_babi(babi_file(19, "1k", "train", data_dir))
    assert any(len(ex.answer) == 2 for ex in lists)
    assert all(len(ex.answer) == 2 for ex in paths)
    assert {w for ex in paths for w in ex.answer} == {"n", "s", "e", "w"}


def test_missing_data_says_how_to_get_it(tmp_path):
    with pytest.raises(DataNotFoundError, match="python -m dmn download babi"):
        babi_file(1, "1k", "train", tmp_path)


# -- malformed files --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, line, what",
    [
        ("1 Mary went home.\nx Where is Mary?\thome\t1\n", 2, "expected '<id> <text>'"),
        ("1 Mary went home.\n3 Where is Mary?\thome\t1\n", 2, "does not follow"),
        ("1 Mary went home.\n2 Where is Mary?\thome\n", 2, "question line needs"),
        ("1 Mary went home.\n2 Where is Mary?\thome\t7\n", 2, "supporting fact '7'"),
        ("1 Mary went home.\n2 Where is Mary?\t\t1\n", 2, "empty question or answer"),
    ],
)
def test_malformed_babi_names_file_and_line(tmp_path, text, line, what):
    path = tmp_path / "qa1_bad_train.txt"
    path.write_text(text)
    with pytest.raises(DataFormatError) as err:
        parse_babi(path)
    assert str(path) in str(err.value) and f"line {line}" in str(err.value) and what in str(err.value)


def test_non_utf8_file_is_a_format_error(tmp_path):
    path = tmp_path / "qa1_bin_train.txt"
    path.write_bytes(b"1 Mary \xff\xfe went home.\n")
    with pytest.raises(DataFormatError, match="not UTF-8"):
        parse_babi(path)


def test_handwritten_story_parses(tmp_path):
    path = tmp_path / "qa8_lists_train.txt"
    path.write_text("1 Mary got the apple.\n2 Mary got the football.\n3 What is Mary carrying?\tapple,football\t1 2\n")
    [ex] = parse_babi(path, task="babi:8")
    assert ex.answer == ["apple", "football"] and ex.supporting == [0, 1] and len(ex.context) == 2


# -- text, vocabulary and tasks ---------------------------------------------------------------


def test_tokenize_and_split_story():
    assert tokenize("Where is Mary?") == ["where", "is", "mary"]
    assert split_story("1 Mary went home.\n\n2 John left. Sandra stayed!") == [
        "Mary went home.",
        "John left.",
        "Sandra stayed!",
    ]


def test_parse_task():
    assert parse_task("babi:all") == list(range(1, 21))
    assert parse_task("babi:1,3") == [1, 3]
    for bad in ("babi:21", "sst", "babi:x"):
        with pytest.raises(ValueError):
            parse_task(bad)


def test_vocab_round_trip_and_unknown_words():
    ex = Example([["mary", "went", "home"]], ["where", "is", "mary"], ["home"], [0])
    vocab = Vocab.build([ex])
    assert Vocab.from_json(vocab.to_json()).words == vocab.words
    assert vocab.answers[0] == EOS
    assert vocab.unknown(["mary", "zorg", "zorg", "blip"]) == ["zorg", "blip"]
    assert vocab.encode(["zorg"]) == [vocab.word_index["<unk>"]]


@pytest.mark.parametrize(
    "word, signature",
    [
        ("Zimbabwe", "<unk:Cap>"),
        ("NASA", "<unk:CAPS>"),
        ("snorkelling", "<unk:lower-ing>"),
        ("Reorganized", "<unk:Cap-ed>"),
        ("1990s", "<unk:lower-digit-s>"),
        ("F-16", "<unk:Cap-digit-hyphen>"),
        ("01-Feb-02", "<unk:mixed-digit-hyphen>"),
        ("42.5", "<unk:digit>"),
        ("------", "<unk:symbol>"),
        ("jane@example.org", "<unk:address>"),
        ("www.enron.com", "<unk:address>"),
        ("is", "<unk:lower>"),  # too short for its "s" to be a suffix
    ],
)
def test_word_signatures(word, signature):
    assert word_signature(word) == signature


def tagged(words):
    return Example([[w] for w in words], ["tags"], ["X"] * len(words))


def test_unknown_words_read_as_their_signature():
    vocab = Vocab.build([tagged(["The", "Dog", "barked", "twice", "barked"])], lowercase=False, signatures=True)
    assert {"<unk:Cap>", "<unk:lower-ed>", "<unk:lower>"} <= set(vocab.words)
    assert vocab.encode(["Smith", "walked", "NASA"]) == [
        vocab.word_index["<unk:Cap>"],
        vocab.word_index["<unk:lower-ed>"],
        vocab.word_index[UNK],  # no all-capitals word in training: plain <unk>
    ]
    assert vocab.unknown(["Smith", "Dog"]) == ["Smith"]  # still reported as unknown
    loaded = Vocab.from_json(vocab.to_json())
    assert loaded.signatures and loaded.encode(["Smith"]) == vocab.encode(["Smith"])
    assert Vocab.from_json({"words": vocab.words, "answers": vocab.answers}).signatures is False  # older files
    assert Vocab.build([tagged(["Dog"])], lowercase=False).encode(["Smith"]) == [1]  # off by default


def test_case_fallback_reads_a_word_in_another_case_as_the_word_seen():
    examples = [tagged(["The", "housing", "market", "in", "Paris", "US", "us"])]
    vocab = Vocab.build(examples, lowercase=False, signatures=True, case_fallback=True)
    index = vocab.word_index
    assert vocab.encode(["Housing", "HOUSING", "the", "paris", "US", "us"]) == [
        index["housing"],  # lower-cased
        index["housing"],
        index["The"],  # capitalised
        index["Paris"],
        index["US"],  # a word seen as written stays itself
        index["us"],
    ]
    assert vocab.encode(["Smith"]) == [index["<unk:Cap>"]] and vocab.unknown(["Housing", "Smith"]) == ["Smith"]
    assert Vocab.from_json(vocab.to_json()).encode(["Housing"]) == [index["housing"]]
    plain = Vocab.build(examples, lowercase=False, signatures=True)  # off by default, and in older files
    assert not plain.knows("Housing") and plain.encode(["Housing"]) != [index["housing"]]
    assert "case_fallback" not in plain.to_json()


def test_rare_word_dropout_hides_only_words_seen_once():
    examples = [tagged(["The", "Dog", "barked"]), tagged(["The", "cat", "barked"])]
    vocab = Vocab.build(examples, lowercase=False, signatures=True)
    assert vocab.rare == {"Dog", "cat"}
    hidden = vocab.hide_words(examples, torch.Generator().manual_seed(0), rare_rate=1.0)
    assert [[f[0] for f in ex.context] for ex in hidden] == [
        ["The", "<unk:Cap>", "barked"],
        ["The", "<unk:lower>", "barked"],
    ]
    assert examples[0].context[1] == ["Dog"]  # the originals are untouched
    assert vocab.hide_words(examples, torch.Generator()) == examples
    half = [vocab.hide_words(examples * 50, torch.Generator().manual_seed(s), rare_rate=0.5) for s in (1, 1, 2)]
    assert half[0] == half[1] != half[2]  # seeded
    share = sum(ex.context[1] != ["Dog"] for ex in half[0][::2]) / 50
    assert 0.25 < share < 0.75
    plain = Vocab.build(examples, lowercase=False)
    assert plain.hide_words(examples, torch.Generator(), rare_rate=1.0)[0].context[1] == [UNK]


def test_freer_phrasing_says_he_or_she_and_then_where_the_meaning_stays():
    facts = ["mary went to the kitchen", "mary moved to the garden", "mary and john went to the office",
             "lily is white", "lily is a swan", "antoine got the milk"]  # fmt: skip
    ex = Example([f.split() for f in facts], "where is mary".split(), ["garden"], supporting=[1], task="babi:1")
    told = rephrased([ex], 1.0, random.Random(0))[0]
    openers = [" ".join(opener) for opener in OPENERS]
    assert told.context[0] == facts[0].split()  # the first sentence is told as it was
    opener, _, rest = " ".join(told.context[1]).rpartition(" she ")
    assert opener in openers and rest == "moved to the garden"  # her again, and an opener before an action
    assert told.context[2:5] == [f.split() for f in facts[2:4]] + ["she is a swan".split()]  # no "then" for states
    assert " ".join(told.context[5]).rpartition(" antoine ")[0] in openers  # another subject keeps its name
    assert (told.question, told.answer, told.supporting) == (ex.question, ex.answer, ex.supporting)
    assert ex.context[1] == facts[1].split()  # the original is untouched
    assert rephrased([ex], 0.0, random.Random(0)) == [ex]
    timeless = replace(ex, task="babi:14")
    review = Example([["a", "fine", "film"]], [], ["positive"], task="sst:binary")
    assert rephrased([timeless, review], 1.0, random.Random(0)) == [timeless, review]  # told as they were
    many = rephrased([ex] * 200, 0.5, random.Random(1))
    assert 0.35 < sum(told.context[1][0] != "mary" for told in many) / 200 < 0.9  # each rewrite by chance


@pytest.mark.parametrize(
    "fact, other_way",
    [
        ("the office is north of the kitchen", "the kitchen is south of the office"),
        ("the garden is west of the hallway", "the hallway is east of the garden"),
        ("the red square is to the left of the triangle", "the triangle is to the right of the red square"),
        ("the triangle is above the pink rectangle", "the pink rectangle is below the triangle"),
        ("the box of chocolates fits inside the suitcase", "the suitcase is bigger than the box of chocolates"),
        ("the chest is bigger than the box", "the box fits inside the chest"),
        ("mary went to the kitchen", None),
        ("the kitchen is north", None),
    ],
)
def test_a_relation_told_the_other_way_round_says_the_same(fact, other_way):
    told = told_the_other_way(fact.split())
    assert told == (other_way.split() if other_way else None)
    if told:
        assert told_the_other_way(told) == fact.split()


def test_every_relation_of_the_relation_tasks_can_be_told_the_other_way(data_dir):
    facts = [fact for ex in load_task("babi:4,17,18,19", "train", "1k", data_dir) for fact in ex.context]
    assert all(told_the_other_way(fact) for fact in facts)


def test_word_dropout_hides_any_word_where_none_is_rare():
    # SST trained on phrases: every word comes in its own phrase and its sentence, so none is rare
    examples = [tagged(["a", "fine", "film"]), tagged(["fine"]), tagged(["a", "film"])]
    vocab = Vocab.build(examples)
    assert not vocab.rare and vocab.hide_words(examples, torch.Generator(), rare_rate=1.0) == examples
    assert all(w == [UNK] for ex in vocab.hide_words(examples, torch.Generator(), rate=1.0) for w in ex.context)
    many = vocab.hide_words(examples * 200, torch.Generator().manual_seed(0), rate=0.2)
    words = [w for ex in many for f in ex.context for w in f]
    assert 0.15 < words.count(UNK) / len(words) < 0.25
    # a rare word takes the higher of the two rates
    rare = Vocab.build([tagged(["the", "dog"]), tagged(["the", "cat"])])
    hidden = rare.hide_words([tagged(["the", "dog"])] * 400, torch.Generator().manual_seed(0), 0.1, 0.5)
    share = [sum(ex.context[i] == [UNK] for ex in hidden) / 400 for i in (0, 1)]
    assert 0.05 < share[0] < 0.15 and 0.4 < share[1] < 0.6


# -- batching ---------------------------------------------------------------------------------


def test_make_batch_pads_masks_and_truncates():
    long = Example([[f"w{i}"] for i in range(6)], ["q"], ["a", "b"], supporting=[1, 5])
    short = Example([["x", "y"]], ["q", "r"], ["a"], supporting=[0])
    vocab = Vocab.build([long, short])
    batch = make_batch([long, short], vocab, max_facts=4)
    assert batch.facts.shape == (2, 4, 2)
    assert batch.fact_mask.tolist() == [[True] * 4, [True, False, False, False]]
    # facts 0 and 1 of the long story are dropped: its supporting fact 1 is gone, 5 becomes 3
    assert batch.supporting.tolist() == [[-1, 3], [0, -1]]
    # the story has <eos> after every fact, at the recorded positions
    eos = vocab.word_index[EOS]
    assert (batch.story.gather(1, batch.fact_ends)[batch.fact_mask] == eos).all()
    assert batch.answer.tolist() == [[vocab.answer_index["a"], vocab.answer_index["b"], 0], [1, 0, -100]]
    assert batch.question_lengths.tolist() == [1, 2]


def test_batches_cover_every_example_once_and_shuffle_with_a_generator():
    examples = [Example([["w"]] * (i % 7 + 1), ["q"], [str(i)]) for i in range(53)]
    vocab = Vocab.build(examples)
    fixed = [ex.answer[0] for b in batches(examples, vocab, 10, 50) for ex in b.examples]
    shuffled = [
        ex.answer[0] for b in batches(examples, vocab, 10, 50, torch.Generator().manual_seed(0)) for ex in b.examples
    ]
    assert sorted(fixed) == sorted(shuffled) == sorted(str(i) for i in range(53))
    assert fixed != shuffled


def test_shuffled_batches_hold_stories_of_about_one_length():
    """Pools of 50 random batches are sorted by length before they are cut: little padding, while
    which stories share a batch changes with the seed."""
    examples = [Example([["w"]] * (i % 10 + 1), ["q"], [str(i)]) for i in range(2000)]
    vocab = Vocab.build(examples)
    real_facts = sum(len(ex.context) for ex in examples)

    def deal(seed):
        return list(batches(examples, vocab, 10, 50, torch.Generator().manual_seed(seed)))

    dealt = deal(0)
    padded = sum(b.fact_mask.numel() for b in dealt)
    assert padded < 1.05 * real_facts  # batches of mixed lengths pad more (the former bucketing: 1.17 times)
    assert {tuple(ex.answer[0] for ex in b.examples) for b in dealt} != {
        tuple(ex.answer[0] for ex in b.examples) for b in deal(1)
    }


def test_character_alphabet_spelling_and_batch():
    examples = [tagged(["The", "Dog", "barked"]), tagged(["The", "cat", "barked"])]
    vocab = Vocab.build(examples, lowercase=False, signatures=True, chars=True)
    assert vocab.chars[:2] == ["<pad>", UNK] and "D" in vocab.chars and "z" not in vocab.chars
    assert vocab.encode_chars("Dog") == [vocab.char_index[c] for c in "Dog"]
    assert vocab.encode_chars("zeb") == [1, vocab.char_index["e"], vocab.char_index["b"]]  # z: unknown char
    assert len(vocab.encode_chars("a" * 50)) == MAX_WORD_CHARS
    # word dropout hides the word's id but not its spelling
    hidden = vocab.hide_words(examples, torch.Generator().manual_seed(0), rare_rate=1.0)[0].context[1][0]
    assert hidden == "<unk:Cap>" and vocab.encode_chars(hidden) == vocab.encode_chars("Dog")
    batch = make_batch([examples[0], tagged(["Dog"])], vocab, 50, word_facts=True, tagging=True)
    assert batch.chars.shape == (2, 3, 1, 6)  # "barked" is the longest word
    assert batch.chars[1, 0, 0, :3].tolist() == vocab.encode_chars("Dog") and batch.chars[1, 1:].sum() == 0
    assert Vocab.from_json(vocab.to_json()).chars == vocab.chars
    plain = Vocab.build(examples)  # no character features: nothing saved, nothing batched
    assert "chars" not in plain.to_json() and make_batch(examples, plain, 5).chars is None


def _layout_by_loops(examples, vocab, max_facts, word_facts):
    """The fact layout written the plain way, story by story: the reference for make_batch."""
    eos, marker = vocab.word_index[EOS], 0 if word_facts else 1
    contexts = [[vocab.encode(f) for f in ex.context[-max_facts:]] for ex in examples]
    n_facts = max(1, max(len(c) for c in contexts))
    n_words = max(1, max((len(f) for c in contexts for f in c), default=1))
    story_len = max(1, max(sum(len(f) + marker for f in c) for c in contexts))
    facts, mask, story, ends = [], [], [], []
    for context in contexts:
        facts.append([f + [0] * (n_words - len(f)) for f in context] + [[0] * n_words] * (n_facts - len(context)))
        mask.append([True] * len(context) + [False] * (n_facts - len(context)))
        words, fact_ends = [], []
        for f in context:
            words += f + [eos] * marker
            fact_ends.append(len(words) - 1)
        story.append(words + [0] * (story_len - len(words)))
        ends.append(fact_ends + [0] * (n_facts - len(fact_ends)))
    return [torch.tensor(facts), torch.tensor(mask), torch.tensor(story), torch.tensor(ends)]


@pytest.mark.parametrize("task", ["babi:all", "sst:fine", "pos:ewt"])
def test_batches_lay_out_facts_as_a_plain_loop_would(task, data_dir):
    """make_batch places every word by index arithmetic over the whole batch; on random batches
    of real data (stories cut to their last 5 facts) it must agree with the loop written out."""
    examples = load_task(task, "train", "1k", data_dir)
    word_facts = not task.startswith("babi")
    vocab = Vocab.build(examples[:2000], lowercase=task != "pos:ewt")  # later examples bring unknown words
    rng = random.Random(0)
    for size in [1, 2, 7, 100] * 10:
        sample = rng.sample(examples, size)
        batch = make_batch(sample, vocab, 5, word_facts=word_facts, tagging=task == "pos:ewt")
        expected = _layout_by_loops(sample, vocab, 5, word_facts)
        for got, want in zip([batch.facts, batch.fact_mask, batch.story, batch.fact_ends], expected, strict=True):
            assert torch.equal(got, want)
