"""The judge's metrics on tiny fixed inputs, and the judge itself on separable images."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sketchkit.quality import (centreline_images, class_entropy, classifier_two_sample_test,  # noqa: E402
                               doubled_share, frechet_distance, precision_recall, random_scribbles, rasterize_batch,
                               train_judge)
from sketchkit.quality.judge import SketchJudge  # noqa: E402
from sketchkit.sketch import BezierSketch, Sketch  # noqa: E402


def test_frechet_of_a_set_with_itself_is_zero():
    x = np.random.default_rng(0).normal(size=(200, 8))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)


def test_frechet_of_shifted_gaussians_is_the_squared_shift():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(4000, 3))
    b = rng.normal(size=(4000, 3)) + np.array([2.0, 0.0, 0.0])
    # Same covariance (I): the trace term vanishes up to sampling noise, the mean term is 4.
    assert frechet_distance(a, b) == pytest.approx(4.0, abs=0.15)


def test_frechet_rejects_bad_shapes():
    with pytest.raises(ValueError, match="feature sizes differ"):
        frechet_distance(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="finite"):
        frechet_distance(np.full((5, 2), np.nan), np.zeros((5, 2)))


def test_precision_recall_identical_and_disjoint_sets():
    x = np.random.default_rng(2).normal(size=(100, 4))
    assert precision_recall(x, x, k=3) == (1.0, 1.0)
    far = x + 100.0
    assert precision_recall(x, far, k=3) == (0.0, 0.0)


def test_precision_recall_mode_collapse_keeps_precision_loses_recall():
    rng = np.random.default_rng(3)
    real = rng.normal(size=(300, 2))
    collapsed = rng.normal(size=(300, 2)) * 0.05  # all samples near one mode of the real data
    p, r = precision_recall(real, collapsed, k=3)
    assert p > 0.9 and r < 0.3


def test_class_entropy():
    assert class_entropy(np.eye(4)) == pytest.approx(2.0)
    one = np.zeros((10, 4))
    one[:, 2] = 1
    assert class_entropy(one) == pytest.approx(0.0)


def _bars(n: int, vertical: bool, rng: np.random.Generator) -> list[Sketch]:
    out = []
    for _ in range(n):
        c = rng.uniform(-0.3, 0.3)
        line = np.array([[c, -1.0], [c, 1.0]]) if vertical else np.array([[-1.0, c], [1.0, c]])
        out.append(Sketch([line, np.array([[-1.0, -1.0], [1.0, 1.0]]) * 0.2]))
    return out


def test_rasterize_batch_draws_ink_for_sketches_and_curves():
    imgs = rasterize_batch([_bars(1, True, np.random.default_rng(0))[0],
                            BezierSketch([np.array([[0.0, 0.0], [1.0, 2.0], [2.0, 0.0]])]),
                            BezierSketch([])], size=32)
    assert imgs.shape == (3, 1, 32, 32)
    assert imgs[0].sum() > 10 and imgs[1].sum() > 10 and imgs[2].sum() == 0


def test_judge_learns_separable_classes_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    items = _bars(60, True, rng) + _bars(60, False, rng)
    labels = np.array([0] * 60 + [1] * 60)
    x = rasterize_batch(items, size=32)
    judge = train_judge(x, labels, class_names=["v", "h"], epochs=4, width=8, seed=0)
    test = rasterize_batch(_bars(20, True, rng) + _bars(20, False, rng), size=32)
    pred = judge.predict_proba(test).argmax(1)
    assert (pred == np.array([0] * 20 + [1] * 20)).mean() >= 0.9
    judge.save(tmp_path)
    again = SketchJudge.load(tmp_path)
    np.testing.assert_allclose(again.features(test), judge.features(test), atol=1e-6)
    assert again.config.class_names == ("v", "h")


def test_c2st_separates_different_sets_and_not_identical_ones():
    rng = np.random.default_rng(1)
    a = rasterize_batch(_bars(80, True, rng), size=32)
    b = rasterize_batch(_bars(80, False, rng), size=32)
    assert classifier_two_sample_test(a, b, epochs=4, seed=0) >= 0.9
    same = rasterize_batch(_bars(160, True, rng), size=32)
    assert classifier_two_sample_test(same[:80], same[80:], epochs=4, seed=0) <= 0.7


def test_random_scribbles_are_seeded_and_in_the_unit_box():
    a = random_scribbles(5, np.random.default_rng(0))
    b = random_scribbles(5, np.random.default_rng(0))
    assert all(np.array_equal(x, y) for s, t in zip(a, b) for x, y in zip(s.curves, t.curves))
    assert all(1 <= s.num_curves <= 3 and np.abs(np.concatenate(s.curves)).max() <= 1 for s in a)


def test_centreline_images_draw_a_brush_scan_and_a_thin_curve_of_one_shape_alike():
    # an L drawn with a 3 px brush on 28 x 28 (light ink on dark, as K-MNIST) ...
    scan = np.zeros((28, 28), dtype=np.uint8)
    scan[4:24, 6:9] = 255
    scan[21:24, 6:22] = 255
    # ... and the same L as a thin polyline along its centre, and a different shape (a bar)
    line = Sketch([np.array([[7.5, 4.0], [7.5, 22.5], [22.0, 22.5]])])
    bar = Sketch([np.array([[4.0, 14.0], [24.0, 14.0]])])
    imgs = centreline_images([scan, line, bar, Sketch([])], size=32)
    assert imgs.shape == (4, 1, 32, 32) and imgs[3].sum() == 0
    ink = imgs[:, 0] > 0.3

    def iou(a, b):
        return (a & b).sum() / (a | b).sum()

    assert iou(ink[0], ink[1]) > 0.5  # same shape, one thin style whatever the pen
    assert iou(ink[0], ink[2]) < 0.2
    # the style is thin: about as much ink as the plain thin rendering of the L, far less than the scan
    thin = rasterize_batch([line], size=32)[0, 0] > 0.3
    assert ink[0].sum() < 2.0 * thin.sum()


def test_nearest_distances_find_each_points_nearest_neighbour():
    from sketchkit.quality import nearest_distances

    support = np.array([[0.0, 0.0], [3.0, 4.0], [10.0, 0.0]])
    queries = np.array([[0.0, 0.0], [3.0, 0.0], [9.0, 1.0], [3.0, 5.0]])
    np.testing.assert_allclose(nearest_distances(queries, support, chunk=3), [0.0, 3.0, np.sqrt(2.0), 1.0], atol=1e-9)
    x = np.random.default_rng(0).normal(size=(50, 8))
    np.testing.assert_allclose(nearest_distances(x, x), 0.0, atol=1e-6)  # every point is in the support
    with pytest.raises(ValueError, match="feature sizes"):
        nearest_distances(queries, np.zeros((3, 3)))


def test_doubled_share_sees_strokes_drawn_twice_and_not_strokes_that_only_cross():
    t = np.linspace(0, 1, 50)
    line = np.stack([t, 0 * t], 1)
    other = np.stack([0 * t + 0.5, t - 0.5], 1)  # crosses the line at its middle
    far = np.stack([t, 0 * t + 1.0], 1)
    assert doubled_share(Sketch([line, far])) == 0.0
    assert doubled_share(Sketch([line, line + [0, 0.01]])) == 1.0  # the same stroke twice, 1 % apart
    crossing = doubled_share(Sketch([line, other]), tolerance=0.04)
    assert 0.04 < crossing < 0.12  # about 2 x tolerance of each stroke lies near the crossing
    # curves chained into one stroke by meta["stroke_ids"] do not overlap each other at their joins
    halves = [np.array([[0.0, 0.0], [0.25, 0.1], [0.5, 0.0]]), np.array([[0.5, 0.0], [0.75, -0.1], [1.0, 0.0]])]
    assert doubled_share(BezierSketch(halves, meta={"stroke_ids": [0, 0]})) == 0.0
    assert doubled_share(BezierSketch(halves, meta={"curve_stroke": [0, 0]})) == 0.0  # the vectoriser's key
    assert 0 < doubled_share(BezierSketch(halves)) < 0.2
    assert doubled_share(Sketch.from_point_cloud(line)) is None
