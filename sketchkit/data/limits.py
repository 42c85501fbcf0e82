"""Size limits that stop a small or malformed input file from inflating into gigabytes.

Every limit is checked *before* the memory is spent (from an npy / idx header, a line length
read with a bound, a point count computed before flattening). Each has a default generous for
every real dataset sketchkit reads, an environment variable, and a keyword option of the readers
(``sketchkit.data.read(path, max_array_bytes=...)``; the option wins over the variable):

==================  ================================  ==========  ===========================================
option              environment variable              default     what is bounded
==================  ================================  ==========  ===========================================
max_array_bytes     SKETCHKIT_MAX_ARRAY_BYTES         256 MiB     one npz member / idx file, uncompressed,
                                                                  as its header declares it (sketch-rnn,
                                                                  K-MNIST, MNIST idx, VectorMNIST)
max_line_bytes      SKETCHKIT_MAX_LINE_BYTES          16 MiB      one ndjson line (Quick, Draw!, SPG)
max_points          SKETCHKIT_MAX_SVG_POINTS          2000000     points of one SVG file after flattening
max_element_points  SKETCHKIT_MAX_SVG_ELEMENT_POINTS  500000      points of one SVG element after flattening
==================  ================================  ==========  ===========================================

Values are positive integers, optionally with a ``K``/``M``/``G`` suffix (powers of 1024), e.g.
``SKETCHKIT_MAX_ARRAY_BYTES=2G``. (For reference: the largest real files are a full K-49 train set,
~180 MB of images, and VectorMNIST's full ``sequences``, ~225 MB; the longest Quick, Draw! raw line
seen is well under 1 MB.)
"""

from __future__ import annotations

import os
import re

from sketchkit.errors import InputError

__all__ = ["LIMITS", "limit", "human_bytes"]

#: option name -> (environment variable, default)
LIMITS: dict[str, tuple[str, int]] = {
    "max_array_bytes": ("SKETCHKIT_MAX_ARRAY_BYTES", 256 << 20),
    "max_line_bytes": ("SKETCHKIT_MAX_LINE_BYTES", 16 << 20),
    "max_points": ("SKETCHKIT_MAX_SVG_POINTS", 2_000_000),
    "max_element_points": ("SKETCHKIT_MAX_SVG_ELEMENT_POINTS", 500_000),
}

_SIZE = re.compile(r"^\s*(\d+)\s*([kmgKMG]?)(?:i?[bB])?\s*$")
_FACTOR = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def _parse(text: str, what: str) -> int:
    m = _SIZE.match(text)
    if not m or int(m.group(1)) <= 0:
        raise InputError(f"{what}: expected a positive integer (optionally with K/M/G), got {text!r}")
    return int(m.group(1)) * _FACTOR[m.group(2).lower()]


def limit(name: str, value: int | str | None = None) -> int:
    """The effective value of limit ``name``: ``value`` if given, else its variable, else the default.

    Raises:
        InputError: a non-positive or unparsable value (naming the option or the variable).
    """
    env, default = LIMITS[name]
    if value is not None:
        if isinstance(value, bool):
            raise InputError(f"{name}: expected a positive integer, got {value!r}")
        if isinstance(value, str):
            return _parse(value, name)
        try:
            n = int(value)
        except (TypeError, ValueError):
            raise InputError(f"{name}: expected a positive integer, got {value!r}") from None
        if n <= 0 or n != value:
            raise InputError(f"{name}: expected a positive integer, got {value!r}")
        return n
    text = os.environ.get(env)
    if text is None or not text.strip():
        return default
    return _parse(text, env)


def hint(name: str) -> str:
    """``"raise it with max_x=... or SKETCHKIT_MAX_X"``: how a user lifts limit ``name``."""
    return f"raise the limit with {name}=... or the environment variable {LIMITS[name][0]}"


def human_bytes(n: int) -> str:
    """``1073741824`` -> ``"1 GiB"`` (one decimal below 10 units)."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:.0f} {unit}" if value >= 10 or unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover
