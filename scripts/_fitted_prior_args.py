"""Command-line options and the refit step shared by the training scripts of fitted-prior models
(``train_pretrained_sketchode.py``, ``train_pretrained_cloud2curve_clouds.py``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_prior_arguments(parser: argparse.ArgumentParser, *, group: str = "class") -> None:
    """``--standard-prior``, ``--prior-components`` and ``--refit-prior-from``; ``group`` names
    what one Gaussian mixture covers in the help texts ("class", "digit")."""
    parser.add_argument("--standard-prior", action="store_true",
                        help=f"sample from N(0, I) instead of Gaussians fitted per {group} to the training codes")
    parser.add_argument("--prior-components", type=int, default=16,
                        help=f"Gaussians per {group} in the fitted prior (k-means clusters of its training codes)")
    parser.add_argument("--refit-prior-from", type=Path, default=None,
                        help="no training: take this trained model, give it a --prior-components prior fitted "
                             "to the train split, and write it to --out")


def refit_prior(source: Path, out: Path | None, components: int, train_set: list, *, group: str = "class") -> None:
    """Load the model at ``source``, fit a ``components``-Gaussian prior per class to ``train_set``
    and save it to ``out`` (weights untouched)."""
    from sketchkit.models.base import load_model

    if out is None:
        raise SystemExit("--refit-prior-from needs --out")
    model = load_model(source).with_prior_components(components).eval()
    model.fit_prior(train_set)
    model.save_pretrained(out)
    print(f"wrote {out}: {components} Gaussians per {group} fitted to {len(train_set)} training codes")
