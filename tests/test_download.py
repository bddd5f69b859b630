import hashlib
import io
import tarfile
import zipfile

import pytest

from dmn.download import DownloadError, fetch, safe_extract
from dmn.tasks import load_task
from dmn.tasks.babi import download_babi
from dmn.tasks.pos import EWT_SHA256, download_ewt
from dmn.tasks.sst import download_sst
from tests.conftest import shared_data_dir
from tests.test_cli import run_cli


def make_tar(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for name, kind in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                data = b"1 Mary went home.\n"
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tar.addfile(info)


def test_safe_extract_unpacks_plain_files(tmp_path):
    archive = tmp_path / "ok.tar.gz"
    make_tar(archive, [("tasks_1-20_v1-2/en/qa1_x_train.txt", "file")])
    safe_extract(archive, tmp_path / "out")
    assert (tmp_path / "out" / "tasks_1-20_v1-2" / "en" / "qa1_x_train.txt").read_text().startswith("1 Mary")


@pytest.mark.parametrize("member", [("../evil.txt", "file"), ("/abs/evil.txt", "file"), ("link", "symlink")])
def test_safe_extract_refuses_members_outside_the_target(tmp_path, member):
    archive = tmp_path / "evil.tar.gz"
    make_tar(archive, [member])
    with pytest.raises(DownloadError):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()


def test_fetch_checks_the_pinned_sha256(tmp_path):
    source = tmp_path / "archive.bin"
    source.write_bytes(b"not the archive")
    with pytest.raises(DownloadError, match="does not match"):
        fetch(source.as_uri(), tmp_path / "dl" / "archive.bin", "0" * 64)
    assert list((tmp_path / "dl").iterdir()) == []  # no partial file left
    fetch(source.as_uri(), tmp_path / "dl" / "archive.bin", hashlib.sha256(b"not the archive").hexdigest())
    assert (tmp_path / "dl" / "archive.bin").read_bytes() == b"not the archive"


def test_download_babi_from_a_local_archive(tmp_path):
    archive = tmp_path / "src.tar.gz"
    make_tar(archive, [("tasks_1-20_v1-2/en/qa1_single-supporting-fact_train.txt", "file")])
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    target = download_babi(tmp_path / "data", url=archive.as_uri(), sha256=digest)
    assert (target / "en" / "qa1_single-supporting-fact_train.txt").exists()


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)


TREES = {f"trees/{split}.txt": "(3 (2 a) (4 (4 good) (2 film)))\n" for split in ("train", "dev", "test")}


def test_download_sst_takes_only_the_three_tree_files(tmp_path):
    archive = tmp_path / "trainDevTestTrees_PTB.zip"
    make_zip(archive, TREES | {"../evil.txt": "x", "trees/readme.txt": "x"})
    target = download_sst(tmp_path / "data", url=archive.as_uri(), sha256=sha256(archive))
    assert target == tmp_path / "data" / "sst"
    assert sorted(p.name for p in target.iterdir()) == ["dev.txt", "test.txt", "train.txt"]
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "data" / "evil.txt").exists()
    [example] = load_task("sst:binary", "test", data_dir=tmp_path / "data")
    assert example.answer == ["positive"] and [w for [w] in example.context] == ["a", "good", "film"]
    assert download_sst(tmp_path / "data", url="https://example.invalid/", sha256="0" * 64) == target  # there: kept


def test_download_sst_names_a_missing_member_and_writes_nothing(tmp_path):
    archive = tmp_path / "trees.zip"
    make_zip(archive, {k: v for k, v in TREES.items() if "test" not in k})
    with pytest.raises(DownloadError, match="no member trees/test.txt"):
        download_sst(tmp_path / "data", url=archive.as_uri(), sha256=sha256(archive))
    assert not (tmp_path / "data" / "sst").exists()


CONLLU = (
    "# sent_id = 1\n"
    "1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_\n"
    "2\tdog\tdog\tNOUN\tNN\t_\t3\tnsubj\t_\t_\n"
    "3\truns\trun\tVERB\tVBZ\t_\t0\troot\t_\t_\n\n"
)


def test_download_ewt_checks_every_file_against_its_pin(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in EWT_SHA256:
        (source / name).write_text(CONLLU if name.endswith(".conllu") else "CC BY-SA 4.0\n")
    pins = {name: sha256(source / name) for name in EWT_SHA256}
    url = source.as_uri() + "/{name}"
    wrong = pins | {"en_ewt-ud-test.conllu": "0" * 64}
    with pytest.raises(DownloadError, match="en_ewt-ud-test.conllu: sha256 .* does not match"):
        download_ewt(tmp_path / "data", url=url, sha256=wrong)
    target = tmp_path / "data" / "pos" / "ud_english_ewt"
    assert not (target / "en_ewt-ud-test.conllu").exists() and not list(target.glob("*.part"))
    assert download_ewt(tmp_path / "data", url=url, sha256=pins) == target
    [sentence] = load_task("pos:ewt", "test", data_dir=tmp_path / "data")
    assert sentence.answer == ["DT", "NN", "VBZ"]


def test_the_pinned_ewt_files_are_those_the_shipped_tagger_was_measured_on():
    data = shared_data_dir()
    if data is None or not (data / "pos" / "ud_english_ewt").is_dir():
        pytest.skip("EWT not found in DMN_DATA_DIR")
    for name, digest in EWT_SHA256.items():
        assert sha256(data / "pos" / "ud_english_ewt" / name) == digest, name


def test_cli_download_keeps_data_already_there(tmp_path):
    sst = tmp_path / "sst"
    sst.mkdir()
    for name in ("train.txt", "dev.txt", "test.txt"):
        (sst / name).write_text(TREES["trees/train.txt"])
    result = run_cli("download", "sst", "--data-dir", str(tmp_path))
    assert result.returncode == 0 and f"The Stanford Sentiment Treebank is in {sst}" in result.stdout
    missing = run_cli("download", "nothing", "--data-dir", str(tmp_path))
    assert missing.returncode == 2 and "'babi', 'sst', 'ewt'" in missing.stderr
