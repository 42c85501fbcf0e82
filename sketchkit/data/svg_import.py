"""SVG drawing -> :class:`Sketch`: build datasets from your own vector drawings.

What is read (a compact parser of its own, stdlib ``xml.etree`` + numpy; no extra dependency):

* ``<path>``: every command of SVG 1.1 path data, absolute and relative: ``M L H V C S Q T A Z``
  (implicit repeats, ``m`` followed by pairs = ``l``, compact arc flags such as ``a1 1 0 01 5 5``);
* ``<line>``, ``<polyline>``, ``<polygon>``, ``<rect>`` (with ``rx``/``ry`` rounded corners, as
  SVG 1.1 draws them), ``<circle>``, ``<ellipse>``;
* ``transform`` on elements and groups (``matrix translate scale rotate skewX skewY``), composed
  down the tree; nested ``<svg>`` is a group moved by its ``x``/``y``.

Skipped: ``defs``, ``clipPath``, ``mask``, ``marker``, ``pattern``, ``symbol``, ``text`` (e.g.
KanjiVG's stroke numbers), ``image``, ``style``, ``metadata``, anything with ``display="none"``
and elements that are neither stroked nor filled (``stroke`` and ``fill`` both ``none``, as set on
them or inherited from their groups and the root ``<svg>``). ``<use>`` is not resolved. Fills are
not kept: a filled shape becomes its outline.

Conventions: one stroke per subpath (a ``Z`` closes it by repeating its first point); a lone
``M`` draws nothing and gives no stroke. Coordinates are the root's user units after the
element transforms (the root ``viewBox``/``width``/``height`` are not applied), y down, so a
sketch exported by :func:`sketchkit.render.to_svg` re-imports with its own coordinates.
A *dot* (a ``<circle>``/``<ellipse>`` painted with a fill and no stroke, which is how the
renderer draws single-point strokes and point clouds) becomes a single-point stroke at its
centre; when every stroke is a dot the sketch is marked ``meta["point_cloud"] = True``.
``meta["stroke_widths"]`` gives each stroke's drawn width in output units (the inherited
``stroke-width``, default 1, times the element's transform scale ``sqrt|det|``; a dot: its
diameter), and ``meta["view_box"]`` the root's ``[x, y, width, height]`` (``viewBox``, else
``[0, 0, width, height]``; absent when neither is given), so a caller can draw the sketch in the
file's own frame.

Curves are flattened to polylines within ``tolerance`` (output units, default 0.1): a degree-d
Bézier is sampled at ``n`` uniform parameters with
``n = ceil(sqrt(d (d - 1) max|Δ²P| / (8 tolerance)))`` (the chord error of uniform sampling is
at most ``max|B''| / (8 n²)`` and ``|B''| <= d (d - 1) max|Δ²P|``), so the polyline is within
``tolerance`` of the curve; arcs are sampled at angle steps whose sagitta is at most
``tolerance`` after the transform.

Limits (so a small file cannot inflate): flattening may produce at most ``max_element_points``
points per element (default 500 000, ``SKETCHKIT_MAX_SVG_ELEMENT_POINTS``) and ``max_points`` per
file (default 2 000 000, ``SKETCHKIT_MAX_SVG_POINTS``); the point count is computed before any
point is made, and going over is an error naming the element (see :mod:`sketchkit.data.limits`).
Groups may nest at most :data:`MAX_DEPTH` levels. A number or transform that overflows (``1e400``,
``scale(1e300)`` applied to large coordinates) is an error naming the element; with
``on_error="skip"`` such elements are left out.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from sketchkit.data._common import ReadContext
from sketchkit.data.limits import hint, limit
from sketchkit.data.registry import Format, register_format
from sketchkit.sketch import Sketch

__all__ = ["read_svg", "svg_to_sketch", "parse_path", "parse_transform", "DEFAULT_TOLERANCE", "MAX_DEPTH"]

#: Default flattening tolerance (user units of the SVG).
DEFAULT_TOLERANCE = 0.1

#: Deepest nesting of groups (``<g>``, ``<svg>``, ``<a>``, ``<switch>``) that is read.
MAX_DEPTH = 256


class _FileTooLarge(Exception):
    """The file's point budget is spent: a file-level problem (not one element to skip)."""


