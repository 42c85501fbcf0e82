"""Writers and readers round-trip: Quick, Draw! .bin (own encoder), ndjson, sketch-rnn npz; property tests."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sketchkit.data import read
from sketchkit.data.quickdraw import encode_bin_record, write_bin
from sketchkit.data.writers import write, write_ndjson, write_npz
from sketchkit.sketch import Sketch


def _same(a: Sketch, b: Sketch) -> None:
    assert a.num_strokes == b.num_strokes
    for s, t in zip(a.strokes, b.strokes):
        np.testing.assert_array_equal(s, t)


def test_bin_layout_by_hand(tmp_path):
    sk = Sketch([np.array([[1, 2], [3, 4], [5, 6]]), np.array([[255, 0]])],
                meta={"key_id": 4785862436487168, "countrycode": "DE", "recognized": True, "timestamp": 1490000000})
    rec = encode_bin_record(sk)
    # Header <Q 2s B I H, then per stroke: uint16 n, n x-bytes, n y-bytes.
    expected = struct.pack("<Q2sBIH", 4785862436487168, b"DE", 1, 1490000000, 2)
    expected += struct.pack("<H", 3) + bytes([1, 3, 5]) + bytes([2, 4, 6])
    expected += struct.pack("<H", 1) + bytes([255]) + bytes([0])
    assert rec == expected
    path = tmp_path / "cat.bin"
    path.write_bytes(rec * 3)
    got = list(read(path))
    assert len(got) == 3
    _same(got[2], sk)
    assert got[0].label == "cat"
    assert got[0].meta == {"key_id": "4785862436487168", "countrycode": "DE", "recognized": True,
                           "timestamp": 1490000000, "source": str(path), "index": 0}


def test_bin_from_real_simplified(tmp_path, shared_data):
    src = shared_data / "quickdraw" / "simplified" / "pig.ndjson"
    sketches = list(read(src))
    out = tmp_path / "pig.bin"
    assert write_bin(sketches, out) == 25
    back = list(read(out))
    assert len(back) == 25
    for a, b in zip(sketches, back):
        _same(a, b)
        assert b.meta["key_id"] == a.meta["key_id"] and b.meta["countrycode"] == a.meta["countrycode"]
        assert b.meta["recognized"] == a.meta["recognized"]


def test_bin_rejects_out_of_range():
    with pytest.raises(ValueError, match=r"stroke 0: .bin coordinates must lie in 0..255 \(got 0..300\)"):
        encode_bin_record(Sketch([np.array([[0, 0], [300, 1]])]))


_strokes_int = st.lists(
    st.lists(st.tuples(st.integers(0, 255), st.integers(0, 255)), min_size=1, max_size=12),
    min_size=0, max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(drawings=st.lists(_strokes_int, min_size=1, max_size=4), key=st.integers(0, 2**64 - 1),
       rec=st.booleans())
def test_bin_roundtrip_property(tmp_path_factory, drawings, key, rec):
    sketches = [Sketch([np.array(s, dtype=float) for s in d], meta={"key_id": key, "recognized": rec})
                for d in drawings]
    path = tmp_path_factory.mktemp("bin") / "x.bin"
    write_bin(sketches, path)
    back = list(read(path))
    assert len(back) == len(sketches)
    for a, b in zip(sketches, back):
        _same(a, b)
        assert b.meta["key_id"] == str(key) and b.meta["recognized"] == rec


_coord = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)
_strokes_float = st.lists(st.lists(st.tuples(_coord, _coord), min_size=1, max_size=10), min_size=0, max_size=5)


@settings(max_examples=60, deadline=None)
@given(drawings=st.lists(_strokes_float, min_size=1, max_size=4), with_times=st.booleans(),
       label=st.text(min_size=0, max_size=8))
def test_ndjson_roundtrip_property(tmp_path_factory, drawings, with_times, label):
    sketches = []
    for d in drawings:
        strokes = [np.array(s, dtype=float) for s in d]
        times = [np.arange(s.shape[0], dtype=float) * 16.5 for s in strokes] if with_times and strokes else None
        sketches.append(Sketch(strokes, times=times, label=label))
    path = tmp_path_factory.mktemp("nd") / "x.ndjson"
    assert write_ndjson(sketches, path) == len(sketches)
    back = list(read(path))
    assert len(back) == len(sketches)
    for a, b in zip(sketches, back):
        _same(a, b)  # floats are written with repr, so exactly
        assert b.label == label
        assert (b.times is not None) == (a.times is not None)
        if a.times is not None:
            for x, y in zip(a.times, b.times):
                np.testing.assert_array_equal(x, y)


@settings(max_examples=40, deadline=None)
@given(drawings=st.lists(st.lists(st.lists(st.tuples(st.integers(-2000, 2000), st.integers(-2000, 2000)),
                                           min_size=1, max_size=8), min_size=1, max_size=5),
                         min_size=1, max_size=5))
def test_npz_roundtrip_property(tmp_path_factory, drawings):
    sketches = [Sketch([np.array(s, dtype=float) for s in d], label="x") for d in drawings]
    path = tmp_path_factory.mktemp("npz") / "x.npz"
    write_npz(sketches, path)
    back = list(read(path))
    for a, b in zip(sketches, back):
        _same(a, b)
    raw = np.load(path, allow_pickle=True)["train"]  # also readable by numpy / sketch-rnn code
    assert raw.dtype == object and raw[0].dtype == np.int16


def test_npz_keeps_splits_and_converts_real_file(tmp_path, shared_data):
    src = shared_data / "sketchrnn" / "aaron_sheep.npz"
    sketches = list(read(src, split=["valid", "test"]))
    out = tmp_path / "sheep.npz"
    with _no_warning():  # one label: nothing is lost, no warning
        write_npz(sketches, out)
    back = list(read(out))
    assert [s.meta["split"] for s in back] == ["valid"] * 300 + ["test"] * 300
    for a, b in zip(sketches, back):
        _same(a, b)
    ref = np.load(src, allow_pickle=True, encoding="latin1")
    got = np.load(out, allow_pickle=True)
    for i in (0, 299):
        np.testing.assert_array_equal(got["test"][i], ref["test"][i])


class _no_warning:
    def __enter__(self):
        import warnings

        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.simplefilter("error")

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)


def test_write_dispatch_and_single_svg(tmp_path):
    sk = Sketch([np.array([[0.0, 0.0], [10.0, 5.0]])], label="a")
    with pytest.raises(ValueError, match="unknown output type"):
        write([sk], tmp_path / "x.txt")
    with pytest.raises(ValueError, match="holds one sketch"):
        write([sk, sk], tmp_path / "x.svg")
    assert write([sk], tmp_path / "x.svg") == 1
    (back,) = list(read(tmp_path / "x.svg"))
    np.testing.assert_allclose(back.strokes[0], sk.strokes[0], atol=0.01)


def test_failed_write_leaves_no_file(tmp_path):
    def gen():
        yield Sketch([np.array([[0.0, 0.0]])])
        raise RuntimeError("input broke")

    out = tmp_path / "o.ndjson"
    with pytest.raises(RuntimeError):
        write_ndjson(gen(), out)
    assert list(tmp_path.iterdir()) == []
