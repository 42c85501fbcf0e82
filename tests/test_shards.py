"""Shards (``sketchkit data shard``): tar layout, manifest, exact round trip, registry and CLI."""

from __future__ import annotations

import json
import tarfile

import numpy as np
import pytest
from conftest import shared_path
from sketchkit.cli.app import main
from sketchkit.data import read, read_all
from sketchkit.data.registry import sniff
from sketchkit.data.shards import (
    decode_sketch, encode_sketch, iter_shard, read_manifest, shard_inputs, verify_shards, write_shards,
)
from sketchkit.errors import DataFormatError, InputError
from sketchkit.sketch import Sketch



def run_cli(args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def make_sketches(n: int, *, labels: int = 3, seed: int = 0) -> list[Sketch]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        strokes = [rng.uniform(0, 255, (int(rng.integers(2, 9)), 2)) for _ in range(int(rng.integers(1, 4)))]
        if i % 2:
            strokes = [np.round(s) for s in strokes]  # whole numbers are written as ints
        times = [np.sort(rng.uniform(0, 1e4, len(s))) for s in strokes] if i % 3 == 0 else None
        out.append(Sketch(strokes, times=times, label=f"c{i % labels}", meta={"id": i, "src": "synthetic"}))
    return out


def same(a: Sketch, b: Sketch) -> bool:
    if a.label != b.label or a.meta != b.meta or len(a.strokes) != len(b.strokes):
        return False
    if (a.times is None) != (b.times is None):
        return False
    pairs = list(zip(a.strokes, b.strokes)) + (list(zip(a.times, b.times)) if a.times is not None else [])
    return all(x.shape == y.shape and np.array_equal(x, y) for x, y in pairs)


def test_sample_encoding_round_trips_float64_exactly():
    for sk in make_sketches(12):
        assert same(decode_sketch(encode_sketch(sk)), sk)
    assert b"12.0" not in encode_sketch(Sketch([np.array([[12.0, 3.0], [4.0, 5.0]])]))  # integers stay short


def test_write_shards_layout_manifest_and_round_trip(tmp_path):
    sketches = make_sketches(23)
    manifest = write_shards(sketches, tmp_path / "s", shard_size=5, val_size=4, seed=7)
    names = [s["name"] for s in manifest["shards"]]
    assert names == ["val-000000.tar", "shard-000000.tar", "shard-000001.tar", "shard-000002.tar", "shard-000003.tar"]
    assert [s["count"] for s in manifest["shards"]] == [4, 5, 5, 5, 4]
    assert manifest["splits"] == {"train": {"count": 19, "shards": 4}, "val": {"count": 4, "shards": 1}}
    assert manifest["total"] == 23 and manifest["labels"] == {"c0": 8, "c1": 8, "c2": 7}
    assert sum(sum(s["labels"].values()) for s in manifest["shards"]) == 23
    assert read_manifest(tmp_path / "s") == json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert verify_shards(tmp_path / "s") == []
    # the folder reads back through sketchkit.data.read: every sketch, exactly, val first
    back = list(read(tmp_path / "s"))
    assert len(back) == 23 and all(same(a, b) for a, b in zip(back, sketches))
    assert [s.meta["id"] for s in read(tmp_path / "s", split="val")] == [0, 1, 2, 3]
    assert [s.meta["id"] for s in read(tmp_path / "s", split="train")] == list(range(4, 23))


def test_shard_is_a_plain_webdataset_tar(tmp_path):
    write_shards(make_sketches(6), tmp_path, shard_size=10)
    shard = tmp_path / "shard-000000.tar"
    with tarfile.open(shard) as tf:
        members = tf.getmembers()
        assert [m.name for m in members] == [f"{i:09d}.json" for i in range(6)]
        assert all(m.isfile() and m.mtime == 0 and "." not in m.name[:-5] for m in members)
        record = json.loads(tf.extractfile(members[0]).read())
    assert set(record) == {"strokes", "times", "label", "meta"}
    assert sniff(shard).name == "sketchkit-shard"
    assert [s.meta["id"] for s in read(shard)] == list(range(6))


def test_webdataset_library_reads_the_shards(tmp_path):
    wds = pytest.importorskip("webdataset")
    write_shards(make_sketches(7), tmp_path, shard_size=4)
    urls = [str(tmp_path / "shard-000000.tar"), str(tmp_path / "shard-000001.tar")]
    samples = list(wds.WebDataset(urls, shardshuffle=False))
    assert [s["__key__"] for s in samples] == [f"{i:09d}" for i in range(7)]
    assert [json.loads(s["json"])["meta"]["id"] for s in samples] == list(range(7))


def test_iter_shard_skip_and_limit(tmp_path):
    write_shards(make_sketches(9), tmp_path, shard_size=9)
    ids = [s.meta["id"] for s in iter_shard(tmp_path / "shard-000000.tar", skip=3, limit=4)]
    assert ids == [3, 4, 5, 6]
    assert [k for k, _ in iter_shard(tmp_path / "shard-000000.tar", skip=8, with_keys=True)] == ["000000008"]


def test_corrupt_sample_names_file_and_member(tmp_path):
    shard = tmp_path / "bad.tar"
    with tarfile.open(shard, "w", format=tarfile.USTAR_FORMAT) as tf:
        import io

        info = tarfile.TarInfo("000000000.json")
        info.size = 5
        tf.addfile(info, io.BytesIO(b"{nope"))
    with pytest.raises(DataFormatError, match=r"bad\.tar: 000000000\.json: not valid JSON"):
        list(iter_shard(shard))


def test_verify_detects_a_changed_shard(tmp_path):
    write_shards(make_sketches(8), tmp_path, shard_size=4)
    path = tmp_path / "shard-000001.tar"
    data = bytearray(path.read_bytes())
    data[600] ^= 0xFF  # inside the first member's JSON
    path.write_bytes(bytes(data))
    assert verify_shards(tmp_path) == ["shard-000001.tar"]


def test_write_shards_refuses_non_empty_folder_and_overwrites_only_shards(tmp_path):
    write_shards(make_sketches(4), tmp_path, shard_size=2)
    with pytest.raises(InputError, match="is not empty"):
        write_shards(make_sketches(4), tmp_path, shard_size=2)
    write_shards(make_sketches(3), tmp_path, shard_size=3, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "shard-000000.tar"]
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="notes.txt"):
        write_shards(make_sketches(3), tmp_path, shard_size=3, overwrite=True)
    with pytest.raises(InputError, match="no sketches"):
        write_shards([], tmp_path / "empty", shard_size=3)