class _Budget:
    """Counts flattened points per element and per file; raises before a limit is passed."""

    def __init__(self, element_cap: int, file_cap: int) -> None:
        self.element_cap, self.file_cap = element_cap, file_cap
        self.element = 0
        self.file = 0

    def start_element(self) -> None:
        self.element = 0

    def take(self, n: int) -> None:
        if self.element + n > self.element_cap:
            raise ValueError(f"flattening needs more than {self.element_cap} points for this element "
                             f"(use a larger tolerance, or {hint('max_element_points')})")
        if self.file + n > self.file_cap:
            raise _FileTooLarge(f"flattening needs more than {self.file_cap} points for the file "
                                f"(use a larger tolerance, or {hint('max_points')})")
        self.element += n
        self.file += n


_UNLIMITED = _Budget(1 << 62, 1 << 62)

_SKIP_TAGS = {"defs", "clipPath", "mask", "marker", "pattern", "symbol", "text", "image", "style",
              "metadata", "title", "desc", "script", "linearGradient", "radialGradient", "filter",
              "foreignObject", "use"}
_NUM = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_SEP = re.compile(r"[\s,]*")
_COMMANDS = set("MmZzLlHhVvCcSsQqTtAa")
_TRANSFORM = re.compile(r"(matrix|translate|scale|rotate|skewX|skewY)\s*\(([^)]*)\)\s*,?\s*")
_ARGS = {"M": 2, "L": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "T": 2, "A": 7, "Z": 0}


# ----------------------------------------------------------------------------------- transforms
def parse_transform(text: str | None) -> np.ndarray:
    """Parse an SVG ``transform`` attribute into a ``(3, 3)`` affine matrix (column vectors).

    Raises:
        ValueError: unknown function or wrong number of arguments.
    """
    m = np.eye(3)
    if not text or not text.strip():
        return m
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TRANSFORM.match(text, pos)
        if not match:
            raise ValueError(f"bad transform {text!r} at character {pos}")
        name = match.group(1)
        args = [float(v) for v in _NUM.findall(match.group(2))]
        if not all(math.isfinite(v) for v in args):
            raise ValueError(f"transform {name}({match.group(2).strip()}): number out of range")
        pos = match.end()
        t = np.eye(3)
        if name == "matrix" and len(args) == 6:
            a, b, c, d, e, f = args
            t[:2] = [[a, c, e], [b, d, f]]
        elif name == "translate" and len(args) in (1, 2):
            t[0, 2] = args[0]
            t[1, 2] = args[1] if len(args) == 2 else 0.0
        elif name == "scale" and len(args) in (1, 2):
            t[0, 0] = args[0]
            t[1, 1] = args[1] if len(args) == 2 else args[0]
        elif name == "rotate" and len(args) in (1, 3):
            r = math.radians(args[0])
            rot = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
            if len(args) == 3:
                cx, cy = args[1], args[2]
                rot = _translate(cx, cy) @ rot @ _translate(-cx, -cy)
            t = rot
        elif name == "skewX" and len(args) == 1:
            t[0, 1] = math.tan(math.radians(args[0]))
        elif name == "skewY" and len(args) == 1:
            t[1, 0] = math.tan(math.radians(args[0]))
        else:
            raise ValueError(f"bad transform {name}({match.group(2).strip()})")
        with np.errstate(over="ignore", invalid="ignore"):
            m = m @ t
        if not np.all(np.isfinite(m)):
            raise ValueError(f"transform {text!r} overflows (not finite)")
    return m


def _translate(x: float, y: float) -> np.ndarray:
    t = np.eye(3)
    t[0, 2], t[1, 2] = x, y
    return t


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        out = pts @ m[:2, :2].T + m[:2, 2]
    if not np.all(np.isfinite(out)):
        raise ValueError("coordinates overflow after the transform (not finite)")
    return out


