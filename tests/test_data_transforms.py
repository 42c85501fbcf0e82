"""Augmentation transforms (numpy Generator) and the torch Dataset wrapper with seeded splits."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from sketchkit.data.splits import split_indices, split_items
from sketchkit.data.transforms import compose, point_drop, random_scale, smooth_noise
from sketchkit.sketch import Sketch


def _sketch(n=50):
    t = np.linspace(0, 2 * math.pi, n)
    circle = np.stack([10 + 5 * np.cos(t), 20 + 5 * np.sin(t)], axis=1)
    line = np.stack([np.linspace(0, 10, n), np.zeros(n)], axis=1)
    times = [np.arange(n, dtype=float), np.arange(n, dtype=float) + 100]
    return Sketch([circle, line], times=times, label="x", meta={"k": 1})


def test_random_scale_is_axis_scaling_about_centre():
    sk = _sketch()
    out = random_scale(sk, np.random.default_rng(0), amount=0.2)
    f = np.random.default_rng(0).uniform(0.8, 1.2, size=2)  # the same draws
    x0, y0, x1, y1 = sk.bounds()
    c = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    for a, b in zip(sk.strokes, out.strokes):
        np.testing.assert_allclose(b, (a - c) * f + c, rtol=0, atol=1e-12)
    assert out.label == "x" and out.meta == {"k": 1}
    np.testing.assert_array_equal(out.times[1], sk.times[1])
    with pytest.raises(ValueError, match="amount"):
        random_scale(sk, np.random.default_rng(0), amount=1.5)
    with pytest.raises(ValueError, match="generator"):
        random_scale(sk, 0)


def test_point_drop_keeps_ends_and_times_in_step():
    sk = _sketch(400)
    out = point_drop(sk, np.random.default_rng(1), p=0.5)
    for a, b, ta, tb in zip(sk.strokes, out.strokes, sk.times, out.times):
        np.testing.assert_array_equal(b[0], a[0])
        np.testing.assert_array_equal(b[-1], a[-1])
        idx = tb.astype(int) - int(ta[0])  # times are the original indices (+ offset)
        np.testing.assert_array_equal(b, a[idx])
        # 398 interior points dropped with p = 0.5: binomial mean 199, sd ~10
        assert 150 < a.shape[0] - b.shape[0] < 250
    assert point_drop(sk, np.random.default_rng(1), p=0.0).num_points == sk.num_points
    assert point_drop(sk, np.random.default_rng(1), p=1.0).num_points == 4  # only the end points


def test_point_drop_on_point_cloud_keeps_one():
    cloud = Sketch.from_point_cloud(np.arange(20, dtype=float).reshape(10, 2))
    out = point_drop(cloud, np.random.default_rng(0), p=1.0)
    assert out.is_point_cloud and out.num_points == 1


def test_smooth_noise_amplitude_and_smoothness():
    sk = _sketch(2000)
    rms = []
    for seed in range(40):
        out = smooth_noise(sk, np.random.default_rng(seed), level=0.05)
        d = np.concatenate([b - a for a, b in zip(sk.strokes, out.strokes)])
        rms.append(np.mean(d ** 2))
        # smooth: neighbouring points (spacing ~0.016) move almost together
        step = np.abs(np.diff(out.strokes[0] - sk.strokes[0], axis=0)).max()
        assert step < 0.01
    x0, y0, x1, y1 = sk.bounds()
    c = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    radius = np.linalg.norm(sk.points() - c, axis=1).max()
    expected = (0.05 * radius) ** 2 / 2  # per-axis mean square, see the docstring
    assert 0.5 * expected < np.mean(rms) < 1.5 * expected
    same = smooth_noise(sk, np.random.default_rng(3), level=0.05)
    again = smooth_noise(sk, np.random.default_rng(3), level=0.05)
    np.testing.assert_array_equal(same.points(), again.points())
    np.testing.assert_array_equal(smooth_noise(sk, np.random.default_rng(3), level=0.0).points(), sk.points())


def test_compose_and_partial():
    sk = _sketch()
    f = compose(functools.partial(random_scale, amount=0.1), point_drop, smooth_noise)
    a = f(sk, np.random.default_rng(7))
    b = f(sk, np.random.default_rng(7))
    np.testing.assert_array_equal(a.points(), b.points())
    empty = Sketch([])
    assert f(empty, np.random.default_rng(0)).num_strokes == 0


def test_split_indices():
    parts = split_indices(103, (0.8, 0.1, 0.1), seed=5)
    assert [len(p) for p in parts] == [83, 10, 10]
    assert sorted(np.concatenate(parts).tolist()) == list(range(103))
    again = split_indices(103, (0.8, 0.1, 0.1), seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))
    other = split_indices(103, (0.8, 0.1, 0.1), seed=6)
    assert not np.array_equal(parts[1], other[1])
    assert [len(p) for p in split_indices(10, (0.5,), seed=0)] == [5]
    with pytest.raises(ValueError, match="fractions"):
        split_indices(10, (0.7, 0.7), seed=0)
    assert split_items(list("abcd"), (0.5, 0.5), seed=0)[0] in (["a", "b"], ["a", "c"], ["a", "d"],
                                                                ["b", "c"], ["b", "d"], ["c", "d"])


def test_torch_dataset():
    torch = pytest.importorskip("torch")
    from sketchkit.data.torch_dataset import SketchDataset, collate_list

    sketches = [_sketch(20 + i) for i in range(10)]
    ds = SketchDataset(sketches, smooth_noise, seed=1)
    assert len(ds) == 10
    a = ds[3]
    np.testing.assert_array_equal(a.points(), ds[3].points())  # same epoch, same item -> same draw
    np.testing.assert_array_equal(a.points(), smooth_noise(sketches[3], np.random.default_rng([1, 0, 3])).points())
    ds.set_epoch(1)
    assert not np.array_equal(a.points(), ds[3].points())
    train, val = ds.split((0.8, 0.2), seed=0)
    assert len(train) == 8 and len(val) == 2
    assert {id(s) for s in train.sketches}.isdisjoint({id(s) for s in val.sketches})
    loader = torch.utils.data.DataLoader(SketchDataset(sketches), batch_size=4, collate_fn=collate_list)
    batches = list(loader)
    assert [len(b) for b in batches] == [4, 4, 2] and batches[0][0] is sketches[0]
    with pytest.raises(IndexError):
        ds[10]
    with pytest.raises(ValueError, match=r"sketches\[1\]"):
        SketchDataset([sketches[0], "nope"])
