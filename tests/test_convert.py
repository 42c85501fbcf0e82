"""Converters: stroke-3, stroke-5, point clouds, normalisation, resampling, simplification."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from conftest import shared_path
from sketchkit import convert as cv
from sketchkit.geometry.polyline import arc_length
from sketchkit.sketch import BezierSketch, Sketch

SKETCH = Sketch(
    [np.array([[0, 0], [1, 2], [3, 3]]), np.array([[5, 5]]), np.array([[1, 1], [2, 2]])],
    times=[np.array([0, 10, 20]), np.array([30]), np.array([40, 50])],
    label="demo",
)


def int_strokes(max_strokes=6, max_points=12):
    coord = st.integers(-2000, 2000)
    stroke = st.integers(1, max_points).flatmap(
        lambda n: arrays(np.int64, (n, 2), elements=coord)
    )
    return st.lists(stroke, min_size=1, max_size=max_strokes)


def float_strokes(max_strokes=5, max_points=10):
    coord = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)
    stroke = st.integers(1, max_points).flatmap(lambda n: arrays(np.float64, (n, 2), elements=coord))
    return st.lists(stroke, min_size=1, max_size=max_strokes)


# ------------------------------------------------------------------ stroke-3


def test_stroke3_convention():
    s3 = cv.sketch_to_stroke3(SKETCH)
    np.testing.assert_array_equal(
        s3, [[0, 0, 0], [1, 2, 0], [2, 1, 1], [2, 2, 1], [-4, -4, 0], [1, 1, 1]]
    )
    back = cv.stroke3_to_sketch(s3, label="demo")
    assert back.label == "demo" and back.num_strokes == 3
    for a, b in zip(back.strokes, SKETCH.strokes):
        np.testing.assert_array_equal(a, b)
    # The first row is measured from `start`.
    s3 = cv.sketch_to_stroke3(SKETCH, start=(10, -5))
    np.testing.assert_array_equal(s3[0], [-10, 5, 0])
    moved = cv.stroke3_to_sketch(s3, start=(10, -5))
    np.testing.assert_array_equal(moved.points(), SKETCH.points())


def test_stroke3_unterminated_and_empty():
    # No final pen lift: the trailing points still form a stroke.
    s = cv.stroke3_to_sketch([[1, 1, 0], [1, 0, 1], [2, 2, 0], [0, 1, 0]])
    assert [x.shape[0] for x in s.strokes] == [2, 2]
    np.testing.assert_array_equal(s.strokes[1], [[4, 3], [4, 4]])
    assert cv.stroke3_to_sketch(np.zeros((0, 3))).num_strokes == 0
    assert cv.sketch_to_stroke3(Sketch([])).shape == (0, 3)


@pytest.mark.parametrize(
    "bad, match",
    [(np.zeros((4, 2)), r"\(N, 3\)"), (np.array([[0, 0, np.inf]]), "finite"), (np.array([None, 1]), "object")],
)
def test_stroke3_rejects_bad_arrays(bad, match):
    with pytest.raises(ValueError, match=match):
        cv.stroke3_to_sketch(bad)


@settings(max_examples=100, deadline=None)
@given(int_strokes(), st.tuples(st.integers(-50, 50), st.integers(-50, 50)))
def test_stroke3_round_trip_exact_for_integers(strokes, start):
    sketch = Sketch(strokes)
    s3 = cv.sketch_to_stroke3(sketch, start=start)
    assert s3.shape == (sketch.num_points, 3)
    assert int(s3[:, 2].sum()) == sketch.num_strokes and s3[-1, 2] == 1
    back = cv.stroke3_to_sketch(s3, start=start)
    assert back.num_strokes == sketch.num_strokes
    for a, b in zip(back.strokes, sketch.strokes):
        np.testing.assert_array_equal(a, b)
    # And stroke-3 -> Sketch -> stroke-3 is exact too.
    np.testing.assert_array_equal(cv.sketch_to_stroke3(back, start=start), s3)


def test_stroke3_round_trip_on_real_sketch_rnn_data():
    path = shared_path("sketchrnn", "aaron_sheep.npz")
    with np.load(path, allow_pickle=True, encoding="latin1") as data:
        splits = {k: list(data[k]) for k in ("train", "valid", "test")}
    assert {k: len(v) for k, v in splits.items()} == {"train": 7400, "valid": 300, "test": 300}
    for arrays_ in splits.values():
        for a in arrays_[:400]:
            sketch = cv.stroke3_to_sketch(a)
            assert sketch.num_points == a.shape[0]
            assert sketch.num_strokes == int((a[:, 2] == 1).sum())
            np.testing.assert_array_equal(cv.sketch_to_stroke3(sketch), a.astype(np.float64))


# ------------------------------------------------------------------ stroke-5


def test_stroke5_layout_and_round_trip():
    data, lengths = cv.sketches_to_stroke5([SKETCH, cv.sketch_to_stroke3(SKETCH)[:2]], max_len=8)
    assert data.shape == (2, 8, 5)
    np.testing.assert_array_equal(lengths, [6, 2])
    np.testing.assert_array_equal(data[0, :, :2], np.vstack([cv.sketch_to_stroke3(SKETCH)[:, :2], np.zeros((2, 2))]))
    np.testing.assert_array_equal(data[0, :, 2:], [[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]])
    np.testing.assert_array_equal(data[1, 2:, 4], 1)
    # One-hot pen state on every row.
    np.testing.assert_array_equal(data[..., 2:].sum(axis=2), 1)
    back = cv.stroke5_to_sketches(data, lengths, labels=["a", "b"])
    assert [b.label for b in back] == ["a", "b"]
    np.testing.assert_array_equal(back[0].points(), SKETCH.points())
    # Without lengths, each sequence stops at its first end row.
    np.testing.assert_array_equal(cv.stroke5_to_sketches(data)[0].points(), SKETCH.points())


def test_stroke5_start_token_default_length_and_truncation():
    data, lengths = cv.sketches_to_stroke5([SKETCH], start_token=True)
    assert data.shape == (1, 7, 5)  # max_len defaults to the longest (6) + start token
    np.testing.assert_array_equal(data[0, 0], [0, 0, 1, 0, 0])
    np.testing.assert_array_equal(cv.stroke5_to_sketches(data, lengths, start_token=True)[0].points(), SKETCH.points())
    with pytest.raises(ValueError, match="max_len=4"):
        cv.sketches_to_stroke5([SKETCH], max_len=4)
    cut, lengths = cv.sketches_to_stroke5([SKETCH], max_len=4, truncate=True)
    np.testing.assert_array_equal(lengths, [4])
    assert cut[0, 3, 3] == 1  # the last kept point lifts the pen
    # Model outputs given as probabilities: pen state is the argmax.
    probs = np.array([[[1, 1, 0.7, 0.2, 0.1], [2, 0, 0.1, 0.8, 0.1], [0, 0, 0.1, 0.1, 0.8]]])
    sk = cv.stroke5_to_sketches(probs)[0]
    assert sk.num_strokes == 1 and sk.num_points == 2


@settings(max_examples=50, deadline=None)
@given(st.lists(int_strokes(max_strokes=4, max_points=8), min_size=1, max_size=5))
def test_stroke5_round_trip_property(batch):
    sketches = [Sketch(s) for s in batch]
    data, lengths = cv.sketches_to_stroke5(sketches, start_token=True)
    back = cv.stroke5_to_sketches(data, lengths, start_token=True)
    for a, b in zip(back, sketches):
        assert a.num_strokes == b.num_strokes
        np.testing.assert_array_equal(a.points(), b.points())


# ------------------------------------------------------------------ point clouds


def test_point_cloud_uniform_in_arc_length():
    # Two strokes of lengths 1 and 3 (the pen-up jump between them carries no mass).
    sketch = Sketch([np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([[0.0, 5.0], [0.0, 8.0]])])
    pts = cv.sample_point_cloud(sketch, 40_000, generator=np.random.default_rng(0))
    on_first = (pts[:, 1] == 0.0) & (pts[:, 0] >= 0) & (pts[:, 0] <= 1)
    on_second = (pts[:, 0] == 0.0) & (pts[:, 1] >= 5) & (pts[:, 1] <= 8)
    assert np.all(on_first | on_second)
    # Binomial std of the fraction at n = 40000 is 0.0022; allow 0.01.
    assert on_first.mean() == pytest.approx(0.25, abs=0.01)
    # Within the long stroke, y is uniform on [5, 8]: mean 6.5 (std of mean 0.005).
    assert pts[on_second, 1].mean() == pytest.approx(6.5, abs=0.03)
    strat = cv.sample_point_cloud(sketch, 8, generator=np.random.default_rng(0), stratified=True)
    assert np.sum(strat[:, 1] == 0.0) == 2  # exactly one point per eighth of the length


@settings(max_examples=50, deadline=None)
@given(float_strokes(), st.integers(0, 2**32 - 1), st.booleans())
def test_point_cloud_points_lie_on_the_strokes(strokes, seed, stratified):
    sketch = Sketch(strokes)
    pts = cv.sample_point_cloud(sketch, 64, generator=np.random.default_rng(seed), stratified=stratified)
    assert pts.shape == (64, 2)
    segments = [(s[:-1], s[1:]) for s in sketch.strokes if s.shape[0] > 1]
    if not segments or sum(np.linalg.norm(b - a, axis=1).sum() for a, b in segments) == 0:
        allowed = {tuple(p) for p in sketch.points()}
        assert all(tuple(p) in allowed for p in pts)
        return
    a = np.concatenate([seg[0] for seg in segments])
    b = np.concatenate([seg[1] for seg in segments])
    ab = b - a
    denom = np.maximum(np.sum(ab * ab, axis=1), 1e-300)
    for p in pts:
        u = np.clip(np.sum((p - a) * ab, axis=1) / denom, 0, 1)
        dist = np.min(np.linalg.norm(p - (a + u[:, None] * ab), axis=1))
        assert dist <= 1e-9 * max(1.0, np.abs(sketch.points()).max())


def test_point_cloud_is_seeded_and_handles_point_clouds():
    a = cv.sample_point_cloud(SKETCH, 50, generator=np.random.default_rng(5))
    b = cv.sample_point_cloud(SKETCH, 50, generator=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    cloud = Sketch.from_point_cloud(np.arange(20, dtype=float).reshape(10, 2))
    few = cv.sample_point_cloud(cloud, 10, generator=np.random.default_rng(0))
    assert {tuple(p) for p in few} == {tuple(p) for p in cloud.points()}  # a permutation
    many = cv.sample_point_cloud(cloud, 25, generator=np.random.default_rng(0))
    assert many.shape == (25, 2) and {tuple(p) for p in many} <= {tuple(p) for p in cloud.points()}
    dots = Sketch([np.array([[1.0, 1.0]]), np.array([[2.0, 2.0]])])
    assert cv.sample_point_cloud(dots, 4, generator=np.random.default_rng(0)).shape == (4, 2)
    with pytest.raises(ValueError, match="no points"):
        cv.sample_point_cloud(Sketch([]), 3, generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="generator"):
        cv.sample_point_cloud(SKETCH, 3, generator=None)


# ------------------------------------------------------------------ normalise


def test_normalize_modes_closed_form():
    sk = Sketch([np.array([[10.0, 20.0], [30.0, 20.0], [30.0, 30.0]])])
    unit, tf = cv.normalize(sk)
    assert unit.bounds() == pytest.approx((-0.5, -0.25, 0.5, 0.25), abs=1e-15)
    assert tf.scale == pytest.approx(1 / 20) and tf.offset == pytest.approx((-1.0, -1.25))
    fit, _ = cv.normalize(sk, mode="fit")
    assert fit.bounds() == pytest.approx((0.0, 0.0, 1.0, 0.5), abs=1e-15)
    std, _ = cv.normalize(sk, mode="std")
    np.testing.assert_allclose(std.points().mean(axis=0), 0.0, atol=1e-15)
    assert np.std(std.points()) == pytest.approx(1.0, rel=1e-12)
    first, _ = cv.normalize(sk, mode="first_point")
    np.testing.assert_array_equal(first.points()[0], [0.0, 0.0])
    assert np.linalg.norm(first.points(), axis=1).max() == pytest.approx(1.0, rel=1e-15)
    same, tf = cv.normalize(sk, mode="none")
    np.testing.assert_array_equal(same.points(), sk.points())
    # A single point is translated only.
    dot, tf = cv.normalize(Sketch([np.array([[4.0, 5.0]])]))
    assert tf.scale == 1.0 and np.array_equal(dot.points(), [[0.0, 0.0]])
    with pytest.raises(ValueError, match="mode"):
        cv.normalize(sk, mode="bogus")
    with pytest.raises(ValueError, match="no points"):
        cv.normalize(Sketch([]))


def test_normalize_bezier_sketch_and_transform_serialisation():
    bsk = BezierSketch([np.array([[0.0, 0.0], [4.0, 8.0], [8.0, 0.0]])], label="b")
    norm, tf = cv.normalize(bsk)
    assert isinstance(norm, BezierSketch) and norm.label == "b"
    np.testing.assert_allclose(norm.curves[0], [[-0.5, -0.5], [0.0, 0.5], [0.5, -0.5]], atol=1e-15)
    restored = cv.Transform.from_dict(json.loads(json.dumps(tf.to_dict())))
    assert restored == tf
    np.testing.assert_allclose(restored.invert(norm).curves[0], bsk.curves[0], atol=1e-14)
    with pytest.raises(ValueError, match="scale"):
        cv.Transform(0.0, (0.0, 0.0))
    with pytest.raises(ValueError, match="from_dict"):
        cv.Transform.from_dict({"offset": [0, 0]})


@settings(max_examples=100, deadline=None)
@given(float_strokes(), st.sampled_from(["unit", "fit", "std", "first_point", "none"]))
def test_normalize_is_invertible(strokes, mode):
    sketch = Sketch(strokes)
    norm, tf = cv.normalize(sketch, mode=mode)
    np.testing.assert_array_equal(norm.points(), tf.apply(sketch.points()))
    back = tf.invert(norm)
    scale = max(1.0, float(np.abs(sketch.points()).max()))
    np.testing.assert_allclose(back.points(), sketch.points(), rtol=0, atol=1e-12 * scale)
    if mode == "unit":
        pts = norm.points()
        assert np.all(np.abs(pts) <= 0.5 + 1e-12)


# ------------------------------------------------------------------ resample / simplify


def test_resample_sketch_points_and_times():
    out = cv.resample_sketch(SKETCH, n_per_stroke=5)
    assert [s.shape[0] for s in out.strokes] == [5, 5, 5]
    assert out.label == "demo"
    # Times follow arc length: the first stroke's times go 0 -> 20 along its two segments
    # (lengths sqrt 5 and sqrt 5), so halfway is t = 10.
    np.testing.assert_allclose(out.times[0], [0, 5, 10, 15, 20], atol=1e-12)
    np.testing.assert_allclose(out.times[1], 30.0)
    spaced = cv.resample_sketch(SKETCH, spacing=0.5)
    for orig, new in zip(SKETCH.strokes, spaced.strokes):
        if orig.shape[0] > 1:
            assert np.linalg.norm(np.diff(new, axis=0), axis=1).max() <= 0.5 + 1e-12
            assert arc_length(new) <= arc_length(orig) + 1e-12  # chords cut corners
            if orig.shape[0] == 2:  # a straight stroke keeps its length exactly
                assert arc_length(new) == pytest.approx(arc_length(orig), rel=1e-12)
    cloud = Sketch.from_point_cloud(np.ones((3, 2)))
    assert cv.resample_sketch(cloud, spacing=1.0).num_points == 3
    with pytest.raises(ValueError, match="exactly one"):
        cv.resample_sketch(SKETCH)


def test_simplify_keeps_times_and_end_points():
    sk = Sketch([np.array([[0, 0], [1, 0.01], [2, 0], [2, 4]])], times=[np.array([0, 1, 2, 3])])
    out = cv.simplify(sk, 0.1)
    np.testing.assert_array_equal(out.strokes[0], [[0, 0], [2, 0], [2, 4]])
    np.testing.assert_array_equal(out.times[0], [0, 2, 3])


def test_real_quickdraw_simplify_and_resample():
    path = shared_path("quickdraw", "raw", "cat.ndjson")
    with open(path, encoding="utf-8") as fh:
        drawings = [json.loads(line)["drawing"] for line in fh]
    assert len(drawings) == 25
    for drawing in drawings:
        sketch = Sketch([np.array(s[:2], dtype=float).T for s in drawing], times=[np.array(s[2], float) for s in drawing])
        simple = cv.simplify(sketch, 2.0)
        assert simple.num_strokes == sketch.num_strokes and simple.num_points <= sketch.num_points
        for a, b in zip(simple.strokes, sketch.strokes):
            np.testing.assert_array_equal(a[[0, -1]], b[[0, -1]])
        res = cv.resample_sketch(sketch, spacing=3.0)
        for t in res.times:
            assert np.all(np.diff(t) >= 0)  # interpolated times stay ordered


def test_sketch_to_bezier_fits_each_stroke():
    from sketchkit.geometry.bezier import evaluate

    t = np.linspace(0, 1, 30)
    cubic = np.array([[0.0, 0.0], [1.0, 3.0], [3.0, 3.0], [4.0, 0.0]])
    sketch = Sketch([evaluate(cubic, t), np.array([[7.0, 7.0]])], label="c", meta={"k": 1})
    bsk = cv.sketch_to_bezier(sketch, 3, refine_steps=40)
    assert bsk.degrees == [3, 3] and bsk.label == "c" and bsk.meta["k"] == 1
    np.testing.assert_allclose(bsk.curves[0], cubic, atol=1e-8)  # exact curve recovered
    np.testing.assert_array_equal(bsk.curves[1], np.full((4, 2), 7.0))
    assert bsk.meta["fit_mse"][0] < 1e-18 and bsk.meta["fit_mse"][1] == 0.0
    with pytest.raises(ValueError, match="point cloud"):
        cv.sketch_to_bezier(Sketch.from_point_cloud(np.zeros((3, 2))))