def _max_scale(m: np.ndarray) -> float:
    return float(np.linalg.svd(m[:2, :2], compute_uv=False)[0]) or 1.0


def _count(value: float, what: str) -> int:
    """``ceil(value)`` as a point count; a non-finite or absurd value is a clear error."""
    if not math.isfinite(value) or value > 1e12:
        raise ValueError(f"{what} is too large to flatten")
    return int(math.ceil(value))


# ----------------------------------------------------------------------------------- flattening
def _flatten_bezier(cp: np.ndarray, tolerance: float, budget: _Budget = _UNLIMITED) -> np.ndarray:
    """Points of a Bézier (control points already in output space), excluding the first."""
    d = cp.shape[0] - 1
    if d == 1:
        budget.take(1)
        return cp[1:]
    with np.errstate(over="ignore", invalid="ignore"):
        second = np.diff(cp, n=2, axis=0)
        bound = d * (d - 1) * float(np.max(np.linalg.norm(second, axis=1))) / (8.0 * tolerance)
    n = max(1, min(10_000, _count(math.sqrt(bound), "curve")))
    budget.take(n)
    t = np.linspace(0.0, 1.0, n + 1)[1:]
    from sketchkit.geometry.bezier import evaluate

    return evaluate(cp, t)


def _arc_points(p0, rx, ry, phi_deg, large, sweep, p1, m: np.ndarray, tolerance: float,
                budget: _Budget = _UNLIMITED) -> np.ndarray:
    """Endpoint-parameterised elliptical arc (SVG 1.1 F.6.5) -> transformed points after ``p0``."""
    x1, y1 = p0
    x2, y2 = p1
    if (x1, y1) == (x2, y2):
        return np.zeros((0, 2))
    rx, ry = abs(rx), abs(ry)
    if rx == 0 or ry == 0:
        budget.take(1)
        return _apply(m, np.array([[x2, y2]]))
    phi = math.radians(phi_deg % 360.0)
    cphi, sphi = math.cos(phi), math.sin(phi)
    dx, dy = (x1 - x2) / 2.0, (y1 - y2) / 2.0
    x1p = cphi * dx + sphi * dy
    y1p = -sphi * dx + cphi * dy
    lam = (x1p / rx) ** 2 + (y1p / ry) ** 2
    if lam > 1:
        s = math.sqrt(lam)
        rx, ry = rx * s, ry * s
    num = rx * rx * ry * ry - rx * rx * y1p * y1p - ry * ry * x1p * x1p
    den = rx * rx * y1p * y1p + ry * ry * x1p * x1p
    coef = math.sqrt(max(0.0, num / den)) if den else 0.0
    if large == sweep:
        coef = -coef
    cxp, cyp = coef * rx * y1p / ry, -coef * ry * x1p / rx
    cx = cphi * cxp - sphi * cyp + (x1 + x2) / 2.0
    cy = sphi * cxp + cphi * cyp + (y1 + y2) / 2.0

    def angle(ux, uy, vx, vy):
        return math.atan2(ux * vy - uy * vx, ux * vx + uy * vy)

    th1 = angle(1.0, 0.0, (x1p - cxp) / rx, (y1p - cyp) / ry)
    dth = angle((x1p - cxp) / rx, (y1p - cyp) / ry, (-x1p - cxp) / rx, (-y1p - cyp) / ry)
    if not sweep and dth > 0:
        dth -= 2 * math.pi
    elif sweep and dth < 0:
        dth += 2 * math.pi
    r_out = max(rx, ry) * _max_scale(m)
    step = 2.0 * math.acos(max(-1.0, 1.0 - tolerance / r_out)) if r_out > tolerance else math.pi / 2
    n = max(2, min(10_000, _count(abs(dth) / step, "arc") if step > 0 else 10_000))
    budget.take(n)
    th = th1 + dth * np.linspace(0.0, 1.0, n + 1)[1:]
    ex, ey = rx * np.cos(th), ry * np.sin(th)
    pts = np.stack([cphi * ex - sphi * ey + cx, sphi * ex + cphi * ey + cy], axis=1)
    pts[-1] = (x2, y2)  # exact end point
    return _apply(m, pts)


