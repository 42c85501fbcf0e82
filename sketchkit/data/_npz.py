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
import pickle
import zipfile
from pathlib import Path
from typing import Iterator

import numpy as np

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


def _read_member(zf: zipfile.ZipFile, member: str, where: str) -> np.ndarray:
    with zf.open(member) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy version {version}")
        if dtype.hasobject:
            obj = unpickle_arrays(f.read())
            if not isinstance(obj, np.ndarray):
                raise ValueError(f"object member holds {type(obj).__name__}, expected an array")
            return obj
        count = int(np.prod(shape, dtype=np.int64))
        nbytes = count * dtype.itemsize
        buf = f.read(nbytes)
        if len(buf) != nbytes:
            raise ValueError(f"truncated array data ({len(buf)} of {nbytes} bytes)")
        arr = np.frombuffer(buf, dtype=dtype, count=count)
        return arr.reshape(shape, order="F" if fortran else "C")


def npz_keys(path: str | Path) -> list[str]:
    """Member names of an npz archive (without ``.npy``); ``DataFormatError`` if not a zip."""
    try:
        with zipfile.ZipFile(path) as zf:
            return [n[:-4] if n.endswith(".npy") else n for n in zf.namelist()]
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise DataFormatError(f"{path}: not a readable .npz archive ({exc})") from None


def load_npz(path: str | Path, keys: list[str] | None = None) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(key, array)`` for the wanted members of an npz archive, safely.

    Numeric members are read directly; object members go through the array-only unpickler.

    Raises:
        DataFormatError: ``"<file>: key 'train': <problem>"`` for a truncated/corrupt archive
            or a member holding anything other than numpy arrays and plain data.
    """
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise DataFormatError(f"{path}: not a readable .npz archive ({exc})") from None
    with zf:
        names = {n[:-4] if n.endswith(".npy") else n: n for n in zf.namelist()}
        for key in (keys if keys is not None else list(names)):
            if key not in names:
                raise DataFormatError(f"{path}: no key {key!r} (keys: {', '.join(names)})")
            try:
                arr = _read_member(zf, names[key], key)
            except Exception as exc:  # noqa: BLE001 - any failure to decode a member is a format error
                # (zipfile alone raises BadZipFile, NotImplementedError, RuntimeError, zlib.error,
                # EOFError ...; the restricted unpickler ValueError, TypeError, UnpicklingError ...)
                msg = " ".join(str(exc).split()) or type(exc).__name__
                raise DataFormatError(f"{path}: key {key!r}: cannot read array ({msg})") from None
            yield key, arr

