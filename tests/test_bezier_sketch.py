"""BézierSketch: stroke embedder, degree selection, generator API, shipped model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from model_contract import ModelContract
from sketchkit.models.base import load_model
from sketchkit.models.bezier_sketch import BezierSketchConfig, BezierSketchModel, estimate_token_scales
from sketchkit.models.layers import MixtureDensityHead, MixtureParams
from sketchkit.sketch import BezierSketch, Sketch

TINY = dict(embed_hidden=16, embed_latent=16, enc_hidden=16, dec_hidden=16, latent_dim=8, num_mixtures=2,
            max_strokes=6, max_stroke_points=24)


def _line(rng: np.random.Generator, n: int | None = None) -> np.ndarray:
    n = n or int(rng.integers(4, 20))
    a, b = rng.uniform(-50, 50, 2), rng.uniform(-50, 50, 2)
    s = np.linspace(0, 1, n) ** rng.uniform(0.8, 1.25)  # mildly uneven spacing
    return a + s[:, None] * (b - a)


def _arc(rng: np.random.Generator, n: int | None = None) -> np.ndarray:
    n = n or int(rng.integers(6, 24))
    c, r = rng.uniform(-20, 20, 2), rng.uniform(5, 40)
    a0, sweep = rng.uniform(0, 2 * np.pi), rng.uniform(0.5, 1.5) * rng.choice([-1, 1])
    ang = a0 + sweep * np.linspace(0, 1, n)
    return c + r * np.stack([np.cos(ang), np.sin(ang)], 1)


def _toy_sketches(seed: int, count: int) -> list[Sketch]:
    rng = np.random.default_rng(seed)
    return [Sketch([_line(rng), _arc(rng)] if k % 2 else [_arc(rng), _line(rng), _arc(rng)]) for k in range(count)]


class TestBezierContract(ModelContract):
    def make_model(self):
        return BezierSketchModel(BezierSketchConfig(min_degree=2, max_degree=3, **TINY))

    def make_sketches(self):
        return _toy_sketches(0, 4)


class TestRationalContract(ModelContract):
    def make_model(self):
        return BezierSketchModel(BezierSketchConfig(min_degree=3, max_degree=3, rational=True, **TINY))

    def make_sketches(self):
        return _toy_sketches(1, 3)


def test_t_is_monotone_pinned_at_both_ends_with_padding():
    torch.manual_seed(0)
    model = BezierSketchModel(BezierSketchConfig(min_degree=2, max_degree=4, **TINY)).eval()
    rng = np.random.default_rng(0)
    strokes = [_arc(rng, 17), _line(rng, 2), _line(rng, 1), _arc(rng, 9)]
    pts, lengths, _, _ = model._prepare_strokes(strokes)
    raw = model._embed_raw(torch.from_numpy(pts), torch.from_numpy(lengths))
    for d in model.degrees:
        t = raw["t"][d]
        for i, n in enumerate(lengths):
            ti = t[i, :n]
            assert ti[0].item() == 0.0
            if n > 1:
                assert ti[-1].item() == pytest.approx(1.0, abs=1e-6)
                assert torch.all(ti[1:] - ti[:-1] >= 0)
                assert torch.all(ti[1:] > 0)  # softmax weights are strictly positive


def test_prepared_strokes_start_at_origin_with_unit_norm_and_round_trip():
    model = BezierSketchModel(BezierSketchConfig(**TINY))
    rng = np.random.default_rng(3)
    strokes = [_arc(rng, 10), _line(rng, 5)]
    pts, lengths, origins, scales = model._prepare_strokes(strokes)
    for i, s in enumerate(strokes):
        p = pts[i, : lengths[i]].astype(np.float64)
        np.testing.assert_allclose(p[0], 0.0, atol=0)
        assert np.max(np.hypot(p[:, 0], p[:, 1])) == pytest.approx(1.0, rel=1e-6)
        np.testing.assert_allclose(p * scales[i] + origins[i], s, atol=1e-4)


def _train_embedder(model: BezierSketchModel, steps: int, seed: int = 0) -> None:
    opt = torch.optim.Adam(model.stage_parameters("embedder"), lr=1e-2)
    g = torch.Generator().manual_seed(seed)
    data = _toy_sketches(seed, 256)
    model.train()
    for step in range(steps):
        batch = model.collate(data[(step * 8) % 256:(step * 8) % 256 + 8], stage="embedder", generator=g)
        out = model.loss(batch, step=step, stage="embedder")
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    model.eval()


@pytest.fixture(scope="module")
def toy_embedder() -> BezierSketchModel:
    torch.manual_seed(0)
    model = BezierSketchModel(BezierSketchConfig(min_degree=1, max_degree=3, embed_hidden=32, embed_latent=32,
                                                 enc_hidden=16, dec_hidden=16, latent_dim=8, num_mixtures=2))
    _train_embedder(model, 200)
    return model


def test_briefly_trained_embedder_fits_lines_and_arcs(toy_embedder):
    rng = np.random.default_rng(123)  # held-out strokes (training used seed 0)
    strokes = [_line(rng) for _ in range(40)] + [_arc(rng) for _ in range(40)]
    pts, lengths, _, _ = toy_embedder._prepare_strokes(strokes)
    pts_t, len_t = torch.from_numpy(pts), torch.from_numpy(lengths)
    fresh = BezierSketchModel(toy_embedder.config).eval()
    before = fresh.embed_batch(pts_t, len_t, refine_steps=0).mse[3].mean().item()
    raw = toy_embedder.embed_batch(pts_t, len_t, refine_steps=0).mse[3]
    # Untrained, the curve misses by ~0.1-1 stroke units^2; trained, lines and arcs fit closely.
    assert before > 0.05
    assert raw[:40].mean().item() < 5e-3, raw[:40].mean()
    assert raw[40:].mean().item() < 1e-2, raw[40:].mean()
    assert raw.mean().item() < before / 10
    refined = toy_embedder.embed_batch(pts_t, len_t, refine_steps=2).mse[3]
    assert refined.mean().item() < raw.mean().item()


def test_degree_selection_picks_degree_one_for_a_line_and_more_for_a_semicircle(toy_embedder):
    line = np.stack([np.linspace(0, 30, 12), np.linspace(5, -10, 12)], 1)
    ang = np.linspace(0, np.pi, 25)
    semi = np.stack([np.cos(ang), np.sin(ang)], 1) * 20.0
    bz = toy_embedder.embed_strokes([line, semi], refine_steps=2)
    assert bz.degrees[0] == 1
    assert bz.degrees[1] >= 2
    # The degree-1 fit of a straight stroke lies on it, end points within 2% of its length
    # (the control points are refined in least squares, so the ends are not pinned exactly).
    length = np.linalg.norm(line[-1] - line[0])
    np.testing.assert_allclose(bz.curves[0][0], line[0], atol=0.02 * length)
    np.testing.assert_allclose(bz.curves[0][-1], line[-1], atol=0.02 * length)
    assert bz.meta["mse"][0] < toy_embedder.config.degree_threshold
    forced = toy_embedder.embed_strokes([line], degree=3)
    assert forced.degrees == [3]
    with pytest.raises(ValueError, match="degree"):
        toy_embedder.embed_strokes([line], degree=7)


def test_closed_form_refinement_recovers_an_exact_cubic():
    torch.manual_seed(0)
    model = BezierSketchModel(BezierSketchConfig(min_degree=3, max_degree=3, refine_ridge=1e-9, **TINY)).eval()
    cp = np.array([[0.0, 0.0], [1.0, 2.0], [3.0, 2.0], [4.0, 0.0]])
    t = np.linspace(0, 1, 30) ** 1.3
    from sketchkit.geometry.bezier import evaluate

    stroke = evaluate(cp, t) * 7.0 + 3.0
    errs = [model.embed_strokes([stroke], refine_steps=k).meta["mse"][0] for k in (0, 1, 3, 8)]
    # Untrained net: far off; alternating least squares / Newton on t approach the exact curve.
    assert errs[0] > 1e-2
    assert errs[1] < errs[0] and errs[2] <= errs[1] * 1.01 and errs[3] <= errs[2] * 1.01
    assert errs[3] < 1e-4  # stroke units (largest point norm 1): RMS error under 1%
    bz = model.embed_strokes([stroke], refine_steps=8)
    np.testing.assert_allclose(bz.curves[0][0], stroke[0], atol=0.01 * np.ptp(stroke))
    np.testing.assert_allclose(bz.curves[0][-1], stroke[-1], atol=0.01 * np.ptp(stroke))


def _real_strokes(shared_data, count: int) -> list[np.ndarray]:
    """``count`` Quick, Draw! strokes (>= 3 points), spread over the simplified and raw sample files."""
    import sketchkit.data

    strokes = []
    for path in sorted((shared_data / "quickdraw").glob("*/*.ndjson")):
        for sk in sketchkit.data.read(path):
            strokes.extend(s for s in sk.strokes if s.shape[0] >= 3)
    idx = np.linspace(0, len(strokes) - 1, min(count, len(strokes))).round().astype(int)
    return [strokes[i] for i in idx]


def test_refinement_never_raises_the_error_on_real_strokes(shared_data):
    """Every extra refinement round keeps or lowers each stroke's error, for the trained and an untrained net."""
    torch.manual_seed(0)
    strokes = _real_strokes(shared_data, 300)
    assert len(strokes) == 300
    models = [BezierSketchModel(BezierSketchConfig(min_degree=3, max_degree=5, **TINY)).eval()]
    from sketchkit.pretrained import PRETRAINED_DIR

    if (PRETRAINED_DIR / "bezier" / "model.safetensors").is_file():
        models.append(load_model("bezier").eval())
    from sketchkit.geometry.bezier import fit_least_squares

    for model in models:
        pts, lengths, _, _ = model._prepare_strokes(strokes)
        pts_t, len_t = torch.from_numpy(pts), torch.from_numpy(lengths)
        for d in model.degrees:
            # round 1 (least squares for the predicted t) vs the rounds after it; ridge 1e-5 -> tiny slack
            errs = [model.embed_batch(pts_t, len_t, refine_steps=k, degrees=[d]).mse[d] for k in (1, 2, 3, 5, 8, 12)]
            for a, b in zip(errs[:-1], errs[1:]):
                assert torch.all(b <= a * (1 + 1e-5) + 1e-9), (d, float((b - a).max()))
            assert errs[-1].mean() < 0.8 * errs[0].mean()
            assert torch.all(torch.isfinite(errs[-1]))
        # t stays monotone in [0, 1] with pinned ends after refinement
        emb = model.embed_batch(pts_t, len_t, refine_steps=8, degrees=[model.config.max_degree])
        t = emb.t[model.config.max_degree]
        for i, n in enumerate(lengths.tolist()):
            ti = t[i, :n]
            assert ti[0].item() == 0.0 and ti[-1].item() == pytest.approx(1.0, abs=1e-6)
            assert torch.all(ti[1:] >= ti[:-1]) and torch.all((ti >= 0) & (ti <= 1))
        # many rounds come close to (or under) a well-converged least-squares fit of the same degree
        d = model.config.max_degree
        sub = list(range(0, 300, 10))
        ref = np.array([fit_least_squares(pts[i, :lengths[i]].astype(np.float64), d, refine_steps=50).mse for i in sub])
        ours = model.embed_batch(pts_t[sub], len_t[sub], refine_steps=40, degrees=[d]).mse[d].double().numpy()
        assert ours.mean() < 1.5 * ref.mean(), (ours.mean(), ref.mean())


