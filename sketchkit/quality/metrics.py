"""Sample-quality metrics on feature vectors and images.

* :func:`frechet_distance` — Fréchet distance between Gaussians fitted to two feature sets
  (the FID formula, Heusel et al. 2017, in the judge's feature space);
* :func:`precision_recall` — k-NN manifold precision and recall (Kynkäänniemi et al. 2019);
* :func:`classifier_two_sample_test` — accuracy of a fresh classifier telling two image sets
  apart on held-out halves (Lopez-Paz & Oquab 2017): 0.5 = indistinguishable;
* :func:`class_entropy` — entropy (bits) of the judge's predicted class histogram;
* :func:`nearest_distances` — each sample's distance to its nearest training item (a sample set
  much closer to the training set than held-out real items are copies it).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg

__all__ = ["frechet_distance", "precision_recall", "classifier_two_sample_test", "class_entropy", "nearest_distances"]


def _check_features(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"{name}: expected (n >= 2, d) features, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: features must be finite")
    return x


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` for features ``(n, d)`` and ``(m, d)``.

    Returns 0 for a set against itself (up to float rounding, clipped at 0).
    """
    a, b = _check_features(a, "a"), _check_features(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sizes differ: {a.shape[1]} vs {b.shape[1]}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():  # dead (always-zero) ReLU features make the product singular: fine for sqrtm
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = np.asarray(linalg.sqrtm(s_a @ s_b))
    if not np.all(np.isfinite(covmean)):  # near-singular product: regularise as is customary
        eps = 1e-6 * np.eye(a.shape[1])
        covmean = linalg.sqrtm((s_a + eps) @ (s_b + eps))
    covmean = np.real(covmean)
    value = float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2.0 * np.trace(covmean))
    return max(value, 0.0)


def _knn_radii(x: np.ndarray, k: int) -> np.ndarray:
    d = np.sqrt(np.maximum(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1), 0.0))
    return np.sort(d, axis=1)[:, k]  # column 0 is the point itself


def _covered(queries: np.ndarray, support: np.ndarray, radii: np.ndarray) -> np.ndarray:
    d = np.sqrt(np.maximum(((queries[:, None, :] - support[None, :, :]) ** 2).sum(-1), 0.0))
    return (d <= radii[None, :]).any(1)


def nearest_distances(queries: np.ndarray, support: np.ndarray, *, chunk: int = 256) -> np.ndarray:
    """Euclidean distance ``(n,)`` from each of ``queries`` ``(n, d)`` to its nearest row of
    ``support`` ``(m, d)``, computed ``chunk`` queries at a time (memory ``chunk x m``)."""
    queries, support = _check_features(queries, "queries"), _check_features(support, "support")
    if queries.shape[1] != support.shape[1]:
        raise ValueError(f"feature sizes differ: {queries.shape[1]} vs {support.shape[1]}")
    sq = (support ** 2).sum(1)
    out = []
    for i in range(0, len(queries), chunk):
        q = queries[i:i + chunk]
        d2 = (q ** 2).sum(1)[:, None] + sq[None, :] - 2.0 * q @ support.T
        out.append(np.sqrt(np.maximum(d2.min(1), 0.0)))
    return np.concatenate(out)


def precision_recall(real: np.ndarray, fake: np.ndarray, *, k: int = 3) -> tuple[float, float]:
    """k-NN precision (fraction of ``fake`` inside the real manifold) and recall (fraction of
    ``real`` inside the fake manifold); a manifold is the union of balls reaching each point's
    ``k``-th nearest neighbour in its own set.

    Args:
        real: ``(n, d)`` features, ``n > k``.
        fake: ``(m, d)`` features, ``m > k``.
        k: neighbourhood size (the paper uses 3).

    Returns:
        ``(precision, recall)``, each in ``[0, 1]``.
    """
    real, fake = _check_features(real, "real"), _check_features(fake, "fake")
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"need more than k={k} points in each set, got {len(real)} and {len(fake)}")
    precision = float(_covered(fake, real, _knn_radii(real, k)).mean())
    recall = float(_covered(real, fake, _knn_radii(fake, k)).mean())
    return precision, recall


def class_entropy(probs: np.ndarray) -> float:
    """Entropy in bits of the histogram of ``argmax`` classes of ``(n, C)`` probabilities."""
    probs = np.asarray(probs)
    counts = np.bincount(probs.argmax(1), minlength=probs.shape[1]).astype(np.float64)
    p = counts / counts.sum()
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def classifier_two_sample_test(a: np.ndarray, b: np.ndarray, *, seed: int = 0, epochs: int = 6,
                               device: str = "cpu") -> float:
    """Held-out accuracy of a small CNN trained to tell images ``a`` from images ``b``.

    Each set is shuffled and halved (seeded); the classifier trains on the first halves and is
    scored on the second halves, balanced (the same number from each set).

    Args:
        a: ``(n, 1, H, W)`` images.
        b: ``(m, 1, H, W)`` images of the same size.
        seed: seeds the split, the initialisation and the batches.
        epochs: passes over the training halves.
        device: torch device.

    Returns:
        accuracy in ``[0, 1]``; about 0.5 when the sets cannot be told apart.
    """
    import torch

    from sketchkit.quality.judge import JudgeConfig, SketchJudge, fit_classifier

    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    if a.ndim != 4 or b.ndim != 4 or a.shape[1:] != b.shape[1:]:
        raise ValueError(f"expected two (n, 1, H, W) image sets of one size, got {a.shape} and {b.shape}")
    n = min(len(a), len(b))
    if n < 8:
        raise ValueError(f"need at least 8 images per set, got {len(a)} and {len(b)}")
    rng = np.random.default_rng(seed)
    a, b = a[rng.permutation(len(a))[:n]], b[rng.permutation(len(b))[:n]]
    h = n // 2
    x_train = np.concatenate([a[:h], b[:h]])
    y_train = np.concatenate([np.zeros(h, np.int64), np.ones(h, np.int64)])
    x_test = np.concatenate([a[h:2 * h], b[h:2 * h]])
    y_test = np.concatenate([np.zeros(h, np.int64), np.ones(h, np.int64)])
    torch.manual_seed(seed)
    net = SketchJudge(JudgeConfig(num_classes=2, size=a.shape[-1]))
    fit_classifier(net, x_train, y_train, epochs=epochs, seed=seed, device=device)
    probs = net.predict_proba(x_test, device=device)
    return float((probs.argmax(1) == y_test).mean())

