"""SketchODE: ODE solves against closed forms, gradcheck, spline, augmentation, model contract."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from model_contract import ModelContract
from scipy.interpolate import CubicSpline

from sketchkit.models.base import load_model
from sketchkit.models.ode_parts import (
    DYNAMICS,
    Dynamics,
    NaturalCubicSpline,
    SecondOrderField,
    augment_sequence,
    make_dynamics,
    perlin_noise,
    point_chamfer,
    register_dynamics,
    sequence_to_sketch,
    sketch_to_sequence,
    solve_second_order,
)
from sketchkit.models.sketch_ode import SketchODEConfig, SketchODEModel
from sketchkit.sketch import Sketch

TINY = dict(n_points=16, encoder_hidden=8, encoder_widths=(8,), latent_dim=4, ode_dim=4, dynamics_hidden=8)


def simple_sketches() -> list[Sketch]:
    square = Sketch([np.array([[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]], float)], label="square")
    two = Sketch([np.array([[0, 0], [4, 0]], float), np.array([[4, 1], [0, 1], [0, 3]], float)], label="two")
    arc_t = np.linspace(0, math.pi, 20)
    arc = Sketch([np.stack([5 + 5 * np.cos(arc_t), 5 * np.sin(arc_t)], 1)], label="arc")
    return [square, two, arc]


class TestSketchODEContract(ModelContract):
    def make_model(self):
        return SketchODEModel(SketchODEConfig(**TINY))

    def make_sketches(self):
        return simple_sketches()


class TestBiLSTMFourierContract(ModelContract):
    def make_model(self):
        return SketchODEModel(SketchODEConfig(**TINY, encoder="bilstm", dynamics="fourier", n_basis=4))

    def make_sketches(self):
        return simple_sketches()


# -- sequences --------------------------------------------------------------------------------
def test_sequence_of_two_strokes_has_exact_pen_up_samples_and_arc_length_times():
    sk = Sketch([np.array([[0, 0], [4, 0]], float), np.array([[4, 1], [0, 1]], float)])
    seq, offset, scale = sketch_to_sequence(sk, 10, penup_min_spacing=2.0)
    # effective lengths 4 + max(1, 2h) + 4 with h = total / 9  ->  h = 8/7 exactly
    h = 8.0 / 7.0
    np.testing.assert_array_equal(seq[:, 2], [0, 0, 0, 0, 1, 1, 0, 0, 0, 0])
    np.testing.assert_allclose(seq[:4, 0] * scale, np.arange(4) * h, atol=1e-12)
    np.testing.assert_allclose(seq[4:6] [:, :2] * scale, [[4, 0.25], [4, 0.75]], atol=1e-12)
    np.testing.assert_allclose(seq[0, :2], 0.0)
    np.testing.assert_allclose(np.linalg.norm(seq[:, :2], axis=1).max(), 1.0, atol=1e-12)
    back = sequence_to_sketch(seq, offset=offset, scale=scale)
    assert back.num_strokes == 2 and [len(s) for s in back.strokes] == [4, 4]
    np.testing.assert_allclose(back.strokes[1][-1], [0, 1], atol=1e-12)


def test_sequence_rejects_point_clouds_and_empty_sketches():
    with pytest.raises(ValueError, match="point-cloud"):
        sketch_to_sequence(Sketch.from_point_cloud(np.zeros((3, 2))), 10)
    with pytest.raises(ValueError, match="empty"):
        sketch_to_sequence(Sketch([]), 10)


# -- augmentation -----------------------------------------------------------------------------
def test_augmentation_is_deterministic_bounded_smooth_and_keeps_pen_and_origin():
    seq, _, _ = sketch_to_sequence(simple_sketches()[1], 200)
    a = augment_sequence(seq, level=0.2, cells=3, generator=np.random.default_rng(7))
    b = augment_sequence(seq, level=0.2, cells=3, generator=np.random.default_rng(7))
    c = augment_sequence(seq, level=0.2, cells=3, generator=np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3
    delta = a[:, :2] - seq[:, :2]
    assert np.abs(delta).max() <= 0.2 + 1e-12 and np.abs(delta).max() > 0.01
    np.testing.assert_array_equal(a[:, 2], seq[:, 2])
    np.testing.assert_allclose(a[0, :2], 0.0, atol=1e-15)
    # smooth: second differences of a C2 curve are O(dt^2); measured <= 6.8e-4 over 50 seeds,
    # while independent per-sample noise of the same level would give second differences ~0.2
    assert np.abs(np.diff(delta, 2, axis=0)).max() < 2e-3


def test_perlin_noise_is_zero_on_lattice_and_within_unit_bound():
    t = np.linspace(0, 1, 1001)
    noise = perlin_noise(t, 4, cells=5, generator=np.random.default_rng(0))
    assert noise.shape == (1001, 4) and np.abs(noise).max() <= 1.0
    np.testing.assert_allclose(noise[::200], 0.0, atol=1e-12)


# -- spline -----------------------------------------------------------------------------------
def test_natural_cubic_spline_interpolates_matches_scipy_and_is_c2():
    g = torch.Generator().manual_seed(0)
    t = torch.cumsum(torch.rand(9, generator=g, dtype=torch.float64) + 0.1, 0)
    x = torch.randn(2, 9, 3, generator=g, dtype=torch.float64)
    spline = NaturalCubicSpline(t, x)
    torch.testing.assert_close(spline.evaluate(t), x, rtol=0, atol=1e-12)
    s = torch.linspace(float(t[0]), float(t[-1]), 301, dtype=torch.float64)
    ref = CubicSpline(t.numpy(), x.numpy(), axis=1, bc_type="natural")
    np.testing.assert_allclose(spline.evaluate(s).numpy(), ref(s.numpy()), atol=1e-10)
    np.testing.assert_allclose(spline.derivative(s).numpy(), ref(s.numpy(), 1), atol=1e-9)
    # continuity of the 1st and 2nd derivatives at interior knots: left limit == right limit
    for i in range(1, 8):
        left = spline._b[:, i - 1] + (h := t[i] - t[i - 1]) * (2 * spline._c[:, i - 1] + 3 * h * spline._d[:, i - 1])
        torch.testing.assert_close(left, spline.derivative(t[i]), rtol=0, atol=1e-10)
        left2 = 2 * spline._c[:, i - 1] + 6 * h * spline._d[:, i - 1]
        torch.testing.assert_close(left2, spline.derivative(t[i], order=2), rtol=0, atol=1e-9)
    torch.testing.assert_close(spline.derivative(t[[0, -1]], order=2), torch.zeros(2, 2, 3, dtype=torch.float64),
                               rtol=0, atol=1e-10)


def test_spline_gradcheck():
    t = torch.tensor([0.0, 0.3, 0.5, 1.0], dtype=torch.float64)
    x = torch.randn(1, 4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1), requires_grad=True)
    s = torch.tensor([0.1, 0.45, 0.9], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: NaturalCubicSpline(t, x).derivative(s), (x,))


# -- second-order ODE solve -------------------------------------------------------------------
class _DampedOscillator(Dynamics):
    name = "_test_damped"

    def __init__(self, omega: float, zeta: float) -> None:
        super().__init__()
        self.omega = torch.nn.Parameter(torch.tensor(omega, dtype=torch.float64))
        self.zeta = zeta

    def forward(self, t, position, velocity, latent, *, frequency=None):
        return -self.omega ** 2 * position - 2 * self.zeta * self.omega * velocity


def _oscillator_closed_form(t, p0, v0, omega, zeta):
    wd = omega * math.sqrt(1 - zeta ** 2)
    a, b = p0, (v0 + zeta * omega * p0) / wd
    e = np.exp(-zeta * omega * t)[:, None]
    pos = e * (a * np.cos(wd * t)[:, None] + b * np.sin(wd * t)[:, None])
    return pos


@pytest.mark.parametrize("method,step,tol", [("rk4", 0.01, 1e-8), ("dopri5", None, 1e-7)])
def test_second_order_solve_matches_damped_oscillator(method, step, tol):
    omega, zeta = 2.0, 0.1
    field = SecondOrderField(_DampedOscillator(omega, zeta), dim=2, time_scale=1.0)
    p0 = torch.tensor([[1.0, -0.5]], dtype=torch.float64)
    v0 = torch.tensor([[0.0, 2.0]], dtype=torch.float64)
    z = torch.zeros(1, 0, dtype=torch.float64)
    s = torch.linspace(0, 2 * math.pi, 37, dtype=torch.float64)
    pos, vel = solve_second_order(field, p0, v0, z, s, method=method, step_size=step, rtol=1e-9, atol=1e-11)
    ref = _oscillator_closed_form(s.numpy(), p0[0].numpy(), v0[0].numpy(), omega, zeta)
    np.testing.assert_allclose(pos[:, 0].detach().numpy(), ref, rtol=0, atol=tol)


def test_adjoint_gradient_matches_direct_backprop():
    field = SecondOrderField(_DampedOscillator(2.0, 0.1), dim=2, time_scale=1.0)
    s = torch.linspace(0, 1, 5, dtype=torch.float64)
    grads = []
    for adjoint in (False, True):
        p0 = torch.tensor([[1.0, -0.5]], dtype=torch.float64, requires_grad=True)
        v0 = torch.tensor([[0.3, 2.0]], dtype=torch.float64)
        field.zero_grad()
        pos, _ = solve_second_order(field, p0, v0, torch.zeros(1, 0, dtype=torch.float64), s,
                                    method="rk4", step_size=0.01, adjoint=adjoint)
        pos.pow(2).sum().backward()
        grads.append((p0.grad.clone(), field.dynamics.omega.grad.clone()))
    # both are rk4 solutions (forward, and adjoint backwards in time): they agree to O(h^4)
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=1e-7, atol=1e-8)
    torch.testing.assert_close(grads[0][1], grads[1][1], rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("family", ["periodic_mlp", "fourier", "legendre"])
def test_gradcheck_through_a_short_solve(family):
    torch.manual_seed(0)
    dyn = make_dynamics(family, 2, 2, 4, n_basis=3).double()
    field = SecondOrderField(dyn, dim=2, time_scale=1.0)
    s = torch.tensor([0.0, 0.1, 0.25], dtype=torch.float64)
    g = torch.Generator().manual_seed(2)
    inputs = tuple(torch.randn(1, 2, dtype=torch.float64, generator=g, requires_grad=True) for _ in range(3))

    def f(p0, v0, z):
        return solve_second_order(field, p0, v0, z, s, method="rk4", step_size=0.1)[0]

    assert torch.autograd.gradcheck(f, inputs)


@pytest.mark.parametrize("solver", ["rk4", "dopri5"])
def test_decoder_is_resolution_free_2x_points_match_1x(solver):
    torch.manual_seed(0)
    model = SketchODEModel(SketchODEConfig(n_points=50, latent_dim=8, ode_dim=8, encoder_hidden=8,
                                           encoder_widths=(8,), solver=solver)).double().eval()
    z = torch.randn(3, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    t1 = torch.linspace(0, 1, 50, dtype=torch.float64)
    t2 = torch.linspace(0, 1, 99, dtype=torch.float64)  # every 1x time plus every midpoint
    with torch.no_grad():
        y1, y2 = model.decode_tensor(z, t1), model.decode_tensor(z, t2)
    extent = float((y1[..., :2].amax(1) - y1[..., :2].amin(1)).max())
    # shared times: the same ODE solution (grids differ only by the extra query points)
    torch.testing.assert_close(y2[:, ::2], y1, rtol=0, atol=1e-6 * max(extent, 1.0))
    # midpoints: cubic interpolation of the 1x output to 1e-4 of the drawing's extent (measured:
    # ~1e-6 rk4, ~1e-5 dopri5; linear interpolation misses by ~1e-3, so the check has teeth)
    interp = CubicSpline(t1.numpy(), y1.numpy(), axis=1)(t2.numpy()[1::2])
    err = np.abs(interp - y2[:, 1::2].numpy())[..., :2].max()
    assert err < 1e-4 * extent, (err, extent)


def test_decode_frequency_override_changes_periodic_output_only_when_different():
    torch.manual_seed(0)
    model = SketchODEModel(SketchODEConfig(**TINY)).eval()
    z = torch.randn(2, 4, generator=torch.Generator().manual_seed(0))
    t = torch.linspace(0, 1, 16)
    with torch.no_grad():
        base = model.decode_tensor(z, t)
        same = model.decode_tensor(z, t, frequency=3.0)
        smooth = model.decode_tensor(z, t, frequency=1.0)
    torch.testing.assert_close(base, same, rtol=0, atol=0)
    assert (base - smooth).abs().max() > 1e-4
    assert model.field.frequency is None  # override does not stick


def test_fourier_frequency_truncates_basis_terms():
    dyn = make_dynamics("fourier", 2, 2, 4, n_basis=5).double()
    t = torch.tensor([[0.3]], dtype=torch.float64)
    v, z = torch.ones(1, 2, dtype=torch.float64), torch.ones(1, 2, dtype=torch.float64)
    torch.testing.assert_close(dyn(t, v, v, z), dyn(t, v, v, z, frequency=5))
    c = dyn.coef(torch.cat([v, z], -1)).view(5, 2)
    torch.testing.assert_close(dyn(t, v, v, z, frequency=1), c[:1])  # constant term only
    np.testing.assert_allclose(dyn.basis(torch.tensor(0.25, dtype=torch.float64)).numpy(), [1, 0, 1, -1, 0], atol=1e-12)
    leg = make_dynamics("legendre", 2, 2, 4, n_basis=4).double()
    x = 2 * 0.3 - 1
    np.testing.assert_allclose(leg.basis(torch.tensor(0.3, dtype=torch.float64)).numpy(),
                               [1, x, (3 * x * x - 1) / 2, (5 * x ** 3 - 3 * x) / 2], atol=1e-12)


def test_new_dynamics_family_is_one_registered_class():
    @register_dynamics
    class _Zero(Dynamics):
        name = "_test_zero"

        def __init__(self, dim, latent_dim, hidden, **_):
            super().__init__()
            self.dummy = torch.nn.Parameter(torch.zeros(()))

        def forward(self, t, position, velocity, latent, *, frequency=None):
            return torch.zeros_like(velocity) * self.dummy

    try:
        model = SketchODEModel(SketchODEConfig(**TINY, dynamics="_test_zero")).eval()
        z = torch.randn(1, 4, generator=torch.Generator().manual_seed(0))
        p0, v0 = model.initial_state(z).chunk(2, -1)
        with torch.no_grad():
            out = model.decode_tensor(z, torch.linspace(0, 1, 5))
            expected = model.readout(p0 + v0 * (5.0 * torch.linspace(0, 1, 5))[:, None])  # uniform motion
        torch.testing.assert_close(out[0], expected, rtol=1e-5, atol=1e-5)
    finally:
        DYNAMICS.pop("_test_zero")
    with pytest.raises(ValueError, match="dynamics"):
        SketchODEConfig(dynamics="_test_zero")


# -- model API --------------------------------------------------------------------------------
def test_api_shapes_frames_and_save_load_equality(tmp_path):
    torch.manual_seed(0)
    model = SketchODEModel(SketchODEConfig(**TINY)).eval()
    sketches = simple_sketches()
    z = model.encode(sketches)
    assert z.shape == (3, 4)
    rec = model.reconstruct(sketches, n_points=40)
    assert [r.label for r in rec] == ["square", "two", "arc"]
    assert all(r.num_points <= 40 for r in rec)
    inter = model.interpolate(sketches[0], sketches[2], 5, n_points=33)
    assert len(inter) == 5
    around = model.sample_around(sketches[0], 4, generator=torch.Generator().manual_seed(0))
    assert len(around) == 4
    metrics = model.evaluate(sketches)
    assert set(metrics) == {"chamfer", "chamfer_bbox", "pen_accuracy", "l1"} and all(np.isfinite(list(metrics.values())))
    model.save_pretrained(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    torch.testing.assert_close(loaded.encode(sketches), z, rtol=0, atol=0)
    for a, b in zip(loaded.reconstruct(sketches, n_points=40), rec):
        assert a.num_strokes == b.num_strokes
        for u, v in zip(a.strokes, b.strokes):
            np.testing.assert_array_equal(u, v)


def test_collate_augments_only_in_training_mode_with_a_generator():
    model = SketchODEModel(SketchODEConfig(**TINY, augment_prob=1.0))
    sketches = simple_sketches()
    clean = model.collate(sketches)["points"]
    noisy = model.collate(sketches, generator=torch.Generator().manual_seed(0))["points"]
    assert 1e-3 < (noisy - clean)[..., :2].abs().max() <= 0.2 + 1e-6
    model.eval()
    torch.testing.assert_close(model.collate(sketches, generator=torch.Generator().manual_seed(0))["points"], clean)


def test_pen_loss_is_finite_for_saturated_logits():
    model = SketchODEModel(SketchODEConfig(**TINY))
    with torch.no_grad():
        model.readout.bias[2] = 1e4  # pen probability exactly 1.0 in float32
    out = model.loss(model.collate(simple_sketches()), step=0)
    assert torch.isfinite(out["loss"]) and float(out["pen_nll"]) > 100


def test_point_chamfer_matches_its_definition_and_ignores_order():
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(3, 7, 2, generator=g), torch.rand(3, 5, 2, generator=g)
    d = torch.cdist(a, b)
    want = 0.5 * (d.min(2).values.mean() + d.min(1).values.mean())
    torch.testing.assert_close(point_chamfer(a, b), want, atol=1e-4, rtol=0)
    # the same points in another order: 0 (up to eps), where a loss at equal times is not
    flipped = a.flip(1)
    assert float(point_chamfer(a, flipped)) < 1e-3 < float((a - flipped).abs().mean())
    # finite gradients at coincident points
    x = a.clone().requires_grad_(True)
    point_chamfer(x, a).backward()
    assert torch.isfinite(x.grad).all()


def test_chamfer_weight_adds_the_shape_term_to_the_loss():
    torch.manual_seed(0)
    plain = SketchODEModel(SketchODEConfig(**TINY, augment=False))
    shaped = SketchODEModel(SketchODEConfig(**TINY, augment=False, chamfer_weight=2.0))
    shaped.load_state_dict(plain.state_dict())
    batch = plain.collate(simple_sketches())
    a, b = plain.loss(batch, step=10**6), shaped.loss(batch, step=10**6)
    assert "chamfer" not in a and float(b["chamfer"]) > 0
    torch.testing.assert_close(b["loss"], a["loss"] + 2.0 * b["chamfer"])
    b["loss"].backward()
    assert all(torch.isfinite(p.grad).all() for p in shaped.parameters() if p.grad is not None)
    with pytest.raises(ValueError, match="chamfer_weight"):
        SketchODEConfig(**TINY, chamfer_weight=-1.0)


def overfit_digits(path, seed: int, steps: int = 60) -> tuple[float, float]:
    """Full-batch Adam on 4 real digits; returns (first, last) reconstruction loss."""
    from sketchkit.data.vectormnist import read_vectormnist_npz

    digits = [s for _, s in zip(range(4), read_vectormnist_npz(path))]
    torch.manual_seed(seed)
    model = SketchODEModel(SketchODEConfig(n_points=24, encoder="bilstm", encoder_hidden=16, latent_dim=8,
                                           ode_dim=8, dynamics_hidden=32, vae=False, augment=False))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    batch = model.collate(digits)
    first = None
    for step in range(steps):
        out = model.loss(batch, step=step)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        first = first if first is not None else float(out["recon"])
    return first, float(out["recon"])


@pytest.mark.slow
def test_overfits_a_few_real_digits(shared_data):
    first, last = overfit_digits(shared_data / "vectormnist" / "mnist-stroke-sequences-train-first5000.npz", seed=0)
    # 60 steps: last/first <= 0.24 over seeds 0-11 x ATEN_CPU_CAPABILITY default/avx512 (30 steps
    # gave up to 0.46, too near the bound: the first loss depends on the init, 0.40-1.28)
    assert last < 0.5 * first, (first, last)