# ----------------------------------------------------------------------------------- path data
class _Scanner:
    def __init__(self, d: str) -> None:
        self.d = d
        self.i = 0

    def skip(self) -> None:
        self.i = _SEP.match(self.d, self.i).end()

    def at_end(self) -> bool:
        self.skip()
        return self.i >= len(self.d)

    def command(self) -> str | None:
        self.skip()
        if self.i < len(self.d) and self.d[self.i] in _COMMANDS:
            self.i += 1
            return self.d[self.i - 1]
        return None

    def number(self) -> float:
        self.skip()
        m = _NUM.match(self.d, self.i)
        if not m:
            found = self.d[self.i:self.i + 10] or "end of data"
            raise ValueError(f"expected a number at character {self.i}, found {found!r}")
        value = float(m.group())
        if not math.isfinite(value):
            raise ValueError(f"number {m.group()[:20]!r} at character {self.i} is out of range")
        self.i = m.end()
        return value

    def flag(self) -> bool:
        self.skip()
        c = self.d[self.i:self.i + 1]
        if c not in ("0", "1"):
            raise ValueError(f"expected an arc flag 0 or 1 at character {self.i}, found {c or 'end of data'!r}")
        self.i += 1
        return c == "1"


def parse_path(d: str, *, tolerance: float = DEFAULT_TOLERANCE, transform: np.ndarray | None = None,
               max_points: int | None = None) -> list[np.ndarray]:
    """Flatten SVG path data into polylines, one per drawn subpath.

    Args:
        d: the ``d`` attribute.
        tolerance: maximum distance between the curves and their polylines (output units).
        transform: ``(3, 3)`` affine matrix applied to the result (default identity).
        max_points: most points the flattening may make (default: the per-element limit,
            ``SKETCHKIT_MAX_SVG_ELEMENT_POINTS`` or 500 000); checked before any is made.

    Returns:
        list of ``(n_i, 2)`` float64 polylines in output coordinates.

    Raises:
        ValueError: malformed path data, naming the character position; numbers that overflow;
            more points than ``max_points``.
    """
    cap = limit("max_element_points", max_points)
    return _parse_path(d, tolerance, transform, _Budget(cap, cap))


