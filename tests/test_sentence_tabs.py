"""The Sentiment and Part-of-speech tabs: their "sentiment" and "tag" endpoints through gradio_client
against a launched app, and their drawing step."""

import json
import os
import socket
from dataclasses import replace

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
gr = pytest.importorskip("gradio")
Client = pytest.importorskip("gradio_client").Client

from app import plots, sentiment_tab, service, tagging_tab, ui  # noqa: E402
from dmn.data import PAD, UNK, Example, Vocab  # noqa: E402
from tests.conftest import REPO  # noqa: E402

SENTIMENT_MODELS = ("sst-binary", "sst-fine")

pytestmark = [
    pytest.mark.filterwarnings("ignore::Warning:gradio.queueing"),
    pytest.mark.filterwarnings("ignore::UserWarning:gradio.helpers"),  # gr.Warning outside a request
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def client():
    demo = ui.build_demo()
    port = free_port()
    ui.launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield Client(f"http://127.0.0.1:{port}/", verbose=False, analytics_enabled=False, download_files=False)
    demo.close()


def sentiment(client, sentence, checkpoint=""):
    return client.predict(sentence, checkpoint, api_name="/sentiment")


def tag(client, sentence, checkpoint=""):
    return client.predict(sentence, checkpoint, api_name="/tag")


def test_endpoints_are_named_and_documented(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    for name in ("/sentiment", "/tag", "/ask"):
        assert name in endpoints
    for name in ("/sentiment", "/tag"):
        assert [p["parameter_name"] for p in endpoints[name]["parameters"]] == ["sentence", "checkpoint"]


@pytest.mark.parametrize(
    ("sentence", "label"),
    [("a wonderful , moving film", "positive"), ("I love this movie", "positive"),
     ("the worst film ever", "negative"), ("a dull , boring mess", "negative")],
)  # fmt: skip
def test_clear_sentences_get_sensible_labels(client, sentence, label):
    result = sentiment(client, sentence)
    assert result["error"] is None and result["warning"] is None
    assert result["checkpoint"] == "sst-binary"
    assert result["answer"] == label and result["confidence"] > 0.9
    words = sentence.split()
    assert result["facts"] == words
    assert len(result["gates"]) == result["passes"] >= 2
    assert all(len(row) == len(words) for row in result["gates"])


def test_fine_grained_checkpoint(client):
    result = sentiment(client, "the worst film ever", "sst-fine")
    assert result["checkpoint"] == "sst-fine"
    assert result["answer"] in {"very-negative", "negative", "neutral", "positive", "very-positive"}
    assert result["answer"].endswith("negative")


def _most_attended(result: dict) -> list[str]:
    return [result["facts"][row.index(max(row))] for row in result["gates"]]


def test_the_tab_s_examples_do_what_its_help_text_says():
    """SENTIMENT_HELP describes the shipped models on the examples: keep it true when they change."""
    for checkpoint in SENTIMENT_MODELS:
        for example in sentiment_tab.SENTIMENT_EXAMPLES:
            result = sentiment_tab.sentiment(example, checkpoint)
            assert result["error"] is None and result["unknown_words"] == [], (checkpoint, example)
    first_example = {c: sentiment_tab.sentiment(sentiment_tab.SENTIMENT_EXAMPLES[0], c) for c in SENTIMENT_MODELS}
    assert first_example["sst-binary"]["answer"] == "positive"
    for result in first_example.values():
        assert _most_attended(result) == ["superb", "superb"]
        first, second = (dict(zip(result["facts"], gates, strict=True)) for gates in result["gates"])
        assert second["but"] > first["but"]
    assert 'both passes weigh "superb" most and the second moves weight to "but"' in sentiment_tab.SENTIMENT_HELP
    assert sentiment_tab.sentiment("Not bad at all.", "sst-binary")["answer"] == "positive"
    five_classes = sentiment_tab.sentiment("Not bad at all.", "sst-fine")["top_answers"]
    assert [answer for answer, _ in five_classes[:2]] == ["neutral", "positive"]
    assert "in five, neutral comes just ahead of positive" in sentiment_tab.SENTIMENT_HELP
    assert "Not bad at all." in sentiment_tab.SENTIMENT_EXAMPLES
    # "ten models ... sst-fine is four of those ten": the same weight files, read in two classes or five
    members = {
        c: json.loads((REPO / "checkpoints" / c / "config.json").read_text())["members"] for c in SENTIMENT_MODELS
    }
    assert "`sst-binary` is ten models" in sentiment_tab.SENTIMENT_HELP and len(members["sst-binary"]) == 10
    assert "`sst-fine` is four of those ten" in sentiment_tab.SENTIMENT_HELP and len(members["sst-fine"]) == 4
    weights = {c: [(REPO / "checkpoints" / c / m["weights"]).read_bytes() for m in members[c]] for c in members}
    assert all(fine in weights["sst-binary"] for fine in weights["sst-fine"])


def test_a_tagged_sentence_has_one_tag_per_word(client):
    result = tag(client, "I love this movie")
    assert result["error"] is None and result["checkpoint"] == "pos-ewt"
    assert result["facts"] == ["I", "love", "this", "movie"]
    assert len(result["tags"]) == 4
    assert [t for t, _ in result["tags"]] == result["answer"].split() == ["PRP", "VBP", "DT", "NN"]
    assert all(0 < p <= 1 for _, p in result["tags"])


def test_the_shipped_ensemble_tags_with_its_members_mean_gates(client):
    result = tag(client, "She can can the fish.", "pos-ewt-ensemble")
    assert result["error"] is None and result["checkpoint"] == "pos-ewt-ensemble"
    assert [t for t, _ in result["tags"]] == ["PRP", "MD", "VB", "DT", "NN", "."]
    for gates in result["gates"]:  # the mean of five softmax gates is a distribution over the words
        assert sum(gates) == pytest.approx(1, abs=1e-5)


def test_unknown_words_warn_and_the_model_still_answers(client):
    reviewed, tagged = sentiment(client, "the xyzzq film is good"), tag(client, "the xyzzq dog runs")
    for result in (reviewed, tagged):
        assert result["error"] is None and result["answer"]
        assert result["unknown_words"] == ["xyzzq"]
        assert "xyzzq" in result["warning"] and "vocabulary" in result["warning"]
    # the shipped tagger reads unknown words by their spelling and shape, the sentiment model does not
    assert "by its spelling, letter by letter, and its shape" in tagged["warning"]
    assert "as an unknown word" in reviewed["warning"]


def test_the_warning_says_how_the_model_reads_unknown_words():
    plain = Vocab.build([Example([["a"]], ["q"], ["x"])])
    readings = [
        service.unknown_word_reading(vocab)
        for vocab in (plain, replace(plain, signatures=True), replace(plain, chars=[PAD, UNK, "a"]))
    ]
    assert readings[0] == "as an unknown word" and "shape alone" in readings[1] and "spelling" in readings[2]
    warning = service.warning_text(["zorg"], 0, reading=readings[2])
    assert '"zorg"' in warning and "reads each by its spelling" in warning


@pytest.mark.parametrize("endpoint", [sentiment, tag])
def test_empty_too_long_and_wrong_checkpoint_give_messages(client, endpoint):
    empty = endpoint(client, "   ")
    assert empty["error"] == "The sentence is empty: write at least one word." and empty["answer"] is None
    long = endpoint(client, "good " * 201)
    assert "too long" in long["error"] and "200 words" in long["error"]
    wrong = endpoint(client, "good", "babi-joint")
    assert "No " in wrong["error"] and "babi-joint" in wrong["error"]


# --------------------------------------------------------------------------------------------
# Drawing (no server)


def test_render_sentiment_draws_every_part():
    result = sentiment_tab.sentiment("not bad at all")
    answer, status, bar, heatmap, slider, sentence_html = sentiment_tab.render_sentiment(result)
    assert f"Sentiment: {result['answer']}" in answer and result["answer"] in {"positive", "negative"} and status == ""
    assert list(bar.data[0].y) == [a for a, _ in sentiment_tab.labels(result["top_answers"])]
    assert set(bar.data[0].y) == {"positive", "negative"}
    assert list(heatmap.data[0].z) == [list(col) for col in zip(*result["gates"], strict=True)]
    assert slider["visible"] is True and slider["maximum"] == 2
    assert sentence_html.count("class='dmn-word'") == 4 and "Pass 1 of 2" in sentence_html
    assert "Pass 2 of 2" in sentiment_tab.show_pass(result, 2)


def test_render_errors_are_messages_not_tracebacks():
    result = sentiment_tab.sentiment("")
    answer, *rest = sentiment_tab.render_sentiment(result)
    assert "empty" in answer and rest[1:3] == [None, None]
    summary, status, tags_html, heatmap = tagging_tab.render_tags(tagging_tab.tag("word " * 300))
    assert "too long" in summary and tags_html == "" and heatmap is None
    assert tagging_tab.render_tags(None) == ("", "", "", None)


def test_tags_html_colours_tokens_and_has_a_legend():
    result = tagging_tab.tag("the cat sat on the floor .")
    summary, _, tags_html, _ = tagging_tab.render_tags(result)
    assert "7 words tagged" in summary
    assert tags_html.count("class='dmn-tag'") == 7 and "Legend" in tags_html
    assert plots.tag_colour("NN") in tags_html and plots.tag_colour("NNS") == plots.tag_colour("NN")
    assert plots.tag_colour(".") == plots.OTHER_TAG_COLOUR


def test_pickers_list_only_their_own_checkpoints():
    assert [key for _, key in service.SENTIMENT_CHECKPOINTS.choices()] == ["sst-binary", "sst-fine"]
    assert [key for _, key in service.TAGGING_CHECKPOINTS.choices()] == ["pos-ewt", "pos-ewt-ensemble"]
