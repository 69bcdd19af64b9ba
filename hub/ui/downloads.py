"""CSV files the pages hand out: UTF-8 with a byte-order mark, as Excel needs to read Cyrillic and
Bengali names (without one it reads the bytes as the Windows code page). The hub's own CSV imports
read the mark away (utf-8-sig), so a file downloaded, edited and uploaded again round-trips."""

from __future__ import annotations

import codecs

from flask import Response


def csv_download(text: str, filename: str) -> Response:
    return Response(
        codecs.BOM_UTF8 + text.encode("utf-8"),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
