"""The fitted latent prior: Gaussians per class over training codes, used by ``sample`` once fitted,
fitted by the training engine's ``after_training`` hook and saved with the weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from model_contract import ModelContract
from test_bezier_sketch import TINY as BEZIER_TINY
from test_bezier_sketch import _labelled as bezier_labelled
from test_cloud2curve import TINY as C2C_TINY
from test_sketch_ode_conditional import TINY, labelled

from sketchkit.models.base import load_model
from sketchkit.models.bezier_sketch import BezierSketchConfig, BezierSketchModel
from sketchkit.models.cloud2curve import Cloud2CurveConfig, Cloud2CurveModel
from sketchkit.models.latent_prior import FittedPrior
from sketchkit.models.sketch_ode import SketchODEConfig, SketchODEModel
from sketchkit.train import TrainConfig, train


def test_fit_recovers_each_groups_mean_and_covariance():
    g = torch.Generator().manual_seed(0)
    true_l = torch.tensor([[[1.0, 0.0, 0.0], [0.8, 0.5, 0.0], [0.0, -0.3, 0.2]],
                           [[0.3, 0.0, 0.0], [0.0, 2.0, 0.0], [0.1, 0.0, 1.0]]])
    true_mean = torch.tensor([[5.0, -1.0, 0.0], [0.0, 3.0, 3.0]])
    groups = torch.arange(20000) % 2
    z = true_mean[groups] + (true_l[groups] @ torch.randn(20000, 3, 1, generator=g)).squeeze(-1)
    prior = FittedPrior(2, 3, shrinkage=0.0, jitter=0.0)
    assert not prior.fitted
    prior.fit(z, groups)
    assert prior.fitted and prior.counts.tolist() == [10000.0, 10000.0]
    for k in range(2):
        torch.testing.assert_close(prior.mean[k], true_mean[k], atol=0.05, rtol=0)
        cov = prior.scale_tril[k] @ prior.scale_tril[k].T
        torch.testing.assert_close(cov, true_l[k] @ true_l[k].T, atol=0.08, rtol=0)
    # draws follow the fitted Gaussians, with the temperature scaling the standard deviation
    draws = prior.sample(torch.ones(20000, dtype=torch.long), generator=g, temperature=0.5)
    torch.testing.assert_close(draws.mean(0), prior.mean[1], atol=0.05, rtol=0)
    torch.testing.assert_close(torch.cov(draws.T), 0.25 * (prior.scale_tril[1] @ prior.scale_tril[1].T), atol=0.05, rtol=0)
    torch.testing.assert_close(prior.sample(torch.tensor([0, 1]), temperature=0.0), prior.mean)


def test_shrinkage_keeps_a_few_codes_in_many_dimensions_well_conditioned():
    z = torch.randn(12, 40, generator=torch.Generator().manual_seed(1))  # fewer codes than dimensions
    prior = FittedPrior(1, 40)
    prior.fit(z)
    assert torch.isfinite(prior.scale_tril).all() and (torch.diagonal(prior.scale_tril[0]) > 0).all()


def test_fit_refuses_bad_codes():
    prior = FittedPrior(2, 3)
    with pytest.raises(ValueError, match="expected"):
        prior.fit(torch.zeros(5, 4))
    with pytest.raises(ValueError, match="finite"):
        prior.fit(torch.full((5, 3), float("nan")))
    with pytest.raises(ValueError, match="group 1"):
        prior.fit(torch.randn(5, 3), torch.zeros(5, dtype=torch.long))


def test_mixture_components_find_a_classes_styles_and_sample_them_by_weight():
    g = torch.Generator().manual_seed(0)
    # group 0 has two styles (300 codes near (-4, 0), 100 near (4, 0)); group 1 one style
    styles = torch.tensor([[-4.0, 0.0], [4.0, 0.0], [0.0, 6.0]])
    which = torch.cat([torch.zeros(300), torch.ones(100), torch.full((200,), 2.0)]).long()
    z = styles[which] + 0.3 * torch.randn(600, 2, generator=g)
    groups = (which == 2).long()
    prior = FittedPrior(2, 2, components=3)
    prior.fit(z, groups)
    assert prior.fitted and prior.mean.shape == (6, 2) and prior.counts.sum() == 600
    # group 0's used components sit on its two styles, weighted by their sizes
    used = prior.counts[:3] > 0
    means = prior.mean[:3][used]
    for style, size in ((styles[0], 300), (styles[1], 100)):
        near = (means - style).norm(dim=1) < 0.5
        assert near.any() and prior.counts[:3][used][near].sum() == size
    # no component of group 0 sits between the styles, where one Gaussian would put its mean
    assert ((means - torch.tensor([-2.0, 0.0])).norm(dim=1) > 1.0).all()
    draws = prior.sample(torch.zeros(4000, dtype=torch.long), generator=g, temperature=0.0)
    right = float(((draws - styles[1]).norm(dim=1) < 0.5).float().mean())
    assert 0.2 < right < 0.3  # 100 of 400 codes
    # a group with few codes gets fewer components (at most one per 4 codes)
    few = FittedPrior(1, 2, components=8)
    few.fit(torch.randn(9, 2, generator=g))
    assert int((few.counts > 0).sum()) <= 2
    with pytest.raises(ValueError, match="components"):
        FittedPrior(1, 2, components=0)


def _prior_model() -> SketchODEModel:
    torch.manual_seed(0)
    cfg = SketchODEModel.config_for_data(SketchODEConfig(**{**TINY, "fitted_prior": True}), labelled())
    return SketchODEModel(cfg)


class TestFittedPriorSketchODEContract(ModelContract):
    def make_model(self):
        return _prior_model()

    def make_sketches(self):
        return labelled()


def test_training_fits_the_prior_and_the_checkpoints_keep_it(tmp_path):
    model = _prior_model()
    data = labelled() * 3
    cfg = TrainConfig(steps=3, batch_size=4, lr=1e-3, val_every=2, val_batches=1, checkpoint_every=2,
                      num_samples=0, seed=0, device="cpu", quiet=True)
    train(model, data, val_sketches=labelled(), config=cfg, run_dir=tmp_path / "run")
    assert model.prior.fitted
    # the fitted Gaussians are the class means and spreads of the model's own training codes
    z, classes = model._conditions(data)
    for k in range(len(model.labels)):
        torch.testing.assert_close(model.prior.mean[k], z[classes == k].mean(0), atol=1e-5, rtol=0)
    for name in ("last", "best"):
        again = load_model(tmp_path / "run" / name)
        assert again.prior.fitted, name
    last = load_model(tmp_path / "run" / "last")
    torch.testing.assert_close(last.prior.mean, model.prior.mean)
    # temperature 0 draws exactly the class mean code
    sk = last.sample(2, temperature=0.0, label="arc", generator=torch.Generator().manual_seed(0))
    ref = last.decode(last.prior.mean[[last.labels.index("arc")] * 2], label="arc")
    np.testing.assert_allclose(sk[0].points(), ref[0].points(), atol=1e-5)
    records = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["prior_codes"] for r in records if r["type"] == "after_training"] == [12.0]
    # resuming a finished run fits again and logs the record once, not twice
    train(load_model(tmp_path / "run" / "last"), data, val_sketches=labelled(), config=cfg,
          run_dir=tmp_path / "run", resume=True)
    records = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert sum(r["type"] == "after_training" for r in records) == 1


def test_a_trained_model_gets_a_richer_prior_without_retraining():
    model = _prior_model().eval()
    data = labelled() * 4
    model.fit_prior(data)
    richer = model.with_prior_components(2)
    assert richer.config.prior_components == 2 and not richer.prior.fitted
    assert model.config.prior_components == 1  # the original is untouched
    for k, v in model.state_dict().items():
        if not k.startswith("prior."):
            torch.testing.assert_close(richer.state_dict()[k], v)
    richer.fit_prior(data)
    assert richer.prior.fitted and richer.prior.mean.shape[0] == 2 * len(richer.labels)
    assert len(richer.eval().sample(3, label="arc", generator=torch.Generator().manual_seed(0))) == 3


def test_an_unfitted_prior_samples_from_the_standard_normal_and_fit_prior_needs_the_option():
    model = _prior_model().eval()
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    plain = SketchODEModel(model.config.replace(fitted_prior=False) if hasattr(model.config, "replace")
                           else SketchODEConfig(**{**model.config.to_dict(), "fitted_prior": False}))
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("prior.")})
    a = model.sample(2, generator=g(), temperature=1.0, label="arc")
    b = plain.eval().sample(2, generator=g(), temperature=1.0, label="arc")
    np.testing.assert_allclose(a[0].points(), b[0].points(), atol=1e-6)
    with pytest.raises(ValueError, match="no fitted prior"):
        plain.fit_prior(labelled())


def _prior_cloud2curve() -> Cloud2CurveModel:
    torch.manual_seed(0)
    cfg = Cloud2CurveModel.config_for_data(Cloud2CurveConfig(**{**C2C_TINY, "fitted_prior": True}), labelled())
    return Cloud2CurveModel(cfg)


class TestFittedPriorCloud2CurveContract(ModelContract):
    def make_model(self):
        return _prior_cloud2curve()

    def make_sketches(self):
        return labelled()


def _fit_then_reload(model, data, tmp_path):
    """Fit the prior through the training hook, check each class's mean code, and return the
    model saved and loaded again (its prior checked to survive)."""
    assert model.after_training(data) == {"prior_codes": float(len(data))}
    z, classes = model._posterior_means(data)
    for k in range(len(model.labels)):
        torch.testing.assert_close(model.prior.mean[k], z[classes == k].mean(0), atol=1e-5, rtol=0)
    model.save_pretrained(tmp_path / "m")
    again = load_model(tmp_path / "m").eval()
    torch.testing.assert_close(again.prior.scale_tril, model.prior.scale_tril)
    return again


def test_cloud2curve_fits_the_prior_to_its_cloud_codes_and_samples_from_it(tmp_path):
    model = _prior_cloud2curve().eval()
    again = _fit_then_reload(model, labelled() * 2, tmp_path)
    # at temperature 0 a sample decodes the class mean code, as reconstructing from that code does
    k = model.labels.index("square")
    drawn = again.sample(1, temperature=0.0, label="square", generator=torch.Generator().manual_seed(0))[0]
    tokens, n = again.decode(again.condition(again.prior.mean[[k]], torch.tensor([k])))
    assert drawn.num_curves == int(n[0])
    half = again.config.canvas / 2.0
    np.testing.assert_allclose(drawn.curves[0].ravel(), tokens[0, 0].numpy() * half * 0.9 + half, atol=1e-3)


def _prior_bezier(**over) -> BezierSketchModel:
    torch.manual_seed(0)
    cfg = BezierSketchConfig(min_degree=3, max_degree=3, labels=("alarm_clock", "circle", "line"),
                             **{**BEZIER_TINY, "fitted_prior": True, **over})
    return BezierSketchModel(cfg)


class TestFittedPriorBezierContract(ModelContract):
    def make_model(self):
        return _prior_bezier(prior_components=2)

    def make_sketches(self):
        return bezier_labelled(4, 6)


def test_bezier_fits_the_prior_to_its_token_codes_and_samples_from_it(tmp_path):
    model = _prior_bezier().eval()
    data = bezier_labelled(5, 12)
    z, classes = model._posterior_means(data)
    assert z.shape == (12, model.config.latent_dim) and classes.tolist() == model._class_ids([s.label for s in data]).tolist()
    again = _fit_then_reload(model, data, tmp_path)
    # latent temperature 0 and greedy tokens: the sample is the greedy decoding of the class's mean code
    k = model.labels.index("circle")
    drawn = again.sample(1, temperature=0.0, latent_temperature=0.0, label="circle",
                         generator=torch.Generator().manual_seed(0))[0]
    with torch.no_grad():
        cond = again._condition(again.prior.mean[[k]], torch.tensor([k]), 1)
        tokens = again._decode(cond, generator=None, temperature=0.0)[0]
    ref = again._to_bezier(tokens)
    assert drawn.num_curves == ref.num_curves
    for a, b in zip(drawn.curves, ref.curves):
        np.testing.assert_allclose(a, b, atol=1e-6)
    # the latent temperature spreads the codes, the token temperature alone does not touch them
    wide = again.sample(4, temperature=0.0, latent_temperature=1.0, label="circle",
                        generator=torch.Generator().manual_seed(0))
    assert any(s.num_curves != ref.num_curves or not np.allclose(s.curves[0], ref.curves[0]) for s in wide)
    with pytest.raises(ValueError, match="latent_temperature"):
        again.sample(1, latent_temperature=-1.0)


def test_bezier_fitted_prior_needs_a_latent():
    with pytest.raises(ValueError, match="fitted_prior needs a latent"):
        _prior_bezier(latent_dim=0)