@pytest.mark.parametrize("degree", [3, 5])
def test_refinement_recovers_an_exact_polynomial_curve(degree):
    """Samples of a cubic / quintic at uneven t: the refined fit of that degree is (nearly) exact."""
    torch.manual_seed(0)
    model = BezierSketchModel(BezierSketchConfig(min_degree=degree, max_degree=degree, refine_ridge=1e-9,
                                                 split_angle=0.0, split_turn=0.0, **TINY)).eval()  # whole curves
    from sketchkit.geometry.bezier import evaluate

    rng = np.random.default_rng(degree)
    cps = [np.array([[0.0, 0.0], [1.0, 2.0], [3.0, 2.0], [4.0, 0.0]]) if degree == 3 else
           np.array([[0.0, 0.0], [1.0, 2.0], [2.5, 2.5], [3.0, 0.5], [4.5, -1.0], [5.0, 1.0]])]
    cps += [np.cumsum(rng.normal(size=(degree + 1, 2)), axis=0) for _ in range(5)]
    strokes = [evaluate(cp, np.linspace(0, 1, n) ** p) * 7.0 + 3.0
               for cp, n, p in zip(cps, (20, 24, 17, 12, 9, 22), (1.3, 1.0, 0.8, 1.5, 1.1, 1.2))]  # n <= 24
    errs = [np.array(model.embed_strokes(strokes, degree=degree, refine_steps=k).meta["mse"])
            for k in (0, 1, 3, 8, 30)]
    assert np.all(errs[0] > 1e-4)  # untrained net: far off
    for a, b in zip(errs[1:-1], errs[2:]):
        assert np.all(b <= a * (1 + 1e-4) + 1e-9)
    assert np.median(errs[3]) < 1e-4
    assert np.all(errs[4] < 1e-8), errs[4]  # stroke units (largest point norm 1)
    assert np.median(errs[4]) < 1e-12, errs[4]  # exact up to float32 rounding
    bz = model.embed_strokes(strokes[:1], degree=degree, refine_steps=30)
    np.testing.assert_allclose(bz.curves[0], cps[0] * 7.0 + 3.0, atol=1e-3 * np.ptp(strokes[0]))


