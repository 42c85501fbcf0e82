"""Sample critic (``sketchkit.models.sample_critic``): fitting, scores, ``best_of``, persistence, CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sketchkit.models.base import load_model
from sketchkit.models.bezier_sketch import BezierSketchConfig, BezierSketchModel
from sketchkit.sketch import Sketch


def _ring(rng: np.random.Generator) -> np.ndarray:
    ang = np.linspace(0, 2 * np.pi, 40)
    return rng.uniform(-5, 5, 2) + rng.uniform(25, 35) * np.stack([np.cos(ang), np.sin(ang)], 1)


def _cross(rng: np.random.Generator) -> list[np.ndarray]:
    s = rng.uniform(25, 35)
    return [np.array([[-s, -s], [s, s]]), np.array([[-s, s], [s, -s]])]


def _data(seed: int = 0, count: int = 24) -> list[Sketch]:
    rng = np.random.default_rng(seed)
    return [Sketch([_ring(rng)], label="ring") if k % 2 else Sketch(_cross(rng), label="cross") for k in range(count)]


@pytest.fixture(scope="module")
def critic_model() -> BezierSketchModel:
    """An untrained decoder-only generator (its samples are tangles) with a fitted 16 px critic."""
    torch.manual_seed(0)
    data = _data()
    config = BezierSketchModel.config_for_data(
        BezierSketchConfig(min_degree=3, max_degree=3, embed_hidden=8, embed_latent=8, dec_hidden=16, latent_dim=0,
                           num_mixtures=2, max_strokes=4), data)
    model = BezierSketchModel(config).with_sample_critic(16)
    assert model.training
    info = model.fit_critic(data, samples=48, temperature=1.0, epochs=6)
    assert not model.training  # it samples (and leaves the model) in eval mode: no dropout, no input noise
    assert info["real"] == 24 and info["generated"] == 48
    return model


def test_critic_rates_held_out_real_drawings_above_the_models_samples(critic_model):
    real = critic_model._real_as_curves(_data(seed=7, count=20))  # drawings the critic never saw
    fake = (critic_model.sample(10, generator=torch.Generator().manual_seed(9), label="ring")
            + critic_model.sample(10, generator=torch.Generator().manual_seed(9), label="cross"))
    r, f = critic_model.critic_scores(real), critic_model.critic_scores(fake)
    assert r.shape == f.shape == (20,)
    assert np.median(r) > np.median(f) + 1.0, (np.median(r), np.median(f))
    assert np.mean(r > np.median(f)) > 0.8


def test_best_of_keeps_the_draw_the_critic_rates_highest(critic_model):
    first = critic_model.sample(8, generator=torch.Generator().manual_seed(3), label="cross")
    kept = critic_model.sample(8, generator=torch.Generator().manual_seed(3), label="cross", best_of=4)
    first_scores, kept_scores = critic_model.critic_scores(first), critic_model.critic_scores(kept)
    np.testing.assert_allclose([s.meta["critic"] for s in kept], kept_scores, rtol=1e-5, atol=1e-5)
    assert np.all(kept_scores >= first_scores - 1e-6)  # the first draw is one of the four
    assert np.any(kept_scores > first_scores + 1e-6)
    assert all(s.label == "cross" for s in kept)


def test_critic_round_trips_through_safetensors(critic_model, tmp_path):
    folder = critic_model.save_pretrained(tmp_path / "m")
    loaded = load_model(folder)
    assert loaded.config.critic_size == 16
    items = critic_model.sample(5, generator=torch.Generator().manual_seed(1), label="ring")
    np.testing.assert_allclose(loaded.critic_scores(items), critic_model.critic_scores(items), rtol=1e-5, atol=1e-5)


def test_best_of_and_fit_critic_errors():
    model = BezierSketchModel(BezierSketchConfig(min_degree=3, max_degree=3, embed_hidden=8, embed_latent=8,
                                                 dec_hidden=8, latent_dim=0, num_mixtures=2, max_strokes=3))
    assert model.critic is None
    with pytest.raises(ValueError, match="sample critic"):
        model.sample(2, best_of=2)
    with pytest.raises(ValueError, match="sample critic"):
        model.fit_critic(_data())
    with pytest.raises(ValueError, match="best_of"):
        model.sample(2, best_of=0)
    with pytest.raises(ValueError, match=">= 16"):
        model.with_sample_critic(8)
    critic = model.eval().with_sample_critic(16)
    assert not critic.training  # a copy samples as the original does (no dropout, no input noise)
    with pytest.raises(ValueError, match="no drawing with strokes"):
        critic.fit_critic([Sketch([])])
    assert len(model.sample(2, best_of=1)) == 2


def test_shipped_bezier_critic_prefers_held_out_drawings_to_samples():
    """The shipped critic was fitted on the train split: held-out test drawings of a class (as the
    model's own curve tokens) score above the model's samples of that class."""
    from conftest import shared_path
    from sketchkit.data import read_all
    from sketchkit.data.splits import split_sketches

    spg = shared_path("quickdraw", "spg")
    model = load_model("bezier")
    assert model.critic is not None and model.config.critic_size == 32
    test = [s for s in split_sketches(read_all(spg / "pig.ndjson"))["test"] if s.num_strokes][:30]
    real = model.critic_scores(model._real_as_curves(test))
    fake = model.critic_scores(model.sample(30, generator=torch.Generator().manual_seed(0), temperature=0.15,
                                            label="pig"))
    assert np.median(real) > np.median(fake), (np.median(real), np.median(fake))
    kept = model.sample(4, generator=torch.Generator().manual_seed(0), temperature=0.15, label="pig", best_of=3)
    assert all(np.isfinite(s.meta["critic"]) for s in kept)