def _parse_path(d: str, tolerance: float, transform: np.ndarray | None, budget: _Budget) -> list[np.ndarray]:
    if not tolerance > 0:
        raise ValueError(f"tolerance must be > 0, got {tolerance}")
    m = np.eye(3) if transform is None else np.asarray(transform, dtype=np.float64)
    sc = _Scanner(d or "")
    strokes: list[np.ndarray] = []
    cur = np.zeros(2)  # current point, local coordinates
    start = np.zeros(2)
    pieces: list[np.ndarray] = []  # output-space points of the current subpath
    drawn = False
    prev_cmd = ""
    prev_ctrl: np.ndarray | None = None
    cmd: str | None = None

    def flush() -> None:
        nonlocal pieces, drawn
        if pieces and drawn:
            strokes.append(np.concatenate(pieces, axis=0))
        pieces, drawn = [], False

    first = True
    while not sc.at_end():
        c = sc.command()
        if c is None:
            if cmd is None:
                raise ValueError("path data must start with a command (M or m)")
            if cmd in "Zz":
                raise ValueError(f"expected a command after Z at character {sc.i}")
            if cmd == "M":
                cmd = "L"
            elif cmd == "m":
                cmd = "l"
        else:
            cmd = c
            if first and cmd not in "Mm":
                raise ValueError(f"path data must start with M or m, got {cmd!r}")
        first = False
        up = cmd.upper()
        rel = cmd.islower()
        base = cur if rel else np.zeros(2)
        if up == "Z":
            if drawn or pieces:
                if not np.allclose(cur, start):
                    pieces.append(_apply(m, start[None]))
                drawn = True
            cur = start.copy()
            flush()
            pieces = [_apply(m, start[None])]
            prev_cmd, prev_ctrl = "Z", None
            continue
        if up == "M":
            p = base + (sc.number(), sc.number())
            flush()
            cur, start = p, p.copy()
            pieces = [_apply(m, p[None])]
            prev_cmd, prev_ctrl = "M", None
            continue
        if up in "LHV":
            if up == "L":
                p = base + (sc.number(), sc.number())
            elif up == "H":
                p = np.array([sc.number() + (cur[0] if rel else 0.0), cur[1]])
            else:
                p = np.array([cur[0], sc.number() + (cur[1] if rel else 0.0)])
            budget.take(1)
            new = _apply(m, p[None])
            ctrl = None
        elif up in "CS":
            if up == "C":
                c1 = base + (sc.number(), sc.number())
            else:
                c1 = 2 * cur - prev_ctrl if prev_cmd in ("C", "S") and prev_ctrl is not None else cur.copy()
            c2 = base + (sc.number(), sc.number())
            p = base + (sc.number(), sc.number())
            new = _flatten_bezier(_apply(m, np.stack([cur, c1, c2, p])), tolerance, budget)
            ctrl = c2
        elif up in "QT":
            if up == "Q":
                c1 = base + (sc.number(), sc.number())
            else:
                c1 = 2 * cur - prev_ctrl if prev_cmd in ("Q", "T") and prev_ctrl is not None else cur.copy()
            p = base + (sc.number(), sc.number())
            new = _flatten_bezier(_apply(m, np.stack([cur, c1, p])), tolerance, budget)
            ctrl = c1
        else:  # A
            rx, ry, rot = sc.number(), sc.number(), sc.number()
            large, sweep = sc.flag(), sc.flag()
            p = base + (sc.number(), sc.number())
            new = _arc_points(tuple(cur), rx, ry, rot, large, sweep, tuple(p), m, tolerance, budget)
            ctrl = None
        if not pieces:
            pieces = [_apply(m, cur[None])]
        pieces.append(new)
        drawn = True
        cur = p
        prev_cmd, prev_ctrl = up, ctrl
    flush()
    return strokes


# ----------------------------------------------------------------------------------- elements
def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if "}" in tag else tag


def _style(el: ET.Element) -> dict[str, str]:
    out = {k: v for k, v in el.attrib.items() if "}" not in k}
    for decl in el.attrib.get("style", "").split(";"):
        if ":" in decl:
            k, v = decl.split(":", 1)
            out[k.strip()] = v.strip()
    return out


def _length(value: str | None, default: float = 0.0) -> float:
    if value is None:
        return default
    m = _NUM.match(value.strip())
    if not m:
        raise ValueError(f"bad length {value!r}")
    out = float(m.group())
    if not math.isfinite(out):
        raise ValueError(f"length {value[:20]!r} is out of range")
    return out


def _points_attr(text: str) -> np.ndarray:
    nums = [float(v) for v in _NUM.findall(text or "")]
    if len(nums) % 2:
        nums = nums[:-1]  # SVG: an odd coordinate is an error; render what is valid
    return np.asarray(nums, dtype=np.float64).reshape(-1, 2)


def _ellipse(cx: float, cy: float, rx: float, ry: float, m: np.ndarray, tol: float,
             budget: _Budget = _UNLIMITED) -> np.ndarray:
    r_out = max(rx, ry) * _max_scale(m)
    step = 2.0 * math.acos(max(-1.0, 1.0 - tol / r_out)) if r_out > tol else math.pi / 2
    n = max(8, min(10_000, _count(2 * math.pi / step, "ellipse") if step > 0 else 10_000))
    budget.take(n + 1)
    th = np.linspace(0.0, 2 * math.pi, n + 1)
    pts = np.stack([cx + rx * np.cos(th), cy + ry * np.sin(th)], axis=1)
    pts[-1] = pts[0]
    return _apply(m, pts)


