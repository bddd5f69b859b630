import hashlib
import io
import tarfile

import pytest

from dmn.download import DownloadError, download_babi, fetch, safe_extract


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
