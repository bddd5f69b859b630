"""The Train tab: runs through the HTTP API of a launched app, uploads, limits, names, and its parts.

Every run here is tiny (task 1, 100-300 questions, hidden 16-32); the app trains one model at a
time, so each test waits for its run to end.
"""

import dataclasses
import json
import os
import re
import shlex
import shutil
import sys
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
pytest.importorskip("gradio")
gradio_client = pytest.importorskip("gradio_client")
Client, handle_file = gradio_client.Client, gradio_client.handle_file

from app import jobs, plots, prepare, service, train_data, train_settings, train_tab, ui  # noqa: E402
from app.jobs import JOBS, OUT, STOP, Job, _gpu_seconds, train_in_folder  # noqa: E402
from app.limits import Limits, TrainError  # noqa: E402
from app.registry import CheckpointRegistry  # noqa: E402
from app.train_data import babi_status, per_task_limit, read_babi_upload, sentence_status, task_spec  # noqa: E402
from app.train_settings import TrainSettings, check_settings, run_spec, spec_of, train_command  # noqa: E402
from app.user_checkpoints import (  # noqa: E402
    EVENTS,
    NAME_MAX,
    free_name,
    inside,
    install_checkpoint_zip,
    remove_stale_staging,
    sanitize_name,
    zip_checkpoint,
)
from dmn.checkpoint import FILES, load_checkpoint, save_checkpoint  # noqa: E402
from dmn.cli import build_parser  # noqa: E402
from dmn.data import Example, Vocab  # noqa: E402
from dmn.download import DownloadError  # noqa: E402
from dmn.ensemble import Ensemble  # noqa: E402
from dmn.model import DMN, VARIANTS, DMNConfig  # noqa: E402
from dmn.settings import ModelSettings, RunSpec, TrainConfig  # noqa: E402
from dmn.tasks import DOWNLOADS  # noqa: E402
from tests.conftest import shared_data_dir  # noqa: E402
from tests.test_app import free_port  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")
REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "checkpoints" / "babi-joint"
STORY = "Mary went to the kitchen.\nJohn went to the garden.\nMary travelled to the office."
GOOD_BABI = (
    "1 Mary moved to the bathroom.\n2 John went to the hallway.\n3 Where is Mary?\tbathroom\t1\n"
    "4 Daniel went back to the hallway.\n5 Where is Daniel?\thallway\t4\n"
    "1 Sandra travelled to the office.\n2 Where is Sandra?\toffice\t1\n"
    "1 John went to the garden.\n2 Mary went to the kitchen.\n3 Where is John?\tgarden\t1\n"
)
BAD_BABI = "1 Mary moved to the bathroom.\n2 John went to the hallway.\n3 Where is Mary?\tbathroom\n"


@pytest.fixture(scope="module")
def user_dir(tmp_path_factory):
    """The app's user checkpoint directory and data for this module (set before the app starts)."""
    data = shared_data_dir()
    if data is None:
        pytest.skip("real bAbI data not found: set DMN_DATA_DIR or put it in ../shared/data")
    folder = tmp_path_factory.mktemp("user-checkpoints")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DMN_CHECKPOINT_DIR", str(folder))
        mp.setenv("DMN_DATA_DIR", str(data))
        for name in Limits.ENV.values():
            mp.delenv(name, raising=False)
        yield folder


@pytest.fixture(scope="module")
def client(user_dir):
    demo = ui.build_demo()
    port = free_port()
    ui.launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield Client(f"http://127.0.0.1:{port}/", verbose=False, analytics_enabled=False, download_files=False)
    demo.close()


PICKERS = ("ask", "sst", "pos", "mine")  # the page's checkpoint pickers, in the order upload_checkpoint returns them


@pytest.fixture(scope="module")
def pickers(user_dir):
    """The checkpoint registry of a page, its pickers subscribed."""
    registry = CheckpointRegistry()
    ui.build_demo(registry)
    return registry


@pytest.fixture
def clean_user_dir(user_dir):
    """The user directory, emptied before the test."""
    for path in user_dir.iterdir():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return user_dir


TINY = dict(
    dataset="babi", tasks=[1], size="1k", own_file=None, variant="dmn", passes=3, hidden=16, epochs=2,
    batch_size=20, lr=0.001, gate_supervision=True, seed=0, limit=100, name="tiny", patience=8, phrases=False,
    glove=False, spelling=False, dropout=0.1, lr_decay=1.0, weight_average=0.0, positional=True,
    balance_tasks=False, tie_break_loss=False, vary_phrasing=0.0, swap_entities=0.0, swap_people=False,
)  # fmt: skip


def start(client, **changes) -> dict:
    return client.predict(*{**TINY, **changes}.values(), api_name="/train_start")


def status(client, job: str) -> dict:
    return client.predict(job, api_name="/train_status")


def wait(client, job: str, timeout: float = 60, until=lambda s: not s["running"]) -> dict:
    end = time.monotonic() + timeout
    while True:
        snap = status(client, job)
        if until(snap):
            return snap
        assert time.monotonic() < end, f"run {job} did not get there in {timeout} s: {snap['state']}"
        time.sleep(0.2)


def leftovers(folder: Path) -> list[str]:
    """Hidden work folders (staging, temporary checkpoint writes) left in the user directory."""
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def upload(client, path: Path) -> str:
    return client.predict(handle_file(str(path)), api_name="/upload_checkpoint")[0]


