"""Augmentations: ``f(sketch, generator) -> Sketch`` with all randomness from a numpy Generator.

Each transform takes its strength as a keyword with a default, so it can be used as
``f(sketch, generator)`` directly or configured with :func:`functools.partial`; :func:`compose`
chains them. Transforms return new Sketches (inputs are never modified), keep ``label`` /
``meta``, and keep ``times`` in step with the points. Point clouds stay point clouds.

* :func:`random_scale`: x and y scaled independently by factors uniform in
  ``[1 - amount, 1 + amount]`` about the bounding-box centre (sketch-rnn's data augmentation,
  ``amount = 0.15``).
* :func:`point_drop`: each interior point of a stroke (not its first or last point) is dropped
  with probability ``p`` (sketch-rnn drops points with ``p = 0.10``); for point clouds every
  point may be dropped, keeping at least one.
* :func:`smooth_noise`: a smooth random displacement field over the plane (a sum of ``terms``
  random sinusoids, Perlin-like in effect), so neighbouring points move together and strokes
  stay continuous; the RMS displacement per axis is ``level * R / sqrt(2)`` with ``R`` the
  largest distance of a point from the bounding-box centre (SketchODE-style continuous-time
  augmentation).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from sketchkit.sketch import Sketch

__all__ = ["random_scale", "point_drop", "smooth_noise", "compose", "Transform"]

Transform = Callable[[Sketch, np.random.Generator], Sketch]


def _check(sketch: Sketch, generator: np.random.Generator) -> None:
    if not isinstance(sketch, Sketch):
        raise ValueError(f"sketch: expected a Sketch, got {type(sketch).__name__}")
    if not isinstance(generator, np.random.Generator):
        raise ValueError(f"generator: expected numpy.random.Generator, got {type(generator).__name__}")


def _centre(sketch: Sketch) -> np.ndarray:
    x0, y0, x1, y1 = sketch.bounds()
    return np.array([(x0 + x1) / 2.0, (y0 + y1) / 2.0])


def _rebuild(sketch: Sketch, strokes: list[np.ndarray], times: list[np.ndarray] | None) -> Sketch:
    return Sketch(strokes, times=times, label=sketch.label, meta=dict(sketch.meta))


def random_scale(sketch: Sketch, generator: np.random.Generator, *, amount: float = 0.15) -> Sketch:
    """Scale x and y independently by ``U(1 - amount, 1 + amount)`` about the bbox centre.

    Args:
        sketch: input (any number of strokes; empty sketches are returned unchanged).
        generator: the randomness.
        amount: maximum relative change, in ``[0, 1)``.

    Returns:
        The scaled Sketch.
    """
    _check(sketch, generator)
    if not 0.0 <= amount < 1.0:
        raise ValueError(f"amount: expected a value in [0, 1), got {amount}")
    factors = generator.uniform(1.0 - amount, 1.0 + amount, size=2)
    if sketch.num_points == 0:
        return sketch
    c = _centre(sketch)
    return _rebuild(sketch, [(s - c) * factors + c for s in sketch.strokes],
                    None if sketch.times is None else [t.copy() for t in sketch.times])


def point_drop(sketch: Sketch, generator: np.random.Generator, *, p: float = 0.1) -> Sketch:
    """Drop interior stroke points with probability ``p`` (end points always stay).

    For a point cloud (``sketch.is_point_cloud``) each point is dropped with probability ``p``,
    keeping at least one.

    Args:
        sketch: input.
        generator: the randomness.
        p: drop probability in ``[0, 1]``.
    """
    _check(sketch, generator)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p: expected a probability in [0, 1], got {p}")
    if sketch.is_point_cloud:
        n = sketch.num_strokes
        keep = generator.random(n) >= p
        if n and not keep.any():
            keep[generator.integers(n)] = True
        idx = np.flatnonzero(keep)
        return _rebuild(sketch, [sketch.strokes[i] for i in idx],
                        None if sketch.times is None else [sketch.times[i] for i in idx])
    strokes, times = [], []
    for i, s in enumerate(sketch.strokes):
        keep = generator.random(s.shape[0]) >= p
        keep[0] = keep[-1] = True
        strokes.append(s[keep])
        if sketch.times is not None:
            times.append(sketch.times[i][keep])
    return _rebuild(sketch, strokes, times if sketch.times is not None else None)


def smooth_noise(sketch: Sketch, generator: np.random.Generator, *, level: float = 0.05,
                 frequency: float = 2.0, terms: int = 4) -> Sketch:
    """Displace every point by a smooth random field (see the module docstring).

    ``d(p) = level * R / sqrt(terms) * sum_k a_k sin(w_k . (p - c) / R + phi_k)`` with
    ``a_k ~ N(0, I_2)``, ``w_k ~ N(0, frequency^2 I_2)``, ``phi_k ~ U(0, 2 pi)``, ``c`` the bbox
    centre and ``R`` the largest distance of a point from ``c``.

    Args:
        sketch: input.
        generator: the randomness.
        level: displacement scale relative to ``R`` (RMS per axis ``level * R / sqrt(2)``).
        frequency: spatial frequency of the field in units of ``1 / R`` (higher = wigglier).
        terms: number of sinusoids.
    """
    _check(sketch, generator)
    if level < 0 or frequency < 0 or terms < 1:
        raise ValueError(f"expected level >= 0, frequency >= 0, terms >= 1; got {level}, {frequency}, {terms}")
    amp = generator.standard_normal((terms, 2))  # (terms, 2)
    omega = generator.standard_normal((terms, 2)) * frequency  # (terms, 2)
    phase = generator.uniform(0.0, 2.0 * math.pi, size=terms)  # (terms,)
    if sketch.num_points == 0:
        return sketch
    c = _centre(sketch)
    radius = float(np.max(np.linalg.norm(sketch.points() - c, axis=1))) or 1.0
    scale = level * radius / math.sqrt(terms)

    def field(pts: np.ndarray) -> np.ndarray:
        q = (pts - c) / radius  # (n, 2)
        waves = np.sin(q @ omega.T + phase)  # (n, terms)
        return scale * waves @ amp  # (n, 2)

    return _rebuild(sketch, [s + field(s) for s in sketch.strokes],
                    None if sketch.times is None else [t.copy() for t in sketch.times])


def compose(*transforms: Transform) -> Transform:
    """Chain transforms left to right; the same generator feeds each in turn."""

    def composed(sketch: Sketch, generator: np.random.Generator) -> Sketch:
        for t in transforms:
            sketch = t(sketch, generator)
        return sketch

    return composed