@pytest.mark.parametrize("rational", [False, True])
def test_losses_are_nan_free_on_degenerate_strokes(rational):
    torch.manual_seed(0)
    model = BezierSketchModel(BezierSketchConfig(min_degree=1, max_degree=3, rational=rational, **TINY))
    sketches = [
        Sketch([np.array([[5.0, 5.0]])]),  # one single-point stroke
        Sketch([np.array([[1.0, 1.0]] * 6), np.array([[2.0, 3.0]])]),  # zero-length strokes
        Sketch([np.array([[0.0, 0.0], [0.0, 0.0], [1e-9, 0.0]])]),  # numerically tiny
        Sketch([np.array([[0.0, 0.0], [10.0, 0.0]])]),
    ]
    for stage in model.stages:
        batch = model.collate(sketches, stage=stage, generator=torch.Generator().manual_seed(0))
        out = model.loss(batch, step=10, stage=stage)
        assert torch.isfinite(out["loss"]), (stage, out)
        out["loss"].backward()
        for p in model.stage_parameters(stage):
            if p.grad is not None:
                assert torch.all(torch.isfinite(p.grad)), stage
        model.zero_grad()
    bz = model.embed_strokes(sketches[1])
    assert all(np.all(np.isfinite(c)) for c in bz.curves)


def test_mixture_head_log_prob_matches_closed_form_gaussian():
    torch.manual_seed(0)
    head = MixtureDensityHead(4, 3, 1, n_bits=1, sigma_min=1e-3).double()
    h, x = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    p = head(h)
    expected = torch.distributions.Normal(p.mu[:, 0], p.log_sigma[:, 0].exp()).log_prob(x).sum(-1)
    torch.testing.assert_close(MixtureDensityHead.log_prob(p, x), expected, rtol=1e-12, atol=1e-12)
    # Two identical components give the same density as one.
    head2 = MixtureDensityHead(4, 3, 2).double()
    p2 = head2(h)
    p2.mu[:, 1], p2.log_sigma[:, 1] = p2.mu[:, 0], p2.log_sigma[:, 0]
    single = torch.distributions.Normal(p2.mu[:, 0], p2.log_sigma[:, 0].exp()).log_prob(x).sum(-1)
    torch.testing.assert_close(MixtureDensityHead.log_prob(p2, x), single, rtol=1e-12, atol=1e-12)
    # A collapsed target (sigma at the clamp) stays finite.
    p.log_sigma.data.fill_(-100.0)
    assert torch.isfinite(MixtureDensityHead.log_prob(head(h), p.mu[:, 0])).all()


def test_full_covariance_head_matches_multivariate_normal_and_samples_its_covariance():
    torch.manual_seed(0)
    head = MixtureDensityHead(6, 4, 3, n_bits=1, full_covariance=True).double()
    p = head(torch.randn(5, 6, dtype=torch.float64))
    assert torch.all(torch.triu(p.coupling) == 0)  # strictly lower triangular
    # x = mu + A (x - mu) + sigma * eps  =>  covariance L L^T with L = (I - A)^-1 diag(sigma)
    scale = torch.linalg.inv(torch.eye(4, dtype=torch.float64) - p.coupling) @ torch.diag_embed(p.log_sigma.exp())
    mix = torch.distributions.MixtureSameFamily(torch.distributions.Categorical(logits=p.logits),
                                                torch.distributions.MultivariateNormal(p.mu, scale_tril=torch.tril(scale)))
    x = torch.randn(5, 4, dtype=torch.float64)
    torch.testing.assert_close(MixtureDensityHead.log_prob(p, x), mix.log_prob(x), rtol=1e-10, atol=1e-10)
    # Draws from one component at temperature T have covariance T L L^T.
    n, temp = 20000, 0.5
    one = type(p)(torch.tensor([[9.0, -9.0, -9.0]], dtype=torch.float64).expand(n, 3), p.mu[:1].expand(n, 3, 4),
                  p.log_sigma[:1].expand(n, 3, 4), p.bits[:1].expand(n, 1), p.coupling[:1].expand(n, 3, 4, 4))
    draws = MixtureDensityHead.sample(one, generator=torch.Generator().manual_seed(1), temperature=temp)
    expected = temp * scale[0, 0] @ scale[0, 0].T
    err = (torch.cov(draws.T) - expected).abs().max() / expected.abs().max()
    assert err < 0.05, err
    # Greedy decoding returns the mean; a diagonal head has no coupling.
    torch.testing.assert_close(MixtureDensityHead.sample(p, temperature=0.0), p.mu[torch.arange(5), p.logits.argmax(-1)])
    assert MixtureDensityHead(6, 4, 3)(torch.randn(2, 6)).coupling is None


def test_component_temperature_sharpens_the_component_choice_but_not_the_spread():
    # two 1-D components at -5 and +5, weights 0.7 / 0.3, unit spread
    n = 4000
    logits = torch.log(torch.tensor([[0.7, 0.3]], dtype=torch.float64)).expand(n, 2)
    mu = torch.tensor([[[-5.0], [5.0]]], dtype=torch.float64).expand(n, 2, 1)
    p = MixtureParams(logits, mu, torch.zeros(n, 2, 1, dtype=torch.float64), torch.zeros(n, 0, dtype=torch.float64))

    def draw(**kw):
        return MixtureDensityHead.sample(p, generator=torch.Generator().manual_seed(0), **kw)[:, 0]

    same = draw(temperature=1.0)
    assert abs(float((same < 0).double().mean()) - 0.7) < 0.03  # T = 1: the weights as they are
    torch.testing.assert_close(draw(temperature=0.5, component_temperature=None), draw(temperature=0.5))
    sharp = draw(temperature=1.0, component_temperature=0.05)
    assert bool((sharp < 0).all())  # 0.7 ** 20 : 0.3 ** 20 -> the first component only
    assert abs(float(sharp.std()) - 1.0) < 0.05  # each draw keeps its own T-scaled spread
    flat = draw(temperature=0.25, component_temperature=1.0)
    assert abs(float((flat < 0).double().mean()) - 0.7) < 0.03 and abs(float(flat[flat < 0].std()) - 0.5) < 0.05
    with pytest.raises(ValueError, match="component_temperature"):
        draw(temperature=1.0, component_temperature=0.0)


