"""Downloads against a local HTTP server on 127.0.0.1 (never the internet): resume, checks, errors."""

from __future__ import annotations

import base64
import hashlib
import http.server
import socket
import threading

import pytest

from sketchkit.data.download import DownloadError, download, download_quickdraw, quickdraw_url
from sketchkit.errors import InputError

PAYLOAD = bytes(range(256)) * 400  # 102400 bytes


class _Handler(http.server.BaseHTTPRequestHandler):
    # Class-level knobs set by the tests.
    files: dict[str, bytes] = {}
    cut_after: int | None = None  # first response sends only this many body bytes, then closes
    honour_range = True
    bad_md5 = False
    no_length = False  # send no Content-Length (the body ends when the connection closes)
    no_hash = False  # send no x-goog-hash
    requests: list[tuple[str, str | None]] = []

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        rng = self.headers.get("Range")
        type(self).requests.append((self.path, rng))
        data = self.files.get(self.path)
        if data is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        status = 200
        if rng and self.honour_range:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        body = data[start:]
        md5 = hashlib.md5(b"x" if self.bad_md5 else data).digest()
        self.send_response(status)
        if not self.no_length:
            self.send_header("Content-Length", str(len(body)))
        if status == 206 and not self.no_length:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        if not self.no_hash:
            self.send_header("x-goog-hash", "crc32c=AAAAAA==")
            self.send_header("x-goog-hash", f"md5={base64.b64encode(md5).decode()}")
        self.end_headers()
        cut = type(self).cut_after
        if cut is not None:
            type(self).cut_after = None
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    _Handler.files = {"/quickdraw_dataset/full/binary/cat.bin": PAYLOAD,
                      "/quickdraw_dataset/sketchrnn/The%20Eiffel%20Tower.npz": PAYLOAD[:1000]}
    _Handler.cut_after = None
    _Handler.honour_range = True
    _Handler.bad_md5 = False
    _Handler.no_length = False
    _Handler.no_hash = False
    _Handler.requests = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/quickdraw_dataset"
    httpd.shutdown()
    httpd.server_close()


def test_urls():
    assert quickdraw_url("cat", "raw", base_url="https://x/y") == "https://x/y/full/raw/cat.ndjson"
    assert quickdraw_url("cat", "simplified") == \
        "https://storage.googleapis.com/quickdraw_dataset/full/simplified/cat.ndjson"
    assert quickdraw_url("The Eiffel Tower", "npz", base_url="b").endswith("/sketchrnn/The%20Eiffel%20Tower.npz")
    assert quickdraw_url("cat", "bin", base_url="b") == "b/full/binary/cat.bin"
    with pytest.raises(InputError, match="format"):
        quickdraw_url("cat", "png")
    with pytest.raises(InputError, match="category"):
        quickdraw_url("../etc", "raw")


def test_download_and_checks(server, tmp_path):
    path = download_quickdraw("cat", "bin", tmp_path, base_url=server)
    assert path == tmp_path / "cat.bin" and path.read_bytes() == PAYLOAD
    assert not (tmp_path / "cat.bin.part").exists()
    # existing file: no second request
    n = len(_Handler.requests)
    download_quickdraw("cat", "bin", tmp_path, base_url=server)
    assert len(_Handler.requests) == n
    p2 = download_quickdraw("The Eiffel Tower", "npz", tmp_path, base_url=server,
                            sha256=hashlib.sha256(PAYLOAD[:1000]).hexdigest())
    assert p2.read_bytes() == PAYLOAD[:1000]


def test_resume_after_connection_loss(server, tmp_path):
    _Handler.cut_after = 30000
    with pytest.raises(DownloadError) as exc:
        download_quickdraw("cat", "bin", tmp_path, base_url=server)
    assert "\n" not in str(exc.value) and "run again" in str(exc.value)
    part = tmp_path / "cat.bin.part"
    assert part.stat().st_size == 30000
    path = download_quickdraw("cat", "bin", tmp_path, base_url=server)
    assert path.read_bytes() == PAYLOAD
    assert _Handler.requests[-1][1] == "bytes=30000-"


