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


# ---- written against the mutants `make mutate` left (docs/testing.md) ---------------------------


def test_a_name_with_a_nul_byte_is_refused_and_not_for_its_size():
    with pytest.raises(UploadRefused) as refused:
        safe_relative("import\x00.xml")
    assert refused.value.message == "file name 'import\\x00.xml' is not a relative path"
    assert refused.value.too_large is False


def test_names_and_paths_up_to_what_a_file_system_holds_are_kept():
    """Kills `>` turned `>=` in both length checks, and `or` turned `and` between them."""
    name = "ж" * 127 + "x"  # 255 bytes
    assert safe_relative(name) == Path(name)
    path = "/".join(["a" * 200] * 4 + ["b" * 220])  # 1024 bytes
    assert safe_relative(path) == Path(path)
    for refused in (name + "y", path + "c", "/".join(["dir"] * 400)):
        with pytest.raises(UploadRefused, match="is too long"):
            safe_relative(refused)
    with pytest.raises(UploadRefused) as long:
        safe_relative("x" * 300)
    assert long.value.message == f"file name {'x' * 60!r}… is too long"  # its first 60 characters


def test_a_part_exactly_at_the_limits_is_kept_and_the_refusals_say_which_limit(tmp_path):
    target = tmp_path / "import_files" / "ab" / "photo.jpg"  # folders made as deep as the name goes
    assert append_part(target, Stream(b"x" * 100), part_limit=100, budget=100) == 100
    with pytest.raises(UploadRefused) as part:
        append_part(target, Stream(b"y" * 101), part_limit=100, budget=1000)
    assert part.value.message == "photo.jpg: the part is larger than file_limit (100 bytes)"
    with pytest.raises(UploadRefused) as session:
        append_part(target, Stream(b"y" * 101), part_limit=1000, budget=100)
    assert session.value.message == "photo.jpg: the part is larger than the session's upload limit (100 bytes)"
    assert session.value.too_large is True
    with pytest.raises(UploadRefused) as both:  # as long as the part may be, but beyond the session's
        append_part(target, Stream(b"y" * 100), part_limit=100, budget=99)
    assert both.value.message == "photo.jpg: the part is larger than the session's upload limit (99 bytes)"
    assert target.read_bytes() == b"x" * 100


def test_a_refused_first_part_leaves_an_empty_file(tmp_path):
    target = tmp_path / "import.xml"
    with pytest.raises(UploadRefused):
        append_part(target, Stream(b"z" * 30), part_limit=10, budget=100)
    assert target.read_bytes() == b""


def _archive(path: Path, members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return path


def test_an_archive_exactly_at_the_budget_unpacks_and_one_byte_over_does_not(tmp_path):
    """Kills `>` turned `>=` in the headers' total and in the count while writing."""
    into = tmp_path / "session"
    into.mkdir()
    members = [("import.xml", b"a" * 300), ("offers.xml", b"b" * 200)]
    written, total = unpack(_archive(tmp_path / "fits.zip", members), into, budget=500)
    assert (sorted(p.name for p in written), total) == (["import.xml", "offers.xml"], 500)
    with pytest.raises(UploadRefused) as refused:
        unpack(_archive(tmp_path / "over.zip", members), into / "over", budget=499)
    assert refused.value.message == "over.zip: unpacks to more than the session's limit (499 bytes)"
    assert refused.value.too_large is True
    assert not (into / "over").exists()


def test_an_archive_of_more_files_than_allowed_is_refused(tmp_path, monkeypatch):
    from hub.exchange import files

    monkeypatch.setattr(files, "MAX_MEMBERS", 3)
    into = tmp_path / "session"
    into.mkdir()
    three = [(f"{n}.xml", b"<x/>") for n in range(3)]
    # Folders are no files: a folder entry neither counts nor is written as a file.
    written, _ = unpack(_archive(tmp_path / "three.zip", [("import_files/", b""), *three]), into, budget=10**6)
    assert sorted(p.name for p in written) == ["0.xml", "1.xml", "2.xml"]
    with pytest.raises(UploadRefused) as refused:
        unpack(_archive(tmp_path / "four.zip", [*three, ("3.xml", b"<x/>")]), into, budget=10**6)
    assert refused.value.message == "four.zip: more than 3 files"


def test_a_damaged_archive_leaves_nothing_it_wrote(tmp_path):
    """A member whose data does not match its checksum, after two of the same name were written:
    everything written is removed (each name once: `missing_ok`), and the refusal says why."""
    with pytest.warns(UserWarning, match="Duplicate name"):
        archive = _archive(
            tmp_path / "bundle.zip",
            [("import.xml", b"<a/>"), ("import.xml", b"<b/>"), ("offers.xml", b"<offers/>" * 10)],
            zipfile.ZIP_STORED,
        )
    data = bytearray(archive.read_bytes())
    at = data.index(b"<offers/>")
    data[at] = ord("(")
    archive.write_bytes(bytes(data))
    into = tmp_path / "session"
    into.mkdir()
    with pytest.raises(UploadRefused) as refused:
        unpack(archive, into, budget=10**6)
    assert refused.value.message.startswith("bundle.zip: the archive is damaged (Bad CRC-32")
    assert list(into.iterdir()) == []
    assert archive.exists()  # refused archives are the caller's to remove


def test_what_is_not_a_zip_is_refused_as_unreadable(tmp_path):
    from hub.exchange.files import is_zip

    text = tmp_path / "offers.zip"
    text.write_bytes(b"PK\x03 not quite")
    assert not is_zip(text)
    with pytest.raises(UploadRefused) as refused:
        unpack(text, tmp_path, budget=10**6)
    assert refused.value.message == "offers.zip: not a readable zip archive (File is not a zip file)"
    assert is_zip(_archive(tmp_path / "real.zip", [("a.xml", b"<a/>")]))


def test_members_are_unpacked_block_by_block(tmp_path, monkeypatch):
    asked: list[int] = []
    read = zipfile.ZipExtFile.read

    def recorded(self, n=-1):
        asked.append(n)
        return read(self, n)

    monkeypatch.setattr(zipfile.ZipExtFile, "read", recorded)
    into = tmp_path / "session"
    into.mkdir()
    written, total = unpack(
        _archive(tmp_path / "big.zip", [("import.xml", b"x" * (2 * BLOCK + 1))]), into, budget=10**7
    )
    assert total == 2 * BLOCK + 1
    assert written[0].read_bytes() == b"x" * (2 * BLOCK + 1)
    assert set(asked) == {BLOCK}


def test_removing_a_folder_that_is_not_there_is_no_error(tmp_path):
    from hub.exchange.files import remove_folder

    remove_folder(tmp_path / "never-made")
    (tmp_path / "made" / "deep").mkdir(parents=True)
    (tmp_path / "made" / "deep" / "import.xml").write_bytes(b"<x/>")
    remove_folder(tmp_path / "made")
    assert not (tmp_path / "made").exists()
