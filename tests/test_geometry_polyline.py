"""Polyline lengths, arc-length resampling and RDP (float64, closed forms + properties)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sketchkit.geometry import polyline as pl

SQUARE = np.array([[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0], [0.0, 0.0]])


def polylines(min_points=1, max_points=40):
    coords = st.floats(-1000, 1000, allow_nan=False, allow_infinity=False, width=64)
    return st.integers(min_points, max_points).flatmap(lambda n: arrays(np.float64, (n, 2), elements=coords))


def _point_to_polyline_distance(p: np.ndarray, poly: np.ndarray) -> float:
    if poly.shape[0] == 1:
        return float(np.linalg.norm(p - poly[0]))
    a, b = poly[:-1], poly[1:]
    ab = b - a
    denom = np.sum(ab * ab, axis=1)
    u = np.clip(np.divide(np.sum((p - a) * ab, axis=1), denom, out=np.zeros_like(denom), where=denom > 0), 0, 1)
    return float(np.min(np.linalg.norm(p - (a + u[:, None] * ab), axis=1)))


def test_lengths_closed_form():
    np.testing.assert_allclose(pl.segment_lengths(SQUARE), [2, 2, 2, 2])
    assert pl.arc_length(SQUARE) == 8.0
    np.testing.assert_allclose(pl.cumulative_lengths(SQUARE), [0, 2, 4, 6, 8])
    assert pl.arc_length([[1.0, 1.0]]) == 0.0
    # Inscribed regular 1000-gon: perimeter 2 n sin(pi / n) (exact formula).
    n = 1000
    theta = np.linspace(0, 2 * math.pi, n + 1)
    circle = np.stack([np.cos(theta), np.sin(theta)], 1)
    assert pl.arc_length(circle) == pytest.approx(2 * n * math.sin(math.pi / n), abs=1e-12)


def test_resample_square_evenly():
    out = pl.resample(SQUARE, 9)
    np.testing.assert_allclose(
        out, [[0, 0], [1, 0], [2, 0], [2, 1], [2, 2], [1, 2], [0, 2], [0, 1], [0, 0]], atol=1e-14
    )
    np.testing.assert_allclose(pl.segment_lengths(out), 1.0, atol=1e-14)


def test_resample_spacing():
    out = pl.resample(SQUARE, spacing=0.75)  # 8 / 0.75 = 10.67 -> 11 segments of 8/11
    assert out.shape == (12, 2)
    # Output k sits at arc length 8 k / 11 along the square (chords at corners are shorter).
    def square_at(s):
        side, frac = int(min(s // 2, 3)), (s - 2 * min(s // 2, 3)) / 2
        return SQUARE[side] + frac * (SQUARE[side + 1] - SQUARE[side])

    np.testing.assert_allclose(out, [square_at(8 * k / 11) for k in range(12)], atol=1e-14)
    assert pl.segment_lengths(out).max() <= 0.75
    out = pl.resample(SQUARE, spacing=2.0)  # exact multiple: 4 segments
    np.testing.assert_allclose(out, SQUARE, atol=1e-14)


def test_resample_degenerate_inputs():
    np.testing.assert_array_equal(pl.resample([[3.0, 4.0]], 4), np.tile([3.0, 4.0], (4, 1)))
    np.testing.assert_array_equal(pl.resample([[3.0, 4.0]], spacing=1.0), [[3.0, 4.0]])
    np.testing.assert_array_equal(pl.resample(SQUARE, 1), [[0.0, 0.0]])
    # Repeated points (zero-length segments) in the middle are skipped cleanly.
    out = pl.resample([[0, 0], [1, 0], [1, 0], [1, 0], [3, 0]], 4)
    np.testing.assert_allclose(out, [[0, 0], [1, 0], [2, 0], [3, 0]], atol=1e-14)
    with pytest.raises(ValueError, match="exactly one"):
        pl.resample(SQUARE)
    with pytest.raises(ValueError, match="exactly one"):
        pl.resample(SQUARE, 5, spacing=1.0)
    with pytest.raises(ValueError, match="spacing"):
        pl.resample(SQUARE, spacing=0.0)
    with pytest.raises(ValueError, match="points"):
        pl.resample(np.zeros((0, 2)), 3)


@settings(max_examples=60, deadline=None)
@given(polylines(min_points=2), st.integers(2, 50))
def test_resample_properties(points, n):
    out = pl.resample(points, n)
    assert out.shape == (n, 2)
    np.testing.assert_array_equal(out[0], points[0])
    np.testing.assert_array_equal(out[-1], points[-1])
    total = pl.arc_length(points)
    if total > 1e-6:
        # Consecutive outputs are <= total / (n - 1) apart (equal along the path; chords may be shorter).
        assert pl.segment_lengths(out).max() <= total / (n - 1) * (1 + 1e-9) + 1e-9
        # Every output lies on the input polyline.
        for p in out:
            assert _point_to_polyline_distance(p, points) <= 1e-9 * max(1.0, np.abs(points).max())


def test_rdp_known_cases():
    pts = np.array([[0, 0], [1, 0.05], [2, -0.05], [3, 0], [3, 3]], dtype=float)
    np.testing.assert_array_equal(pl.rdp(pts, 0.1), [[0, 0], [3, 0], [3, 3]])
    np.testing.assert_array_equal(pl.rdp_indices(pts, 0.01), [0, 1, 2, 3, 4])
    # Collinear points vanish at epsilon 0.
    np.testing.assert_array_equal(pl.rdp([[0, 0], [1, 1], [2, 2], [5, 5]], 0.0), [[0, 0], [5, 5]])
    # A closed loop keeps its far point.
    np.testing.assert_array_equal(pl.rdp_indices(SQUARE, 0.5), [0, 1, 2, 3, 4])
    assert pl.rdp([[1.0, 2.0]], 1.0).shape == (1, 2)
    with pytest.raises(ValueError, match="epsilon"):
        pl.rdp(SQUARE, -1.0)


@settings(max_examples=80, deadline=None)
@given(polylines(), st.floats(0.0, 300.0))
def test_rdp_keeps_end_points_and_stays_within_epsilon(points, epsilon):
    idx = pl.rdp_indices(points, epsilon)
    out = pl.rdp(points, epsilon)
    assert idx[0] == 0 and idx[-1] == len(points) - 1
    assert np.all(np.diff(idx) > 0)
    np.testing.assert_array_equal(out, points[idx])
    # Every dropped point is within epsilon of the segment that replaced it.
    for a, b in zip(idx[:-1], idx[1:]):
        for k in range(a + 1, b):
            assert _point_to_polyline_distance(points[k], points[[a, b]]) <= epsilon + 1e-9
