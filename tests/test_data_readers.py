"""Every file in ../shared/data read with the exact counts of its README, plus reader options."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import shared_path
from sketchkit.data import formats, info, read, read_all, sniff
from sketchkit.errors import InputError
from sketchkit.sketch import Sketch

CATEGORIES = ["apple", "bicycle", "bird", "cat", "face", "house", "pig", "sheep"]
RAW_COUNTS = {"apple": 37, "bicycle": 26, "bird": 30, "cat": 25, "face": 31, "house": 37, "pig": 19, "sheep": 23}
SKETCHRNN = {
    "aaron_sheep": (7400, 300, 300),
    "short_kanji": (10000, 600, 500),
    "omniglot": (30000, 1000, 1000),
}


@pytest.mark.parametrize("category", CATEGORIES)
def test_quickdraw_raw_counts_and_times(category):
    path = shared_path("quickdraw", "raw", f"{category}.ndjson")
    sketches = list(read(path))
    assert len(sketches) == RAW_COUNTS[category]
    assert sniff(path).name == "quickdraw-ndjson"
    for sk in sketches:
        assert sk.label == category
        assert sk.times is not None
        for s, t in zip(sk.strokes, sk.times):
            assert t.shape == (s.shape[0],)
            assert np.all(np.diff(t) >= 0)  # raw times are non-decreasing within a stroke


@pytest.mark.parametrize("category", CATEGORIES)
def test_quickdraw_simplified_matches_raw(category):
    simp = list(read(shared_path("quickdraw", "simplified", f"{category}.ndjson")))
    raw = list(read(shared_path("quickdraw", "raw", f"{category}.ndjson"), limit=25))
    assert len(simp) == 25
    for s, r in zip(simp, raw):
        assert s.times is None
        assert s.meta["key_id"] == r.meta["key_id"]
        assert s.num_strokes == r.num_strokes
        pts = s.points()
        assert pts.min() >= 0 and pts.max() <= 255
        assert np.all(pts == np.round(pts))


def test_quickdraw_first_record_exact():
    path = shared_path("quickdraw", "raw", "apple.ndjson")
    first = next(read(path))
    with open(path) as f:
        rec = json.loads(f.readline())
    assert first.meta["key_id"] == rec["key_id"] == "6420579601088512"
    assert first.meta["line"] == 1
    assert first.num_strokes == len(rec["drawing"])
    np.testing.assert_array_equal(first.strokes[0], [[675.0, 158.0]])
    np.testing.assert_array_equal(first.times[1], [185.0, 189.0])


@pytest.mark.parametrize("name", sorted(SKETCHRNN))
def test_sketchrnn_split_counts(name):
    path = shared_path("sketchrnn", f"{name}.npz")
    train, valid, test = SKETCHRNN[name]
    from sketchkit.data.sketchrnn import split_sizes

    assert split_sizes(path) == {"train": train, "valid": valid, "test": test}
    assert sniff(path).name == "sketchrnn-npz"
    valid_sketches = list(read(path, split="valid"))
    assert len(valid_sketches) == valid
    assert all(s.meta["split"] == "valid" and s.label == name for s in valid_sketches)
    assert [s.meta["index"] for s in valid_sketches] == list(range(valid))


def test_sketchrnn_total_and_decoding():
    path = shared_path("sketchrnn", "aaron_sheep.npz")
    assert sum(1 for _ in read(path)) == 8000
    raw = np.load(path, allow_pickle=True, encoding="latin1")["test"][0]  # reference loader
    sk = next(read(path, split="test"))
    from sketchkit.convert import sketch_to_stroke3

    np.testing.assert_array_equal(sketch_to_stroke3(sk), raw.astype(np.float64))


def test_sketchrnn_several_splits_in_order():
    path = shared_path("sketchrnn", "aaron_sheep.npz")
    got = [s.meta["split"] for s in read(path, split=["test", "valid"])]
    assert got == ["test"] * 300 + ["valid"] * 300
    with pytest.raises(InputError, match="split"):
        list(read(path, split="dev"))


def test_kmnist_point_clouds_and_labels():
    path = shared_path("kmnist", "kmnist-test-imgs.npz")
    assert sniff(path).name == "kmnist-npz"
    from sketchkit.data.rasters import read_images

    labels = [lab for _, lab in read_images(path)]
    assert len(labels) == 5000
    counts = np.bincount([int(v) for v in labels], minlength=10)
    assert counts.tolist() == [516, 530, 495, 492, 513, 485, 506, 491, 504, 468]
    sketches = list(read(path, limit=3, n_points=64))
    assert [s.is_point_cloud for s in sketches] == [True] * 3
    assert all(s.num_points == 64 and s.num_strokes == 64 for s in sketches)
    assert all("image" not in s.meta for s in sketches)


def test_raster_point_cloud_lies_on_ink_and_is_seeded_per_index():
    path = shared_path("kmnist", "kmnist-test-imgs.npz")
    from sketchkit.data.rasters import read_images

    images = [img for img, _ in read_images(path)][:5]
    a = list(read(path, limit=5, n_points=128, seed=3))
    b = list(read(path, limit=5, n_points=128, seed=3))
    c = list(read(path, limit=5, n_points=128, seed=4))
    for img, sa, sb, sc in zip(images, a, b, c):
        np.testing.assert_array_equal(sa.points(), sb.points())
        assert not np.array_equal(sa.points(), sc.points())
        pts = sa.points()
        cols, rows = np.floor(pts[:, 0]).astype(int), np.floor(pts[:, 1]).astype(int)
        assert np.all(img[rows, cols] > 0)  # every point falls in an inked pixel
    # The cloud of image 4 does not depend on having read images 0..3 first.
    from sketchkit.data.rasters import image_to_point_cloud

    np.testing.assert_array_equal(image_to_point_cloud(images[4], 4, n_points=128, seed=3), a[4].points())


def test_mnist_idx_gz():
    path = shared_path("mnist", "t10k-images-idx3-ubyte.gz")
    assert sniff(path).name == "mnist-idx"
    from sketchkit.data.rasters import read_images

    first = []
    n = 0
    for img, lab in read_images(path, split="test"):
        assert img.shape == (28, 28) and img.dtype == np.uint8
        if n < 10:
            first.append(lab)
        n += 1
    assert n == 10000
    assert first == list("7210414959")
    with pytest.raises(InputError, match="'test' split"):
        next(read_images(path, split="train"))
    sk = next(read(path, n_points=32))
    assert sk.label == "7" and sk.num_points == 32


def test_vectormnist_npz():
    path = shared_path("vectormnist", "mnist-stroke-sequences-train-first5000.npz")
    assert sniff(path).name == "vectormnist-npz"
    sketches = list(read(path))
    assert len(sketches) == 5000
    assert [s.label for s in sketches[:16]] == list("5041921314353617")
    labels = np.load(path)["labels"]
    assert [int(s.label) for s in sketches] == labels.tolist()
    assert sum(s.num_strokes for s in sketches) == 7723
    first = sketches[0]
    # Digit 0 (a "5"): top bar traced from (11, 9) to (22, 6), a single-point stroke, then the body.
    assert first.num_strokes == 3
    np.testing.assert_array_equal(first.strokes[0][0], [11, 9])
    np.testing.assert_array_equal(first.strokes[0][-1], [22, 6])
    assert first.strokes[0].shape[0] == 14
    np.testing.assert_array_equal(first.strokes[1], [[18, 9]])
    pts = np.concatenate([s.points() for s in sketches])
    assert pts.min() >= 0 and pts.max() <= 28


def test_decode_pen_sequence_closed_form():
    from sketchkit.data.vectormnist import decode_pen_sequence

    seq = np.array([
        [3, 4, 0, 0],   # start (3, 4)
        [1, 0, 0, 0],   # (4, 4)
        [0, 1, 0, 0],   # (4, 5)
        [0, 0, 1, 0],   # end of stroke 1
        [5, 5, 0, 0],   # jump to (9, 10)
        [-1, 0, 0, 0],  # (8, 10)
        [0, 0, 1, 1],   # end of stroke 2 and of the digit
        [0, 0, 0, 0],   # padding
    ])
    strokes = decode_pen_sequence(seq)
    assert len(strokes) == 2
    np.testing.assert_array_equal(strokes[0], [[3, 4], [4, 4], [4, 5]])
    np.testing.assert_array_equal(strokes[1], [[9, 10], [8, 10]])


def test_every_shared_file_reads_through_a_folder_scan():
    root = shared_path("quickdraw", "simplified")
    sketches = read_all(root)
    assert len(sketches) == 8 * 25
    assert sorted({s.label for s in sketches}) == CATEGORIES
    cats = read_all(root, categories=["cat", "pig"])
    assert len(cats) == 50 and {s.label for s in cats} == {"cat", "pig"}


def test_folder_split_selection_and_read_all_limit():
    root = shared_path("sketchrnn")
    valid = list(read(root, split="valid", limit=None))
    assert len(valid) == 300 + 1000 + 600  # aaron_sheep, omniglot, short_kanji (sorted names)
    files = [shared_path("quickdraw", "raw", "cat.ndjson"), shared_path("quickdraw", "raw", "pig.ndjson")]
    got = read_all(files, limit=30)
    assert len(got) == 30 and [s.label for s in got] == ["cat"] * 25 + ["pig"] * 5


def test_info_counts():
    s = info(shared_path("quickdraw", "simplified", "cat.ndjson"))
    assert s["format"] == "quickdraw-ndjson" and s["count"] == 25
    assert s["labels"] == {"cat": 25}
    assert s["strokes"]["total"] == 221 and s["points"]["total"] == 1362
    assert s["has_times"] is False
    r = info(shared_path("sketchrnn", "short_kanji.npz"))
    assert r["count"] == 11100 and r["splits"] == {"train": 10000, "valid": 600, "test": 500}
    k = info(shared_path("kmnist", "kmnist-test-imgs.npz"))
    assert k["count"] == 5000 and k["image_shape"] == [28, 28]
    assert k["labels"]["0"] == 516


def test_registry_and_options():
    names = set(formats())
    assert {"quickdraw-ndjson", "quickdraw-bin", "sketchrnn-npz", "kmnist-npz", "mnist-idx",
            "vectormnist-npz", "vectormnist-samples", "svg"} <= names
    path = shared_path("quickdraw", "simplified", "cat.ndjson")
    with pytest.raises(InputError, match="does not take option 'n_points'"):
        read(path, n_points=3)
    with pytest.raises(InputError, match="has no splits"):
        read(path, split="train")
    with pytest.raises(InputError, match="unknown format"):
        read(path, format="nope")
    with pytest.raises(InputError, match="no such file"):
        read(path.with_name("missing.ndjson"))
    assert isinstance(next(read(path, format="quickdraw-ndjson")), Sketch)
    assert sum(1 for _ in read(path, recognized=True)) == sum(
        1 for s in read(path) if s.meta["recognized"])


def test_ink_masks_and_folder_info():
    from sketchkit.data.rasters import read_images, read_ink_masks

    path = shared_path("mnist", "t10k-images-idx3-ubyte.gz")
    (img, lab), (mask, lab2) = next(read_images(path)), next(read_ink_masks(path, threshold=0.5))
    assert lab == lab2 == "7" and mask.dtype == bool
    np.testing.assert_array_equal(mask, img > 127.5)
    # raw/ and simplified/ only: the shared quickdraw folder also holds excerpts/ and spg/ now.
    raw, simp = info(shared_path("quickdraw", "raw")), info(shared_path("quickdraw", "simplified"))
    assert raw["format"] == simp["format"] == "folder" and (raw["count"], simp["count"]) == (228, 200)
    assert len(raw["files"]) + len(simp["files"]) == 16
    assert raw["labels"].get("cat", 0) + simp["labels"].get("cat", 0) == 50