def _corner_radii(rx_text: str | None, ry_text: str | None, w: float, h: float) -> tuple[float, float]:
    """A ``<rect>``'s corner radii (SVG 1.1 section 9.2): a missing or negative radius takes the
    other one's value; each is clamped to half the side."""
    rx = _length(rx_text, -1.0) if rx_text not in (None, "auto") else -1.0
    ry = _length(ry_text, -1.0) if ry_text not in (None, "auto") else -1.0
    if rx < 0 and ry < 0:
        return 0.0, 0.0
    rx = ry if rx < 0 else rx
    ry = rx if ry < 0 else ry
    return min(rx, w / 2.0), min(ry, h / 2.0)


def _rounded_rect_path(x: float, y: float, w: float, h: float, rx: float, ry: float) -> str:
    """Path data of a rounded rectangle, clockwise from the top edge's left end (as SVG draws it)."""
    def arc(px: float, py: float) -> str:
        return f"A{rx!r},{ry!r} 0 0 1 {px!r},{py!r}"

    parts = [f"M{x + rx!r},{y!r}"]
    if w > 2 * rx:
        parts.append(f"H{x + w - rx!r}")
    parts.append(arc(x + w, y + ry))
    if h > 2 * ry:
        parts.append(f"V{y + h - ry!r}")
    parts.append(arc(x + w - rx, y + h))
    if w > 2 * rx:
        parts.append(f"H{x + rx!r}")
    parts.append(arc(x, y + h - ry))
    if h > 2 * ry:
        parts.append(f"V{y + ry!r}")
    parts.append(arc(x + rx, y))
    return " ".join(parts) + " Z"


def _element_strokes(tag: str, el: ET.Element, style: dict[str, str], m: np.ndarray,
                     tol: float, budget: _Budget = _UNLIMITED) -> tuple[list[np.ndarray], bool]:
    """(strokes, is_dot) for one drawable element."""
    a = el.attrib
    if tag == "path":
        return _parse_path(a.get("d", ""), tol, m, budget), False
    if tag == "line":
        pts = np.array([[_length(a.get("x1")), _length(a.get("y1"))],
                        [_length(a.get("x2")), _length(a.get("y2"))]])
        return [_apply(m, pts)], False
    if tag in ("polyline", "polygon"):
        pts = _points_attr(a.get("points", ""))
        budget.take(pts.shape[0] + 1)
        if pts.shape[0] == 0:
            return [], False
        if tag == "polygon" and pts.shape[0] > 1 and not np.allclose(pts[0], pts[-1]):
            pts = np.vstack([pts, pts[:1]])
        return [_apply(m, pts)], False
    if tag == "rect":
        x, y = _length(a.get("x")), _length(a.get("y"))
        w, h = _length(a.get("width")), _length(a.get("height"))
        if w <= 0 or h <= 0:
            return [], False
        rx, ry = _corner_radii(a.get("rx"), a.get("ry"), w, h)
        if rx > 0 and ry > 0:
            return _parse_path(_rounded_rect_path(x, y, w, h, rx, ry), tol, m, budget), False
        pts = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]])
        return [_apply(m, pts)], False
    if tag in ("circle", "ellipse"):
        cx, cy = _length(a.get("cx")), _length(a.get("cy"))
        if tag == "circle":
            rx = ry = _length(a.get("r"))
        else:
            rx, ry = _length(a.get("rx")), _length(a.get("ry"))
        if rx <= 0 or ry <= 0:
            return [], False
        fill = style.get("fill", "black")
        stroke = style.get("stroke", "none")
        if stroke == "none" and fill != "none":
            return [_apply(m, np.array([[cx, cy]]))], True
        return [_ellipse(cx, cy, rx, ry, m, tol, budget)], False
    return [], False


_INHERITED = ("fill", "stroke", "stroke-width")


