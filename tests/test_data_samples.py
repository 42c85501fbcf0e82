"""VectorMNIST sample layouts (json / trusted pickles), streaming, and fuzzing of every parser."""

from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sketchkit.data import read, read_all
from sketchkit.data.vectormnist import UnsafePickleWarning
from sketchkit.errors import DataFormatError, InputError


def test_json_sample_dict_and_list(tmp_path):
    one = tmp_path / "s.json"
    one.write_text(json.dumps({"word": "7", "drawing": [[[0, 5, 9], [0, 0, 9], [0, 10, 20]]]}))
    (sk,) = list(read(one))
    assert sk.label == "7" and sk.times is not None
    np.testing.assert_array_equal(sk.strokes[0], [[0, 0], [5, 0], [9, 9]])
    many = tmp_path / "m.json"
    many.write_text(json.dumps([{"label": 1, "drawing": [[[0, 1], [0, 1]]]}, {"word": "2", "drawing": []}]))
    got = list(read(many))
    assert [s.label for s in got] == ["1", "2"] and got[1].num_strokes == 0


def test_trusted_pickle_list_of_arrays(tmp_path):
    path = tmp_path / "digit.pkl"
    strokes = [np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[5.0, 6.0]])]
    with open(path, "wb") as f:
        pickle.dump(strokes, f)
    with pytest.warns(UnsafePickleWarning, match="unpickling"):
        (sk,) = list(read(path, trust_pickle=True, label="3"))
    assert sk.label == "3" and sk.num_strokes == 2
    np.testing.assert_array_equal(sk.strokes[1], [[5, 6]])
    # many samples in one pickle: a list of stroke lists
    with open(path, "wb") as f:
        pickle.dump([strokes, strokes[:1]], f)
    with pytest.warns(UnsafePickleWarning):
        assert [s.num_strokes for s in read(path, trust_pickle=True)] == [2, 1]
    with open(path, "wb") as f:
        pickle.dump([np.zeros((3, 3))], f)
    with pytest.warns(UnsafePickleWarning), pytest.raises(DataFormatError, match=r"sample 0: stroke 0: expected an \(n, 2\) array"):
        list(read(path, trust_pickle=True))


def test_folder_of_unpacked_pickles_needs_trust(tmp_path):
    for i in range(3):
        with open(tmp_path / f"{i}.pkl", "wb") as f:
            pickle.dump({"word": str(i), "drawing": [[[0, i], [0, i]]]}, f)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_all(tmp_path) == []  # never unpickled without trust
    with pytest.warns(UnsafePickleWarning):
        got = read_all(tmp_path, trust_pickle=True)
    assert [s.label for s in got] == ["0", "1", "2"]


def test_ndjson_reading_is_lazy(tmp_path):
    path = tmp_path / "big.ndjson"
    good = json.dumps({"word": "a", "drawing": [[[1, 2], [3, 4]]]})
    path.write_text("\n".join([good] * 1000 + ["broken"]))
    reader = read(path)
    first = next(reader)  # the broken last line has not been parsed yet
    assert first.meta["line"] == 1
    reader.close()
    with pytest.raises(DataFormatError, match="line 1001"):
        list(read(path))


# ------------------------------------------------------------------------------------- fuzzing
_fuzz = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _only_format_errors(path, **kw):
    try:
        for _ in read(path, **kw):
            pass
    except DataFormatError:
        pass


@_fuzz
@given(lines=st.lists(st.one_of(
    st.text(max_size=30),
    st.builds(json.dumps, st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                                       lambda c: st.lists(c, max_size=4) | st.dictionaries(st.sampled_from(["word", "drawing", "key_id"]), c, max_size=3),
                                       max_leaves=20)),
), min_size=1, max_size=5))
def test_ndjson_garbage_gives_only_format_errors(tmp_path, lines):
    path = tmp_path / "f.ndjson"
    path.write_text("\n".join(lines), encoding="utf-8")
    _only_format_errors(path, format="quickdraw-ndjson")


@_fuzz
@given(data=st.binary(min_size=1, max_size=200))
def test_bin_garbage_gives_only_format_errors(tmp_path, data):
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    _only_format_errors(path, format="quickdraw-bin")


@_fuzz
@given(data=st.binary(min_size=1, max_size=300), cut=st.integers(0, 2000))
def test_npz_garbage_gives_only_format_errors(tmp_path, data, cut):
    import io

    buf = io.BytesIO()
    arr = np.empty(2, dtype=object)
    arr[0] = np.zeros((3, 3), dtype=np.int16)
    arr[1] = np.ones((2, 3), dtype=np.int16)
    np.savez(buf, train=arr)
    raw = buf.getvalue()
    path = tmp_path / "f.npz"
    path.write_bytes(raw[:cut] + data + raw[cut + len(data):])
    _only_format_errors(path, format="sketchrnn-npz")


@_fuzz
@given(d=st.text(alphabet="MmLlHhVvCcSsQqTtAaZz0123456789.-e, ", max_size=40))
def test_svg_path_garbage_gives_only_format_errors(tmp_path, d):
    path = tmp_path / "f.svg"
    path.write_text(f'<svg xmlns="http://www.w3.org/2000/svg"><path d="{d}"/></svg>')
    _only_format_errors(path)


def test_skip_requires_known_policy(tmp_path):
    path = tmp_path / "a.ndjson"
    path.write_text("{}\n")
    with pytest.raises(InputError, match="on_error"):
        read(path, on_error="ignore")
