"""The compiled loops of :mod:`sketchkit.geometry.compiled` (numba). Importing this module
imports numba: only :func:`sketchkit.geometry.compiled.enable` does. Arguments as
:func:`fit_runs` documents; all float64, coordinates in px."""

from __future__ import annotations

import math

import numba
import numpy as np

jit = numba.njit(cache=True, nogil=True)


@jit
def power_form(ctrl, d, to_power, out):
    """``out (W, 2)``: power-form coefficients of the degree-``d`` curve ``ctrl (W, 2)``
    (``to_power``: :func:`sketchkit.geometry.bezier_batch._to_power`); zero past ``d``."""
    # out[k] = sum_i M[d, k, i] ctrl[i]: power-form coefficients of the degree-d curve
    w = out.shape[0]
    for k in range(w):
        out[k, 0] = 0.0
        out[k, 1] = 0.0
        if k <= d:
            for i in range(k + 1):
                m = to_power[d, k, i]
                out[k, 0] += m * ctrl[i, 0]
                out[k, 1] += m * ctrl[i, 1]


@jit
def evaluate(pw, d, t):
    """The point ``(x, y)`` at parameter ``t`` of the power-form curve ``pw`` (Horner)."""
    x = pw[d, 0]
    y = pw[d, 1]
    for k in range(d - 1, -1, -1):
        x = x * t + pw[k, 0]
        y = y * t + pw[k, 1]
    return x, y


@jit
def project(pw, d, pts, s, n, t, dist, newton_steps, search, with_dist):
    """Foot-point parameters of rows ``s .. s + n - 1`` of ``pts`` on curve ``pw`` into ``t``
    (and their distances into ``dist``): from a dense search (``search``; lines: 0.5) or the
    parameters already in ``t``, then ``newton_steps`` clipped Newton steps."""
    if search:
        if d == 1:
            for r in range(n):
                t[s + r] = 0.5
        else:
            m = min(max(16, n), 64)
            step = 1.0 / (m - 1.0)
            sx = np.empty(m)
            sy = np.empty(m)
            for j in range(m):
                tj = 1.0 if j == m - 1 else j * step
                sx[j], sy[j] = evaluate(pw, d, tj)
            for r in range(n):
                px, py = pts[s + r, 0], pts[s + r, 1]
                best, arg = np.inf, 0
                for j in range(m):
                    dx = sx[j] - px
                    dy = sy[j] - py
                    q = dx * dx + dy * dy
                    if q < best:
                        best, arg = q, j
                t[s + r] = 1.0 if arg == m - 1 else arg * step
    for r in range(n):
        px, py = pts[s + r, 0], pts[s + r, 1]
        tr = t[s + r]
        for _ in range(newton_steps):
            # value, first and second derivative by Horner's scheme
            x, y = pw[d, 0], pw[d, 1]
            x1 = y1 = x2 = y2 = 0.0
            for k in range(d - 1, -1, -1):
                x2 = x2 * tr + x1
                y2 = y2 * tr + y1
                x1 = x1 * tr + x
                y1 = y1 * tr + y
                x = x * tr + pw[k, 0]
                y = y * tr + pw[k, 1]
            rx, ry = x - px, y - py
            num = rx * x1 + ry * y1
            den = x1 * x1 + y1 * y1 + rx * 2.0 * x2 + ry * 2.0 * y2
            if abs(den) > 1e-12:  # no step where the foot-point condition is flat
                tr = tr - num / den
            tr = min(max(tr, 0.0), 1.0)
        t[s + r] = tr
        if with_dist:
            x, y = evaluate(pw, d, tr)
            dist[s + r] = math.hypot(x - px, y - py)


@jit
def solve_pinned(pts, s, n, t, d, binom, ridge, ctrl):
    """Least-squares degree-``d`` control points of the run at parameters ``t`` into ``ctrl``,
    end points pinned to the run's ends (``binom``: binomial table; ``ridge`` on the diagonal)."""
    # least squares for control points 1 .. d - 1, ends pinned to the run's ends
    ctrl[0, 0], ctrl[0, 1] = pts[s, 0], pts[s, 1]
    ctrl[d, 0], ctrl[d, 1] = pts[s + n - 1, 0], pts[s + n - 1, 1]
    k = d - 1
    if k <= 0:
        return
    a = np.zeros((k, k))
    bx = np.zeros(k)
    by = np.zeros(k)
    basis = np.empty(d + 1)
    tp = np.empty(d + 1)
    up = np.empty(d + 1)
    for r in range(n):
        tr = t[s + r]
        u = 1.0 - tr
        tp[0] = 1.0
        up[0] = 1.0
        for j in range(1, d + 1):
            tp[j] = tp[j - 1] * tr
            up[j] = up[j - 1] * u
        for j in range(d + 1):
            basis[j] = binom[d, j] * tp[j] * up[d - j]
        rx = pts[s + r, 0] - basis[0] * ctrl[0, 0] - basis[d] * ctrl[d, 0]
        ry = pts[s + r, 1] - basis[0] * ctrl[0, 1] - basis[d] * ctrl[d, 1]
        for i in range(k):
            bi = basis[i + 1]
            bx[i] += bi * rx
            by[i] += bi * ry
            for j in range(k):
                a[i, j] += bi * basis[j + 1]
    for i in range(k):
        a[i, i] += ridge
    # Cholesky: the normal matrix plus a ridge is symmetric positive definite
    low = np.zeros((k, k))
    for i in range(k):
        for j in range(i + 1):
            v = a[i, j]
            for q in range(j):
                v -= low[i, q] * low[j, q]
            if i == j:
                low[i, i] = math.sqrt(v) if v > 0.0 else 1e-300
            else:
                low[i, j] = v / low[j, j]
    for rhs in (bx, by):
        for i in range(k):  # forward
            v = rhs[i]
            for q in range(i):
                v -= low[i, q] * rhs[q]
            rhs[i] = v / low[i, i]
        for i in range(k - 1, -1, -1):  # back
            v = rhs[i]
            for q in range(i + 1, k):
                v -= low[q, i] * rhs[q]
            rhs[i] = v / low[i, i]
    for i in range(k):
        ctrl[i + 1, 0] = bx[i]
        ctrl[i + 1, 1] = by[i]