def test_model_sampling_takes_a_component_temperature():
    torch.manual_seed(0)
    config = BezierSketchConfig(min_degree=3, max_degree=3, labels=("apple", "cat"), embed_hidden=8, embed_latent=8,
                                dec_hidden=8, latent_dim=0, num_mixtures=3, max_strokes=4, token_head="start")
    model = BezierSketchModel(config).eval()

    def draw(**kw):
        return model.sample(6, generator=torch.Generator().manual_seed(3), temperature=0.5, label="cat", **kw)

    def flat(sketches):
        return np.concatenate([np.concatenate(s.curves).ravel() for s in sketches if s.curves])

    np.testing.assert_array_equal(flat(draw(component_temperature=None)), flat(draw()))
    assert not np.array_equal(flat(draw(component_temperature=0.05)), flat(draw()))
    for bad in (0.0, -1.0, float("inf")):
        with pytest.raises(ValueError, match="component_temperature"):
            draw(component_temperature=bad)


def test_full_covariance_generator_trains_and_round_trips(tmp_path):
    sketches = _toy_sketches(6, 2)
    cfg = estimate_token_scales(sketches, BezierSketchConfig(**{**TINY, "full_covariance": True, "latent_dim": 0}))
    model = BezierSketchModel(cfg)
    batch = model.collate(sketches, stage="generator", generator=torch.Generator().manual_seed(0))
    out = model.loss(batch, step=1, stage="generator")
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    assert model.head.proj.weight.grad.abs().sum() > 0
    model.save_pretrained(tmp_path / "m")
    again = load_model(tmp_path / "m")
    assert again.config.full_covariance and again.head.full_covariance
    a = model.eval().sample(3, generator=torch.Generator().manual_seed(0), temperature=0.5)
    b = again.eval().sample(3, generator=torch.Generator().manual_seed(0), temperature=0.5)
    for x, y in zip(a, b):
        assert len(x.curves) == len(y.curves)
        for cx, cy in zip(x.curves, y.curves):
            np.testing.assert_allclose(cx, cy, atol=1e-6)


def test_kl_weight_anneals_linearly():
    model = BezierSketchModel(BezierSketchConfig(kl_weight=0.5, kl_anneal_steps=100, **TINY))
    assert model.kl_weight_at(0) == 0.0
    assert model.kl_weight_at(50) == pytest.approx(0.25)
    assert model.kl_weight_at(1000) == pytest.approx(0.5)


def test_token_round_trip_reproduces_embedded_curves():
    torch.manual_seed(0)
    sketches = _toy_sketches(5, 2)
    cfg = estimate_token_scales(sketches, BezierSketchConfig(min_degree=3, max_degree=3, **TINY))
    model = BezierSketchModel(cfg).eval()
    toks = model._sketch_tokens(sketches)
    assert [len(t) for t in toks] == [s.num_strokes for s in sketches]
    curves, _ = model._tokens_to_curves(toks[0])
    centre = (sketches[0].points().min(0) + sketches[0].points().max(0)) / 2
    half = np.max(sketches[0].points().max(0) - sketches[0].points().min(0)) / 2
    direct = model.embed_strokes(sketches[0], degree=3)
    for c, d in zip(curves, direct.curves):
        np.testing.assert_allclose(c * half + centre, d, atol=1e-3 * half)


def test_generation_api_shapes_and_determinism():
    torch.manual_seed(0)
    model = BezierSketchModel(BezierSketchConfig(min_degree=3, max_degree=3, **TINY)).eval()
    sk = _toy_sketches(2, 2)
    out = model.sample(3, generator=torch.Generator().manual_seed(0), temperature=0.5)
    assert len(out) == 3 and all(isinstance(b, BezierSketch) for b in out)
    assert all(1 <= b.num_curves <= model.config.max_strokes and set(b.degrees) == {3} for b in out)
    again = model.sample(3, generator=torch.Generator().manual_seed(0), temperature=0.5)
    for a, b in zip(out, again):
        for u, v in zip(a.curves, b.curves):
            np.testing.assert_array_equal(u, v)
    inter = model.interpolate(sk[0], sk[1], steps=4)
    assert len(inter) == 4 and [b.meta["alpha"] for b in inter] == pytest.approx([0, 1 / 3, 2 / 3, 1])
    inter2 = model.interpolate(sk[0], sk[1], steps=4)
    assert all(np.array_equal(u, v) for a, b in zip(inter, inter2) for u, v in zip(a.curves, b.curves))
    done = model.complete(sk[0], 2, generator=torch.Generator().manual_seed(1), temperature=0.7)
    done2 = model.complete(sk[0], 2, generator=torch.Generator().manual_seed(1), temperature=0.7)
    given = sk[0].num_strokes
    for a, b in zip(done, done2):
        assert a.meta["n_given"] == given and a.num_curves >= given + 1
        assert all(np.array_equal(u, v) for u, v in zip(a.curves, b.curves))
        # The given strokes come back first, as fitted curves in the caller's coordinates.
        for c, s in zip(a.curves[:given], sk[0].strokes):
            assert np.linalg.norm(c[0] - s[0]) < 0.05 * np.ptp(sk[0].points())
    enc = model.complete(sk[0], 1, use_encoder=True, temperature=0.0)
    assert all(np.array_equal(u, v) for u, v in zip(enc[0].curves, model.complete(sk[0], 1, use_encoder=True,
                                                                                  temperature=0.0)[0].curves))
    rec = model.reconstruct(sk)
    assert len(rec) == 2 and all(r.num_curves >= 1 for r in rec)
    metrics = model.evaluate(sk)
    assert set(metrics) == {"embed_mse", "chamfer"} and all(math.isfinite(v) for v in metrics.values())
    with pytest.raises(ValueError):
        model.sample(0)
    with pytest.raises(ValueError):
        model.complete(Sketch([]), 1)


def test_token_cache_is_invalidated_by_embedder_training():
    torch.manual_seed(0)
    model = BezierSketchModel(BezierSketchConfig(min_degree=3, max_degree=3, refine_steps=0, **TINY))
    sk = _toy_sketches(4, 2)
    before = [t.copy() for t in model._sketch_tokens(sk)]
    opt = torch.optim.SGD(model.stage_parameters("embedder"), lr=0.5)
    out = model.loss(model.collate(sk, stage="embedder"), stage="embedder")
    out["loss"].backward()
    opt.step()
    after = model._sketch_tokens(sk)
    assert not all(np.allclose(a, b) for a, b in zip(before, after))


def test_shipped_model_loads_and_samples():
    from sketchkit.pretrained import PRETRAINED_DIR

    if not (PRETRAINED_DIR / "bezier" / "model.safetensors").is_file():
        pytest.skip("shipped bezier model not built yet (scripts/train_pretrained_bezier.py)")
    model = load_model("bezier")
    assert isinstance(model, BezierSketchModel)
    out = model.sample(8, generator=torch.Generator().manual_seed(0), temperature=0.4)
    counts = [b.num_curves for b in out]
    assert all(1 <= c <= model.config.max_strokes for c in counts)
    for b in out:
        assert all(np.all(np.isfinite(c)) and np.abs(c).max() < 10 for c in b.curves)


