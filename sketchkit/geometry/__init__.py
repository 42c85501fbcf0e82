"""Geometry on plain arrays: Bézier curves, polylines, normalisation, rasters <-> point clouds.

Knows nothing of models or datasets. numpy in, numpy out; the differentiable torch versions used
by models live in :mod:`sketchkit.geometry.bezier_torch` (imported only by code that needs torch).
"""
