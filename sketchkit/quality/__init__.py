"""Judging generated sketches against real ones (torch; not imported by ``import sketchkit``).

* :mod:`~sketchkit.quality.images` — sketches -> a batch of rasters, one rasteriser for real and
  generated items alike (``centreline_images``: real scans and generated curves in one thin line style);
* :mod:`~sketchkit.quality.judge` — a small CNN sketch classifier (the judge) and its features;
* :mod:`~sketchkit.quality.metrics` — Fréchet distance, k-NN precision/recall, classifier
  two-sample test, class entropy;
* :mod:`~sketchkit.quality.doubling` — the share of a drawing's line length drawn over another of
  its strokes (what a raster judge cannot see);
* :mod:`~sketchkit.quality.scribbles` — random smooth Bézier scribbles, the floor every
  generator must beat.

``scripts/bench_quality.py`` puts them together for any model and temperature.
"""

from sketchkit.quality.doubling import doubled_share
from sketchkit.quality.images import centreline_images, rasterize_batch
from sketchkit.quality.judge import JudgeConfig, SketchJudge, train_judge
from sketchkit.quality.metrics import (class_entropy, classifier_two_sample_test, frechet_distance, nearest_distances,
                                       precision_recall)
from sketchkit.quality.scribbles import random_scribbles

__all__ = ["rasterize_batch", "centreline_images", "JudgeConfig", "SketchJudge", "train_judge", "frechet_distance",
           "precision_recall", "classifier_two_sample_test", "class_entropy", "nearest_distances", "random_scribbles",
           "doubled_share"]