def test_resume_when_server_ignores_range(server, tmp_path):
    (tmp_path / "cat.bin.part").write_bytes(b"garbage")
    _Handler.honour_range = False
    path = download_quickdraw("cat", "bin", tmp_path, base_url=server)
    assert path.read_bytes() == PAYLOAD  # restarted from scratch on 200


def test_complete_part_file_416(server, tmp_path):
    (tmp_path / "cat.bin.part").write_bytes(PAYLOAD)
    path = download_quickdraw("cat", "bin", tmp_path, base_url=server)
    assert path.read_bytes() == PAYLOAD


def test_checksum_mismatches(server, tmp_path):
    _Handler.bad_md5 = True
    with pytest.raises(DownloadError, match="MD5 mismatch"):
        download_quickdraw("cat", "bin", tmp_path, base_url=server)
    assert not (tmp_path / "cat.bin.part").exists() and not (tmp_path / "cat.bin").exists()
    _Handler.bad_md5 = False
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        download_quickdraw("cat", "bin", tmp_path, base_url=server, sha256="0" * 64)
    assert not (tmp_path / "cat.bin").exists()


def test_http_404_and_unreachable(server, tmp_path):
    with pytest.raises(DownloadError, match=r"HTTP 404 .*unknown category"):
        download_quickdraw("dragonfruit", "raw", tmp_path, base_url=server)
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError) as exc:
        download(f"http://127.0.0.1:{port}/x.bin", tmp_path / "x.bin", timeout=5)
    msg = str(exc.value)
    assert msg.startswith(f"cannot reach 127.0.0.1:{port}:") and "check the network connection" in msg
    assert "\n" not in msg


def test_cli_download(server, tmp_path, capsys):
    from sketchkit.cli.app import main

    rc = main(["data", "download", "quickdraw", "cat", "--format", "bin", "-o", str(tmp_path),
               "--base-url", server, "-q"])
    assert rc == 0
    assert (tmp_path / "cat.bin").read_bytes() == PAYLOAD
    assert f"wrote {tmp_path / 'cat.bin'} (102400 bytes)" in capsys.readouterr().out
    rc = main(["data", "download", "quickdraw", "nope", "--format", "raw", "-o", str(tmp_path),
               "--base-url", server, "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and "HTTP 404" in err and err.count("\n") == 1


def test_unverifiable_download_cut_short_keeps_part(server, tmp_path):
    # No Content-Length and no checksum: a body cut short looks complete, so it is never renamed final.
    _Handler.no_length = _Handler.no_hash = True
    _Handler.cut_after = 30000
    with pytest.raises(DownloadError) as exc:
        download_quickdraw("cat", "bin", tmp_path, base_url=server)
    msg = str(exc.value)
    assert "\n" not in msg and "no Content-Length and no checksum" in msg and "cat.bin.part" in msg
    assert not (tmp_path / "cat.bin").exists()
    assert (tmp_path / "cat.bin.part").stat().st_size == 30000
    # Complete but still unverifiable: also kept as .part ...
    with pytest.raises(DownloadError, match="cannot be verified complete"):
        download_quickdraw("cat", "bin", tmp_path, base_url=server, overwrite=True)
    assert not (tmp_path / "cat.bin").exists()
    # ... until a checksum is given (the .part is resumed or restarted, then verified).
    path = download_quickdraw("cat", "bin", tmp_path, base_url=server,
                              sha256=hashlib.sha256(PAYLOAD).hexdigest())
    assert path.read_bytes() == PAYLOAD and not (tmp_path / "cat.bin.part").exists()


def test_length_without_checksum_cut_short_keeps_part(server, tmp_path):
    _Handler.no_hash = True
    _Handler.cut_after = 1000
    with pytest.raises(DownloadError, match="got 1000 bytes, expected 102400"):
        download_quickdraw("cat", "bin", tmp_path, base_url=server)
    assert not (tmp_path / "cat.bin").exists() and (tmp_path / "cat.bin.part").stat().st_size == 1000
    assert download_quickdraw("cat", "bin", tmp_path, base_url=server).read_bytes() == PAYLOAD