def _stroke_width(tag: str, el: ET.Element, style: dict[str, str], m: np.ndarray, is_dot: bool) -> float:
    """Drawn line width of an element's strokes in output units (a dot: its diameter)."""
    scale = math.sqrt(abs(float(np.linalg.det(m[:2, :2]))))
    if is_dot:
        a = el.attrib
        r = _length(a.get("r")) if tag == "circle" else max(_length(a.get("rx")), _length(a.get("ry")))
        return 2.0 * r * scale
    try:
        return _length(style.get("stroke-width"), 1.0) * scale
    except ValueError:
        return scale  # an unreadable width is SVG's default, 1


def _view_box(root: ET.Element) -> list[float] | None:
    """The root's ``viewBox`` ``[x, y, width, height]`` (else ``[0, 0, width, height]``), or None."""
    nums = [float(v) for v in _NUM.findall(root.attrib.get("viewBox", ""))]
    if len(nums) == 4 and nums[2] > 0 and nums[3] > 0 and all(math.isfinite(v) for v in nums):
        return nums
    size = [root.attrib.get("width"), root.attrib.get("height")]
    if any(v is None or v.strip().endswith("%") for v in size):
        return None  # a relative size says nothing about the drawing's frame
    try:
        w, h = _length(size[0]), _length(size[1])
    except ValueError:
        return None
    return [0.0, 0.0, w, h] if w > 0 and h > 0 else None


def svg_to_sketch(source: str | bytes | Path, *, tolerance: float = DEFAULT_TOLERANCE,
                  label: str | None = None, ctx: ReadContext | None = None,
                  max_points: int | None = None, max_element_points: int | None = None) -> Sketch:
    """Parse SVG text (or a file) into one :class:`Sketch` (conventions in the module docstring).

    Args:
        source: SVG text / bytes, or a ``Path`` to a file.
        tolerance: curve flattening tolerance in user units (> 0).
        label: the sketch's label (a file defaults to its stem).
        ctx: error policy: a malformed element is ``"<file>: <path> element 3 (id=...): ..."``;
            with ``on_error="skip"`` it is left out.
        max_points: most points the whole drawing may flatten to (default
            ``SKETCHKIT_MAX_SVG_POINTS`` or 2 000 000).
        max_element_points: most points one element may flatten to (default
            ``SKETCHKIT_MAX_SVG_ELEMENT_POINTS`` or 500 000).

    Raises:
        DataFormatError: not well-formed XML (with line and column), not an SVG, bad element
            (malformed, overflowing, over the element's point limit, nested too deeply), or a
            drawing over the file's point limit (naming the element where it was reached).
    """
    name = str(source) if isinstance(source, Path) else "<svg text>"
    ctx = ctx or ReadContext(name)
    try:
        sketch = _svg_to_sketch(source, tolerance, label, ctx, max_points, max_element_points)
    except _FileTooLarge as exc:
        where, msg = exc.args
        raise ctx.error(where, msg) from None
    return sketch


