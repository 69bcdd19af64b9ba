"""Files 1C uploads during an exchange session: appended part by part straight from the request
stream (never held whole in memory), within the connection's limits, and zip archives unpacked
safely (no absolute or `..` paths, a limit on the unpacked total checked while unpacking, not
trusted from the archive's headers)."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO

from connectors.errors import PermanentError
from hub.i18n import N_
from hub.sentences import Stored, english, sentence

BLOCK = 64 * 1024
ZIP_MAGIC = b"PK\x03\x04"
MAX_MEMBERS = 10_000


class UploadRefused(PermanentError):
    """An upload or archive the hub does not accept; nothing of it is kept. `too_large`: refused
    for its size (answered 413). `said`: why, as a sentence (1C is answered its English, the run
    history says it in the reader's language)."""

    def __init__(self, said: Stored, *, too_large: bool = False) -> None:
        super().__init__(english(said))
        self.said = said
        self.too_large = too_large


MAX_NAME_BYTES, MAX_PATH_BYTES = 255, 1024


def safe_relative(name: str) -> Path:
    """A file name from 1C (it may carry folders: import_files/ab/photo.jpg) as a path that stays
    inside the session's folder; UploadRefused for absolute paths, `..` and drive letters."""
    cleaned = (name or "").replace("\\", "/")
    path = PurePosixPath(cleaned)
    if not cleaned or "\x00" in cleaned or path.is_absolute() or ":" in cleaned:
        raise UploadRefused(sentence(N_("file name %(name)s is not a relative path"), name=repr(name)))
    if any(part in ("..", ".", "") for part in cleaned.split("/")):
        raise UploadRefused(sentence(N_("file name %(name)s leaves the exchange folder"), name=repr(name)))
    # What file systems hold: a name of at most 255 bytes, a path well within PATH_MAX.
    if len(cleaned.encode()) > MAX_PATH_BYTES or any(len(p.encode()) > MAX_NAME_BYTES for p in path.parts):
        raise UploadRefused(sentence(N_("file name %(name)s… is too long"), name=repr(name[:60])))
    return Path(*path.parts)


def append_part(target: Path, stream: IO[bytes], *, part_limit: int, budget: int) -> int:
    """Append one part of a file from `stream`, block by block; the bytes written. Beyond
    `part_limit` bytes for this part, or `budget` bytes left for the session, the part is cut off
    again (the file is as before) and UploadRefused raised."""
    target.parent.mkdir(parents=True, exist_ok=True)
    before = target.stat().st_size if target.exists() else 0
    written = 0
    with target.open("ab") as out:
        while block := stream.read(BLOCK):
            written += len(block)
            if written > part_limit or written > budget:
                out.truncate(before)
                if written > part_limit:
                    template = N_("%(file)s: the part is larger than file_limit (%(bytes)s bytes)")
                else:
                    template = N_("%(file)s: the part is larger than the session's upload limit (%(bytes)s bytes)")
                limit = str(min(part_limit, budget))
                raise UploadRefused(sentence(template, file=target.name, bytes=limit), too_large=True)
            out.write(block)
    return written


def is_zip(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == ZIP_MAGIC


def _unpacks_to_more(archive: Path, budget: int) -> Stored:
    return sentence(
        N_("%(file)s: unpacks to more than the session's limit (%(bytes)s bytes)"), file=archive.name, bytes=str(budget)
    )


def unpack(archive: Path, into: Path, *, budget: int) -> tuple[list[Path], int]:
    """Extract a zip into `into`; (the files written, their total size). Every member's path is
    checked before anything is written; the total is counted while writing, so an archive whose
    headers understate its sizes is stopped too. On refusal nothing extracted is left."""
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise UploadRefused(
            sentence(N_("%(file)s: not a readable zip archive (%(error)s)"), file=archive.name, error=str(exc))
        ) from None
    written: list[Path] = []
    total = 0
    try:
        with zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            if len(members) > MAX_MEMBERS:
                raise UploadRefused(
                    sentence(N_("%(file)s: more than %(count)s files"), file=archive.name, count=str(MAX_MEMBERS))
                )
            targets = [(m, into / safe_relative(m.filename)) for m in members]
            if sum(m.file_size for m in members) > budget:
                raise UploadRefused(_unpacks_to_more(archive, budget), too_large=True)
            for member, target in targets:
                target.parent.mkdir(parents=True, exist_ok=True)
                written.append(target)
                with zf.open(member) as src, target.open("wb") as out:
                    while block := src.read(BLOCK):
                        total += len(block)
                        if total > budget:
                            raise UploadRefused(_unpacks_to_more(archive, budget), too_large=True)
                        out.write(block)
    except UploadRefused:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        for path in written:
            path.unlink(missing_ok=True)
        raise UploadRefused(
            sentence(N_("%(file)s: the archive is damaged (%(error)s)"), file=archive.name, error=str(exc))
        ) from None
    archive.unlink()
    return written, total


def remove_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
