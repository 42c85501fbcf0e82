"""Cloud2Curve: the model contract, the stroke-level fit and degree choice, the numpy port."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_contract import ModelContract
from sketchkit.geometry.bezier import elevate, evaluate
from sketchkit.models.cloud2curve import (
    Cloud2CurveConfig,
    Cloud2CurveModel,
    degree_slices,
    normalize_cloud,
    sample_polyline,
    stroke_tokens,
)
from sketchkit.sketch import BezierSketch, Sketch

TINY = dict(
    max_degree=3, stroke_points=24, stroke_width=32, curve_samples=16,
    sketch_points=48, sketch_width=16, latent_dim=8, decoder_hidden=16, max_strokes=3,
    sketch_max_degree=2, sketch_curve_samples=6,
)


def _sketches() -> list[Sketch]:
    t = np.linspace(0, np.pi, 20)
    arc = np.stack([50 + 30 * np.cos(t), 60 - 30 * np.sin(t)], axis=1)
    line = np.array([[10.0, 10.0], [90.0, 40.0]])
    rng = np.random.default_rng(0)
    return [
        Sketch([arc, line], label="a"),
        Sketch([line * 0.5 + 3.0]),
        Sketch.from_point_cloud(rng.uniform(0, 28, size=(40, 2))),
    ]


class TestCloud2CurveContract(ModelContract):
    def make_model(self):
        return Cloud2CurveModel(Cloud2CurveConfig(**TINY))

    def make_sketches(self):
        return _sketches()


def test_collate_shapes_and_point_cloud_handling():
    model = Cloud2CurveModel(Cloud2CurveConfig(**TINY))
    g = torch.Generator().manual_seed(0)
    b = model.collate(_sketches()[:2], stage="stroke", generator=g)
    assert b["clouds"].shape == (3, 24, 2)  # 3 strokes
    assert b["clouds"].abs().max() <= 1.0 + 0.1  # unit frame (+ jitter)
    b = model.collate(_sketches(), stage="sketch", generator=g)
    assert b["clouds"].shape == (3, 48, 2)
    assert b["tokens"].shape == (3, 3, 6)  # max_strokes tokens of degree 2 (3 control points)
    n = b["n_tokens"].tolist()
    assert n[0] >= 2 and n[1] == 1 and 1 <= n[2] <= 3  # arc + line; one line; a traced random cloud
    assert torch.all(b["tokens"][1, 1:] == 0)  # padding after the last token
    with pytest.raises(ValueError, match="no stroke"):
        model.collate([Sketch.from_point_cloud(np.array([[1.0, 1.0], [2.0, 2.0]]))], stage="stroke", generator=g)
    with pytest.raises(ValueError, match="unknown stage"):
        model.collate(_sketches(), stage="nope", generator=g)


def test_point_cloud_sketches_are_traced_into_strokes():
    from sketchkit.models.cloud2curve import cloud_to_strokes

    # ink pixels of a 1-px-spaced "L": a vertical bar x=5 (y 5..30) and a horizontal bar y=30
    pts = [(5.5, y + 0.5) for y in range(5, 31)] + [(x + 0.5, 30.5) for x in range(6, 31)]
    for dx in (-1, 1):  # 3 px thick
        pts += [(5.5 + dx, y + 0.5) for y in range(5, 32)] + [(x + 0.5, 30.5 + dx) for x in range(4, 31)]
    paths = cloud_to_strokes(np.array(pts))
    assert len(paths) == 1
    p = paths[0]
    ends = sorted([tuple(np.round(p[0])), tuple(np.round(p[-1]))])
    assert np.linalg.norm(np.subtract(ends[0], (6, 6))) < 2.5 and np.linalg.norm(np.subtract(ends[1], (30, 31))) < 2.5
    model = Cloud2CurveModel(Cloud2CurveConfig(**TINY))
    b = model.collate([Sketch.from_point_cloud(np.array(pts))], stage="stroke", generator=torch.Generator().manual_seed(0))
    assert b["clouds"].shape == (1, 24, 2)


def test_sample_polyline_is_on_the_polyline_and_normalize_cloud_is_exact():
    rng = np.random.default_rng(1)
    pts = sample_polyline(np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 5.0]]), 200, rng)
    on_first = np.isclose(pts[:, 1], 0.0) & (pts[:, 0] >= 0) & (pts[:, 0] <= 10)
    on_second = np.isclose(pts[:, 0], 10.0) & (pts[:, 1] >= 0) & (pts[:, 1] <= 5)
    assert np.all(on_first | on_second)
    # arc length share: 10 of 15 on the first segment (binomial sd ~ 0.033)
    assert abs(on_first.mean() - 2 / 3) < 0.12
    n, centre, scale = normalize_cloud(np.array([[2.0, 4.0], [6.0, 5.0]]))
    np.testing.assert_allclose(centre, [4.0, 4.5])
    assert scale == 2.0
    np.testing.assert_allclose(n, [[-1.0, -0.25], [1.0, 0.25]])


def _stroke_loss_with(model: Cloud2CurveModel, ctrl: torch.Tensor, cloud: torch.Tensor) -> dict:
    """stroke_losses with the network replaced by fixed control points (all degrees)."""
    logits = torch.zeros(ctrl.shape[0], model.config.max_degree)
    model.predict_strokes = lambda clouds: (ctrl, logits)  # type: ignore[method-assign]
    return model.stroke_losses(cloud)


def _packed(curves_by_degree: list[np.ndarray]) -> torch.Tensor:
    return torch.tensor(np.concatenate(curves_by_degree)[None], dtype=torch.float32)


def test_degree_penalty_prefers_the_lowest_degree_that_fits():
    cfg = Cloud2CurveConfig(**{**TINY, "max_degree": 3, "curve_samples": 64})
    model = Cloud2CurveModel(cfg)
    line = np.array([[-1.0, -0.5], [1.0, 0.5]])
    t = np.linspace(0, 1, 64)
    cloud = torch.tensor(evaluate(line, t)[None], dtype=torch.float32)
    # every degree holds the exact line (degree elevation is exact): equal fits, degree 1 must win
    out = _stroke_loss_with(model, _packed([line, elevate(line, 1), elevate(line, 2)]), cloud)
    assert out["fit"].max() < 1e-4
    assert out["target_degree"].tolist() == [1]
    # a parabola: degree 1 cannot fit, degrees 2 and 3 fit exactly -> 2
    para = np.array([[-1.0, 0.5], [0.0, -1.5], [1.0, 0.5]])
    cloud = torch.tensor(evaluate(para, t)[None], dtype=torch.float32)
    out = _stroke_loss_with(model, _packed([para[[0, 2]], para, elevate(para, 1)]), cloud)
    assert out["fit"][0, 0] > 0.05 and out["fit"][0, 1:].max() < 1e-4
    assert out["target_degree"].tolist() == [2]


def train_stroke_model(seed: int, steps: int = 250) -> dict:
    """Train the stroke net on random unit lines and arcs; fits of a fixed probe set before/after."""
    torch.manual_seed(seed)
    cfg = Cloud2CurveConfig(**{**TINY, "stroke_width": 64, "jitter": 0.0, "sub_stroke_prob": 0.0,
                               "degree_penalty": 2e-3, "degree_ce_weight": 0.05})
    model = Cloud2CurveModel(cfg)
    rng = np.random.default_rng(seed)

    def shape(kind: str) -> np.ndarray:
        if kind == "line":
            a = rng.uniform(0, np.pi)
            return np.stack([np.linspace(-1, 1, 20) * np.cos(a), np.linspace(-1, 1, 20) * np.sin(a)], 1)
        a0 = rng.uniform(0, 2 * np.pi)
        t = np.linspace(a0, a0 + rng.uniform(1.5, 3.0), 30)
        return np.stack([np.cos(t), np.sin(t)], 1)

    probe = [shape("line") for _ in range(8)] + [shape("arc") for _ in range(8)]
    with torch.no_grad():
        b0 = model.collate([Sketch([s]) for s in probe], stage="stroke", generator=torch.Generator().manual_seed(5))
        untrained = model.stroke_losses(b0["clouds"])["fit"]
    opt = torch.optim.Adam(model.stage_parameters("stroke"), lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    for step in range(steps):
        batch = model.collate([Sketch([shape("line" if i % 2 else "arc")]) for i in range(32)], stage="stroke", generator=g)
        out = model.loss(batch, step=step, stage="stroke")
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        b = model.collate([Sketch([s]) for s in probe], stage="stroke", generator=torch.Generator().manual_seed(5))
        fit = model.stroke_losses(b["clouds"])["fit"]  # (16, 3) Chamfer, unit frame (squared units)
        _, logits = model.predict_strokes(b["clouds"])
    predicted = (logits.argmax(1) + 1).float()
    return {"line_fit": float(fit[:8, 0].median()), "arc_fit": float(fit[8:, 2].median()),
            "line_untrained": float(untrained[:8, 0].median()), "arc_untrained": float(untrained[8:, 2].median()),
            "line_degree": float(predicted[:8].mean()), "arc_degree": float(predicted[8:].mean())}


@pytest.mark.slow
def test_stroke_model_learns_lines_and_arcs_and_picks_degree_one_for_lines():
    r = train_stroke_model(seed=0)
    # brief training (250 steps of a tiny net) must cut the fit error of the degree-1 head on
    # lines and of the degree-3 head on arcs by 5x against the untrained net on the same clouds
    # (measured over seeds 0-11 x ATEN_CPU_CAPABILITY default/avx2/avx512: >= 10x), reach a median
    # Chamfer under 0.02 (lines; measured <= 0.009) / 0.06 (arcs; measured 0.008-0.034) squared
    # units in a [-1, 1] frame, and the degree head must rank lines lower than arcs (measured
    # mean predicted degree 1.0-2.1 vs 1.75-2.9, gap >= 0.375). The old arc bound 0.02 failed for
    # 3 of 36 runs (0.0245, 0.0242, 0.0341).
    assert r["line_fit"] < 0.02 and r["arc_fit"] < 0.06, r
    assert r["line_fit"] < 0.2 * r["line_untrained"], r
    assert r["arc_fit"] < 0.2 * r["arc_untrained"], r
    assert r["line_degree"] < r["arc_degree"], r


def test_fit_stroke_clouds_returns_curves_in_the_input_frame():
    model = Cloud2CurveModel(Cloud2CurveConfig(**TINY)).eval()
    cloud = np.stack([np.linspace(100, 200, 30), np.full(30, 50.0)], 1)
    (curves, probs), = model.fit_stroke_clouds([cloud])
    assert [c.shape for c in curves] == [(2, 2), (3, 2), (4, 2)]
    assert probs.shape == (3,) and abs(probs.sum() - 1) < 1e-9
    # an untrained net still maps back to the cloud's frame: centre 150, half-extent 50
    assert np.all(np.abs(curves[2][:, 0] - 150) < 50 * 20)


def test_numpy_stroke_model_matches_torch(tmp_path):
    from sketchkit.vectorize import NumpyStrokeModel

    torch.manual_seed(0)
    model = Cloud2CurveModel(Cloud2CurveConfig(**TINY)).eval()
    model.save_pretrained(tmp_path / "m")
    npm = NumpyStrokeModel(tmp_path / "m")
    clouds = np.random.default_rng(0).uniform(-1, 1, size=(5, 24, 2))
    with torch.no_grad():
        c_t, l_t = model.predict_strokes(torch.tensor(clouds, dtype=torch.float32))
    c_n, l_n = npm.predict(clouds)
    np.testing.assert_allclose(c_n, c_t.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(l_n, l_t.numpy(), rtol=1e-4, atol=1e-5)
    assert len(degree_slices(3)) == 3 and degree_slices(3)[2] == slice(5, 9)


def test_sample_and_reconstruct_give_bezier_sketches():
    model = Cloud2CurveModel(Cloud2CurveConfig(**TINY)).eval()
    out = model.sample(3, generator=torch.Generator().manual_seed(0), temperature=0.5)
    assert len(out) == 3 and all(isinstance(s, BezierSketch) for s in out)
    assert all(1 <= s.num_curves <= 3 and set(s.degrees) <= {1, 2} for s in out)
    rec = model.reconstruct(_sketches()[:2])
    assert len(rec) == 2 and all(s.num_curves >= 1 for s in rec)
    metrics = model.evaluate(_sketches())
    assert {"stroke_fit", "sketch_ot", "sketch_strokes"} <= set(metrics)
    assert all(np.isfinite(v) for v in metrics.values())


def test_shipped_model_loads_and_fits_a_line():
    from sketchkit.models.base import load_model
    from sketchkit.pretrained import available

    if "cloud2curve" not in available():
        pytest.skip("no shipped cloud2curve model in this checkout")
    model = load_model("cloud2curve")
    assert isinstance(model, Cloud2CurveModel)
    cloud = np.stack([np.linspace(0, 100, 64), np.linspace(0, 50, 64)], 1)
    (curves, probs), = model.fit_stroke_clouds([cloud])
    line = curves[0]
    # the degree-1 head puts the segment's ends near the cloud's ends (either orientation)
    ends = np.array([[0.0, 0.0], [100.0, 50.0]])
    err = min(np.abs(line - ends).max(), np.abs(line[::-1] - ends).max())
    assert err < 8.0, line


def test_stroke_tokens_split_strokes_into_pieces_within_tolerance():
    line = np.array([[-1.0, 0.0], [1.0, 0.0]])
    (tok,) = stroke_tokens([line], degree=3, tolerance=0.05)
    assert tok.shape == (4, 2)
    np.testing.assert_allclose(tok[[0, -1]], line, atol=1e-6)
    # a zig-zag cannot be one cubic: it is split, pieces in order, each within the tolerance
    zig = np.array([[-1.0, -1.0], [-0.5, 1.0], [0.0, -1.0], [0.5, 1.0], [1.0, -1.0]])
    toks = stroke_tokens([zig, line], degree=3, tolerance=0.05)
    assert len(toks) >= 3
    np.testing.assert_allclose(toks[0][0], zig[0], atol=0.05)
    np.testing.assert_allclose(toks[-1], tok, atol=1e-9)  # the line comes last, unchanged
    assert len(stroke_tokens([zig, line], degree=3, tolerance=0.05, max_tokens=2)) == 2
    (dot,) = stroke_tokens([np.array([[0.3, 0.4]])], degree=2, tolerance=0.05)
    np.testing.assert_allclose(dot, [[0.3, 0.4]] * 3)


ARC = Sketch([np.stack([np.cos(np.linspace(0, np.pi, 20)), np.sin(np.linspace(0, np.pi, 20))], 1)])
CROSS = Sketch([np.array([[-1.0, -1.0], [1.0, 1.0]]), np.array([[-1.0, 1.0], [1.0, -1.0]])])


def _greedy_token_error(model: Cloud2CurveModel, generator: torch.Generator) -> tuple[float, list[int], list[int]]:
    """Median |greedy decoded token - target token| over the arc's and cross's valid tokens (unit
    frame), with the decoded and the target curve counts."""
    want = model.collate([ARC, CROSS], stage="sketch", generator=generator)
    with torch.no_grad():
        mu, _ = model.encode(want["clouds"])
        tokens, n = model.decode(mu)
    k = want["n_tokens"].tolist()
    err = torch.cat([(tokens[i, : k[i]] - want["tokens"][i, : k[i]]).abs().flatten() for i in range(2)])
    return float(err.median()), n.tolist(), k


def train_two_shapes(seed: int, steps: int = 600) -> tuple[Cloud2CurveModel, dict]:
    """Train the sketch stage on an arc and a cross; returns the model and before/after numbers."""
    torch.manual_seed(seed)
    model = Cloud2CurveModel(Cloud2CurveConfig(**{**TINY, "latent_dim": 4, "sketch_width": 64, "decoder_hidden": 64,
                                                  "sketch_mixtures": 1, "kl_weight": 0.0}))
    g = torch.Generator().manual_seed(seed)
    info = {"untrained_token_err": _greedy_token_error(model.eval(), g)[0]}
    model.train()
    opt = torch.optim.Adam(model.stage_parameters("sketch"), lr=3e-3)
    losses = []
    for step in range(steps):
        out = model.loss(model.collate([ARC, CROSS] * 4, stage="sketch", generator=g), step=step, stage="sketch")
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(float(out["loss"].detach()))
    model.eval()
    info["first_loss"], info["last_loss"] = float(np.mean(losses[:20])), float(np.mean(losses[-20:]))
    info["token_err"], info["n_curves"], info["n_tokens"] = _greedy_token_error(model, g)
    rec = model.reconstruct([ARC, CROSS])
    info["rec_curves"] = [r.num_curves for r in rec]
    info["own"] = [_chamfer_np(_curve_points(r), _stroke_points(s)) for r, s in zip(rec, (ARC, CROSS))]
    info["other"] = [_chamfer_np(_curve_points(r), _stroke_points(s)) for r, s in zip(rec, (CROSS, ARC))]
    return model, info


def test_sketch_stage_learns_to_reconstruct_two_shapes():
    # The token NLL has a slow saddle: a coordinate on which the two shapes disagree can sit at
    # their average with a wide sigma for hundreds of steps, so "every curve within 0.1" held only
    # for some seeds (the old test, width 16/32, 300 steps: 4 of 12). Asserted instead, with margins
    # measured over seeds 0-15 x ATEN_CPU_CAPABILITY default/avx2/avx512 (48 runs, 600 steps):
    _, info = train_two_shapes(seed=0)
    # the loss falls by a wide margin (measured: from 10.5-12.2 to -4.8 .. -34)
    assert info["last_loss"] < info["first_loss"] - 10, info
    # the stop bits give each shape its own curve count (2 quadratics; 2 lines): all 48 runs
    assert info["n_curves"] == info["n_tokens"] == [2, 2], info
    assert info["rec_curves"] == [2, 2], info
    # most decoded control points sit on their targets: median error <= 0.065 (unit frame,
    # half-extent 1) in every run, against >= 0.79 for the untrained net
    assert info["token_err"] < 0.15 < 0.5 < info["untrained_token_err"], info
    # each reconstruction (input frame) is nearer its own shape than the other (own/other <= 0.71)
    assert all(o < x for o, x in zip(info["own"], info["other"])), info


# ---------------------------------------------------------------- the shipped sketch-level generator


def _shipped():
    from sketchkit.models.base import load_model
    from sketchkit.pretrained import available

    if "cloud2curve" not in available():
        pytest.skip("no shipped cloud2curve model in this checkout")
    return load_model("cloud2curve")


def _curve_points(b: BezierSketch) -> np.ndarray:
    return np.concatenate([evaluate(c, np.linspace(0, 1, 32)) for c in b.curves])


def _stroke_points(sk: Sketch) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.concatenate([sample_polyline(s, 64, rng) for s in sk.strokes])


def _chamfer_np(a: np.ndarray, b: np.ndarray) -> float:
    d = np.linalg.norm(a[:, None] - b[None], axis=-1)
    return 0.5 * float(d.min(1).mean() + d.min(0).mean())


def test_shipped_generator_samples_several_strokes_deterministically():
    model = _shipped()
    a = model.sample(64, generator=torch.Generator().manual_seed(3), temperature=0.5)
    b = model.sample(64, generator=torch.Generator().manual_seed(3), temperature=0.5)
    assert all(isinstance(s, BezierSketch) for s in a)
    assert [s.num_curves for s in a] == [s.num_curves for s in b]
    for x, y in zip(a, b):
        for cx, cy in zip(x.curves, y.curves):
            np.testing.assert_array_equal(cx, cy)
    counts = np.array([s.num_curves for s in a])
    assert counts.mean() > 1.5 and (counts > 1).mean() > 0.5, counts  # digits are drawn with 2-4 curves
    # samples stay on the canvas (roughly): the decoder learned the unit frame
    pts = np.concatenate([_curve_points(s) for s in a])
    assert np.median(np.abs(pts - model.config.canvas / 2)) < model.config.canvas / 2


def _held_out_digits(n: int) -> list[Sketch]:
    from conftest import shared_path
    from sketchkit.data import read_all

    digits = read_all([shared_path("vectormnist", "mnist-stroke-sequences-train-first5000.npz")], limit=4100 + n)
    return digits[4100:]  # pen-stroke digits: the shipped generator learned from MNIST's test rasters only


@pytest.mark.parametrize("labelled", [True, False])
def test_shipped_generator_reconstructs_held_out_digits(labelled):
    from dataclasses import replace

    model = _shipped()
    digits = _held_out_digits(24)
    # trained with hidden classes, it also reads clouds that carry no label
    rec = model.reconstruct(digits if labelled else [replace(d, label=None) for d in digits])
    assert len(rec) == len(digits)
    own, other = [], []
    for i, (r, d) in enumerate(zip(rec, digits)):
        scale = np.ptp(d.points(), axis=0).max() / 2
        rp = _curve_points(r)
        own.append(_chamfer_np(rp, _stroke_points(d)) / scale)
        o = digits[(i + 7) % len(digits)]  # another digit, moved into this digit's box
        q, p = o.points(), d.points()
        moved = (_stroke_points(o) - (q.min(0) + q.max(0)) / 2) / (np.ptp(q, 0).max() / 2) * scale
        other.append(_chamfer_np(rp, moved + (p.min(0) + p.max(0)) / 2) / scale)
    own, other = np.array(own), np.array(other)
    # closer to its own input than to another digit, on average and for most digits (the token-NLL
    # generator shipped before: ratio 0.56, 21 of 24; the OT-only sketch stage before it: about 0.9 and 59 %)
    assert own.mean() < 0.75 * other.mean(), (own.mean(), other.mean())
    assert (own < other).mean() > 0.7, (own, other)
