"""The app in a real browser: Playwright driving Debian's chromium (skipped where it is absent)."""

import os
import re
import socket
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no /usr/bin/chromium: apt-get install chromium"),
    pytest.mark.filterwarnings("ignore::Warning:gradio.queueing"),
]
sync_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("gradio")

from app import ui  # noqa: E402
from tests.conftest import shared_data_dir  # noqa: E402

ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
STORY = "Mary went to the kitchen.\nJohn went to the garden.\nMary travelled to the office."
TIMEOUT = 30_000  # ms


@pytest.fixture(scope="module")
def app_url():
    demo = ui.build_demo()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ui.launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture
def page(app_url):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(TIMEOUT)
        page.requests = []
        page.on("request", lambda request: page.requests.append(request.url))
        page.goto(app_url)
        page.wait_for_selector("#run")
        yield page
        browser.close()


def run(page, story: str, question: str) -> None:
    page.locator("#story textarea").fill(story)
    page.locator("#question textarea, #question input").first.fill(question)
    page.click("#run")


def wait_text(page, selector: str, pattern: str) -> str:
    """Wait until the element's text matches the regular expression; return the text."""
    page.wait_for_function(
        "([sel, pat]) => { const e = document.querySelector(sel); return e && new RegExp(pat).test(e.innerText); }",
        arg=[selector, pattern],
    )
    return page.inner_text(selector)


def settle(page) -> None:
    """Let pending outputs finish fading in and close the warning toasts, for a clean screenshot."""
    page.wait_for_function("document.querySelectorAll('.pending').length === 0")
    for button in page.locator("button.toast-close").all():
        button.click()
    page.wait_for_timeout(600)


