"""SPG (Quick, Draw! with per-point part labels): reader, sniffing, labels from file names, splits."""

from __future__ import annotations

import json

import numpy as np
import pytest

import sketchkit.data as data
from conftest import shared_path
from sketchkit.data.splits import split_sketches
from sketchkit.errors import DataFormatError


def _write(path, records):
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return path


def test_spg_keeps_parts_per_point_and_takes_the_category_from_the_file_name(tmp_path):
    f = _write(tmp_path / "alarm_clock.ndjson", [
        {"i": 0, "key_id": "11", "drawing": [[[0, 10, 20], [5, 5, 6], [1, 1, 2]], [[3, 4], [7, 8], [4, 4], [9, 9]]]},
        {"i": 1, "key_id": "12", "drawing": [[[1, 2], [3, 4], [0, 0]]]},
    ])
    assert data.sniff(f).name == "quickdraw-spg"
    a, b = list(data.read(f))
    assert a.label == b.label == "alarm_clock"
    assert a.times is None  # the third row is a part label, not a time
    np.testing.assert_array_equal(a.strokes[0], [[0, 5], [10, 5], [20, 6]])
    assert [p.tolist() for p in a.meta["parts"]] == [[1, 1, 2], [4, 4]]
    assert [p.tolist() for p in a.meta["parts2"]] == [[-1, -1, -1], [9, 9]]
    assert "parts2" not in b.meta and a.meta["key_id"] == "11" and a.meta["line"] == 1


def test_google_ndjson_is_not_taken_for_spg(tmp_path):
    f = _write(tmp_path / "cat.ndjson", [{"word": "cat", "key_id": "1", "drawing": [[[0, 1], [0, 1], [0, 16]]]}])
    assert data.sniff(f).name == "quickdraw-ndjson"
    (sk,) = data.read(f)
    assert sk.times is not None


def test_malformed_spg_line_names_file_and_line_and_skip_keeps_the_rest(tmp_path):
    f = _write(tmp_path / "pig.ndjson", [
        {"i": 0, "key_id": "1", "drawing": [[[0, 1], [0, 1], [2, 2]]]},
        {"i": 1, "key_id": "2", "drawing": [[[0, 1], [0, 1]]]},  # no part row
        {"i": 2, "key_id": "3", "drawing": [[[0, 1], [0, 1, 2], [2, 2]]]},  # ragged
    ])
    with pytest.raises(DataFormatError, match=r"pig.ndjson: line 2: stroke 0: expected"):
        list(data.read(f))
    reader = data.read(f, on_error="skip")
    with pytest.warns(data.SkippedRecordsWarning):
        kept = list(reader)
    assert [s.meta["key_id"] for s in kept] == ["1"] and len(reader.skipped) == 2


def test_category_filter_on_a_folder(tmp_path):
    for name in ("pig", "duck"):
        _write(tmp_path / f"{name}.ndjson", [{"i": 0, "key_id": name, "drawing": [[[0, 1], [0, 1], [0, 0]]]}])
    assert [s.label for s in data.read(tmp_path, categories=["duck"])] == ["duck"]
    assert data.info(tmp_path)["labels"] == {"duck": 1, "pig": 1}


def test_split_is_stable_under_reordering_and_subsets():
    from sketchkit.sketch import Sketch

    sk = [Sketch([np.zeros((2, 2))], meta={"key_id": str(i)}) for i in range(2000)]
    a = split_sketches(sk)
    b = split_sketches(list(reversed(sk)))
    key = lambda part: sorted(s.meta["key_id"] for s in part)  # noqa: E731
    assert all(key(a[k]) == key(b[k]) for k in a)
    assert 0.07 < len(a["test"]) / 2000 < 0.13 and 0.07 < len(a["valid"]) / 2000 < 0.13
    sub = split_sketches(sk[:500])
    assert set(key(sub["test"])) <= set(key(a["test"]))
    with pytest.raises(ValueError):
        split_sketches(sk, valid=0.6, test=0.5)


def test_split_of_keyless_sketches_does_not_depend_on_the_folder_they_were_read_from():
    from sketchkit.sketch import Sketch

    def read_from(folder: str) -> list:
        return [Sketch([np.zeros((2, 2))], meta={"source": f"{folder}/digits.npz", "index": i}) for i in range(600)]

    a, b = split_sketches(read_from("../shared/data/vectormnist")), split_sketches(read_from("/abs/elsewhere"))
    assert all([s.meta["index"] for s in a[k]] == [s.meta["index"] for s in b[k]] for k in a)
    assert 20 < len(a["test"]) < 100


def test_real_spg_folder():
    folder = shared_path("quickdraw", "spg")
    info = data.info(folder)
    assert info["count"] == 13300 and len(info["labels"]) == 19 and set(info["labels"].values()) == {700}
    pigs = list(data.read(folder / "pig.ndjson", limit=50))
    assert all(s.label == "pig" and len(s.meta["parts"]) == s.num_strokes for s in pigs)
    assert all(len(p) == len(st) for s in pigs for p, st in zip(s.meta["parts"], s.strokes))