def zip_of(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def shipped_members(prefix: str = "") -> dict[str, bytes]:
    return {prefix + f.name: f.read_bytes() for f in SHIPPED.iterdir() if f.is_file()}


def tiny_sentence_checkpoint(path: Path, task: str, members: int = 1) -> Path:
    """An untrained one-sentence model (sentiment, or a tagger for "pos:..."), saved as a checkpoint
    (an ensemble of that many such models when members > 1)."""
    tags = task.startswith("pos:")
    examples = [
        Example([["not"], ["bad"]], ["what", "is", "the", "sentiment"], ["NOT", "ADJ"] if tags else ["positive"]),
        Example([["a"], ["dull"], ["film"]], ["what", "is", "the", "sentiment"],
                ["DT", "ADJ", "NN"] if tags else ["negative"]),
    ]  # fmt: skip
    vocab = Vocab.build(examples, lowercase=not tags)
    config = DMNConfig(
        len(vocab.words), len(vocab.answers), hidden=8, passes=2, max_facts=20, max_answer_len=2, fact_unit="word",
        answer_mode="tags" if tags else "sequence", **VARIANTS["dmn+"],
    )  # fmt: skip
    question = "what tags" if tags else "what is the sentiment"
    about = {"task": task, "question": question, "description": "tiny"}
    if members == 1:
        return save_checkpoint(path, DMN(config), vocab, about, {})
    about["members"] = [{"checkpoint": f"tiny-{i}"} for i in range(members)]
    return save_checkpoint(path, Ensemble([DMN(config) for _ in range(members)]), vocab, about, {})


def zip_folder(folder: Path, target: Path) -> Path:
    """A zip of a checkpoint folder, as a user would make it: folder/file for every file."""
    return zip_of(target, {f"{folder.name}/{f.name}": f.read_bytes() for f in folder.iterdir() if f.is_file()})


def keys(update: dict) -> list[str]:
    return [key for _, key in update["choices"]]


# --------------------------------------------------------------------------------------------
# Runs through the API


def test_tiny_run_is_listed_answers_and_round_trips_as_a_zip(client, clean_user_dir, tmp_path):
    started = start(client)
    assert started["started"] and started["error"] is None and started["token"]
    done = wait(client, started["job"])
    assert done["state"] == "done", done["message"]
    assert done["saved_as"] == "tiny" and done["epoch"] == 2
    assert [h["epoch"] for h in done["history"]] == [1, 2]
    assert "Saved as **tiny**" in done["message"]
    assert any("epoch 2/2" in line for line in done["log"])
    assert "babi:1" in done["metrics"]["test_accuracy"]
    assert leftovers(clean_user_dir) == []

    # listed, loadable, and answering through the Ask endpoint
    assert "tiny" in [key for _, key in service.ASK_CHECKPOINTS.choices()]
    checkpoint = load_checkpoint(clean_user_dir / "tiny")
    assert checkpoint.config["command"].startswith("python -m dmn train --task babi:1")
    answer = client.predict(STORY, "Where is Mary?", "tiny", 0, api_name="/ask")
    assert answer["error"] is None and answer["checkpoint"] == "tiny" and len(answer["gates"]) == 3

    # downloaded as a zip of the folder, uploaded back under a free name
    download = client.predict("tiny", api_name="/download_checkpoint")
    zip_path = Path(download["value"]["path"])
    with zipfile.ZipFile(zip_path) as archive:
        assert sorted(archive.namelist()) == [
            "tiny/config.json", "tiny/kinds.json", "tiny/metrics.json", "tiny/model.safetensors", "tiny/vocab.json",
        ]  # fmt: skip
    message = upload(client, zip_path)
    assert "Added **tiny-2**" in message
    assert load_checkpoint(clean_user_dir / "tiny-2").kinds is not None  # it still reads new names and places
    assert client.predict(STORY, "Where is Mary?", "tiny-2", 0, api_name="/ask")["error"] is None
    assert leftovers(clean_user_dir) == []


def test_one_run_at_a_time_stop_keeps_the_best_and_ask_stays_served(client, clean_user_dir):
    started = start(client, epochs=200, limit=300, hidden=32, name="long run", patience=0)
    job, token = started["job"], started["token"]
    try:
        wait(client, job, until=lambda s: s["epoch"] >= 1)

        busy = start(client, name="second")  # a second Start: refused, shows the running job
        assert busy["busy"] and not busy["started"] and busy["job"] == job and busy["token"] is None
        assert "one model at a time" in busy["error"]

        t0 = time.perf_counter()  # the Ask endpoint is served while training goes on
        assert client.predict(STORY, "Where is Mary?", "", 0, api_name="/ask")["answer"] == "office"
        assert time.perf_counter() - t0 < 15

        refused = client.predict(job, "wrong-token", api_name="/train_stop")
        assert not refused["stopping"] and "Only whoever started" in refused["error"]
        assert client.predict(job, token, api_name="/train_stop")["stopping"]
    finally:
        JOBS.stop(job, token)
    done = wait(client, job)
    assert done["state"] == "stopped", done["message"]
    assert done["saved_as"] == "long-run" and 1 <= done["epoch"] < 200
    assert done["eta"] == 0
    metrics = json.loads((clean_user_dir / "long-run" / "metrics.json").read_text())
    assert metrics["stopped"] == "by the user" and metrics["best_epoch"] >= 1
    load_checkpoint(clean_user_dir / "long-run")
    assert sorted(p.name for p in clean_user_dir.iterdir()) == ["long-run"]  # nothing partial, nothing hidden


def test_stop_before_the_first_epoch_saves_nothing(clean_user_dir):
    job = JOBS.start(TrainSettings(tasks=[1], hidden=16, epochs=5, name="never"))
    assert JOBS.stop(job.id, job.token)[0]
    job = JOBS.wait(job.id, 60)
    assert job.state == "cancelled" and "nothing was saved" in job.message
    assert list(clean_user_dir.iterdir()) == []


def test_time_limit_stops_the_run_and_keeps_the_best(clean_user_dir, monkeypatch):
    monkeypatch.setenv("DMN_MAX_TRAIN_SECONDS", "3")
    settings = TrainSettings(tasks=[1], hidden=16, epochs=200, batch_size=20, limit=100, patience=0, name="timed")
    job = JOBS.wait(JOBS.start(settings).id, 60)
    assert job.state == "stopped" and "time limit" in job.message, job.message
    metrics = json.loads((clean_user_dir / "timed" / "metrics.json").read_text())
    assert "DMN_MAX_TRAIN_SECONDS" in metrics["stopped"]
    assert time.time() - job.started < 30 and leftovers(clean_user_dir) == []


def test_data_limit_uses_the_first_questions_of_each_task(clean_user_dir, monkeypatch):
    monkeypatch.setenv("DMN_MAX_TRAIN_EXAMPLES", "160")
    settings = TrainSettings(tasks=[1, 2], hidden=16, epochs=1, batch_size=40, name="small")
    job = JOBS.wait(JOBS.start(settings).id, 60)
    assert job.state == "done", job.message
    log = "\n".join(job.log)
    assert "using the first 80 questions of each task" in log
    assert "140 training and 20 validation questions" in log  # per task, 2 of its 16 five-question stories
    assert job.metrics["data"]["task"] == "babi:1,2"


def test_epoch_limit_and_bad_settings_are_refused_with_messages(client, monkeypatch):
    monkeypatch.setenv("DMN_MAX_EPOCHS", "5")
    refused = start(client, epochs=6)
    assert not refused["started"] and "at most 5 epochs (DMN_MAX_EPOCHS)" in refused["error"]
    assert "at least one bAbI task" in start(client, tasks=[])["error"]
    assert "Batch size must be between 1 and 1024" in start(client, batch_size=0)["error"]
    assert "learning rate must be between" in start(client, lr=5)["error"]
    assert "Upload a text file" in start(client, dataset="file")["error"]


def test_missing_data_without_internet_says_how_to_get_it(clean_user_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("DMN_DATA_DIR", str(tmp_path / "empty"))
    found, note = babi_status([1], "1k")
    assert not found and "Start** downloads it" in note and "python -m dmn download babi" in note

    def offline(data_dir):
        raise DownloadError("could not download https://dl.fbaipublicfiles.com/...: no network")

    monkeypatch.setitem(DOWNLOADS, "babi", DOWNLOADS["babi"]._replace(run=offline))
    earlier = JOBS.current()
    if earlier is not None:  # a run left by an earlier test must end first: one run at a time
        JOBS.wait(earlier.id, 120)
    job = JOBS.wait(JOBS.start(TrainSettings(hidden=16, epochs=1)).id, 120)
    assert job.state == "failed"
    assert "could not be downloaded" in job.message and "python -m dmn download babi" in job.message
    assert "DMN_DATA_DIR" in job.message and list(clean_user_dir.iterdir()) == []


# --------------------------------------------------------------------------------------------
# Sentence tasks: sentiment (SST) and part of speech (UD English EWT)


def test_tiny_sst_run_is_listed_in_the_sentiment_tab_and_answers(client, clean_user_dir, pickers):
    if sentence_status("sst:binary")[0] is False:
        pytest.skip("SST data not found in DMN_DATA_DIR")
    started = start(client, dataset="sst-binary", tasks=[], gate_supervision=True, limit=100, epochs=1, name="")
    assert started["started"], started["error"]
    done = wait(client, started["job"], timeout=120)
    assert done["state"] == "done", done["message"]
    assert done["saved_as"] == "dmn-sst-binary" and "Sentiment tab's checkpoint picker" in done["message"]
    config = load_checkpoint(clean_user_dir / "dmn-sst-binary").config
    assert config["task"] == "sst:binary" and config["train"]["gate_supervision"] == 0
    assert config["command"].startswith("python -m dmn train --task sst:binary") and "--limit 100" in config["command"]

    # in the Sentiment tab's picker (a finished run refreshes it), not in the Ask tab's
    assert "dmn-sst-binary" in [key for _, key in service.SENTIMENT_CHECKPOINTS.choices()]
    assert "dmn-sst-binary" not in [key for _, key in service.ASK_CHECKPOINTS.choices()]
    session, seen = {"job": started["job"]}, {"job": started["job"], "running": True}
    polled = dict(zip((*train_tab.POLLED, *PICKERS), pickers.announcing(train_tab.poll)(session, seen),
                      strict=True))  # fmt: skip
    assert polled["sst"]["value"] == "dmn-sst-binary" and polled["mine"]["value"] == "dmn-sst-binary"
    assert "dmn-sst-binary" in [key for _, key in polled["sst"]["choices"]]
    assert "dmn-sst-binary" in [key for _, key in polled["mine"]["choices"]]
    assert "value" not in polled["pos"] and "value" not in polled["ask"]
    assert "dmn-sst-binary" not in [key for _, key in polled["pos"]["choices"] + polled["ask"]["choices"]]

    answer = client.predict("not bad at all", "dmn-sst-binary", api_name="/sentiment")
    assert answer["error"] is None and answer["checkpoint"] == "dmn-sst-binary"
    assert len(answer["gates"]) == 3 and len(answer["gates"][0]) == 4  # 3 passes over the 4 words (1 epoch: the
    # label itself may still be empty)


def command_settings(command: str) -> RunSpec:
    """The settings a `python -m dmn train ...` command line of the tab gives."""
    args = build_parser().parse_args(shlex.split(command.partition("  #")[0])[3:])
    return RunSpec.from_arguments(args)


def test_sentence_settings_build_the_right_run_spec(monkeypatch, tmp_path, data_dir):
    monkeypatch.setenv("DMN_DATA_DIR", str(data_dir))  # on its own too, not only after a test that set it
    monkeypatch.setattr(train_settings, "glove_available", lambda: True)
    limits = Limits(max_train_examples=None)
    settings = TrainSettings(dataset="sst-fine", tasks=[], gate_supervision=1.0, phrases=True, glove=True,
                                      hidden=16, epochs=3, limit=50, variant="dmn+", spelling=True)  # fmt: skip
    s = check_settings(settings, limits)
    assert s.gate_supervision == 0.0 and s.phrases and s.glove and s.spelling
    monkeypatch.setattr(train_data, "sentence_status", lambda task: (True, ""))
    data = prepare.prepare(s, limits, lambda line: None)
    spec = run_spec(s, data)
    assert (spec.task, spec.model.variant, spec.model.hidden, spec.limit) == ("sst:fine", "dmn+", 16, 50)
    assert spec.phrases and spec.model.embeddings == "glove" and spec.train.gate_supervision == 0.0
    assert "--phrases" in data.command and "--embeddings glove" in data.command
    assert "--gate-supervision" not in data.command
    assert command_settings(data.command) == dataclasses.replace(spec, description="")  # the command trains the same
    assert spec.model.word_signatures and spec.model.char_features and spec.train.rare_word_dropout == 0.25
    assert all(flag in data.command for flag in ("--word-signatures", "--char-features", "--rare-word-dropout 0.25"))
    assert prepare.default_name(s) == "dmnplus-sst-fine"
    assert (spec.model.dropout, spec.train.lr_decay, spec.train.weight_average) == (0.1, 1.0, 0.0)
    assert spec.model.positional_encoding and "--no-positional-encoding" not in data.command
    assert not spec.train.tie_break_loss and "--tie-break-loss" not in data.command
    tuned = check_settings(
        dataclasses.replace(
            settings,
            dropout=0.3,
            lr_decay=0.5,
            weight_average=0.999,
            positional=False,
            balance_tasks=True,
            tie_break_loss=True,
        ),
        limits,
    )
    data = prepare.prepare(tuned, limits, lambda line: None)
    spec = run_spec(tuned, data)
    assert (spec.model.dropout, spec.train.lr_decay, spec.train.weight_average) == (0.3, 0.5, 0.999)
    assert (
        "--dropout 0.3" in data.command
        and "--lr-decay 0.5" in data.command
        and "--weight-average 0.999" in data.command
    )
    assert command_settings(data.command) == dataclasses.replace(spec, description="")
    assert not spec.model.positional_encoding and "--no-positional-encoding" in data.command
    assert tuned.tie_break_loss and spec.train.tie_break_loss and "--tie-break-loss" in data.command
    assert not tuned.balance_tasks and "--balance-tasks" not in data.command  # one task: nothing to balance

    pos = check_settings(TrainSettings(dataset="pos-ewt", phrases=True), limits)
    assert not pos.phrases and not pos.glove and pos.gate_supervision == 0.0  # phrases are SST's
    spec = run_spec(pos, prepare.prepare(pos, limits, lambda line: None))
    assert spec.task == "pos:ewt" and not spec.phrases and spec.model.embeddings is None
    assert not (spec.model.char_features or spec.model.word_signatures) and spec.train.rare_word_dropout == 0
    with pytest.raises(TrainError, match="spelling needs the DMN\\+ model"):
        check_settings(TrainSettings(dataset="pos-ewt", spelling=True), limits)
    assert prepare.default_name(pos) == "dmn-pos-ewt"

    babi = check_settings(TrainSettings(tasks=[1], phrases=True, glove=True, spelling=True), limits)
    assert babi.gate_supervision == 1.0 and not babi.phrases and not babi.glove and not babi.spelling
    joint = check_settings(TrainSettings(tasks=[3, 1], balance_tasks=True, vary_phrasing=0.5, swap_entities=0.5,
                                         swap_people=True), limits)  # fmt: skip
    command = train_command(spec_of(joint, task_spec(joint.tasks), joint.size, None))
    assert joint.balance_tasks and "--task babi:1,3" in command and "--balance-tasks" in command
    assert "--vary-phrasing 0.5" in command  # bAbI's stories told more freely
    assert "--swap-entities 0.5" in command  # and their names and places shuffled
    assert "--swap-people" in command  # the people too
    sst = check_settings(TrainSettings(dataset="sst-binary", vary_phrasing=0.5, swap_entities=0.5, swap_people=True),
                         limits)  # fmt: skip
    assert sst.vary_phrasing == sst.swap_entities == 0.0 and not sst.swap_people
    with pytest.raises(TrainError, match="Swapping the people too works with 'Swap names and places'"):
        check_settings(TrainSettings(tasks=[2], swap_people=True), limits)
    with pytest.raises(TrainError, match="must be between 0 and 1"):
        check_settings(TrainSettings(tasks=[1], vary_phrasing=2), limits)

    monkeypatch.setattr(train_settings, "glove_available", lambda: False)
    with pytest.raises(TrainError, match="requirements-train.txt"):
        check_settings(TrainSettings(dataset="sst-binary", glove=True), limits)


def test_missing_sentence_data_is_downloaded_at_start_or_says_how_to_get_it(clean_user_dir, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    monkeypatch.setenv("DMN_DATA_DIR", str(empty))
    found, note = sentence_status("pos:ewt")
    assert not found and "Start** downloads it" in note and "python -m dmn download ewt" in note
    assert "pos/ud_english_ewt" in note and "DMN_DATA_DIR" in note
    assert "python -m dmn download sst" in train_tab.data_status("sst-binary", [], "1k")

    def offline(data_dir):
        raise DownloadError("could not download https://nlp.stanford.edu/...: no network")

    monkeypatch.setitem(DOWNLOADS, "sst", DOWNLOADS["sst"]._replace(run=offline))
    job = JOBS.wait(JOBS.start(TrainSettings(dataset="sst-binary", hidden=16, epochs=1)).id, 30)
    assert job.state == "failed" and "could not be downloaded" in job.message and "no network" in job.message
    assert "python -m dmn download sst" in job.message and list(clean_user_dir.iterdir()) == []

    source = shared_data_dir()
    if source is None or not (source / "sst" / "train.txt").is_file():
        pytest.skip("SST data not found in DMN_DATA_DIR")

    def download(data_dir):  # stands in for the network: the files the real download writes
        shutil.copytree(source / "sst", data_dir / "sst")
        return data_dir / "sst"

    monkeypatch.setitem(DOWNLOADS, "sst", DOWNLOADS["sst"]._replace(run=download))
    settings = TrainSettings(dataset="sst-binary", tasks=[], hidden=16, epochs=1, limit=50)
    job = JOBS.wait(JOBS.start(settings).id, 120)
    assert job.state == "done", job.message
    assert "downloading it (about 0.8 MB)" in "\n".join(job.log)
    assert sentence_status("sst:binary")[0]


# --------------------------------------------------------------------------------------------
# Your own bAbI file


def test_own_babi_file_is_checked_and_trained_on(client, clean_user_dir, tmp_path):
    good = tmp_path / "my stories.txt"
    good.write_text(GOOD_BABI * 5, encoding="utf-8")
    note = client.predict(handle_file(str(good)), api_name="/check_babi_file")
    assert note.startswith("✔ my stories.txt: 20 questions")
    started = start(client, dataset="file", own_file=handle_file(str(good)), name="", epochs=1, batch_size=5)
    assert started["started"], started["error"]
    done = wait(client, started["job"])
    assert done["state"] == "done", done["message"]
    assert done["saved_as"] == "dmn-my-stories"
    config = load_checkpoint(clean_user_dir / "dmn-my-stories").config
    assert config["task"] == "file:my-stories" and "my stories.txt" in config["description"]
    assert done["metrics"]["test_accuracy"] == {}  # no test set for an own file
    answer = client.predict("Mary moved to the bathroom.", "Where is Mary?", "dmn-my-stories", 0, api_name="/ask")
    assert answer["error"] is None and answer["checkpoint"] == "dmn-my-stories"


def test_malformed_babi_file_is_refused_naming_the_line(client, tmp_path):
    bad = tmp_path / "broken.txt"
    bad.write_text(BAD_BABI, encoding="utf-8")
    note = client.predict(handle_file(str(bad)), api_name="/check_babi_file")
    assert "broken.txt, line 3" in note and "question line needs" in note
    assert str(tmp_path) not in note and "/tmp/gradio" not in note  # no server paths
    refused = start(client, dataset="file", own_file=handle_file(str(bad)))
    assert not refused["started"] and "broken.txt, line 3" in refused["error"]
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert "not UTF-8" in client.predict(handle_file(str(binary)), api_name="/check_babi_file")


# --------------------------------------------------------------------------------------------
# Checkpoint uploads


@pytest.mark.parametrize(
    "members, message",
    [
        ({**shipped_members("m/"), "m/weights.pkl": b"\x80\x04K\x01."}, "'m/weights.pkl' is not allowed"),
        ({**shipped_members(), "model.pt": b"x"}, "never pickles"),
        ({**shipped_members(), "../evil.json": b"{}"}, "points outside its folder"),
        ({"/etc/config.json": b"{}"}, "not allowed (an absolute path?)"),
        ({"a/b/config.json": b"{}"}, "nested too deep"),
        ({"config.json": b"{}", "vocab.json": b"{}"}, "missing model.safetensors"),
        ({**shipped_members(), "config.json": b"{not json"}, "not a checkpoint this app can load"),
        ({**shipped_members(), "model.safetensors": b"\x00" * 100}, "not a checkpoint this app can load"),
    ],
)
def test_bad_checkpoint_zips_are_refused(client, clean_user_dir, tmp_path, members, message):
    path = tmp_path / "upload.zip"
    with zipfile.ZipFile(path, "w") as archive:  # writestr keeps odd names (../, /) as given
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data)
    reply = upload(client, path)
    assert reply.startswith("✘") and message in reply, reply
    assert list(clean_user_dir.iterdir()) == []


def test_garbage_and_oversize_uploads_are_refused(client, clean_user_dir, tmp_path, monkeypatch):
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(os.urandom(2000))
    assert "garbage.zip is not a zip file" in upload(client, garbage)

    monkeypatch.setenv("DMN_MAX_UPLOAD_MB", "1")
    bomb = zip_of(tmp_path / "bomb.zip", {**shipped_members(), "model.safetensors": b"\x00" * (3 << 20)})
    assert bomb.stat().st_size < 100_000  # small to upload, 3 MB unpacked
    assert re.search(r"bomb.zip unpacks to 3\.\d MB; the limit is 1 MB", upload(client, bomb))
    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("model.safetensors", os.urandom(1_200_000))
    assert "big.zip is 1.1 MB; the limit is 1 MB" in upload(client, big)
    assert list(clean_user_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("task", "picker", "tab", "endpoint"),
    [("sst:binary", "sst", "Sentiment", "/sentiment"), ("pos:ewt", "pos", "Part of speech", "/tag")],
)
def test_an_uploaded_sentence_checkpoint_reaches_its_own_tab_and_downloads(
    client, clean_user_dir, tmp_path, task, picker, tab, endpoint
):
    folder = tiny_sentence_checkpoint(tmp_path / "my-model", task)
    message, *updates = client.predict(handle_file(str(zip_folder(folder, tmp_path / "up.zip"))),
                                       api_name="/upload_checkpoint")  # fmt: skip
    assert f"Added **my-model**: it is in the {tab} tab's checkpoint picker" in message
    pickers = dict(zip(PICKERS, updates, strict=True))
    other = {"sst": "pos", "pos": "sst"}[picker]
    # in its own tab's picker (chosen there) and in the download picker, in no other picker
    assert "my-model" in keys(pickers[picker]) and pickers[picker]["value"] == "my-model"
    assert "my-model" in keys(pickers["mine"]) and pickers["mine"]["value"] == "my-model"
    assert "my-model" not in keys(pickers[other]) + keys(pickers["ask"])
    assert "value" not in pickers[other] and "value" not in pickers["ask"]
    assert {"sst-binary", "pos-ewt", "babi-joint"} <= set(keys(pickers["mine"]))  # the shipped ones too
    label = dict((key, label) for label, key in pickers["mine"]["choices"])["my-model"]
    assert "(yours)" in label and f"{tab} tab" in label
    answer = client.predict("not bad", "my-model", api_name=endpoint)
    assert answer["error"] is None and answer["checkpoint"] == "my-model"

    # downloaded through the endpoint as a zip of its folder, and it loads again
    download = client.predict("my-model", api_name="/download_checkpoint")
    with zipfile.ZipFile(download["value"]["path"]) as archive:
        assert sorted(archive.namelist()) == [f"my-model/{f}" for f in sorted(FILES)]
        archive.extractall(tmp_path / "back")
    assert load_checkpoint(tmp_path / "back" / "my-model").config["task"] == task

    # a shipped sentence checkpoint downloads too; a folder that is not a listed checkpoint never does
    shipped = client.predict("sst-binary", api_name="/download_checkpoint")
    with zipfile.ZipFile(shipped["value"]["path"]) as archive:
        assert "sst-binary/model.safetensors" in archive.namelist()
    for key in (str(folder), str(tmp_path), "../my-model", "/etc/passwd", ".upload-x"):
        refused = client.predict(key, api_name="/download_checkpoint")
        assert refused["value"] is None and refused["interactive"] is False, key


def test_the_download_picker_lists_every_checkpoint_and_refreshes_with_the_others(clean_user_dir, tmp_path, pickers):
    tiny_sentence_checkpoint(clean_user_dir / "mine-sst", "sst:fine")
    shutil.copytree(SHIPPED, clean_user_dir / "mine-babi")
    found = {key for _, key in service.ALL_CHECKPOINTS.choices()}
    assert {"mine-sst", "mine-babi", "babi-joint", "sst-binary", "sst-fine", "pos-ewt"} <= found
    assert zip_checkpoint("mine-sst").name == "mine-sst.zip"
    assert zip_checkpoint(str(clean_user_dir / "mine-babi")).name == "mine-babi.zip"
    with pytest.raises(Exception, match="No checkpoint called"):
        zip_checkpoint(str(tmp_path))

    # one helper refreshes every picker, for uploads and finished runs alike
    updates = pickers.updates("mine-babi")
    assert list(updates) == list(PICKERS)
    assert "mine-babi" in keys(updates["ask"]) and "value" not in updates["ask"]  # listed, not switched to
    assert updates["mine"]["value"] == "mine-babi"
    assert "mine-babi" not in keys(updates["sst"]) + keys(updates["pos"])
    assert "mine-sst" in keys(updates["sst"]) and "mine-sst" not in keys(updates["ask"]) + keys(updates["pos"])
    assert all("value" not in update for update in pickers.updates().values())


def test_a_good_zip_installs_under_a_sanitised_free_name(clean_user_dir, tmp_path):
    path = zip_of(tmp_path / "x.zip", {**shipped_members("..hidden name★/"), "__MACOSX/._x": b"", ".DS_Store": b""})
    assert install_checkpoint_zip(path) == "hidden-name"
    assert install_checkpoint_zip(zip_of(tmp_path / "babi-joint.zip", shipped_members())) == "babi-joint-2"
    assert sorted(p.name for p in clean_user_dir.iterdir()) == ["babi-joint-2", "hidden-name"]
    assert not (REPO / "checkpoints" / "babi-joint-2").exists()


def test_an_ensemble_zips_with_its_members_weights_and_installs_again(clean_user_dir):
    tiny_sentence_checkpoint(clean_user_dir / "mine-pos", "pos:ewt", members=2)
    path = zip_checkpoint("mine-pos")
    with zipfile.ZipFile(path) as archive:
        files = ["config.json", "metrics.json", "model-2.safetensors", "model.safetensors", "vocab.json"]
        assert sorted(archive.namelist()) == [f"mine-pos/{file}" for file in files]
    assert install_checkpoint_zip(path) == "mine-pos-2"
    assert len(load_checkpoint(clean_user_dir / "mine-pos-2").model.members) == 2


def test_a_shipped_ensemble_that_shares_weights_zips_with_copies_of_them(tmp_path):
    """sst-fine names four of sst-binary's weight files: its zip holds them, and installs on its own."""
    shared = [m["weights"] for m in json.loads((REPO / "checkpoints/sst-fine/config.json").read_text())["members"]]
    assert all(name.startswith("../sst-binary/") for name in shared)
    with zipfile.ZipFile(zip_checkpoint("sst-fine")) as archive:
        weights = sorted(name for name in archive.namelist() if name.endswith(".safetensors"))
        assert weights == [f"sst-fine/model{n}.safetensors" for n in ("-2", "-3", "-4", "")]
        assert (
            archive.read("sst-fine/model-2.safetensors")
            == (REPO / "checkpoints/sst-binary/model-2.safetensors").read_bytes()
        )
        archive.extractall(tmp_path)
    alone = load_checkpoint(tmp_path / "sst-fine")
    assert [m["weights"] for m in alone.config["members"]][:2] == ["model.safetensors", "model-2.safetensors"]
    assert len(alone.model.members) == 4


# --------------------------------------------------------------------------------------------
# Names and limits


@pytest.mark.parametrize(
    "raw, name",
    [
        ("My model!", "My-model"),
        ("../../etc/passwd", "etc-passwd"),
        (".hidden", "hidden"),
        ("--option", "option"),
        ("a/b\\c", "a-b-c"),
        ("Modèle été", "Modele-ete"),
        ("dmn+ task 1", "dmn-task-1"),
        ("ok_name-1.2", "ok_name-1.2"),
        ("", "fallback"),
        ("..", "fallback"),
        ("★★★", "fallback"),
        ("x" * 100, "x" * NAME_MAX),
    ],
)
def test_names_are_sanitised(raw, name):
    assert sanitize_name(raw, "fallback") == name


def test_taken_names_get_a_suffix_and_nothing_escapes(tmp_path, monkeypatch):
    monkeypatch.setenv("DMN_CHECKPOINT_DIR", str(tmp_path))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine-2").mkdir()
    assert free_name("mine") == "mine-3"
    assert free_name("babi-joint") == "babi-joint-2"  # a shipped name is taken too
    assert free_name("new") == "new"
    long = "y" * NAME_MAX
    (tmp_path / long).mkdir()
    assert free_name(long) == "y" * (NAME_MAX - 2) + "-2"
    for bad in ("..", "../x", "a/b", ""):
        with pytest.raises(TrainError):
            inside(tmp_path, bad)


def test_limits_come_from_the_environment():
    assert Limits.from_env({}) == Limits(256, 200_000, 21_600, 50)
    limits = Limits.from_env(
        {"DMN_MAX_EPOCHS": "5", "DMN_MAX_TRAIN_EXAMPLES": "0", "DMN_MAX_TRAIN_SECONDS": "60", "DMN_MAX_UPLOAD_MB": "x"}
    )
    assert limits == Limits(max_epochs=5, max_train_examples=None, max_train_seconds=60, max_upload_mb=50)
    assert Limits.from_env({"DMN_MAX_EPOCHS": "-3"}).max_epochs == 256
    assert "at most 5 epochs, all questions, 1:00 per run" in limits.describe()


def test_the_data_limit_splits_evenly_over_tasks():
    assert per_task_limit({1: 1000, 2: 1000}, None, None) == (None, False)
    assert per_task_limit({1: 1000, 2: 1000}, 100, 500) == (100, False)
    assert per_task_limit({1: 1000, 2: 1000}, None, 500) == (250, True)
    assert per_task_limit({1: 1000, 2: 1000}, 400, 500) == (250, True)
    with pytest.raises(TrainError, match="Choose fewer tasks"):
        per_task_limit(dict.fromkeys(range(20), 1000), None, 30)


def test_settings_are_checked():
    limits = Limits(max_epochs=10)
    ok = check_settings(TrainSettings(tasks=[3, 1, 3], epochs=10.0, limit=0, seed=2.0), limits)
    assert ok.tasks == [1, 3] and ok.epochs == 10 and ok.limit is None and ok.seed == 2
    for changes, message in [
        ({"epochs": 11}, "at most 10 epochs"),
        ({"epochs": 2.5}, "whole number"),
        ({"tasks": [21]}, "tasks 1 to 20"),
        ({"variant": "lstm"}, "'dmn' or 'dmn+'"),
        ({"size": "5k"}, "'1k' or '10k'"),
        ({"hidden": 2}, "Hidden size must be between 4 and 512"),
        ({"passes": 0}, "Passes must be between 1 and 10"),
        ({"limit": 1}, "at least 2 questions"),
        ({"patience": -1}, "Patience must be 0"),
        ({"dropout": 1.0}, "Dropout must be between 0 and 0.9"),
        ({"lr_decay": 0}, "learning-rate decay must be between 0.01 and 1"),
        ({"weight_average": 1}, "weight average's decay must be between 0 and 0.9999"),
        ({"positional": False}, "Plain word vectors are a setting of DMN+'s input module"),
        ({"dataset": "sst"}, "Unknown dataset"),
    ]:
        with pytest.raises(TrainError, match=re.escape(message)):
            check_settings(TrainSettings(**{"epochs": 5, **changes}), limits)


# --------------------------------------------------------------------------------------------
# The parts


def test_training_curves_grow_and_star_the_best_epoch():
    empty = plots.training_curves([], 10)
    assert [len(t.x) for t in empty.data] == [0, 0] and empty.layout.annotations[-1].text.startswith("The curves")
    history = [
        {"epoch": 1, "train_loss": 2.0, "val_accuracy": 0.3},
        {"epoch": 2, "train_loss": 1.0, "val_accuracy": 0.6},
        {"epoch": 3, "train_loss": 0.8, "val_accuracy": 0.5},
    ]
    fig = plots.training_curves(history, 40, best_epoch=2)
    assert list(fig.data[0].y) == [2.0, 1.0, 0.8] and list(fig.data[1].y) == [0.3, 0.6, 0.5]
    assert list(fig.data[2].x) == [2] and fig.data[2].marker.symbol == "star"
    assert fig.layout.xaxis.range == (0.5, 10.5)  # 10 epochs wide at first, growing with the run


def test_progress_shows_epoch_elapsed_and_eta():
    snap = {
        "job": "j", "name": "m", "state": "training", "running": True, "epoch": 2, "epochs": 10, "elapsed": 65,
        "eta": 130, "fraction": 0.2, "time_limit": None, "history": [{"seconds": 16.0}] * 2,
        "best_val_accuracy": 0.5, "best_epoch": 2, "device": "cpu", "saved_as": None,
    }  # fmt: skip
    html = train_tab.progress_html(snap)
    assert "epoch 2 of 10" in html and "1:05 elapsed" in html and "about 2:10 left" in html
    assert "width:20.0%" in html and "best validation accuracy 50.0% (epoch 2)" in html
    first = train_tab.progress_html({**snap, "epoch": 0, "eta": None, "history": []})
    assert "known after the first batches" in first and "dmn-waiting" in first
    done = train_tab.progress_html({**snap, "state": "done", "running": False, "saved_as": "m"})
    assert "took 1:05" in done and "width:100%" in done and "saved as <b>m</b>" in done


def test_progress_within_an_epoch_follows_its_batches(tmp_path):
    job = Job(TrainSettings(epochs=4), Limits(max_train_seconds=None), "m", tmp_path)
    job.state = "training"
    now = time.time()
    assert job.eta(now) is None and job.fraction(now) == 0
    job._apply({"type": "step", "epoch": 1, "done": 5, "total": 10, "seconds": 20.0, "time": now})
    assert job.fraction(now) == pytest.approx(0.5 / 4)
    assert job.eta(now) == pytest.approx(140)  # 40 s an epoch by its first batches, 3.5 epochs to go
    assert job.eta(now + 2) == pytest.approx(138)
    snap = job.snapshot()
    assert snap["step"] == {"epoch": 1, "done": 5, "total": 10}
    html = train_tab.progress_html(snap)
    assert "epoch 1 of 4, batch 5 of 10" in html and re.search(r"about 2:[12]\d left", html)
    assert "dmn-waiting" not in html and "width:12.5%" in html

    epoch = {"type": "epoch", "epoch": 1, "epochs": 4, "train_loss": 1.0, "val_accuracy": 0.5, "best_epoch": 1,
             "best_val_accuracy": 0.5, "seconds": 50.0, "improved": True, "time": now}  # fmt: skip
    job._apply(epoch)
    assert job.current_step() is None and job.snapshot()["step"] is None
    job._apply({"type": "step", "epoch": 2, "done": 2, "total": 10, "seconds": 8.0, "time": now})
    assert job.fraction(now) == pytest.approx(1.2 / 4)
    assert job.eta(now) == pytest.approx(50 * 2.8)  # the epochs' own time (validation included) from here on


def test_train_in_folder_reports_batches_and_why_it_stopped(tmp_path, monkeypatch):
    stories = tmp_path / "stories.txt"
    stories.write_text(GOOD_BABI * 5, encoding="utf-8")
    examples = read_babi_upload(stories, Limits())
    monkeypatch.setattr(jobs, "STEP_SECONDS", 0)  # a step event after every batch

    def spec(epochs: int) -> RunSpec:
        return RunSpec(task=examples[0].task, size="format", model=ModelSettings(hidden=8),
                       train=TrainConfig(epochs=epochs, batch_size=4, patience=None))  # fmt: skip

    def events(folder: Path) -> list[dict]:
        return [json.loads(line) for line in (folder / EVENTS).read_text().splitlines()]

    done = tmp_path / "done"
    done.mkdir()
    metrics = train_in_folder(spec(3), str(done), examples=examples)
    assert metrics["stopped"] == "last epoch" and metrics["epochs_run"] == 3  # no patience: every epoch
    seen = events(done)
    assert seen[0]["type"] == "prepared" and seen[0]["train"] == 18
    steps = [(e["epoch"], e["done"], e["total"]) for e in seen if e["type"] == "step"]
    assert steps == [(epoch, i, 5) for epoch in (1, 2, 3) for i in range(1, 6)]  # 18 questions, batches of 4
    kinds = [e["type"] if e["type"] == "step" else f"{e['type']}{e.get('epoch', '')}" for e in seen]
    assert kinds == ["prepared", *[kind for n in (1, 2, 3) for kind in ["step"] * 5 + [f"epoch{n}"]]]

    timed = tmp_path / "timed"  # the deadline ends a long run; the library writes why into metrics.json
    timed.mkdir()
    metrics = train_in_folder(spec(100_000), str(timed), examples=examples, deadline=time.time() + 1.5,
                                       time_limit="time limit (0:01, a test)")  # fmt: skip
    assert metrics["stopped"] == "time limit (0:01, a test)" and 1 <= metrics["epochs_run"] < 100_000
    saved = json.loads((timed / OUT / "metrics.json").read_text())
    assert saved["stopped"] == "time limit (0:01, a test)"

    stopped = tmp_path / "stopped"  # a STOP file: "by the user"
    stopped.mkdir()
    (stopped / STOP).touch()
    metrics = train_in_folder(spec(100_000), str(stopped), examples=examples)
    assert metrics["stopped"] == "by the user"


def test_job_eta_uses_recent_epochs_and_the_deadline(tmp_path):
    job = Job(TrainSettings(epochs=10), Limits(max_train_seconds=None), "m", tmp_path)
    job.state = "training"
    now = time.time()
    job.history = [{"epoch": i, "seconds": 10.0, "time": now} for i in (1, 2)]
    assert job.eta(now) == pytest.approx(80)
    assert job.eta(now + 5) == pytest.approx(75)
    job.deadline = now + 30
    assert job.eta(now) == pytest.approx(30)
    assert 0.2 <= job.fraction(now) < 0.3


def test_zip_names_use_the_checkpoint_folder(clean_user_dir):
    path = zip_checkpoint("babi-joint")
    with zipfile.ZipFile(path) as archive:
        assert "babi-joint/model.safetensors" in archive.namelist()
    with pytest.raises(Exception, match="No checkpoint called"):
        zip_checkpoint("nope")


def test_on_zerogpu_training_asks_for_its_time_limit(monkeypatch):
    calls = []

    def gpu(fn=None, **kwargs):
        calls.append(kwargs)
        return (lambda f: ("gpu", f)) if fn is None else ("gpu", fn)

    monkeypatch.setitem(sys.modules, "spaces", SimpleNamespace(GPU=gpu))
    assert service.on_gpu(train_in_folder, duration=_gpu_seconds) == (
        "gpu", train_in_folder,
    )  # fmt: skip
    assert calls == [{"duration": _gpu_seconds}]
    assert 150 <= _gpu_seconds(None, "f", None, None, "", time.time() + 100) <= 160
    assert _gpu_seconds(None, "f", deadline=None) == 3600


def test_stale_work_folders_of_crashed_runs_are_removed(tmp_path):
    old, new, mine = tmp_path / ".training-old", tmp_path / ".upload-new", tmp_path / ".other"
    for folder in (old, new, mine):
        folder.mkdir()
    day_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (day_ago, day_ago))
    os.utime(mine, (day_ago, day_ago))
    remove_stale_staging(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other", ".upload-new"]
