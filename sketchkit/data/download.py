"""Download Quick, Draw! files from Google's public bucket, resumably and with a size/checksum check.

URLs (``CAT`` = category name, spaces kept and URL-quoted, e.g. ``"The Eiffel Tower"``)::

    raw        {base}/full/raw/CAT.ndjson
    simplified {base}/full/simplified/CAT.ndjson
    bin        {base}/full/binary/CAT.bin
    npz        {base}/sketchrnn/CAT.npz

with ``base = https://storage.googleapis.com/quickdraw_dataset`` (override with ``base_url=``
or the ``SKETCHKIT_QUICKDRAW_URL`` environment variable, e.g. for a mirror).

Resuming: bytes go to ``OUT.part``; a later call sends ``Range: bytes=<size of .part>-`` and
appends when the server answers ``206``, or starts over on ``200``. When done, the size is
checked against the server's ``Content-Length`` / ``Content-Range`` total, and the MD5 against
the ``x-goog-hash: md5=...`` header when the server sends one (Google Cloud Storage does), or
against ``sha256=`` when given. Only then is ``.part`` renamed to the final name.

A transfer that cannot be verified complete keeps its ``.part`` and raises
:class:`DownloadError`: fewer bytes than announced, a connection lost mid-body, or a response
with neither a ``Content-Length`` (nor ``Content-Range`` total, nor chunked framing, whose end
http.client checks) nor a checksum to compare (``x-goog-hash`` or ``sha256=``): such a body ends
when the connection closes, so a cut-short file would look complete.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable

from sketchkit.errors import InputError

__all__ = ["DownloadError", "quickdraw_url", "download", "download_quickdraw", "QUICKDRAW_FORMATS", "DEFAULT_BASE_URL"]

DEFAULT_BASE_URL = "https://storage.googleapis.com/quickdraw_dataset"

#: format -> (path in the bucket, file suffix)
QUICKDRAW_FORMATS = {
    "raw": ("full/raw", ".ndjson"),
    "simplified": ("full/simplified", ".ndjson"),
    "bin": ("full/binary", ".bin"),
    "npz": ("sketchrnn", ".npz"),
}

_CHUNK = 1 << 16


class DownloadError(InputError):
    """A download failed: network unreachable, HTTP error, size or checksum mismatch."""


def quickdraw_url(category: str, fmt: str = "simplified", *, base_url: str | None = None) -> str:
    """The public URL of one Quick, Draw! file.

    Args:
        category: e.g. ``"cat"`` or ``"The Eiffel Tower"``.
        fmt: ``"raw"``, ``"simplified"``, ``"bin"`` or ``"npz"``.
        base_url: bucket root (default ``$SKETCHKIT_QUICKDRAW_URL`` or Google's bucket).

    Raises:
        InputError: unknown format or empty category.
    """
    if fmt not in QUICKDRAW_FORMATS:
        raise InputError(f"format: expected one of {', '.join(QUICKDRAW_FORMATS)}, got {fmt!r}")
    if not category or not category.strip() or "/" in category:
        raise InputError(f"category: expected a Quick, Draw! category name such as 'cat', got {category!r}")
    base = (base_url or os.environ.get("SKETCHKIT_QUICKDRAW_URL") or DEFAULT_BASE_URL).rstrip("/")
    folder, suffix = QUICKDRAW_FORMATS[fmt]
    return f"{base}/{folder}/{urllib.parse.quote(category)}{suffix}"


def _goog_md5(headers) -> str | None:
    for value in headers.get_all("x-goog-hash") or []:
        for part in value.split(","):
            part = part.strip()
            if part.startswith("md5="):
                return base64.b64decode(part[4:]).hex()
    return None


def _total_size(resp, offset: int) -> int | None:
    cr = resp.headers.get("Content-Range")
    if cr:
        m = re.match(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", cr)
        if m and m.group(3) != "*":
            return int(m.group(3))
    cl = resp.headers.get("Content-Length")
    if cl is not None and cl.isdigit():
        return int(cl) + offset
    return None


def _hash_file(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(url: str, dest: str | os.PathLike, *, sha256: str | None = None, timeout: float = 30.0,
             progress: Callable[[int, int | None], None] | None = None, overwrite: bool = False) -> Path:
    """Download ``url`` to ``dest`` resumably (see module docstring).

    Args:
        url: http(s) URL.
        dest: output file; ``dest + ".part"`` holds the partial download.
        sha256: expected SHA-256 hex digest of the whole file (optional).
        timeout: socket timeout in seconds.
        progress: called as ``progress(bytes_done, total_or_None)`` after each chunk.
        overwrite: download again even when ``dest`` exists.

    Returns:
        ``dest`` as a Path.

    Raises:
        DownloadError: one line: network unreachable, HTTP status, size or checksum mismatch.
    """
    dest = Path(dest)
    if dest.exists() and not overwrite:
        if sha256 and _hash_file(dest, "sha256") != sha256.lower():
            raise DownloadError(f"{dest}: exists but its sha256 differs from {sha256}; delete it or pass overwrite")
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "sketchkit"})
    if offset:
        req.add_header("Range", f"bytes={offset}-")
    host = urllib.parse.urlsplit(url).netloc or url
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            # Range not satisfiable: the .part is already complete (or bigger than the file).
            resp = None
            framed = False
            m = re.match(r"bytes\s+\*/(\d+)", exc.headers.get("Content-Range", "") if exc.headers else "")
            total = int(m.group(1)) if m else None
            goog = None
        else:
            hint = " (unknown category? see the Quick, Draw! category list)" if exc.code == 404 else ""
            raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}{hint}") from None
    except (urllib.error.URLError, socket.timeout, ConnectionError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"cannot reach {host}: {reason} (check the network connection; a re-run resumes)") from None
    if resp is not None:
        with resp:
            status = getattr(resp, "status", 200)
            if offset and status != 206:
                offset = 0  # the server ignored Range: start over
            total = _total_size(resp, offset)
            goog = _goog_md5(resp.headers)
            framed = bool(getattr(resp, "chunked", False))  # chunked bodies end with a terminator
            done = offset
            try:
                with open(part, "ab" if offset else "wb") as f:
                    while True:
                        chunk = resp.read(_CHUNK)
                        if not chunk:
                            break
                        f.write(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done, total)
            except (urllib.error.URLError, socket.timeout, ConnectionError, OSError,
                    http.client.HTTPException) as exc:
                raise DownloadError(
                    f"{url}: connection lost after {done} bytes ({type(exc).__name__}); "
                    f"run again to resume from {part.name}"
                ) from None
    size = part.stat().st_size if part.exists() else 0
    if total is None and goog is None and sha256 is None and not framed:
        raise DownloadError(
            f"{url}: the server sent no Content-Length and no checksum, so the {size} bytes received "
            f"cannot be verified complete; kept {part.name} (pass sha256=... / --sha256 to verify it)"
        )
    if total is not None and size != total:
        if size > total:
            part.unlink()
        raise DownloadError(f"{url}: got {size} bytes, expected {total}; run again to resume")
    if goog is not None and _hash_file(part, "md5") != goog:
        part.unlink()
        raise DownloadError(f"{url}: MD5 mismatch (x-goog-hash); the partial file was removed, run again")
    if sha256 is not None and _hash_file(part, "sha256") != sha256.lower():
        part.unlink()
        raise DownloadError(f"{url}: sha256 mismatch (expected {sha256}); the partial file was removed")
    os.replace(part, dest)
    return dest


def download_quickdraw(category: str, fmt: str = "simplified", out_dir: str | os.PathLike = ".", *,
                       base_url: str | None = None, sha256: str | None = None, timeout: float = 30.0,
                       progress: Callable[[int, int | None], None] | None = None,
                       overwrite: bool = False) -> Path:
    """Download one Quick, Draw! category file into ``out_dir`` (named ``CAT.ndjson|.bin|.npz``).

    Raw and simplified ndjson share a suffix, so the raw file is named ``CAT.raw.ndjson``.

    Returns:
        The downloaded file's path.
    """
    url = quickdraw_url(category, fmt, base_url=base_url)
    suffix = QUICKDRAW_FORMATS[fmt][1]
    name = category + (".raw" if fmt == "raw" else "") + suffix
    return download(url, Path(out_dir) / name, sha256=sha256, timeout=timeout, progress=progress,
                    overwrite=overwrite)
