"""Reading ``.npz`` archives without trusting pickles.

sketch-rnn files store each split as an *object* array of int16 ``(n, 3)`` arrays; numpy can
only write such arrays by pickling them, and ``np.load(allow_pickle=True)`` would unpickle
whatever the file contains (a pickle can run arbitrary code). Instead, object members are
unpickled here by :class:`_ArrayOnlyUnpickler`, which resolves exactly three globals: numpy's
array reconstructor, ``numpy.ndarray`` and ``numpy.dtype`` (plus ``_codecs.encode``, which protocol-2
pickles use to rebuild bytes). Any other global (``os.system``,
``builtins.eval``, a user class, ...) raises :class:`DataFormatError` before anything is called.
Plain pickle data (lists, ints, strings) needs no global and is rejected afterwards by the shape
checks of the caller. ``encoding="latin1"`` reads the Python 2 pickles of the original files.
"""

from __future__ import annotations

import codecs
import io
import math
import pickle
import zipfile
from pathlib import Path
from typing import Iterator

import numpy as np

from sketchkit.data.limits import hint, human_bytes, limit
from sketchkit.errors import DataFormatError

try:  # numpy >= 2
    from numpy._core.multiarray import _reconstruct as _np_reconstruct
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct as _np_reconstruct

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _np_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _np_reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    # Python 3 pickles of protocol 2 encode bytes as _codecs.encode(text, "latin1"): a pure function.
    ("_codecs", "encode"): codecs.encode,
}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """An Unpickler that can build numpy arrays (of any nesting) and plain data, nothing else."""

    def find_class(self, module: str, name: str):  # noqa: D401 - pickle hook
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name} (only numpy arrays are allowed)"
            ) from None


def unpickle_arrays(data: bytes | io.BufferedIOBase) -> object:
    """Unpickle a stream that may only contain numpy arrays and plain Python data."""
    stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    return _ArrayOnlyUnpickler(stream, encoding="latin1", fix_imports=True).load()


def _read_header(f, member: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(f)
    raise ValueError(f"unsupported .npy version {version}")


def _declared_bytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    # Python ints: a hostile header can declare a shape whose size overflows int64.
    return math.prod(int(d) for d in shape) * dtype.itemsize


def _read_member(zf: zipfile.ZipFile, member: str, where: str, max_bytes: int) -> np.ndarray:
    info = zf.getinfo(member)
    with zf.open(member) as f:
        shape, fortran, dtype = _read_header(f, member)
        if dtype.hasobject:
            # Pickled object array: its data is the rest of the member, bounded by the zip entry's size.
            if info.file_size > max_bytes:
                raise _TooLarge(f"object array of {human_bytes(info.file_size)} over the limit of "
                                f"{human_bytes(max_bytes)} ({hint('max_array_bytes')})")
            obj = unpickle_arrays(f.read())
            if not isinstance(obj, np.ndarray):
                raise ValueError(f"object member holds {type(obj).__name__}, expected an array")
            if obj.dtype.hasobject:
                total = sum(a.nbytes for a in obj.reshape(-1) if isinstance(a, np.ndarray))
                if total > max_bytes:
                    raise _TooLarge(f"arrays of {human_bytes(total)} in all, over the limit of "
                                    f"{human_bytes(max_bytes)} ({hint('max_array_bytes')})")
            return obj
        nbytes = _declared_bytes(shape, dtype)
        if nbytes > max_bytes:
            raise _TooLarge(f"header declares a {dtype} array of shape {tuple(shape)} "
                            f"({human_bytes(nbytes)}), over the limit of {human_bytes(max_bytes)} "
                            f"({hint('max_array_bytes')})")
        left = info.file_size - f.tell()
        if nbytes > left:
            raise ValueError(f"truncated array data (header declares {nbytes} bytes, the member holds {left})")
        buf = f.read(nbytes)
        if len(buf) != nbytes:
            raise ValueError(f"truncated array data ({len(buf)} of {nbytes} bytes)")
        arr = np.frombuffer(buf, dtype=dtype, count=math.prod(shape))
        return arr.reshape(shape, order="F" if fortran else "C")


class _TooLarge(ValueError):
    """A member over the size limit (reported as such, not as a corrupt archive)."""


def _open_zip(path: str | Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise DataFormatError(f"{path}: not a readable .npz archive ({exc})") from None


def npz_header(path: str | Path, key: str) -> tuple[tuple[int, ...], np.dtype]:
    """``(shape, dtype)`` of one npz member from its npy header, without reading any data.

    Raises:
        DataFormatError: not an npz, no such key, or an unreadable header.
    """
    with _open_zip(path) as zf:
        names = {n[:-4] if n.endswith(".npy") else n: n for n in zf.namelist()}
        if key not in names:
            raise DataFormatError(f"{path}: no key {key!r} (keys: {', '.join(names)})")
        try:
            with zf.open(names[key]) as f:
                shape, _, dtype = _read_header(f, names[key])
        except Exception as exc:  # noqa: BLE001 - see load_npz
            msg = " ".join(str(exc).split()) or type(exc).__name__
            raise DataFormatError(f"{path}: key {key!r}: cannot read array header ({msg})") from None
    return tuple(int(d) for d in shape), dtype


def npz_keys(path: str | Path) -> list[str]:
    """Member names of an npz archive (without ``.npy``); ``DataFormatError`` if not a zip."""
    with _open_zip(path) as zf:
        return [n[:-4] if n.endswith(".npy") else n for n in zf.namelist()]


def load_npz(path: str | Path, keys: list[str] | None = None, *,
             max_bytes: int | None = None) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(key, array)`` for the wanted members of an npz archive, safely.

    Numeric members are read directly, after their npy header's shape and dtype are checked
    against ``max_bytes`` (nothing is decompressed for a member over the limit); object members
    go through the array-only unpickler, bounded by the member's uncompressed size.

    Args:
        path: the ``.npz`` file.
        keys: members to read (default: all, in archive order).
        max_bytes: largest member, in bytes (default: ``SKETCHKIT_MAX_ARRAY_BYTES`` or 256 MiB;
            see :mod:`sketchkit.data.limits`).

    Raises:
        DataFormatError: ``"<file>: key 'train': <problem>"`` for a truncated/corrupt archive,
            a member over the size limit, or one holding anything other than numpy arrays and
            plain data.
    """
    max_bytes = limit("max_array_bytes", max_bytes)
    zf = _open_zip(path)
    with zf:
        names = {n[:-4] if n.endswith(".npy") else n: n for n in zf.namelist()}
        for key in (keys if keys is not None else list(names)):
            if key not in names:
                raise DataFormatError(f"{path}: no key {key!r} (keys: {', '.join(names)})")
            try:
                arr = _read_member(zf, names[key], key, max_bytes)
            except _TooLarge as exc:
                raise DataFormatError(f"{path}: key {key!r}: {exc}") from None
            except Exception as exc:  # noqa: BLE001 - any failure to decode a member is a format error
                # (zipfile alone raises BadZipFile, NotImplementedError, RuntimeError, zlib.error,
                # EOFError ...; the restricted unpickler ValueError, TypeError, UnpicklingError ...)
                msg = " ".join(str(exc).split()) or type(exc).__name__
                raise DataFormatError(f"{path}: key {key!r}: cannot read array ({msg})") from None
            yield key, arr

