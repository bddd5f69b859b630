"""The Gradio app: its HTTP API through gradio_client against a launched server, and its parts."""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
gr = pytest.importorskip("gradio")
Client = pytest.importorskip("gradio_client").Client

from app import ask_tab, plots, service, texts, ui  # noqa: E402
from app.examples import EXAMPLES  # noqa: E402
from app.typed_stories import TYPED_STORIES  # noqa: E402
from dmn.data import tokenize  # noqa: E402
from dmn.predict import MAX_SENTENCES  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")  # pandas 3 notes in gradio
REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "checkpoints" / "babi-joint"
STORY = "Mary went to the kitchen.\nJohn went to the garden.\nMary travelled to the office."
QUESTION = "Where is Mary?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url():
    demo = ui.build_demo()
    port = free_port()
    ui.launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False, analytics_enabled=False, download_files=False)


def ask(client, story=STORY, question=QUESTION, checkpoint="", passes=0) -> dict:
    return client.predict(story, question, checkpoint, passes, api_name="/ask")


# --------------------------------------------------------------------------------------------
# Through the HTTP API


def test_ask_endpoint_is_named_and_documented(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert "/ask" in endpoints
    assert [p["parameter_name"] for p in endpoints["/ask"]["parameters"]] == [
        "story", "question", "checkpoint", "passes",
    ]  # fmt: skip
    assert [p["parameter_name"] for p in endpoints["/compare"]["parameters"]] == [
        "story", "question", "checkpoint_a", "passes_a", "checkpoint_b", "passes_b",
    ]  # fmt: skip


def test_known_story_gets_the_right_answer(client):
    result = ask(client)
    assert result["answer"] == "office"
    assert result["error"] is None and result["warning"] is None
    assert result["checkpoint"] == "babi-joint"
    assert 0 < result["confidence"] <= 1
    assert result["top_answers"][0] == [result["answer"], result["confidence"]]
    assert len(result["top_answers"]) == 5


def test_gates_have_passes_by_facts_values(client):
    result = ask(client)
    assert result["facts"] == STORY.splitlines()
    assert result["passes"] == 3 and len(result["gates"]) == 3
    assert all(len(row) == len(result["facts"]) for row in result["gates"])
    assert all(0 <= g <= 1 for row in result["gates"] for g in row)
    assert result["top_facts"] == [row.index(max(row)) for row in result["gates"]]
    one = ask(client, passes=1)
    assert len(one["gates"]) == 1 and one["passes"] == 1


def test_unknown_words_give_a_warning_and_an_answer(client):
    result = ask(client, "Mary teleported to the moon.\nJohn went to the garden.", "Where is Mary?")
    assert result["unknown_words"] == ["teleported"]  # a verb: not a name, place or thing to read as another
    assert '"teleported"' in result["warning"] and "moon" not in result["warning"]
    assert set(result["read_as"]) == {"moon"}  # a place, as "to the _" says
    assert result["error"] is None and result["answer"] == "moon"


def test_new_names_places_and_things_are_read_as_known_ones_and_answered_in_the_users_words(client):
    story = "Alice went to the kitchen.\nBob went to the garden.\nAlice moved to the library."
    result = ask(client, story, "Where is Alice?")
    assert result["answer"] == "library" and result["guess"] is False and result["unknown_words"] == []
    assert set(result["read_as"]) == {"Alice", "Bob", "library"}
    assert result["read_as"]["library"] not in {"kitchen", "garden"}  # a place the story does not use
    assert result["facts"][2] == "Alice moved to the library."  # the facts as the user wrote them
    carrying = ask(
        client, "Tom picked up the keys.\nTom went to the attic.\nTom took the book there.", "What is Tom carrying?"
    )
    assert carrying["answer"] == "keys,book" and carrying["top_answers"][0][0] == "keys,book"


def test_importance_is_the_probability_lost_without_each_fact(client):
    story = "Mary went to the kitchen.\nJohn went to the garden."
    result = ask(client, story, QUESTION)
    assert result["answer"] == "kitchen" and len(result["importance"]) == len(result["facts"]) == 2
    top = result["top_facts"][0]
    assert top == 0 and result["importance"][0] > 0.5  # the fact the answer needs
    assert abs(result["importance"][1]) < 0.05  # John's move does not matter to where Mary is
    without_top = ask(client, "John went to the garden.", QUESTION)
    assert without_top["answer"] != result["answer"]
    assert result["importance"][0] == pytest.approx(
        result["confidence"] - probability_of(without_top, "kitchen"), abs=1e-3
    )


def probability_of(result: dict, answer: str) -> float:
    """An answer's probability among a result's top answers (0 when it is not among them)."""
    return next((p for a, p in result["top_answers"] if a == answer), 0.0)


def test_compare_answers_one_story_two_ways(client):
    both = client.predict(STORY, QUESTION, "", 1, "babi-joint", 3, api_name="/compare")
    assert set(both) == {"a", "b"} and both["a"]["passes"] == 1 and both["b"]["passes"] == 3
    assert len(both["a"]["gates"]) == 1 and len(both["b"]["gates"]) == 3
    assert both["b"]["answer"] == ask(client)["answer"] == "office"
    assert "no-such" in client.predict(STORY, QUESTION, "no-such", 0, "", 0, api_name="/compare")["a"]["error"]


def test_questions_outside_training_are_marked_as_guesses(client):
    story = "Mary picked up the apple.\nMary went to the kitchen."
    guess = ask(client, story, "How many apples does Mary have?")
    assert guess["guess"] is True and '"apples"' in guess["guess_reason"]
    shape = ask(client, story, "Is Mary the kitchen?")
    assert shape["guess"] is True and "shape" in shape["guess_reason"]
    assert ask(client, story, "Where is the apple?")["guess"] is False


def test_typed_stories_through_the_api_get_the_predictors_answers(client):
    predictor = service.PREDICTORS.get(SHIPPED)
    for case in TYPED_STORIES:
        assert ask(client, case.story, case.question)["answer"] == predictor.predict(case.story, case.question).answer


@pytest.mark.parametrize(
    "story, question, message",
    [
        ("", QUESTION, "story is empty"),
        ("   \n  ", QUESTION, "story is empty"),
        (STORY, "", "question is empty"),
        ("Mary went home.\n" * (MAX_SENTENCES + 1), QUESTION, f"limit is {MAX_SENTENCES} sentences"),
    ],
)
def test_bad_input_gives_a_message_not_an_exception(client, story, question, message):
    result = ask(client, story, question)
    assert message in result["error"]
    assert result["answer"] is None and result["gates"] is None


def test_bad_passes_and_checkpoint_give_messages(client):
    assert "passes" in ask(client, passes=99)["error"]
    error = ask(client, checkpoint="no-such-model")["error"]
    assert "no-such-model" in error and "babi-joint" in error


def test_sample_endpoint_fills_a_test_story(client, data_dir, monkeypatch):
    monkeypatch.setenv("DMN_DATA_DIR", str(data_dir))
    story, question, note = client.predict(2, api_name="/sample")
    assert len(story.splitlines()) >= 2 and question.endswith("?")
    assert "task 2" in note
    assert ask(client, story, question)["error"] is None


def test_sample_without_data_takes_a_story_written_for_the_demo(client, tmp_path, monkeypatch):
    monkeypatch.setenv("DMN_DATA_DIR", str(tmp_path))
    for task in (1, 3, 19):
        story, question, note = client.predict(task, api_name="/sample")
        written = [(c.story, c.question) for c in TYPED_STORIES if c.task == task]
        assert (story, question) in written and f"task {task}" in note and "written for this demo" in note
        assert ask(client, story, question)["error"] is None


def test_python_app_py_serves_asks_and_samples_from_a_cold_start_with_no_data(tmp_path):
    """A fresh Space: no kernel built yet (an empty extension folder), no data folder, no network."""
    port = free_port()
    (tmp_path / "extensions").mkdir()
    env = {
        **os.environ,
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "TORCH_EXTENSIONS_DIR": str(tmp_path / "extensions"),
        "DMN_DATA_DIR": str(tmp_path / "no-data"),
    }
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, "app.py exited"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as page:
                    assert page.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "app.py did not serve within 90 s"
                time.sleep(0.2)
        app_client = Client(f"http://127.0.0.1:{port}/", verbose=False, analytics_enabled=False)
        assert ask(app_client)["answer"] == "office"  # while the kernel builds, PyTorch's GRU answers
        story, question, note = app_client.predict(2, api_name="/sample")
        assert "task 2" in note and ask(app_client, story, question)["error"] is None
    finally:
        proc.terminate()
        proc.wait(15)


# --------------------------------------------------------------------------------------------
# The parts


def test_render_draws_a_result_and_says_whether_it_was_right():
    result = service.ask(STORY, QUESTION)
    sample = {"story": STORY, "question": QUESTION, "answer": "office", "supporting": [2]}
    answer, status, bars, heatmap, slider, story_html, _, left_out = ask_tab.render(result, sample, STORY, QUESTION)
    assert "Answer: office" in answer and "Correct!" in answer and status == ""
    assert len(heatmap.data[0].z) == 3 and len(heatmap.data[0].z[0]) == 3  # facts x passes
    assert list(heatmap.data[1].x) == result["importance"]  # importance bars beside the gates, fact by fact
    assert len(heatmap.layout.shapes) == 1  # the supporting fact outlined
    assert bars.data[0].y[0] == "office"
    assert "Pass 1 of 3" in story_html
    assert left_out["choices"] == [(f"{i + 1}. {fact}", i) for i, fact in enumerate(result["facts"])]
    wrong = dict(sample, answer="garden")
    assert "Wrong, the answer is garden" in ask_tab.render(result, wrong, STORY, QUESTION)[0]
    assert "Correct" not in ask_tab.render(result, sample, STORY + "\nJohn went home.", QUESTION)[0]


def test_render_shows_errors_and_warnings():
    with pytest.warns(UserWarning, match="story is empty"):  # gr.Warning outside a request
        answer, status, bars, heatmap, _, _, watch, _ = ask_tab.render(service.ask("", QUESTION), None, "", QUESTION)
    assert answer == "" and "story is empty" in status and bars is None and heatmap is None
    assert watch == ""  # no stale note about an example
    with pytest.warns(UserWarning, match="vocabulary"):
        status = ask_tab.render(service.ask("Mary flew to the moon.", QUESTION), None, "", "")[1]
    assert "Warning" in status and '"flew"' in status


def test_what_if_reruns_without_the_ticked_facts_beside_the_story_as_told():
    result = service.ask(STORY, QUESTION)
    line, before, after = ask_tab.what_if(result, [2], QUESTION, "", 0)
    assert "Without fact 3:" in line and "the answer changes" in line  # Mary's move to the office
    assert len(before.data[0].z) == 3 and len(after.data[0].z) == 2
    assert "stays" in ask_tab.what_if(result, [1], QUESTION, "", 0)[0]  # John's move
    assert "Tick the facts" in ask_tab.what_if(result, [], QUESTION, "", 0)[0]


def test_supporting_facts_map_onto_the_facts_read():
    result = {"facts": ["c", "d", "e"], "dropped_facts": 2}
    assert ask_tab.shown_supporting(result, ("x", [3, 1, 4], "test")) == ([1, 2], 1)
    assert ask_tab.shown_supporting(result, None) == ([], 0)


def test_curated_examples_cover_tasks_in_the_shipped_vocabulary():
    vocab = json.loads((SHIPPED / "vocab.json").read_text())
    words, answers = set(vocab["words"]), set(vocab["answers"])
    assert len(EXAMPLES) >= 6 and len({e.task for e in EXAMPLES}) >= 6
    for e in EXAMPLES:
        assert set(tokenize(e.story + " " + e.question)) <= words, e.title
        assert set(e.answer.split(",")) <= answers, e.title
        lines = e.story.splitlines()
        assert all(0 <= s < len(lines) for s in e.supporting) and e.watch


def test_the_shipped_model_answers_every_curated_example_as_its_note_says():
    from dmn.predict import Predictor

    predictor = Predictor.load(SHIPPED, device="cpu")
    for e in EXAMPLES:  # each note tells the class which fact every pass finds: the model must do so
        prediction = predictor.predict(e.story, e.question)
        assert prediction.answer == e.answer, e.title
        assert prediction.top_facts[: len(e.supporting)] == list(e.supporting), e.title


def test_heatmap_keeps_repeated_sentences_apart_and_marks_top_facts():
    facts = ["Mary went home.", "Mary went home.", "John went <b>out</b>."]
    gates = [[0.1, 0.8, 0.1], [0.0, 0.0, 1.0]]
    fig = plots.gates_heatmap(facts, gates, [1, 2], supporting=[2])
    labels = fig.data[0].y
    assert len(set(labels)) == 3 and "&lt;b&gt;" in labels[2] and "✔" in labels[2]
    text = fig.data[0].text
    assert text[1][0] == "★ 0.80" and text[2][1] == "★ 1.00" and text[0][1] == ""
    html = plots.story_by_pass_html(facts, gates, [1, 2], 2)
    assert "&lt;b&gt;out" in html and "<b>out" not in html and "Pass 2 of 2" in html


def test_on_gpu_uses_spaces_only_when_importable(monkeypatch):
    def fn():
        return 1

    monkeypatch.setitem(sys.modules, "spaces", None)  # import fails
    assert service.on_gpu(fn) is fn
    monkeypatch.setitem(sys.modules, "spaces", SimpleNamespace(GPU=lambda f: ("gpu", f)))
    assert service.on_gpu(fn) == ("gpu", fn)


def test_predictors_are_cached_per_path_and_reloaded_when_replaced(tmp_path):
    path = shutil.copytree(SHIPPED, tmp_path / "copy")
    cache = service.PredictorCache(size=1, device="cpu")
    first = cache.get(path)
    assert cache.get(path) is first
    stat = (path / "model.safetensors").stat()
    os.utime(path / "model.safetensors", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert cache.get(path) is not first


def test_user_checkpoints_are_listed_and_usable(tmp_path, monkeypatch):
    monkeypatch.setenv("DMN_CHECKPOINT_DIR", str(tmp_path))
    shutil.copytree(SHIPPED, tmp_path / "mine")
    labels = dict((key, label) for label, key in service.ASK_CHECKPOINTS.choices())
    assert "babi-joint" in labels and "(yours)" in labels["mine"]
    assert service.ask(STORY, QUESTION, "mine")["checkpoint"] == "mine"
    shutil.copytree(SHIPPED, tmp_path / "babi-joint")  # same name as the shipped one: keyed by path
    keys = [key for _, key in service.ASK_CHECKPOINTS.choices()]
    assert str(tmp_path / "babi-joint") in keys and "babi-joint" not in keys


def test_choosing_a_checkpoint_sets_passes_card_and_vocabulary():
    passes, card, vocabulary, _ = ask_tab.choose_checkpoint("babi-joint")
    assert passes["maximum"] == 3 and passes["value"] == 3
    assert "Model card: `babi-joint`" in card and "mary" in vocabulary
    assert ask_tab.choose_checkpoint("babi-joint", linked_passes=2)[0]["value"] == 2  # a shared link's passes
    assert ask_tab.choose_checkpoint("babi-joint", linked_passes=9)[0]["value"] == 3  # more than the model runs
    with pytest.warns(UserWarning, match="No checkpoint called"):
        assert "No checkpoint called" in ask_tab.choose_checkpoint("nope")[1]
    link = SimpleNamespace(query_params={"story": STORY, "question": QUESTION, "passes": "2", "other": "x"})
    story, question, checkpoint, passes, _ = ui.open_page(None, link)
    assert story["value"] == STORY and question["value"] == QUESTION and passes["value"] == 2
    assert checkpoint["value"] == "babi-joint"
    assert ui.open_page(None, SimpleNamespace(query_params={}))[0] == gr.update()  # no link: the worked example


def test_model_card_shows_accuracy_settings_and_command():
    summary = SimpleNamespace(
        key="m",
        info=SimpleNamespace(description="A test model", path=Path("/x/m")),
        config={"variant": "dmn+", "task": "babi:1", "size": "1k", "model": {"hidden": 80},
                "train": {"epochs": 3}, "command": "python -m dmn train --task babi:1"},
        metrics={"test_accuracy": {"babi:1": 0.97}, "mean": 0.97, "passed": 1, "tasks": 1},
        trained_passes=3, max_passes=3, vocabulary=["mary"], device="cpu",
    )  # fmt: skip
    card = texts.model_card(summary)
    assert "| 1 | single supporting fact | 97.0% | 100.0% |" in card
    assert "Mean **97.0%**, 1/1 tasks passed" in card
    summary.metrics |= {
        "date": "2026-11-25",
        "data": {"task": "babi:1", "train_examples": 9000, "validation_examples": 1000, "embedding_coverage": None},
    }
    card = texts.model_card(summary)
    assert "passed (≥ 95%), measured on 2026-11-25. Trained on 9,000 examples, 1,000 held out" in card
    assert "{" not in card.split("### Test accuracy")[1].split("|")[0]  # no raw dict in the summary line
    assert "python -m dmn train --task babi:1" in card and '"epochs": 3' in card and "Revised" not in card
    summary.metrics["revised"] = "2026-11-29: case fallback switched on"
    assert "*Revised 2026-11-29: case fallback switched on*" in texts.model_card(summary)
    summary.metrics = {"status": "training"}
    assert "No test results" in texts.model_card(summary)


def test_launch_starts_building_the_fused_kernel_before_any_question(monkeypatch):
    asked = threading.Event()
    monkeypatch.setattr(ui.kernels, "build_in_background", asked.set)
    launched = SimpleNamespace(launch=lambda **kwargs: kwargs)  # a page that is not served
    assert ui.launch(launched, quiet=True)["quiet"] is True
    assert asked.is_set()