# ---------------------------------------------------------------------------------- conditioning
def _labelled(seed: int, count: int) -> list[Sketch]:
    return [Sketch(s.strokes, label=["circle", "line", "alarm_clock"][i % 3])
            for i, s in enumerate(_toy_sketches(seed, count))]


class TestConditionalContract(ModelContract):
    def make_model(self):
        cfg = BezierSketchConfig(min_degree=3, max_degree=3, labels=("alarm_clock", "circle", "line"), **TINY)
        return BezierSketchModel(cfg)

    def make_sketches(self):
        return _labelled(2, 6)


class TestDecoderOnlyContract(ModelContract):
    def make_model(self):
        cfg = BezierSketchConfig(min_degree=3, max_degree=3, labels=("alarm_clock", "circle", "line"),
                                 **{**TINY, "latent_dim": 0})
        return BezierSketchModel(cfg)

    def make_sketches(self):
        return _labelled(3, 6)


class TestCanvasContract(ModelContract):
    def make_model(self):
        cfg = BezierSketchConfig(min_degree=3, max_degree=3, labels=("alarm_clock", "circle", "line"), canvas_grid=4,
                                 **{**TINY, "latent_dim": 0})
        return BezierSketchModel(cfg)

    def make_sketches(self):
        return _labelled(6, 6)


def test_config_for_data_takes_labels_only_when_there_are_two_or_more():
    base = BezierSketchConfig(min_degree=3, max_degree=3, **TINY)
    assert BezierSketchModel.config_for_data(base, _labelled(0, 6)).labels == ("alarm_clock", "circle", "line")
    one = [Sketch(s.strokes, label="omniglot") for s in _toy_sketches(0, 4)]
    assert BezierSketchModel.config_for_data(base, one).labels == ()
    off = base.replace(conditional=False)
    assert BezierSketchModel.config_for_data(off, _labelled(0, 6)).labels == ()


@pytest.mark.parametrize("latent_dim", [0, 8])
def test_conditional_sampling_labels_and_errors(latent_dim):
    torch.manual_seed(0)
    cfg = BezierSketchConfig(min_degree=3, max_degree=3, labels=("alarm_clock", "circle", "line"),
                             **{**TINY, "latent_dim": latent_dim})
    model = BezierSketchModel(cfg).eval()
    assert model.labels == ("alarm_clock", "circle", "line")
    g = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    out = model.sample(4, generator=g(), temperature=0.5, label="circle")
    assert [s.label for s in out] == ["circle"] * 4
    assert [s.label for s in model.sample(2, generator=g(), temperature=0.5, label="alarm clock")] == ["alarm_clock"] * 2
    assert [s.label for s in model.sample(3, generator=g(), label=["line", 0, "circle"])] == ["line", "alarm_clock", "circle"]
    drawn = [s.label for s in model.sample(30, generator=g(), temperature=0.5)]
    assert set(drawn) == set(model.labels)  # no label: classes drawn uniformly (30 draws of 3)
    with pytest.raises(ValueError, match="unknown class 'zebra'; known classes: alarm_clock, circle, line"):
        model.sample(1, label="zebra")
    with pytest.raises(ValueError, match="out of range"):
        model.sample(1, label=7)
    with pytest.raises(ValueError, match="expected one class or 2 classes"):
        model.sample(2, label=["line"])


def test_the_class_changes_what_is_drawn():
    torch.manual_seed(0)
    cfg = BezierSketchConfig(min_degree=3, max_degree=3, labels=("a", "b"), **{**TINY, "latent_dim": 0})
    model = BezierSketchModel(cfg).eval()
    with torch.no_grad():
        model.class_embed.weight.copy_(torch.randn_like(model.class_embed.weight) * 3)
    a = model.sample(1, generator=torch.Generator().manual_seed(0), temperature=0.0, label="a")[0]
    b = model.sample(1, generator=torch.Generator().manual_seed(0), temperature=0.0, label="b")[0]
    assert not np.allclose(a.curves[0], b.curves[0])


def test_unconditional_model_refuses_a_label():
    model = BezierSketchModel(BezierSketchConfig(min_degree=3, max_degree=3, **TINY)).eval()
    assert model.labels == ()
    with pytest.raises(ValueError, match="unconditional"):
        model.sample(1, label="cat")


