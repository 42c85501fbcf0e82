"""The one contract every model family passes (run from each family's test file).

Usage in a family's tests::

    from model_contract import ModelContract

    class TestBezierContract(ModelContract):
        def make_model(self): return BezierSketchModel(BezierSketchConfig(...tiny...))
        def make_sketches(self): return [...]  # a few real or simple sketches
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sketchkit.models.base import ModelLoadError, SketchModel, load_model
from sketchkit.sketch import BezierSketch, Sketch


class ModelContract:
    """Subclass and implement ``make_model`` and ``make_sketches``."""

    can_sample: bool = True

    def make_model(self) -> SketchModel:  # pragma: no cover - abstract
        raise NotImplementedError

    def make_sketches(self) -> list[Sketch]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _model(self) -> SketchModel:
        torch.manual_seed(0)
        return self.make_model()

    def test_loss_is_finite_scalar_for_every_stage(self):
        model, sketches = self._model(), self.make_sketches()
        for stage in model.stages:
            batch = model.collate(sketches, stage=stage, generator=torch.Generator().manual_seed(0))
            out = model.loss(batch, step=0, stage=stage)
            assert out["loss"].dim() == 0 and torch.isfinite(out["loss"]), (stage, out)
            out["loss"].backward()
            grads = [p.grad for p in model.stage_parameters(stage) if p.grad is not None]
            assert grads and any(g.abs().sum() > 0 for g in grads), f"no gradient in stage {stage}"
            model.zero_grad()

    def test_save_load_round_trip_gives_identical_outputs(self, tmp_path):
        model, sketches = self._model(), self.make_sketches()
        model.eval()
        model.save_pretrained(tmp_path / "m")
        assert json.loads((tmp_path / "m" / "config.json").read_text())["family"] == model.config.family
        loaded = load_model(tmp_path / "m")
        assert type(loaded) is type(model) and loaded.config == model.config
        for stage in model.stages:
            batch = model.collate(sketches, stage=stage, generator=torch.Generator().manual_seed(1))
            with torch.no_grad():
                a = model.loss(batch, step=0, stage=stage)["loss"]
                b = loaded.loss(batch, step=0, stage=stage)["loss"]
            torch.testing.assert_close(a, b, rtol=0, atol=0)

    def test_sampling_is_deterministic_given_a_generator(self):
        if not self.can_sample:
            pytest.skip("family does not generate")
        model = self._model().eval()
        a = model.sample(2, generator=torch.Generator().manual_seed(3))
        b = model.sample(2, generator=torch.Generator().manual_seed(3))
        assert len(a) == len(b) == 2
        for x, y in zip(a, b):
            assert isinstance(x, (Sketch, BezierSketch))
            xs = x.curves if isinstance(x, BezierSketch) else x.strokes
            ys = y.curves if isinstance(y, BezierSketch) else y.strokes
            assert len(xs) == len(ys)
            for u, v in zip(xs, ys):
                np.testing.assert_array_equal(u, v)

    def test_loading_into_another_family_fails_clearly(self, tmp_path):
        from sketchkit.models.base import model_registry

        model = self._model()
        model.save_pretrained(tmp_path / "m")
        others = [cls for name, cls in model_registry().items() if name != model.config.family]
        for cls in others:
            with pytest.raises(ModelLoadError, match="not"):
                cls.from_pretrained(tmp_path / "m")

    def test_newer_format_version_is_refused(self, tmp_path):
        model = self._model()
        model.save_pretrained(tmp_path / "m")
        cfg = json.loads((tmp_path / "m" / "config.json").read_text())
        cfg["format_version"] = 999
        (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
        with pytest.raises(ModelLoadError, match="format_version"):
            load_model(tmp_path / "m")
