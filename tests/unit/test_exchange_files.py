"""Uploads of 1C's exchange on disk (hub/exchange/files.py): paths kept inside the session's
folder, parts streamed block by block, refused parts cut off again, archives checked."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from hub.exchange.files import BLOCK, UploadRefused, append_part, safe_relative, unpack


@pytest.mark.parametrize("name", ["import.xml", "import_files/ab/photo.jpg", "offers0_1.xml"])
def test_relative_names_are_kept(name):
    assert safe_relative(name) == Path(name)


@pytest.mark.parametrize(
    "name", ["", "../x.xml", "a/../../x.xml", "/etc/passwd", "C:\\x.xml", "..\\x.xml", "a//b", "./a", ".", "a/."]
)
def test_names_leaving_the_folder_are_refused(name):
    with pytest.raises(UploadRefused):
        safe_relative(name)


class Stream(io.BytesIO):
    """A request body that remembers how much was asked of it at a time."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.asked: list[int] = []

    def read(self, size: int | None = -1) -> bytes:
        self.asked.append(-1 if size is None else size)
        return super().read(size)


def test_parts_are_appended_block_by_block(tmp_path):
    target = tmp_path / "s" / "import.xml"
    first, second = Stream(b"a" * (3 * BLOCK + 5)), Stream(b"b" * 10)
    assert append_part(target, first, part_limit=10**6, budget=10**6) == 3 * BLOCK + 5
    assert append_part(target, second, part_limit=10**6, budget=10**6) == 10
    assert target.read_bytes() == b"a" * (3 * BLOCK + 5) + b"b" * 10
    assert set(first.asked) == {BLOCK}  # never the whole body at once


def test_a_part_over_the_limit_leaves_the_file_as_it_was(tmp_path):
    target = tmp_path / "import.xml"
    append_part(target, Stream(b"kept"), part_limit=100, budget=10**6)
    with pytest.raises(UploadRefused) as refused:
        append_part(target, Stream(b"x" * (2 * BLOCK)), part_limit=BLOCK, budget=10**6)
    assert refused.value.too_large
    assert target.read_bytes() == b"kept"
    with pytest.raises(UploadRefused):
        append_part(target, Stream(b"y" * 50), part_limit=100, budget=20)
    assert target.read_bytes() == b"kept"


def test_an_archive_with_one_bad_path_writes_nothing(tmp_path):
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("import.xml", "<x/>")
        zf.writestr("../escape.xml", "<x/>")
    into = tmp_path / "session"
    into.mkdir()
    with pytest.raises(UploadRefused):
        unpack(archive, into, budget=10**6)
    assert list(into.iterdir()) == []
    assert not (tmp_path / "escape.xml").exists()


def test_an_archive_is_unpacked_and_removed(tmp_path):
    archive = tmp_path / "session" / "bundle.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("import.xml", "<a/>" * 100)
        zf.writestr("import_files/ab/photo.jpg", b"\xff\xd8")
    written, total = unpack(archive, archive.parent, budget=10**6)
    assert sorted(p.relative_to(archive.parent).as_posix() for p in written) == [
        "import.xml",
        "import_files/ab/photo.jpg",
    ]
    assert total == 402
    assert not archive.exists()