def _svg_to_sketch(source: str | bytes | Path, tolerance: float, label: str | None, ctx: ReadContext,
                   max_points: int | None, max_element_points: int | None) -> Sketch:
    if not tolerance > 0:
        raise ValueError(f"tolerance must be > 0, got {tolerance}")
    budget = _Budget(limit("max_element_points", max_element_points), limit("max_points", max_points))
    name = ctx.path
    try:
        if isinstance(source, Path):
            root = ET.parse(source).getroot()
            label = label if label is not None else source.name.split(".")[0]
        else:
            root = ET.fromstring(source)
    except ET.ParseError as exc:
        line, col = exc.position
        raise ctx.error(f"line {line}, column {col}", f"not well-formed XML ({exc.msg if hasattr(exc, 'msg') else exc})") from None
    if _local(root.tag) != "svg":
        raise ctx.error(None, f"root element is <{_local(root.tag)}>, expected <svg>")

    strokes: list[np.ndarray] = []
    ids: list[str] = []
    widths: list[float] = []
    dots = 0
    counter = 0
    root_style = _style(root)
    root_inherited = {k: root_style[k] for k in _INHERITED if k in root_style}
    # Depth-first in document order with an explicit stack (no recursion: nesting depth is the
    # file's choice). Each entry: (children iterator, matrix, inherited style, depth).
    stack: list[tuple[Iterator[ET.Element], np.ndarray, dict[str, str], int]] = [
        (iter(root), np.eye(3), root_inherited, 1)]
    while stack:
        children, m, inherited, depth = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            continue
        if not isinstance(child.tag, str):
            continue  # comments, processing instructions
        tag = _local(child.tag)
        if tag in _SKIP_TAGS:
            continue
        style = _style(child)
        if style.get("display") == "none":
            continue
        merged = {**inherited, **{k: style[k] for k in _INHERITED if k in style}}
        counter += 1
        where = f"<{tag}> element {counter}" + (f" (id={child.attrib['id']})" if "id" in child.attrib else "")
        try:
            own = parse_transform(child.attrib.get("transform"))
            if tag == "svg":
                own = own @ _translate(_length(child.attrib.get("x")), _length(child.attrib.get("y")))
            with np.errstate(over="ignore", invalid="ignore"):
                mm = m @ own
            if not np.all(np.isfinite(mm)):
                raise ValueError("transform overflows when composed with its parents' (not finite)")
        except (ValueError, ArithmeticError) as exc:
            ctx.bad(where, str(exc))
            continue
        if tag in ("g", "svg", "a", "switch"):
            if depth >= MAX_DEPTH:
                ctx.bad(where, f"groups nested deeper than {MAX_DEPTH} levels")
                continue
            stack.append((iter(child), mm, merged, depth + 1))
            continue
        if merged.get("stroke", "none") == "none" and merged.get("fill") == "none":
            continue  # neither stroked nor filled: draws nothing
        budget.start_element()
        used = budget.file
        try:
            with np.errstate(all="ignore"):  # overflow is detected (and reported) on the results
                got, is_dot = _element_strokes(tag, child, merged, mm, tolerance, budget)
        except (ValueError, ArithmeticError) as exc:
            budget.file = used  # a skipped element's points are not kept
            ctx.bad(where, str(exc))
            continue
        except _FileTooLarge as exc:
            raise _FileTooLarge(where, str(exc)) from None
        width = _stroke_width(tag, child, merged, mm, is_dot) if got else 0.0
        for st in got:
            strokes.append(st)
            ids.append(child.attrib.get("id", ""))
            widths.append(width)
            dots += int(is_dot)

    meta: dict[str, Any] = {"source": name}
    if any(ids):
        meta["ids"] = ids
    if strokes:
        meta["stroke_widths"] = widths
    view_box = _view_box(root)
    if view_box is not None:
        meta["view_box"] = view_box
    if strokes and dots == len(strokes):
        meta["point_cloud"] = True
    return Sketch(strokes, label=label, meta=meta)


def read_svg(path: str | Path, ctx: ReadContext | None = None, *, tolerance: float = DEFAULT_TOLERANCE,
             label: str | None = None, max_points: int | None = None, max_element_points: int | None = None,
             **_: Any) -> Iterator[Sketch]:
    """Read one SVG file as one Sketch (see :func:`svg_to_sketch`).

    With ``on_error="skip"``, a file over its point limit is skipped as a whole (it is one record).
    """
    path = Path(path)
    ctx = ctx or ReadContext(path)
    try:
        sketch = _svg_to_sketch(path, tolerance, label, ctx, max_points, max_element_points)
    except _FileTooLarge as exc:
        ctx.bad(*exc.args)
        return
    yield sketch


def _sniff(path: Path, head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf").lstrip().lower()
    return path.suffix.lower() == ".svg" or (text.startswith(b"<?xml") or text.startswith(b"<svg")) and b"<svg" in text


register_format(Format(
    name="svg",
    description="SVG drawing (path/line/polyline/polygon/rect/circle/ellipse, transforms) -> one Sketch",
    extensions=(".svg",),
    reader=read_svg,
    sniff=_sniff,
    options=("tolerance", "label", "max_points", "max_element_points"),
))