def test_conditional_generator_learns_class_specific_stroke_counts():
    """Class 'one' has one stroke, class 'three' three: after brief training the stop bit follows
    the class (greedy decoding), which it can only learn from the class code (latent_dim = 0)."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    data = []
    for k in range(24):
        one = Sketch([_arc(rng)], label="one")
        three = Sketch([_line(rng), _arc(rng), _line(rng)], label="three")
        data += [one, three]
    cfg = BezierSketchModel.config_for_data(
        BezierSketchConfig(min_degree=3, max_degree=3, **{**TINY, "latent_dim": 0, "dec_hidden": 32}), data)
    model = BezierSketchModel(cfg)
    opt = torch.optim.Adam(model.stage_parameters("generator"), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    for _ in range(150):
        batch = model.collate(data, stage="generator", generator=gen)
        loss = model.loss(batch, stage="generator")["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    ones = model.sample(5, generator=torch.Generator().manual_seed(0), temperature=0.0, label="one")
    threes = model.sample(5, generator=torch.Generator().manual_seed(0), temperature=0.0, label="three")
    assert [s.num_curves for s in ones] == [1] * 5
    assert [s.num_curves for s in threes] == [3] * 5
    # The generator as its own classifier: a real one-stroke sketch is "one", a three-stroke "three".
    post = model.class_posterior(model._sketch_tokens([data[0], data[1]]))
    i_one, i_three = model.class_index("one"), model.class_index("three")
    assert post[0, i_one] > 0.9 and post[1, i_three] > 0.9
    drawn = model.sample(6, generator=torch.Generator().manual_seed(0), temperature=1.0, label="three",
                         min_class_posterior=0.99, tries=4)
    assert all(s.meta["class_posterior"] > 0.99 for s in drawn)
    with pytest.raises(ValueError, match="min_class_posterior"):
        model.sample(1, label="one", min_class_posterior=1.5)


def test_tokens_do_not_depend_on_the_batch():
    model = BezierSketchModel(BezierSketchConfig(min_degree=3, max_degree=3, **TINY)).eval()
    sk = _toy_sketches(5, 12)
    together = [t.copy() for t in model._sketch_tokens(sk)]
    model._token_cache.clear()
    alone = [model._sketch_tokens([s])[0] for s in reversed(sk)][::-1]
    assert all(np.array_equal(a, b) for a, b in zip(together, alone))


# ------------------------------------------------------------------------ pieces joined into strokes
def _circle(n: int = 60, r: float = 10.0) -> np.ndarray:
    a = np.linspace(0, 2 * np.pi, n)
    return np.stack([r * np.cos(a), r * np.sin(a)], 1)


def test_turning_split_cuts_a_circle_into_gentle_arcs_and_keeps_lines_whole():
    from sketchkit.models.stroke_embedder import split_at_corners

    pieces = split_at_corners(_circle(), 0.0, 0.01, 120.0)
    assert 3 <= len(pieces) <= 4  # 360 degrees of turning in pieces of at most 120
    assert np.array_equal(np.concatenate([pieces[0]] + [p[1:] for p in pieces[1:]]), _circle())  # nothing lost
    line = np.stack([np.linspace(0, 10, 20), np.zeros(20)], 1)
    assert len(split_at_corners(line, 60.0, 0.01, 120.0)) == 1
    corner = np.array([[0, 0], [5, 0], [10, 0], [10, 5], [10, 10]], float)
    assert len(split_at_corners(corner, 60.0, 0.01, 0.0)) == 2


def test_joined_pieces_keep_the_stroke_structure_in_tokens_and_fits():
    cfg = BezierSketchConfig(min_degree=3, max_degree=3, split_angle=60.0, split_turn=120.0, join_pieces=True,
                             **{**TINY, "max_strokes": 20})
    model = BezierSketchModel(cfg).eval()
    sk = Sketch([_circle(), np.array([[20.0, 0.0], [30.0, 5.0]])])
    tok = model._sketch_tokens([sk])[0]
    assert tok.shape[1] == model.token_dim + 1
    n = len(tok)
    assert n >= 4 and tok[:, -1].tolist() == [1.0] * (n - 2) + [0.0, 0.0]  # circle pieces continue; the line ends
    fits = model.embed_strokes(sk)
    assert fits.meta["stroke_ids"] == [0] * (n - 1) + [1]
    rebuilt = model._to_bezier(tok)
    assert rebuilt.meta["stroke_ids"] == [0] * (n - 1) + [1]


@pytest.mark.parametrize("token_head", ["joint", "start"])
def test_sampled_continuations_start_where_the_previous_piece_ends(token_head):
    torch.manual_seed(0)
    cfg = BezierSketchConfig(min_degree=3, max_degree=3, split_turn=120.0, join_pieces=True, token_head=token_head,
                             **{**TINY, "max_strokes": 12})
    model = BezierSketchModel(cfg).eval()
    bits = model.head if token_head == "joint" else model.head.start  # the mixture that emits the bits
    with torch.no_grad():
        bits.proj.bias[-1] = 5.0  # the "next continues" bit nearly always on
        bits.proj.bias[-2] = -5.0  # the stop bit nearly always off
    out = model.sample(4, generator=torch.Generator().manual_seed(0), temperature=0.7)
    joined = 0
    for s in out:
        ids = s.meta["stroke_ids"]
        for i in range(1, s.num_curves):
            if ids[i] == ids[i - 1]:
                np.testing.assert_allclose(s.curves[i][0], s.curves[i - 1][-1], atol=1e-5)
                joined += 1
    assert joined >= 10


class TestJoinedPiecesContract(ModelContract):
    def make_model(self):
        cfg = BezierSketchConfig(min_degree=3, max_degree=3, split_angle=60.0, split_turn=120.0, join_pieces=True,
                                 labels=("alarm_clock", "circle", "line"), **{**TINY, "max_strokes": 12})
        return BezierSketchModel(cfg)

    def make_sketches(self):
        return _labelled(4, 6)


def test_low_temperature_does_not_suppress_the_stop_bit():
    """The stop bit is drawn at its own probability at any temperature > 0 (sharpening it made
    low-temperature samples run on to max_strokes)."""
    torch.manual_seed(0)
    cfg = BezierSketchConfig(min_degree=3, max_degree=3, **{**TINY, "max_strokes": 30})
    model = BezierSketchModel(cfg).eval()
    with torch.no_grad():
        model.head.proj.weight[-2:] = 0.0  # bits independent of the state: stop with p = 0.5 per step
        model.head.proj.bias[-2:] = 0.0
    for t in (0.05, 0.5, 1.0):
        n = [s.num_curves for s in model.sample(200, generator=torch.Generator().manual_seed(1), temperature=t)]
        assert 1.6 < np.mean(n) < 2.4, (t, np.mean(n))  # geometric with p = 1/2: mean 2


def test_random_rotation_turns_the_whole_sketch_rigidly():
    cfg = BezierSketchConfig(min_degree=3, max_degree=3, random_scale=0.0, random_rotate=30.0, **TINY)
    model = BezierSketchModel(BezierSketchModel.config_for_data(cfg, _toy_sketches(0, 4))).eval()
    sk = _toy_sketches(0, 4)
    plain = BezierSketchModel(model.config.replace(random_rotate=0.0))
    plain.load_state_dict(model.state_dict())
    base = plain.collate(sk, stage="generator")
    rot = model.collate(sk, stage="generator", generator=torch.Generator().manual_seed(0))
    for b in range(len(sk)):
        n = int(base["lengths"][b])
        a = model._to_bezier(base["tokens"][b, :n].numpy())
        r = model._to_bezier(rot["tokens"][b, :n].numpy())
        pa, pr = np.concatenate(a.curves), np.concatenate(r.curves)
        # same distances from the box centre and between points: a rotation about the origin
        np.testing.assert_allclose(np.linalg.norm(pa, axis=1), np.linalg.norm(pr, axis=1), atol=1e-5)
        np.testing.assert_allclose(np.linalg.norm(pa[1:] - pa[:-1], axis=1),
                                   np.linalg.norm(pr[1:] - pr[:-1], axis=1), atol=1e-5)
        assert not np.allclose(pa, pr, atol=1e-3)


# ---------------------------------------------------------------------------------- canvas features
def test_canvas_features_count_the_ink_of_earlier_curves_only():
    from sketchkit.models.token_canvas import CanvasFeatures

    canvas = CanvasFeatures(grid=2, degree=1, offset_scale=1.0, start_scale=1.0, samples=4)
    # two straight segments: one in the top-left cell (y down), one in the bottom-right cell
    tokens = torch.tensor([[[0.2, 0.0, -0.8, -0.5],
                            [0.2, 0.0, 0.5, 0.5]]])
    feats = canvas.before_each(tokens)  # (1, 2, 4 + 2)
    assert feats.shape == (1, 2, canvas.dim)
    torch.testing.assert_close(feats[0, 0], torch.zeros(6))  # nothing drawn before the first curve
    torch.testing.assert_close(feats[0, 1, :4], torch.tanh(torch.tensor([4.0, 0.0, 0.0, 0.0]) / 4.0))
    torch.testing.assert_close(feats[0, 1, 4:], torch.tensor([-0.6, -0.5]))  # end of the first curve
    with pytest.raises(ValueError, match="grid"):
        CanvasFeatures(grid=0, degree=1, offset_scale=1.0, start_scale=1.0)


def test_canvas_decoding_feeds_the_features_teacher_forcing_computes():
    # A greedy decode picks each step's most likely component mean; teacher forcing on the decoded
    # tokens must then predict the same means, which holds only if the incremental canvas fed while
    # decoding equals the one computed from the whole sequence.
    torch.manual_seed(0)
    cfg = BezierSketchConfig(min_degree=3, max_degree=3, labels=("a", "b"), canvas_grid=4,
                             **{**TINY, "latent_dim": 0, "max_strokes": 8})
    model = BezierSketchModel(cfg).eval()
    with torch.no_grad():
        for p in model.head.parameters():
            p.add_(torch.randn_like(p) * 0.5)
        cond = model._condition(None, torch.tensor([1]), 1)
        seq = model._decode(cond, generator=None, temperature=0.0)[0]
        assert len(seq) >= 3
        tokens = torch.from_numpy(seq)[None]
        out, _ = model.decoder(model._decoder_inputs(tokens, cond), model._init_state(cond))
        params = model.head(out)
        best = params.logits.argmax(-1)[0]
        means = params.mu[0, torch.arange(len(seq)), best]  # (L, token_dim)
    d = cfg.max_degree
    torch.testing.assert_close(means[:, :2 * d], tokens[0, :, :2 * d], atol=1e-5, rtol=0)
    # a prefix (completion) starts the canvas from the prefix's ink: greedy decoding from the first
    # two tokens continues exactly as the whole greedy decode did
    with torch.no_grad():
        again = model._decode(cond, generator=None, temperature=0.0, prefix=tokens[:, :2])[0]
    np.testing.assert_allclose(again, seq, atol=1e-5)


def test_input_noise_perturbs_only_the_training_inputs():
    torch.manual_seed(0)
    cfg = BezierSketchConfig(min_degree=3, max_degree=3, labels=("alarm_clock", "circle", "line"),
                             **{**TINY, "latent_dim": 0})
    clean = BezierSketchModel(cfg)
    noisy = BezierSketchModel(cfg.replace(input_noise=0.5))
    noisy.load_state_dict(clean.state_dict())
    batch = clean.collate(_labelled(7, 6), stage="generator", generator=torch.Generator().manual_seed(0))
    for m in (clean, noisy):
        m.eval()
    with torch.no_grad():  # evaluation (validation, class posteriors) sees the true past
        a = clean.loss(batch, stage="generator")["loss"]
        b = noisy.loss(batch, stage="generator")["loss"]
    torch.testing.assert_close(a, b)
    clean.train(), noisy.train()
    with torch.no_grad():
        torch.manual_seed(1)
        a = clean.loss(batch, stage="generator")["loss"]
        torch.manual_seed(1)
        b = noisy.loss(batch, stage="generator")["loss"]
    assert not torch.isclose(a, b)  # training sees a perturbed past (dropout is 0 here)
    with pytest.raises(ValueError, match="input_noise"):
        BezierSketchModel(cfg.replace(input_noise=-0.1))


# ---------------------------------------------------------------------------------- start-first head
def test_start_first_head_scores_start_then_shape_and_skips_given_starts():
    from sketchkit.models.token_heads import StartFirstTokenHead

    torch.manual_seed(0)
    head = StartFirstTokenHead(8, token_dim=6, start_index=2, num_mixtures=3, start_mixtures=2, n_bits=2,
                               sigma_min=1e-3)
    h, tokens = torch.randn(5, 8), torch.randn(5, 6)
    free, bits = head.token_log_prob(h, tokens, torch.zeros(5, dtype=torch.bool))
    given, _ = head.token_log_prob(h, tokens, torch.ones(5, dtype=torch.bool))
    start, rest = tokens[:, 2:4], torch.cat([tokens[:, :2], tokens[:, 4:]], -1)
    ll_start = MixtureDensityHead.log_prob(head.start(h), start)
    ll_shape = MixtureDensityHead.log_prob(head.shape(head.given(torch.cat([h, start], -1))), rest)
    torch.testing.assert_close(free, ll_start + ll_shape)
    torch.testing.assert_close(given, ll_shape)  # a given start (a continuing curve) is not scored
    assert bits.shape == (5, 2)


def test_start_first_head_draws_the_shape_for_the_start_it_uses():
    from sketchkit.models.token_heads import StartFirstTokenHead

    torch.manual_seed(0)
    head = StartFirstTokenHead(8, token_dim=6, start_index=2, num_mixtures=3, start_mixtures=2, n_bits=1,
                               sigma_min=1e-3)
    with torch.no_grad():
        for p in head.given.parameters():
            p.mul_(4.0)  # a shape that depends strongly on where the curve starts
        h = torch.randn(4, 8)
        given = torch.tensor([[3.0, -3.0], [0.0, 0.0], [-3.0, 3.0], [1.0, 1.0]])
        has = torch.tensor([True, False, True, False])
        tok, bits = head.draw(h, given, has, generator=None, temperature=0.0)
        torch.testing.assert_close(tok[has, 2:4], given[has])
        # greedy: start = most likely start component's mean; shape = the most likely shape mean given it
        sp = head.start(h)
        free_start = sp.mu[torch.arange(4), sp.logits.argmax(-1)]
        torch.testing.assert_close(tok[~has, 2:4], free_start[~has])
        sh = head.shape(head.given(torch.cat([h, tok[:, 2:4]], -1)))
        rest = sh.mu[torch.arange(4), sh.logits.argmax(-1)]
        torch.testing.assert_close(torch.cat([tok[:, :2], tok[:, 4:]], -1), rest)
        moved = head.draw(h, given + 2.0, has, generator=None, temperature=0.0)[0]
    assert not torch.allclose(moved[has, :2], tok[has, :2])  # another start, another shape


def test_start_first_head_learns_a_shape_that_depends_on_the_start():
    # Two kinds of curve: starting left they go right, starting right they go left. A shape mixture
    # of one component can only get this right by reading the start.
    from sketchkit.models.token_heads import StartFirstTokenHead

    gen = torch.Generator().manual_seed(0)
    side = torch.where(torch.rand(512, generator=gen) < 0.5, -1.0, 1.0)
    start = torch.stack([side * 2.0, torch.zeros(512)], -1) + 0.1 * torch.randn(512, 2, generator=gen)
    offset = -side[:, None] * torch.ones(512, 2) + 0.05 * torch.randn(512, 2, generator=gen)
    tokens = torch.cat([offset, start], -1)  # (N, 4): shape first, start at index 2
    torch.manual_seed(0)
    head = StartFirstTokenHead(4, token_dim=4, start_index=2, num_mixtures=1, start_mixtures=2, n_bits=1,
                               sigma_min=1e-3)
    h = torch.zeros(512, 4)  # the same context for every curve: only the start tells them apart
    opt = torch.optim.Adam(head.parameters(), lr=0.03)
    for _ in range(300):
        opt.zero_grad()
        loss = -head.token_log_prob(h, tokens, torch.zeros(512, dtype=torch.bool))[0].mean()
        loss.backward()
        opt.step()
    with torch.no_grad():
        drawn, _ = head.draw(h[:200], torch.zeros(200, 2), torch.zeros(200, dtype=torch.bool),
                             generator=torch.Generator().manual_seed(1), temperature=0.5)
    left = drawn[:, 2] < 0
    assert 40 < int(left.sum()) < 160  # both kinds of start are drawn
    assert bool((drawn[left, 0] > 0.5).all()) and bool((drawn[~left, 0] < -0.5).all())


class TestStartFirstContract(ModelContract):
    def make_model(self):
        cfg = BezierSketchConfig(min_degree=3, max_degree=3, split_turn=120.0, join_pieces=True, token_head="start",
                                 start_mixtures=3, canvas_grid=4, labels=("alarm_clock", "circle", "line"),
                                 **{**TINY, "latent_dim": 0, "max_strokes": 12})
        return BezierSketchModel(cfg)

    def make_sketches(self):
        return _labelled(8, 6)


def test_start_chord_head_reads_tokens_as_start_chord_and_bends():
    from sketchkit.models.token_heads import StartChordTokenHead

    torch.manual_seed(0)
    d = 3
    head = StartChordTokenHead(8, token_dim=2 * d + 2, start_index=2 * d, num_mixtures=2, degree=d,
                               start_mixtures=2, n_bits=2, sigma_min=1e-3)
    tokens = torch.randn(6, 2 * d + 2)
    start, rest = head._split(tokens)
    chord, bends = head._chord_split(rest)
    torch.testing.assert_close(chord, rest.unflatten(-1, (d, 2)).sum(-2))  # the chord is start -> end
    torch.testing.assert_close(head._chord_join(chord, bends), rest)  # and the change of variables inverts
    h = torch.randn(6, 8)
    ll, bits = head.token_log_prob(h, tokens, torch.zeros(6, dtype=torch.bool))
    expect = (MixtureDensityHead.log_prob(head.start(h), start)
              + MixtureDensityHead.log_prob(head.chord(head.given(torch.cat([h, start], -1))), chord)
              + MixtureDensityHead.log_prob(head.shape(head.chord_given(torch.cat([h, start, chord], -1))), bends))
    torch.testing.assert_close(ll, expect)
    with torch.no_grad():  # greedy drawing walks the same chain: start, chord given start, bends given both
        tok, _ = head.draw(h, torch.zeros(6, 2), torch.zeros(6, dtype=torch.bool), generator=None, temperature=0.0)
        s, r = head._split(tok)
        c, b = head._chord_split(r)
        cp = head.chord(head.given(torch.cat([h, s], -1)))
        torch.testing.assert_close(c, cp.mu[torch.arange(6), cp.logits.argmax(-1)])
        bp = head.shape(head.chord_given(torch.cat([h, s, c], -1)))
        torch.testing.assert_close(b, bp.mu[torch.arange(6), bp.logits.argmax(-1)])


class TestStartChordContract(ModelContract):
    def make_model(self):
        cfg = BezierSketchConfig(min_degree=3, max_degree=3, split_turn=120.0, join_pieces=True,
                                 token_head="start_chord", start_mixtures=3, labels=("alarm_clock", "circle", "line"),
                                 **{**TINY, "latent_dim": 0, "max_strokes": 12})
        return BezierSketchModel(cfg)

    def make_sketches(self):
        return _labelled(9, 6)


def test_unknown_token_head_is_refused():
    with pytest.raises(ValueError, match="token_head"):
        BezierSketchConfig(token_head="chord_first")


# ---------------------------------------------------------------------------------- transformer decoder
def test_causal_transformer_steps_match_the_whole_sequence_and_never_look_ahead():
    from sketchkit.models.causal_transformer import CausalTransformer

    torch.manual_seed(0)
    dec = CausalTransformer(6, 16, layers=2, heads=4).eval()
    x = torch.randn(3, 7, 6)
    with torch.no_grad():
        whole, hist = dec(x, dec.empty_state(3, x))
        state, steps = dec.empty_state(3, x), []
        for t in range(7):
            out, state = dec(x[:, t:t + 1], state)
            steps.append(out)
        later = x.clone()
        later[:, 4:] += 5.0
        changed, _ = dec(later, dec.empty_state(3, x))
    torch.testing.assert_close(torch.cat(steps, 1), whole, atol=1e-5, rtol=0)
    torch.testing.assert_close(hist, x)
    torch.testing.assert_close(changed[:, :4], whole[:, :4], atol=1e-5, rtol=0)  # the past ignores the future
    assert not torch.allclose(changed[:, 4:], whole[:, 4:])
    with pytest.raises(ValueError, match="heads"):
        CausalTransformer(6, 10, layers=1, heads=4)


class TestTransformerContract(ModelContract):
    def make_model(self):
        cfg = BezierSketchConfig(min_degree=3, max_degree=3, split_turn=120.0, join_pieces=True, token_head="start",
                                 decoder="transformer", dec_layers=2, dec_heads=2, canvas_grid=4,
                                 labels=("alarm_clock", "circle", "line"),
                                 **{**TINY, "latent_dim": 0, "max_strokes": 12})
        return BezierSketchModel(cfg)

    def make_sketches(self):
        return _labelled(10, 6)


def test_transformer_decoding_matches_teacher_forcing():
    # greedy decoding one step at a time must see what teacher forcing on the decoded tokens sees
    torch.manual_seed(0)
    cfg = BezierSketchConfig(min_degree=3, max_degree=3, labels=("a", "b"), canvas_grid=4, decoder="transformer",
                             dec_layers=2, dec_heads=2, **{**TINY, "latent_dim": 0, "max_strokes": 8})
    model = BezierSketchModel(cfg).eval()
    with torch.no_grad():
        for p in model.head.parameters():
            p.add_(torch.randn_like(p) * 0.5)
        model.head.proj.bias[-2] = -5.0  # the stop bit off: decode to max_strokes
        cond = model._condition(None, torch.tensor([1]), 1)
        seq = model._decode(cond, generator=None, temperature=0.0)[0]
        assert len(seq) == cfg.max_strokes
        tokens = torch.from_numpy(seq)[None]
        out, _ = model.decoder(model._decoder_inputs(tokens, cond), model._init_state(cond))
        params = model.head(out)
        means = params.mu[0, torch.arange(len(seq)), params.logits.argmax(-1)[0]]
        again = model._decode(cond, generator=None, temperature=0.0, prefix=tokens[:, :2])[0]
    d = cfg.max_degree
    torch.testing.assert_close(means[:, :2 * d], tokens[0, :, :2 * d], atol=1e-5, rtol=0)
    np.testing.assert_allclose(again, seq, atol=1e-5)
    with pytest.raises(ValueError, match="decoder"):
        BezierSketchConfig(decoder="gru")
