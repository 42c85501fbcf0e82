"""``sketchkit data download quickdraw CAT...``: several files in parallel from a loopback server, then shards."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading

import pytest

from conftest import shared_path
from sketchkit.cli.app import main
from sketchkit.data import read, read_all
from sketchkit.data.shards import read_manifest


@pytest.fixture
def bucket(tmp_path):
    """A static server laid out like the Quick, Draw! bucket (simplified files of 3 categories)."""
    src = shared_path("quickdraw", "simplified")
    root = tmp_path / "www"
    folder = root / "quickdraw_dataset" / "full" / "simplified"
    folder.mkdir(parents=True)
    for name in ("apple", "cat", "house"):
        shutil.copy(src / f"{name}.ndjson", folder / f"{name}.ndjson")
    handler = functools.partial(_Quiet, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/quickdraw_dataset", folder
    httpd.shutdown()
    httpd.server_close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_download_many_in_parallel_then_shard(bucket, tmp_path, capsys):
    url, folder = bucket
    names = tmp_path / "categories.txt"
    names.write_text("# wanted\ncat\nhouse\n")
    out = tmp_path / "dl"
    rc = main(["data", "download", "quickdraw", "apple", "--categories-file", str(names), "-o", str(out),
               "--base-url", url, "-q", "--jobs", "3", "--shards", str(tmp_path / "shards"), "--shard-size", "40"])
    assert rc == 0, capsys.readouterr().err
    for name in ("apple", "cat", "house"):
        assert (out / f"{name}.ndjson").read_bytes() == (folder / f"{name}.ndjson").read_bytes()
    manifest = read_manifest(tmp_path / "shards")
    expected = read_all([folder / f"{n}.ndjson" for n in ("apple", "cat", "house")])
    assert manifest["total"] == len(expected) == len(list(read(tmp_path / "shards")))
    assert set(manifest["labels"]) == {"apple", "cat", "house"}
    # a rerun keeps the files it has and fetches only what is missing
    (out / "cat.ndjson").unlink()
    stamp = (out / "apple.ndjson").stat().st_mtime_ns
    assert main(["data", "download", "quickdraw", "apple", "cat", "-o", str(out), "--base-url", url, "-q"]) == 0
    assert (out / "cat.ndjson").is_file() and (out / "apple.ndjson").stat().st_mtime_ns == stamp


def test_download_many_reports_failures_on_one_line(bucket, tmp_path, capsys):
    url, _ = bucket
    rc = main(["data", "download", "quickdraw", "apple", "nope", "zilch", "-o", str(tmp_path), "--base-url", url, "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "2 of 3 downloads failed (nope, zilch)" in err and "HTTP 404" in err
    assert (tmp_path / "apple.ndjson").is_file()  # the good one is kept
    rc = main(["data", "download", "quickdraw", "apple", "cat", "--sha256", "0" * 64, "-o", str(tmp_path), "--base-url", url])
    assert rc == 2 and "--sha256: applies to a single category" in capsys.readouterr().err