def test_shard_inputs_mixes_files_and_is_seeded(tmp_path):
    for name in ("a", "b"):
        write_shards([Sketch([np.array([[0.0, 0], [1, 1]])], label=name, meta={"id": i}) for i in range(6)],
                     tmp_path / name, shard_size=6)
    inputs = [tmp_path / "a" / "shard-000000.tar", tmp_path / "b" / "shard-000000.tar"]
    plain = [s.label for s in shard_inputs(inputs, shuffle_buffer=0)]
    assert plain == ["a", "b"] * 6  # one from each file in turn
    one = [(s.label, s.meta["id"]) for s in shard_inputs(inputs, seed=1, shuffle_buffer=4)]
    assert one == [(s.label, s.meta["id"]) for s in shard_inputs(inputs, seed=1, shuffle_buffer=4)]
    assert one != [(s.label, s.meta["id"]) for s in shard_inputs(inputs, seed=2, shuffle_buffer=4)]
    assert sorted(one) == sorted((lab, i) for lab in "ab" for i in range(6))  # a permutation: nothing lost
    assert len(list(shard_inputs(inputs, limit=5, shuffle_buffer=4))) == 5


def test_cli_shard_real_quickdraw(tmp_path, capsys):
    src = shared_path("quickdraw", "simplified")
    expected = read_all(src)
    out = tmp_path / "shards"
    code, stdout, err = run_cli(["data", "shard", src, "-o", out, "--shard-size", "64", "--val-size", "20"], capsys)
    assert code == 0, err
    assert f"{len(expected)} sketches" in stdout
    manifest = read_manifest(out)
    assert manifest["total"] == len(expected) and manifest["splits"]["val"]["count"] == 20
    assert all(s["count"] <= 64 for s in manifest["shards"])
    got = list(read(out))
    key = lambda s: (s.label, json.dumps([x.tolist() for x in s.strokes]))  # noqa: E731
    assert sorted(map(key, got)) == sorted(map(key, expected))  # every drawing once, exactly
    labels = {s["name"]: set(s["labels"]) for s in manifest["shards"]}
    assert all(len(v) > 1 for v in labels.values())  # per-category files are spread over the shards
    code, _, err = run_cli(["data", "shard", src, "-o", out], capsys)
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: ") and "is not empty" in err
    code, stdout, _ = run_cli(["data", "info", out, "--json"], capsys)
    assert code == 0 and json.loads(stdout)["count"] == len(expected)
    code, _, err = run_cli(["data", "shard", src, "-o", tmp_path / "x", "--shard-size", "0"], capsys)
    assert code == 2 and "--shard-size" in err


def test_gzip_shards_round_trip_and_sniff(tmp_path):
    sketches = make_sketches(11)
    manifest = write_shards(sketches, tmp_path, shard_size=4, val_size=3, compress=True)
    assert manifest["compression"] == "gzip"
    assert [s["name"] for s in manifest["shards"]] == ["val-000000.tar.gz", "shard-000000.tar.gz", "shard-000001.tar.gz"]
    assert all(same(a, b) for a, b in zip(read(tmp_path), sketches)) and len(list(read(tmp_path))) == 11
    assert sniff(tmp_path / "shard-000000.tar.gz").name == "sketchkit-shard"
    assert [s.meta["id"] for s in iter_shard(tmp_path / "shard-000001.tar.gz", skip=2)] == [9, 10]
    assert verify_shards(tmp_path) == []