@jit
def back_distance(pw, d, pts, s, n):
    """Largest distance from ``min(max(16, n), 96)`` even curve samples to the nearest point of the run."""
    m = min(max(16, n), 96)
    step = 1.0 / (m - 1.0)
    worst = 0.0
    for j in range(m):
        x, y = evaluate(pw, d, 1.0 if j == m - 1 else j * step)
        best = np.inf
        for r in range(n):
            dx = x - pts[s + r, 0]
            dy = y - pts[s + r, 1]
            q = dx * dx + dy * dy
            if q < best:
                best = q
        if best > worst:
            worst = best
    return math.sqrt(worst)


@jit
def fit_runs(pts, starts, lengths, degrees, init, use, refine, hopeless, cap, binom, to_power, refine_steps):
    """:func:`sketchkit.geometry.bezier_batch.fit_runs` on ``pts (R, 2)``, items given by
    ``starts``/``lengths``/``degrees`` ``(I,)``, ``init (I, W, 2)`` used where ``use``, ``cap (I,)``:
    returns ``(ctrl (I, W, 2), err (I,), rms (I,), dist (R,))``."""
    n_items = degrees.shape[0]
    width = binom.shape[0]
    ctrl_all = np.zeros((n_items, width, 2))
    err = np.empty(n_items)
    rms = np.empty(n_items)
    rows = pts.shape[0]
    t = np.empty(rows)
    dist = np.empty(rows)
    pw = np.zeros((width, 2))
    for i in range(n_items):
        s, n, d = starts[i], lengths[i], degrees[i]
        ctrl = ctrl_all[i]
        if use[i]:
            for j in range(width):
                ctrl[j, 0], ctrl[j, 1] = init[i, j, 0], init[i, j, 1]
        elif d >= 2:  # least squares at chord-length parameters
            total = 0.0
            t[s] = 0.0
            for r in range(1, n):
                total += math.hypot(pts[s + r, 0] - pts[s + r - 1, 0], pts[s + r, 1] - pts[s + r - 1, 1])
                t[s + r] = total
            for r in range(n):
                t[s + r] = t[s + r] / total if total > 0.0 else r / (n - 1.0)
            t[s + n - 1] = 1.0
            solve_pinned(pts, s, n, t, d, binom, 1e-9, ctrl)
        else:
            ctrl[0, 0], ctrl[0, 1] = pts[s, 0], pts[s, 1]
            ctrl[1, 0], ctrl[1, 1] = pts[s + n - 1, 0], pts[s + n - 1, 1]
        power_form(ctrl, d, to_power, pw)
        project(pw, d, pts, s, n, t, dist, 3, True, True)
        start_err = 0.0
        for r in range(n):
            start_err = max(start_err, dist[s + r])
        lost = refine > 0 and start_err > hopeless
        if refine > 0 and not lost:
            if d == 1:
                if use[i]:  # only a line started from init moves: pin it, project once more
                    for j in range(width):
                        ctrl[j, 0] = ctrl[j, 1] = 0.0
                    ctrl[0, 0], ctrl[0, 1] = pts[s, 0], pts[s, 1]
                    ctrl[1, 0], ctrl[1, 1] = pts[s + n - 1, 0], pts[s + n - 1, 1]
                    power_form(ctrl, d, to_power, pw)
                    project(pw, d, pts, s, n, t, dist, 3, False, True)
            else:
                for k in range(refine):
                    run_max = 0.0  # monotone parameters, ends at 0 and 1
                    for r in range(n):
                        run_max = max(run_max, t[s + r])
                        t[s + r] = min(max(run_max, 0.0), 1.0)
                    t[s] = 0.0
                    t[s + n - 1] = 1.0
                    for j in range(width):
                        ctrl[j, 0] = ctrl[j, 1] = 0.0
                    solve_pinned(pts, s, n, t, d, binom, 1e-9, ctrl)
                    power_form(ctrl, d, to_power, pw)
                    project(pw, d, pts, s, n, t, dist, refine_steps, False, k == refine - 1)
        if lost:
            err[i] = rms[i] = start_err
            continue
        dmax = 0.0
        sq = 0.0
        for r in range(n):
            dmax = max(dmax, dist[s + r])
            sq += dist[s + r] * dist[s + r]
        rms[i] = math.sqrt(sq / n)
        err[i] = dmax
        if dmax <= cap[i]:
            err[i] = max(dmax, back_distance(pw, d, pts, s, n))
    return ctrl_all, err, rms, dist