def test_ask_sample_examples_and_about_in_a_browser(page, app_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DMN_DATA_DIR", str(tmp_path / "no-data"))  # Sample needs no data folder

    # the page opens on a worked example, answered and drawn before the visitor does anything
    page.wait_for_selector("#gates .js-plotly-plot .heatmaplayer")
    wait_text(page, "#answer", "Answer: bedroom")
    assert "Pass 1 finds who has the football" in page.inner_text("#watch")

    # Ask: the answer, the Plotly heatmap with the facts on its axis, the per-pass story
    run(page, STORY, "Where is Mary?")
    page.wait_for_selector("#gates .js-plotly-plot .heatmaplayer")
    assert "Answer: office" in wait_text(page, "#answer", "Answer: office")
    gates = page.inner_text("#gates")
    assert "1. Mary went to the kitchen." in gates and "Pass 3" in gates
    assert "Pass 1 of 3" in page.inner_text("#story-by-pass")
    page.locator("#pass-slider input[type=number]").fill("2")
    page.locator("#pass-slider input[type=number]").press("Enter")
    wait_text(page, "#story-by-pass", "Pass 2 of 3")

    # a story typed with new names and places: answered in the user's words, with what was read as what
    run(page, "Alice went to the kitchen.\nBob went to the garden.\nAlice moved to the library.", "Where is Alice?")
    wait_text(page, "#answer", "Answer: library")
    note = wait_text(page, "#status", "Read as")
    assert "Alice as" in note and "library as" in note

    # unknown words: a visible warning that names them; empty question: a message
    run(page, "Mary teleported to the kitchen.", "Where is Mary?")
    assert "teleported" in wait_text(page, "#status", "teleported")
    run(page, STORY, "")
    wait_text(page, "#status", "question is empty")

    # Sample: a test story, the verdict, the supporting facts ticked on the heatmap
    page.click("#sample")
    verdict = wait_text(page, "#answer", "Correct!|Wrong, the answer is")
    assert re.search(r"Correct!|Wrong, the answer is \w+", verdict)
    assert page.locator("#story textarea").input_value().strip()
    assert "written for this demo" in wait_text(page, "#watch", "written for this demo")

    # a classroom example: fills the boxes, runs, says what to watch
    page.get_by_role("button", name=re.compile("Task 2 · two supporting facts")).click()
    wait_text(page, "#watch", "Pass 1 finds who has the football")
    assert "Where is the football?" in page.locator("#question textarea, #question input").first.input_value()
    wait_text(page, "#answer", "Correct!|Wrong, the answer is bedroom")  # whatever the retrained model says
    settle(page)
    page.screenshot(path=tmp_path / "ask.png", full_page=True)

    # About: equations (KaTeX, served locally) and the model card
    page.get_by_role("tab", name="About").click()
    page.wait_for_selector("text=What is a Dynamic Memory Network?")
    page.wait_for_selector(".katex")
    page.wait_for_selector("text=Model card")
    settle(page)
    page.screenshot(path=tmp_path / "about.png", full_page=True)
    print(f"screenshots: {tmp_path}")

    # nothing was fetched from anywhere but the app itself
    outside = [url for url in page.requests if not url.startswith(app_url) and not url.startswith("data:")]
    assert outside == []


def test_what_if_play_the_passes_and_a_shared_link_in_a_browser(page, app_url):
    story = "Mary went to the kitchen.\nJohn went to the garden.\nMary travelled to the office."
    run(page, story, "Where is Mary?")
    wait_text(page, "#answer", "Answer: office")
    page.wait_for_selector("#gates .js-plotly-plot .barlayer")  # importance beside the gates
    # every plot offers its PNG download (Plotly's camera button)
    assert page.locator("#gates .modebar-btn[data-title='Download plot as a PNG']").count() == 1

    # what if the fact the answer rests on were gone? tick it off and rerun: the answer changes
    page.locator("#left-out label").filter(has_text="3. Mary travelled to the office.").click()
    page.click("#rerun")
    assert "the answer changes" in wait_text(page, "#what-if", "Without fact 3")
    page.wait_for_selector("#what-if-after .js-plotly-plot .heatmaplayer")

    # step through the passes: Play shows pass 1, then 2, then 3, one a beat
    page.click("#play")
    seen = set()
    for _ in range(100):
        seen |= set(re.findall(r"Pass (\d) of 3", page.inner_text("#story-by-pass")))
        if "3" in seen:
            break
        page.wait_for_timeout(100)
    assert seen == {"1", "2", "3"}

    # a shared link opens the same story, question and passes, answered and drawn
    page.locator("#passes input[type=number]").fill("2")
    page.locator("#passes input[type=number]").press("Enter")
    page.click("#share")
    link = page.wait_for_function(
        "() => { const e = document.querySelector('#share-link textarea, #share-link input'); return e && e.value; }"
    ).json_value()
    assert link.startswith(app_url) and "story=" in link
    page.goto(link)
    page.wait_for_function("(s) => document.querySelector('#story textarea')?.value === s", arg=story)
    assert page.locator("#question textarea, #question input").first.input_value() == "Where is Mary?"
    wait_text(page, "#answer", "2 passes")  # answered and drawn as the link says
    assert page.locator("#passes input[type=number]").input_value() == "2"


CURVE_POINTS = (
    "() => { const g = document.querySelector('#train-curves .js-plotly-plot'); "
    "return g && g.data && g.data[0].x ? g.data[0].x.length : 0; }"
)


def test_train_stop_and_ask_with_the_new_checkpoint_in_a_browser(page, tmp_path, monkeypatch):
    data = shared_data_dir()
    if data is None:
        pytest.skip("real bAbI data not found: set DMN_DATA_DIR or put it in ../shared/data")
    monkeypatch.setenv("DMN_DATA_DIR", str(data))
    monkeypatch.setenv("DMN_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    page.reload()  # the page checks for the data when it opens
    page.wait_for_selector("#run")

    # a small run that would go on for a while: 300 questions, hidden 32, 100 epochs, no early stop
    page.get_by_role("tab", name="Train").click()
    wait_text(page, "#train-data", "bAbI data found")
    page.locator("#train-limit input").fill("300")
    page.locator("#train-epochs input").fill("100")
    page.locator("#train-patience input").fill("0")
    page.locator("#train-hidden input[type=number]").fill("32")
    page.locator("#train-hidden input[type=number]").press("Enter")
    page.locator("#train-name input, #train-name textarea").first.fill("browser run")
    page.click("#train-start")

    # the progress bar runs and the Plotly curves grow epoch by epoch
    wait_text(page, "#train-progress", "Training")
    page.wait_for_function(f"({CURVE_POINTS})() >= 2")
    seen = page.evaluate(CURVE_POINTS)
    page.wait_for_function(f"({CURVE_POINTS})() > {seen}")
    progress = wait_text(page, "#train-progress", r"elapsed · about \d+:\d\d left")
    assert re.search(r"epoch \d+ of 100", progress)
    assert "epoch 1/100" in page.inner_text("#train-log")
    page.screenshot(path=tmp_path / "train-running.png", full_page=True)

    # Stop: the best model so far is kept, listed and downloadable
    page.click("#train-stop")
    wait_text(page, "#train-message", "Saved as browser-run")
    wait_text(page, "#train-progress", "Stopped")
    wait_text(page, "#train-download", "Download browser-run.zip")
    assert page.evaluate(CURVE_POINTS) >= 3
    assert (tmp_path / "checkpoints" / "browser-run" / "model.safetensors").exists()
    settle(page)
    page.screenshot(path=tmp_path / "train-stopped.png", full_page=True)

    # the Ask tab's picker has it at once, and it answers
    page.get_by_role("tab", name="Ask").click()
    page.locator("#checkpoint input").click()
    page.get_by_role("option", name=re.compile(r"browser-run \(yours\)")).click()
    run(page, STORY, "Where is Mary?")
    wait_text(page, "#answer", "checkpoint browser-run")
    settle(page)
    page.screenshot(path=tmp_path / "ask-own-checkpoint.png", full_page=True)

    # an uploaded sentiment checkpoint is in the Sentiment tab's picker at once, without a reload
    from tests.test_train_tab import tiny_sentence_checkpoint, zip_folder

    folder = tiny_sentence_checkpoint(tmp_path / "my-sentiment", "sst:binary")
    page.get_by_role("tab", name="Train").click()
    page.locator("#train-upload input[type=file]").set_input_files(str(zip_folder(folder, tmp_path / "up.zip")))
    wait_text(page, "#train-upload-status", "Added my-sentiment: it is in the Sentiment tab")
    wait_text(page, "#train-download", "Download my-sentiment.zip")
    page.get_by_role("tab", name="Sentiment").click()
    page.locator("#sst-checkpoint input").click()
    page.get_by_role("option", name=re.compile(r"my-sentiment \(yours\)")).click()
    page.locator("#sst-sentence textarea, #sst-sentence input").first.fill("not bad")
    page.click("#sst-run")
    wait_text(page, "#sst-answer", "checkpoint my-sentiment")
    print(f"screenshots: {tmp_path}")


def test_sentiment_and_part_of_speech_tabs_in_a_browser(page, tmp_path):
    page.get_by_role("tab", name="Sentiment").click()
    page.locator("#sst-sentence textarea, #sst-sentence input").first.fill("a wonderful , moving film")
    page.click("#sst-run")
    wait_text(page, "#sst-answer", "Sentiment: positive")
    page.wait_for_selector("#sst-gates .js-plotly-plot .heatmaplayer")
    page.wait_for_selector("#sst-probabilities .js-plotly-plot")
    assert "Pass 1 of 2" in wait_text(page, "#sst-sentence-by-pass", "Pass 1 of 2")
    page.locator("#sst-pass-slider input[type=number]").fill("2")
    page.locator("#sst-pass-slider input[type=number]").press("Enter")
    wait_text(page, "#sst-sentence-by-pass", "Pass 2 of 2")
    page.get_by_role("button", name="Not bad at all.").click()
    wait_text(page, "#sst-sentence-by-pass", "Pass 1 of 2")
    assert "Not" in page.inner_text("#sst-gates")
    settle(page)
    page.screenshot(path=tmp_path / "sentiment.png", full_page=True)

    page.get_by_role("tab", name="Part of speech").click()
    box = page.locator("#pos-sentence textarea, #pos-sentence input").first
    box.fill("the xyzzq dog runs")
    page.click("#pos-run")
    assert "xyzzq" in wait_text(page, "#pos-status", "xyzzq")
    assert "Legend" in wait_text(page, "#pos-tags", "DT")
    page.wait_for_selector("#pos-gates .js-plotly-plot .heatmaplayer")
    settle(page)
    page.screenshot(path=tmp_path / "pos.png", full_page=True)
    box.fill("")
    page.click("#pos-run")
    wait_text(page, "#pos-answer", "sentence is empty")
    print(f"screenshots: {tmp_path}")
