"""Bad input: one-line errors naming file and line/index; skip mode counts; no unsafe unpickling."""

from __future__ import annotations

import gzip
import io
import json
import pickle
import struct
import warnings
import zipfile

import numpy as np
import pytest

from sketchkit.data import SkippedRecordsWarning, read, read_all
from sketchkit.errors import DataFormatError, InputError

GOOD = {"word": "cat", "key_id": "1", "recognized": True, "drawing": [[[0, 10, 20], [0, 5, 0]], [[3], [4]]]}


def _ndjson(tmp_path, lines, name="cat.ndjson"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_malformed_ndjson_line_names_the_line(tmp_path):
    path = _ndjson(tmp_path, [json.dumps(GOOD), json.dumps(GOOD), '{"word": "cat", "drawing": [[[1, 2]', json.dumps(GOOD)])
    with pytest.raises(DataFormatError) as exc:
        list(read(path))
    msg = _one_line(exc)
    assert msg.startswith(f"{path}: line 3: invalid JSON")


@pytest.mark.parametrize("drawing, fragment", [
    ([[[0, 1], [0]]], "stroke 0: 2 x values but 1 y values"),
    ([[[0, 1], [0, 1], [5]]], "stroke 0: 2 x values but 1 t values"),
    ([[[0, "a"], [0, 1]]], "stroke 0 x: expected a list of numbers"),
    ("nope", "'drawing': expected a list of strokes"),
    ([[[0, 1], [0, 1], [0, 1]], [[0], [0]]], "some strokes have times and others do not"),
])
def test_bad_drawing_shapes(tmp_path, drawing, fragment):
    path = _ndjson(tmp_path, [json.dumps(GOOD), json.dumps({"word": "cat", "drawing": drawing})])
    with pytest.raises(DataFormatError) as exc:
        list(read(path))
    assert f"{path}: line 2: {fragment}" in _one_line(exc)


def test_missing_drawing_and_non_object(tmp_path):
    path = _ndjson(tmp_path, ["[1, 2]"])
    with pytest.raises(DataFormatError, match="line 1: expected a JSON object, got list"):
        list(read(path, format="quickdraw-ndjson"))
    path = _ndjson(tmp_path, ['{"word": "cat"}'])
    with pytest.raises(DataFormatError, match="line 1: missing key 'drawing'"):
        list(read(path))


def test_skip_mode_counts_and_warns_with_line_numbers(tmp_path):
    lines = [json.dumps(GOOD)] * 10
    for bad in (2, 5, 6, 7, 8, 9):  # 1-based line numbers
        lines[bad - 1] = "not json" if bad % 2 else json.dumps({"word": "cat", "drawing": [[[1], []]]})
    path = _ndjson(tmp_path, lines)
    reader = read(path, on_error="skip")
    with pytest.warns(SkippedRecordsWarning) as rec:
        got = list(reader)
    assert len(got) == 4
    assert [loc for loc, _ in reader.skipped] == ["line 2", "line 5", "line 6", "line 7", "line 8", "line 9"]
    msg = str(rec[0].message)
    assert "skipped 6 malformed record(s) (line 2, line 5, line 6, line 7, line 8, ...)" in msg
    assert [s.meta["line"] for s in got] == [1, 3, 4, 10]


def test_skip_mode_no_warning_when_clean(tmp_path):
    path = _ndjson(tmp_path, [json.dumps(GOOD)] * 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(list(read(path, on_error="skip"))) == 3


# ------------------------------------------------------------------------------------------ npz
def _obj_array(items):
    arr = np.empty(len(items), dtype=object)
    for i, it in enumerate(items):
        arr[i] = it
    return arr


def _sketchrnn_npz(path, train, valid=(), test=()):
    np.savez(path, train=_obj_array(list(train)), valid=_obj_array(list(valid)), test=_obj_array(list(test)))
    return path


GOOD3 = np.array([[1, 2, 0], [3, 4, 1], [5, 6, 0], [1, 1, 1]], dtype=np.int16)


def test_sketchrnn_written_npz_reads_back(tmp_path):
    path = _sketchrnn_npz(tmp_path / "dog.npz", [GOOD3, GOOD3[:2]], [GOOD3], [])
    got = list(read(path))
    assert len(got) == 3 and [s.meta["split"] for s in got] == ["train", "train", "valid"]
    np.testing.assert_array_equal(got[0].strokes[0], [[1, 2], [4, 6]])
    np.testing.assert_array_equal(got[0].strokes[1], [[9, 12], [10, 13]])
    assert got[0].label == "dog"


def test_truncated_npz(tmp_path, shared_data):
    data = (shared_data / "sketchrnn" / "aaron_sheep.npz").read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError) as exc:
        list(read(path, format="sketchrnn-npz"))
    assert _one_line(exc).startswith(f"{path}: not a readable .npz archive")


def test_truncated_member_inside_zip(tmp_path):
    # A valid zip whose train.npy member stops early.
    buf = io.BytesIO()
    np.save(buf, np.zeros((10, 28, 28), dtype=np.uint8))
    raw = buf.getvalue()
    path = tmp_path / "imgs.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("arr_0.npy", raw[: len(raw) - 100])
    with pytest.raises(DataFormatError, match=r"key 'arr_0': cannot read array \(truncated array data"):
        list(read(path))


@pytest.mark.parametrize("bad, fragment", [
    (np.zeros((4, 2), dtype=np.int16), r"train\[1\]: expected shape \(n, 3\), got \(4, 2\)"),
    (np.zeros((4,), dtype=np.int16), r"train\[1\]: expected shape \(n, 3\), got \(4,\)"),
    (np.array([[1, 2, 7]], dtype=np.int16), r"train\[1\]: pen column must hold only 0 and 1"),
    (np.array([[1.0, np.nan, 0]]), r"train\[1\]: values must be finite"),
    ("a string", r"train\[1\]: expected a \(n, 3\) numeric array, got str"),
    ({"dx": [1, 2]}, r"train\[1\]: expected a \(n, 3\) numeric array, got dict"),
    (np.array(["a", "b", "c"]).reshape(1, 3), r"train\[1\]: expected a numeric array, got dtype <U1"),
])
def test_wrong_shaped_and_non_array_elements(tmp_path, bad, fragment):
    path = _sketchrnn_npz(tmp_path / "x.npz", [GOOD3, bad, GOOD3])
    with pytest.raises(DataFormatError, match=fragment):
        list(read(path))
    reader = read(path, on_error="skip")
    with pytest.warns(SkippedRecordsWarning, match="skipped 1 malformed record"):
        assert len(list(reader)) == 2
    assert reader.skipped[0][0] == "train[1]"


def test_numeric_split_array_is_rejected(tmp_path):
    path = tmp_path / "padded.npz"
    np.savez(path, train=np.zeros((5, 10, 3), dtype=np.int16))
    with pytest.raises(DataFormatError, match=r"key 'train': expected an object array of \(n, 3\) stroke-3 arrays, got int16 array of shape \(5, 10, 3\)"):
        list(read(path))


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo PWNED > pwned.txt",))


def test_object_array_with_code_is_never_executed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = _sketchrnn_npz(tmp_path / "evil.npz", [GOOD3, _Evil()])
    with pytest.raises(DataFormatError, match=r"refusing to load global (posix|os|nt)\.system"):
        list(read(path))
    assert not (tmp_path / "pwned.txt").exists()


def test_restricted_unpickler_reads_plain_arrays_only():
    from sketchkit.data._npz import unpickle_arrays

    arr = _obj_array([GOOD3, GOOD3.astype(np.float32)])
    back = unpickle_arrays(pickle.dumps(arr, protocol=2))
    np.testing.assert_array_equal(back[1], GOOD3)
    with pytest.raises(pickle.UnpicklingError, match="collections.OrderedDict"):
        from collections import OrderedDict

        unpickle_arrays(pickle.dumps(OrderedDict(a=1)))


# ------------------------------------------------------------------------------------------ bin
def test_corrupt_bin(tmp_path):
    from sketchkit.data.quickdraw import encode_bin_record
    from sketchkit.sketch import Sketch

    rec = encode_bin_record(Sketch([np.array([[1, 2], [3, 4]])], meta={"key_id": 5, "countrycode": "US"}))
    path = tmp_path / "cat.bin"
    path.write_bytes(rec + rec[:-3])
    with pytest.raises(DataFormatError) as exc:
        list(read(path))
    assert _one_line(exc) == f"{path}: record 1 (byte {len(rec)}): truncated at stroke 0 of 1 (1 of 4 bytes)"
    reader = read(path, on_error="skip")
    with pytest.warns(SkippedRecordsWarning):
        assert len(list(reader)) == 1
    # A flipped "recognized" byte (not 0/1) means the stream is out of step.
    bad = bytearray(rec * 2)
    bad[len(rec) + 10] = 7  # recognized byte: after uint64 key_id + 2-byte countrycode
    path.write_bytes(bytes(bad))
    with pytest.raises(DataFormatError, match=r"record 1 .*recognized flag is 7"):
        list(read(path, format="quickdraw-bin"))


# ---------------------------------------------------------------------------------------- rasters
def _idx_images(n, h=4, w=4):
    return struct.pack(">I3I", 0x0803, n, h, w) + bytes(range(n * h * w % 256)) * 0 + np.arange(n * h * w, dtype=np.uint8).tobytes()


def test_truncated_idx_gz(tmp_path):
    data = _idx_images(3)
    path = tmp_path / "t-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(data[:-5]))
    with pytest.raises(DataFormatError) as exc:
        list(read(path, n_points=4))
    assert _one_line(exc) == f"{path}: image 2: truncated (11 of 16 bytes; header says 3 images)"


def test_corrupt_gzip_stream(tmp_path):
    comp = bytearray(gzip.compress(_idx_images(50, 8, 8)))
    comp[40:60] = b"\xff" * 20
    path = tmp_path / "x-images-idx3-ubyte.gz"
    path.write_bytes(bytes(comp))
    with pytest.raises(DataFormatError, match=str(path)):
        list(read(path, format="mnist-idx", n_points=4))


def test_labels_count_mismatch(tmp_path):
    img = tmp_path / "k-imgs.npz"
    np.savez_compressed(img, arr_0=np.full((3, 8, 8), 200, dtype=np.uint8))
    np.savez_compressed(tmp_path / "k-labels.npz", arr_0=np.array([1, 2], dtype=np.uint8))
    with pytest.raises(DataFormatError, match="2 labels for 3 images"):
        list(read(img))
    np.savez_compressed(tmp_path / "k-labels.npz", arr_0=np.array([1, 2, 3], dtype=np.uint8))
    assert [s.label for s in read(img, n_points=5)] == ["1", "2", "3"]


def test_wrong_shaped_image_array(tmp_path):
    path = tmp_path / "imgs.npz"
    np.savez(path, arr_0=np.zeros((3, 784), dtype=np.uint8))
    with pytest.raises(DataFormatError, match=r"expected images \(N, H, W\), got uint8 \(3, 784\)"):
        list(read(path))


def test_blank_image_gives_empty_cloud(tmp_path):
    path = tmp_path / "imgs.npz"
    imgs = np.zeros((2, 8, 8), dtype=np.uint8)
    imgs[1, 2:4, 2:4] = 255
    np.savez(path, arr_0=imgs)
    got = list(read(path, n_points=10))
    assert got[0].num_points == 0 and got[1].num_points == 10


# ------------------------------------------------------------------------------------- pickles
def test_pickle_needs_trust(tmp_path):
    path = tmp_path / "sample.pkl"
    with open(path, "wb") as f:
        pickle.dump({"word": "3", "drawing": [[[0, 1, 2], [0, 1, 0]]]}, f)
    with pytest.raises(InputError, match="is a pickle, which can run arbitrary code"):
        list(read(path))
    from sketchkit.data.vectormnist import UnsafePickleWarning

    with pytest.warns(UnsafePickleWarning):
        (sk,) = list(read(path, trust_pickle=True))
    assert sk.label == "3" and sk.num_points == 3


def test_unknown_and_empty_files(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("hello")
    with pytest.raises(InputError, match="unrecognised file format"):
        list(read(p))
    e = tmp_path / "empty.ndjson"
    e.write_text("")
    with pytest.raises(InputError, match="empty file"):
        read(e)
    assert read_all(tmp_path) == []  # a folder scan skips what it cannot read


def test_labels_files_given_as_data(shared_data):
    with pytest.raises(DataFormatError, match="is an idx labels file"):
        list(read(shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz"))
    with pytest.raises(DataFormatError, match="looks like a labels file"):
        list(read(shared_data / "kmnist" / "kmnist-test-labels.npz"))
