"""Bézier geometry against closed forms, in float64 (tolerances stated per test)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree

from sketchkit.geometry import bezier as bz

# A well-behaved cubic, and a random-looking but non-looping degree-5 curve (control points
# progress along x), used throughout.
CUBIC = np.array([[0.0, 0.0], [1.0, 2.0], [3.0, 2.5], [4.0, 0.5]])
QUINTIC = np.array([[0.0, 0.0], [1.0, 1.5], [2.0, -0.5], [3.2, 2.0], [4.1, 0.3], [5.0, 1.0]])


def _random_curve(degree: int, rng: np.random.Generator, size: float = 100.0) -> np.ndarray:
    x = np.sort(rng.uniform(0, size, degree + 1))
    y = rng.uniform(-size / 3, size / 3, degree + 1)
    return np.stack([x, y], axis=1)


# ------------------------------------------------------------------ basis and evaluation


@pytest.mark.parametrize("degree", [0, 1, 3, 9, 15])
def test_basis_partition_of_unity_and_endpoints(degree):
    t = np.linspace(0, 1, 101)
    basis = bz.bernstein_basis(degree, t)
    assert basis.shape == (101, degree + 1)
    np.testing.assert_allclose(basis.sum(axis=1), 1.0, atol=1e-14)
    assert np.all(basis >= 0)
    np.testing.assert_array_equal(basis[0], np.eye(degree + 1)[0])
    np.testing.assert_array_equal(basis[-1], np.eye(degree + 1)[-1])


def test_basis_closed_form_cubic():
    t = np.array([0.3])
    expected = [0.7**3, 3 * 0.3 * 0.7**2, 3 * 0.09 * 0.7, 0.027]
    np.testing.assert_allclose(bz.bernstein_basis(3, t)[0], expected, rtol=1e-14)


def test_evaluate_quadratic_closed_form():
    # B(t) = (1-t)^2 P0 + 2t(1-t) P1 + t^2 P2 with P = (0,0), (1,2), (2,0): x = 2t, y = 4t(1-t).
    cp = np.array([[0.0, 0.0], [1.0, 2.0], [2.0, 0.0]])
    t = np.linspace(0, 1, 11)
    np.testing.assert_allclose(bz.evaluate(cp, t), np.stack([2 * t, 4 * t * (1 - t)], 1), atol=1e-15)


def test_rational_quarter_circle_is_exact():
    # Weights (1, sqrt(2)/2, 1) on (1,0), (1,1), (0,1) trace the unit quarter circle exactly.
    cp = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    w = np.array([1.0, math.sqrt(0.5), 1.0])
    pts = bz.evaluate_rational(cp, w, np.linspace(0, 1, 201))
    np.testing.assert_allclose(np.linalg.norm(pts, axis=1), 1.0, atol=1e-14)
    # Unit weights reduce to the polynomial curve.
    np.testing.assert_allclose(bz.evaluate_rational(CUBIC, np.ones(4), [0.2, 0.7]), bz.evaluate(CUBIC, [0.2, 0.7]), atol=1e-14)


def test_evaluate_rejects_bad_shapes():
    with pytest.raises(ValueError, match="control_points"):
        bz.evaluate(np.zeros(3), [0.5])
    with pytest.raises(ValueError, match="weights"):
        bz.evaluate_rational(CUBIC, np.ones(3), [0.5])
    with pytest.raises(ValueError, match="positive"):
        bz.evaluate_rational(CUBIC, [1, 0, 1, 1], [0.5])


# ------------------------------------------------------------------ derivatives


def test_derivative_closed_form_and_finite_differences():
    cp = np.array([[0.0, 0.0], [1.0, 2.0], [2.0, 0.0]])  # x = 2t, y = 4t - 4t^2
    hodo = bz.derivative(cp)
    assert hodo.shape == (2, 2)
    t = np.linspace(0, 1, 7)
    np.testing.assert_allclose(bz.evaluate(hodo, t), np.stack([np.full_like(t, 2.0), 4 - 8 * t], 1), atol=1e-14)
    second = bz.derivative(cp, order=2)
    np.testing.assert_allclose(second, [[0.0, -8.0]], atol=1e-14)
    np.testing.assert_array_equal(bz.derivative(cp, order=3), [[0.0, 0.0]])
    # Degree 7: central differences, error O(h^2) ~ 1e-9 at h = 1e-5.
    rng = np.random.default_rng(1)
    cp7 = rng.normal(size=(8, 2))
    t = np.linspace(0.1, 0.9, 9)
    h = 1e-5
    fd = (bz.evaluate(cp7, t + h) - bz.evaluate(cp7, t - h)) / (2 * h)
    np.testing.assert_allclose(bz.evaluate(bz.derivative(cp7), t), fd, atol=1e-7)


# ------------------------------------------------------------------ split and elevate


@pytest.mark.parametrize("split_t", [0.0, 0.25, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("cp", [CUBIC, QUINTIC], ids=["cubic", "quintic"])
def test_split_halves_reproduce_curve(cp, split_t):
    left, right = bz.split(cp, split_t)
    s = np.linspace(0, 1, 51)
    np.testing.assert_allclose(bz.evaluate(left, s), bz.evaluate(cp, s * split_t), atol=1e-13)
    np.testing.assert_allclose(bz.evaluate(right, s), bz.evaluate(cp, split_t + s * (1 - split_t)), atol=1e-13)
    np.testing.assert_array_equal(left[-1], right[0])


def test_split_rejects_out_of_range():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        bz.split(CUBIC, 1.5)


@pytest.mark.parametrize("times", [0, 1, 3, 7])
def test_elevation_preserves_curve(times):
    up = bz.elevate(QUINTIC, times)
    assert up.shape == (6 + times, 2)
    t = np.linspace(0, 1, 101)
    np.testing.assert_allclose(bz.evaluate(up, t), bz.evaluate(QUINTIC, t), atol=1e-13)


def test_elevate_line_closed_form():
    # A line elevated to degree 3 has control points at thirds.
    np.testing.assert_allclose(bz.elevate([[0, 0], [3, 6]], 2), [[0, 0], [1, 2], [2, 4], [3, 6]], atol=1e-15)


# ------------------------------------------------------------------ arc length


def test_arc_length_line_any_degree():
    line = np.array([[0.0, 0.0], [3.0, 4.0]])
    assert bz.arc_length(line) == pytest.approx(5.0, abs=1e-13)
    # Same segment, degree 6 with a non-uniform speed.
    assert bz.arc_length(bz.elevate(line, 5)) == pytest.approx(5.0, abs=1e-12)
    assert bz.arc_length(np.array([[1.0, 1.0], [1.0, 1.0]])) == 0.0


def test_arc_length_parabola_closed_form():
    # (0,0), (0.5,0), (1,1) is y = x^2 on [0, 1]: length (2 sqrt 5 + asinh 2) / 4.
    exact = (2 * math.sqrt(5) + math.asinh(2)) / 4
    assert bz.arc_length([[0, 0], [0.5, 0], [1, 1]]) == pytest.approx(exact, abs=1e-12)
    # Scaled by 7 and on a sub-interval: y = x^2 on [0, 0.5] is t in [0, 0.5].
    scaled = 7 * np.array([[0, 0], [0.5, 0], [1, 1]], dtype=float)
    exact_half = 7 * (math.sqrt(2) + math.asinh(1)) / 4  # (1/2)(a sqrt(1+4a^2) + asinh(2a)/2), a = 1/2
    assert bz.arc_length(scaled, 0.0, 0.5) == pytest.approx(exact_half, abs=1e-10)


def test_arc_length_with_a_cusp():
    # x(t) = 4t - 5t^2 on a line: goes out to 0.8 at t = 0.4, then back to -1. Length 0.8 + 1.8.
    cp = np.array([[0.0, 0.0], [2.0, 0.0], [-1.0, 0.0]])
    assert bz.arc_length(cp, tol=1e-12) == pytest.approx(2.6, abs=1e-9)


def test_arc_length_agrees_with_dense_polyline():
    rng = np.random.default_rng(3)
    cp = _random_curve(9, rng)
    dense = bz.evaluate(cp, np.linspace(0, 1, 200_001))
    poly = np.linalg.norm(np.diff(dense, axis=0), axis=1).sum()
    # The inscribed polyline underestimates by O(h^2) ~ 1e-7 here.
    assert bz.arc_length(cp) == pytest.approx(poly, rel=1e-8)
    assert bz.arc_length(cp) >= poly


# ------------------------------------------------------------------ chord length


def test_chord_length_parameters():
    t = bz.chord_length_parameters([[0, 0], [1, 0], [1, 3], [1, 3]])
    np.testing.assert_allclose(t, [0, 0.25, 1, 1])
    np.testing.assert_allclose(bz.chord_length_parameters([[2, 2], [2, 2], [2, 2]]), [0, 0.5, 1])
    np.testing.assert_array_equal(bz.chord_length_parameters([[5, 5]]), [0.0])


# ------------------------------------------------------------------ least-squares fit


@pytest.mark.parametrize("degree", [1, 2, 3, 4, 5])
def test_fit_recovers_exact_bezier_from_samples(degree):
    rng = np.random.default_rng(degree)
    cp = _random_curve(degree, rng, size=1.0)
    t_true = np.sort(rng.uniform(0, 1, 60))
    t_true[0], t_true[-1] = 0.0, 1.0
    pts = bz.evaluate(cp, t_true)
    fit = bz.fit_least_squares(pts, degree, refine_steps=60)
    np.testing.assert_allclose(fit.control_points, cp, atol=1e-8)
    np.testing.assert_allclose(fit.t, t_true, atol=1e-8)
    assert fit.mse < 1e-20


def test_fit_with_given_parameters_is_the_linear_least_squares_solution():
    rng = np.random.default_rng(5)
    pts = rng.normal(size=(40, 2))
    t = np.linspace(0, 1, 40)
    fit = bz.fit_least_squares(pts, 4, t=t, refine_steps=0)
    expected = np.linalg.lstsq(bz.bernstein_basis(4, t), pts, rcond=None)[0]
    np.testing.assert_allclose(fit.control_points, expected, atol=1e-10)
    resid = bz.evaluate(fit.control_points, t) - pts
    assert fit.mse == pytest.approx(np.mean(np.sum(resid**2, axis=1)), rel=1e-12)


def test_fit_refinement_is_monotone_and_reaches_a_stationary_point():
    # Noisy samples of a circular arc: no exact fit exists.
    rng = np.random.default_rng(7)
    theta = np.linspace(0, 1.5 * math.pi, 80)
    pts = np.stack([np.cos(theta), np.sin(theta)], 1) * 50 + rng.normal(0, 0.5, (80, 2))
    mses = [bz.fit_least_squares(pts, 5, refine_steps=k).mse for k in (0, 1, 2, 5, 20, 100)]
    assert all(b <= a + 1e-12 for a, b in zip(mses, mses[1:]))
    assert mses[-1] < 0.8 * mses[0]  # measured: 0.222 -> 0.144 (noise floor)
    fit = bz.fit_least_squares(pts, 5, refine_steps=200)
    t = fit.t
    assert t[0] == 0.0 and t[-1] == 1.0 and np.all(np.diff(t) >= 0)
    # Interior parameters are (local) closest points: (B(t) - p) . B'(t) = 0.
    resid = bz.evaluate(fit.control_points, t) - pts
    tangent = bz.evaluate(bz.derivative(fit.control_points), t)
    grad = np.sum(resid * tangent, axis=1)[1:-1]
    assert np.max(np.abs(grad)) < 1e-6 * np.max(np.linalg.norm(tangent, axis=1))


def test_fit_batch_matches_single_fits():
    rng = np.random.default_rng(11)
    batch = np.cumsum(rng.normal(size=(6, 30, 2)), axis=1)
    out = bz.fit_least_squares_batch(batch, 3, refine_steps=8)
    assert out.control_points.shape == (6, 4, 2) and out.t.shape == (6, 30) and out.mse.shape == (6,)
    for i in range(6):
        single = bz.fit_least_squares(batch[i], 3, refine_steps=8)
        np.testing.assert_allclose(out.control_points[i], single.control_points, atol=1e-10)
        assert out.mse[i] == pytest.approx(single.mse, rel=1e-10)


def test_fit_with_fixed_ends():
    rng = np.random.default_rng(13)
    cp = np.array([[0.0, 0.0], [1.0, 2.0], [2.0, -1.0], [3.0, 1.5], [4.0, 0.0]])
    t_true = np.linspace(0, 1, 40) ** 1.3
    pts = bz.evaluate(cp, t_true)
    fit = bz.fit_least_squares(pts, 4, refine_steps=60, fix_ends=True)
    np.testing.assert_array_equal(fit.control_points[[0, -1]], pts[[0, -1]])
    np.testing.assert_allclose(fit.control_points, cp, atol=1e-8)
    # On noisy data pinning the ends can only cost: its optimum is never below the free one.
    noisy = pts + rng.normal(0, 0.01, pts.shape)
    free = bz.fit_least_squares(noisy, 4, t=t_true, refine_steps=0)
    pinned = bz.fit_least_squares(noisy, 4, t=t_true, refine_steps=0, fix_ends=True)
    assert pinned.mse >= free.mse
    np.testing.assert_array_equal(pinned.control_points[[0, -1]], noisy[[0, -1]])
    # Degree 1 with pinned ends is the chord.
    line = bz.fit_least_squares(noisy, 1, fix_ends=True)
    np.testing.assert_array_equal(line.control_points, noisy[[0, -1]])


@settings(max_examples=30, deadline=None)
@given(
    st.floats(0, 2 * math.pi),
    st.floats(0.1, 10.0),
    st.tuples(st.floats(-100, 100), st.floats(-100, 100)),
    st.integers(0, 2**32 - 1),
)
def test_fit_is_equivariant_under_similarity_transforms(angle, scale, shift, seed):
    # The fit commutes with rotation, uniform scaling and translation (chord-length parameters and
    # the least-squares objective are invariant), up to float rounding. One refinement step (a
    # nearest-point projection, then the least squares again): from the second on, a random walk's
    # points can sit where two parts of the wiggly curve are equally near, and rounding alone then
    # sends the fit to another local optimum (2 of 1000 random walks with a shift of (0, 1), MSE
    # 5 % apart), which is no failure of equivariance; one step kept its parameters within 1e-6 on
    # 3000 random walks and transforms.
    rng = np.random.default_rng(seed)
    pts = np.cumsum(rng.normal(size=(25, 2)), axis=0)
    rot = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    moved = pts @ rot.T + np.asarray(shift)
    a = bz.fit_least_squares(pts, 4, refine_steps=1)
    b = bz.fit_least_squares(moved, 4, refine_steps=1)
    np.testing.assert_allclose(b.t, a.t, atol=1e-6)
    np.testing.assert_allclose(b.control_points, a.control_points @ rot.T + np.asarray(shift), atol=1e-6 * scale * 50)
    assert b.mse == pytest.approx(a.mse * scale**2, rel=1e-5)


def test_fit_short_strokes_and_degenerate_input():
    # Two points, degree 3: the fit is the straight segment.
    fit = bz.fit_least_squares([[0, 0], [3, 3]], 3)
    np.testing.assert_allclose(bz.evaluate(fit.control_points, [0, 0.5, 1]), [[0, 0], [1.5, 1.5], [3, 3]], atol=1e-6)
    # All points equal.
    fit = bz.fit_least_squares(np.ones((5, 2)), 2)
    np.testing.assert_allclose(fit.control_points, 1.0, atol=1e-12)
    assert fit.mse < 1e-24


def test_fit_rejects_bad_input():
    with pytest.raises(ValueError, match="points"):
        bz.fit_least_squares(np.zeros((1, 2)), 3)
    with pytest.raises(ValueError, match="degree"):
        bz.fit_least_squares(np.zeros((5, 2)), 0)
    with pytest.raises(ValueError, match="finite"):
        bz.fit_least_squares([[0, 0], [np.nan, 1]], 1)
    with pytest.raises(ValueError, match="non-decreasing"):
        bz.fit_least_squares(np.zeros((3, 2)), 1, t=[0, 0.8, 0.5])


# ------------------------------------------------------------------ to_cubics


@pytest.mark.parametrize("degree", [1, 2, 3])
def test_to_cubics_exact_for_low_degree(degree):
    cp = QUINTIC[: degree + 1]
    pieces = bz.to_cubics(cp)
    assert len(pieces) == 1 and pieces[0].shape == (4, 2)
    t = np.linspace(0, 1, 101)
    np.testing.assert_allclose(bz.evaluate(pieces[0], t), bz.evaluate(cp, t), atol=1e-14)


def _dense_curve(cp: np.ndarray, n: int) -> np.ndarray:
    return bz.evaluate(cp, np.linspace(0, 1, n))


@pytest.mark.parametrize("degree", [4, 5, 7, 9, 12])
@pytest.mark.parametrize("tolerance", [0.1, 0.01])
def test_to_cubics_within_tolerance_by_sampling(degree, tolerance):
    rng = np.random.default_rng(100 + degree)
    cp = _random_curve(degree, rng, size=200.0)
    pieces = bz.to_cubics(cp, tolerance)
    # Continuity and end points are exact.
    np.testing.assert_array_equal(pieces[0][0], cp[0])
    np.testing.assert_array_equal(pieces[-1][-1], cp[-1])
    for a, b in zip(pieces, pieces[1:]):
        np.testing.assert_array_equal(a[-1], b[0])
    dist, gap = _two_sided_distance(cp, pieces)
    assert dist <= tolerance + gap / 2
    # Not needlessly fine: a tolerance 100x looser never needs more pieces.
    assert len(bz.to_cubics(cp, tolerance * 100)) <= len(pieces)
    # Refitting each piece with its own parameters needs no more pieces, and stays within tolerance.
    refit = bz.to_cubics(cp, tolerance, reparameterize=True)
    assert len(refit) <= len(pieces)
    dist, gap = _two_sided_distance(cp, refit)
    assert dist <= tolerance + gap / 2


def _two_sided_distance(cp: np.ndarray, pieces: list[np.ndarray]) -> tuple[float, float]:
    """Hausdorff distance between a curve and its cubic pieces by dense sampling, and the largest
    gap between consecutive samples (the sampling error is at most half of it)."""
    curve = _dense_curve(cp, 20_001)
    approx = [_dense_curve(p, 4_001) for p in pieces]
    gap = max(np.linalg.norm(np.diff(c, axis=0), axis=1).max() for c in [curve, *approx])
    approx = np.concatenate(approx)
    d1 = cKDTree(approx).query(curve)[0].max()
    d2 = cKDTree(curve).query(approx)[0].max()
    return float(max(d1, d2)), float(gap)


@pytest.mark.parametrize("tolerance", [1e-2, 1e-3, 1e-4])
def test_to_cubics_rational_quarter_circle(tolerance):
    # The exact quarter circle of radius 100 as a rational quadratic; cubic pieces stay within
    # tolerance of the circle (radius error at 4000 samples per piece).
    cp = 100 * np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    w = np.array([1.0, math.sqrt(0.5), 1.0])
    pieces = bz.to_cubics(cp, tolerance, weights=w)
    np.testing.assert_array_equal(pieces[0][0], cp[0])
    np.testing.assert_array_equal(pieces[-1][-1], cp[-1])
    radius = np.concatenate([np.linalg.norm(_dense_curve(p, 4000), axis=1) for p in pieces])
    assert np.max(np.abs(radius - 100)) <= tolerance
    # One cubic through the end points approximates the quarter circle to about 8e-5 of the
    # radius (0.008 here); the error of k equal pieces falls like k^-6, so bisection needs at
    # most 1, 2 and 4 pieces for these tolerances.
    assert len(pieces) <= {1e-2: 1, 1e-3: 2, 1e-4: 4}[tolerance]
    # Without reparameterisation the same-parameter fits need many more pieces (still correct).
    assert len(bz.to_cubics(cp, tolerance, weights=w, reparameterize=False)) > len(pieces)
    # Equal weights are the polynomial curve: exact again.
    np.testing.assert_allclose(bz.to_cubics(cp, weights=[2.0, 2.0, 2.0])[0], bz.elevate(cp), atol=1e-13)


def test_to_cubics_degenerate_curves_and_depth_limit():
    # A point: one degenerate cubic. A curve doubling back on a line (cusps): stays on the line.
    np.testing.assert_allclose(bz.to_cubics(np.ones((6, 2))), [np.ones((4, 2))], atol=1e-14)
    cp = np.array([[0.0, 0.0], [3.0, 0.0], [-1.0, 0.0], [2.0, 0.0], [0.0, 0.0]])
    pieces = bz.to_cubics(cp, 0.01)
    assert all(np.all(p[:, 1] == 0.0) for p in pieces)
    dist, gap = _two_sided_distance(cp, pieces)
    assert dist <= 0.01 + gap / 2
    with pytest.raises(ValueError, match="not reached after 3 bisections"):
        bz.to_cubics(1000 * np.random.default_rng(0).normal(size=(10, 2)), 1e-9, max_depth=3)


def test_to_cubics_rejects_bad_tolerance():
    with pytest.raises(ValueError, match="tolerance"):
        bz.to_cubics(QUINTIC, 0.0)
    with pytest.raises(ValueError, match="control_points"):
        bz.to_cubics(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="weights"):
        bz.to_cubics(QUINTIC, weights=[1, 1, 1])


# ------------------------------------------------------------------ torch (batched, differentiable)


def test_torch_matches_numpy_batched():
    torch = pytest.importorskip("torch")
    from sketchkit.geometry import bezier_torch as bt

    gen = torch.Generator().manual_seed(0)
    cp = torch.randn(4, 3, 8, 2, generator=gen, dtype=torch.float64)  # (batch, strokes, d + 1, 2)
    t = torch.rand(4, 3, 17, generator=gen, dtype=torch.float64)
    w = torch.rand(4, 3, 8, generator=gen, dtype=torch.float64) + 0.5
    out = bt.evaluate(cp, t)
    rat = bt.evaluate_rational(cp, w, t)
    assert out.shape == (4, 3, 17, 2) and rat.shape == (4, 3, 17, 2)
    for i in range(4):
        for j in range(3):
            np.testing.assert_allclose(out[i, j].numpy(), bz.evaluate(cp[i, j].numpy(), t[i, j].numpy()), atol=1e-13)
            np.testing.assert_allclose(
                rat[i, j].numpy(), bz.evaluate_rational(cp[i, j].numpy(), w[i, j].numpy(), t[i, j].numpy()), atol=1e-13
            )
    # Shared parameters broadcast over the batch; the hodograph matches numpy's.
    shared = bt.evaluate(cp, torch.linspace(0, 1, 5, dtype=torch.float64))
    assert shared.shape == (4, 3, 5, 2)
    np.testing.assert_allclose(bt.derivative(cp)[1, 2].numpy(), bz.derivative(cp[1, 2].numpy()), atol=1e-14)
    # End points are exact (pow(0, 0) = 1).
    ends = bt.evaluate(cp, torch.tensor([0.0, 1.0], dtype=torch.float64))
    assert torch.equal(ends[..., 0, :], cp[..., 0, :]) and torch.equal(ends[..., 1, :], cp[..., -1, :])


def test_torch_gradcheck():
    torch = pytest.importorskip("torch")
    from sketchkit.geometry import bezier_torch as bt

    gen = torch.Generator().manual_seed(1)
    cp = torch.randn(2, 5, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    t = (torch.rand(2, 6, generator=gen, dtype=torch.float64) * 0.9 + 0.05).requires_grad_(True)
    w = (torch.rand(2, 5, generator=gen, dtype=torch.float64) + 0.5).requires_grad_(True)
    assert torch.autograd.gradcheck(bt.evaluate, (cp, t), eps=1e-6, atol=1e-8)
    assert torch.autograd.gradcheck(bt.evaluate_rational, (cp, w, t), eps=1e-6, atol=1e-8)
    assert torch.autograd.gradgradcheck(bt.evaluate, (cp, t), eps=1e-6, atol=1e-6)


def test_torch_t_gradient_is_the_hodograph():
    torch = pytest.importorskip("torch")
    from sketchkit.geometry import bezier_torch as bt

    cp = torch.tensor(QUINTIC, dtype=torch.float64)
    # Includes t = 0 and t = 1, where pow(0, 0) must not turn the gradient into NaN.
    t = torch.linspace(0.0, 1.0, 7, dtype=torch.float64, requires_grad=True)
    bt.evaluate(cp, t)[:, 0].sum().backward()  # d x(t) / dt
    expected = bz.evaluate(bz.derivative(QUINTIC), t.detach().numpy())[:, 0]
    np.testing.assert_allclose(t.grad.numpy(), expected, atol=1e-12)


def test_torch_rejects_bad_shapes():
    torch = pytest.importorskip("torch")
    from sketchkit.geometry import bezier_torch as bt

    with pytest.raises(ValueError, match="weights"):
        bt.evaluate_rational(torch.zeros(4, 2), torch.ones(3), torch.zeros(2))
    with pytest.raises(ValueError, match="control_points"):
        bt.evaluate(torch.zeros(3), torch.zeros(2))
