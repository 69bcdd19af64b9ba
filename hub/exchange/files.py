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

BLOCK = 64 * 1024
ZIP_MAGIC = b"PK\x03\x04"
MAX_MEMBERS = 10_000


class UploadRefused(PermanentError):
    """An upload or archive the hub does not accept; nothing of it is kept. `too_large`: refused
    for its size (answered 413)."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


MAX_NAME_BYTES, MAX_PATH_BYTES = 255, 1024


def safe_relative(name: str) -> Path:
    """A file name from 1C (it may carry folders: import_files/ab/photo.jpg) as a path that stays
    inside the session's folder; UploadRefused for absolute paths, `..` and drive letters."""
    cleaned = (name or "").replace("\\", "/")
    path = PurePosixPath(cleaned)
    if not cleaned or "\x00" in cleaned or path.is_absolute() or ":" in cleaned:
        raise UploadRefused(f"file name {name!r} is not a relative path")
    if any(part in ("..", ".", "") for part in cleaned.split("/")):
        raise UploadRefused(f"file name {name!r} leaves the exchange folder")
    # What file systems hold: a name of at most 255 bytes, a path well within PATH_MAX.
    if len(cleaned.encode()) > MAX_PATH_BYTES or any(len(p.encode()) > MAX_NAME_BYTES for p in path.parts):
        raise UploadRefused(f"file name {name[:60]!r}… is too long")
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
                limit = "file_limit" if written > part_limit else "the session's upload limit"
                raise UploadRefused(
                    f"{target.name}: the part is larger than {limit} ({min(part_limit, budget)} bytes)", too_large=True
                )
            out.write(block)
    return written


def is_zip(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == ZIP_MAGIC


def unpack(archive: Path, into: Path, *, budget: int) -> tuple[list[Path], int]:
    """Extract a zip into `into`; (the files written, their total size). Every member's path is
    checked before anything is written; the total is counted while writing, so an archive whose
    headers understate its sizes is stopped too. On refusal nothing extracted is left."""
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise UploadRefused(f"{archive.name}: not a readable zip archive ({exc})") from None
    written: list[Path] = []
    total = 0
    try:
        with zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            if len(members) > MAX_MEMBERS:
                raise UploadRefused(f"{archive.name}: more than {MAX_MEMBERS} files")
            targets = [(m, into / safe_relative(m.filename)) for m in members]
            if sum(m.file_size for m in members) > budget:
                raise UploadRefused(
                    f"{archive.name}: unpacks to more than the session's limit ({budget} bytes)", too_large=True
                )
            for member, target in targets:
                target.parent.mkdir(parents=True, exist_ok=True)
                written.append(target)
                with zf.open(member) as src, target.open("wb") as out:
                    while block := src.read(BLOCK):
                        total += len(block)
                        if total > budget:
                            raise UploadRefused(
                                f"{archive.name}: unpacks to more than the session's limit ({budget} bytes)",
                                too_large=True,
                            )
                        out.write(block)
    except UploadRefused:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        for path in written:
            path.unlink(missing_ok=True)
        raise UploadRefused(f"{archive.name}: the archive is damaged ({exc})") from None
    archive.unlink()
    return written, total


def remove_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
