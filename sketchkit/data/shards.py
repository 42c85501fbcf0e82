"""Sketch shards: WebDataset-style tar files plus a JSON manifest (torch-free, stdlib ``tarfile``).

Layout of a shard folder::

    manifest.json          format, version, per-shard counts/labels/sha256/bytes, totals
    shard-000000.tar       training shards, ``shard_size`` sketches each (the last may hold fewer)
    ...
    val-000000.tar         held-out shards (``val_size`` sketches in all; none when val_size=0)

(``.tar.gz`` with ``compress=True``: the same tar, gzipped.)

Each shard is a plain POSIX (ustar) tar file with one member per sketch, ``<key>.json``, where
``key`` is a 9-digit running number (unique within the folder; no dots, as WebDataset groups
members by the name up to the first dot). The member holds one JSON object::

    {"strokes": [[[x, y], ...], ...],      # polylines, absolute coordinates (SVG frame, y down)
     "times": [[t, ...], ...] | null,      # per-point times (ms) or null
     "label": "cat" | null,
     "meta": {...}}                        # the reader's metadata (source file, key_id, ...)

Coordinates that are whole numbers are written as integers; all others with Python's
shortest round-trip float repr, so reading gives back exactly the float64 values written.
Any WebDataset reader takes these files as they are (``webdataset.WebDataset(urls)`` yields
``{"__key__": key, "json": bytes}``); :func:`iter_shard` reads them without it.

``manifest.json``::

    {"format": "sketchkit-shards", "format_version": 1, "sample_encoding": "json", "compression": null | "gzip",
     "shard_size": N, "seed": S, "total": T, "labels": {label: count},
     "splits": {"train": {"count": ..., "shards": ...}, "val": {...}},
     "shards": [{"name": "shard-000000.tar", "split": "train", "count": n, "first_key": k,
                 "labels": {label: count}, "bytes": b, "sha256": "..."}, ...],
     "sources": ["path", ...]}

The manifest is written last (atomically): a folder without it is an unfinished write.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from sketchkit._io import atomic_open, write_atomic
from sketchkit.errors import DataFormatError, InputError
from sketchkit.sketch import Sketch

__all__ = [
    "FORMAT_NAME", "FORMAT_VERSION", "MANIFEST_NAME", "write_shards", "shard_inputs", "read_manifest",
    "is_shard_folder", "iter_shard", "iter_shard_folder", "shard_files", "encode_sketch", "decode_sketch",
    "verify_shards",
]

FORMAT_NAME = "sketchkit-shards"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
_KEY_DIGITS = 9


# ------------------------------------------------------------------------------------------------
# One sample
# ------------------------------------------------------------------------------------------------
def _compact(array: np.ndarray) -> list:
    """Nested lists of ``array`` with whole numbers as ints (smaller JSON, same float64 values)."""
    if array.size and np.all(np.isfinite(array)) and np.all(array == np.round(array)) \
            and np.max(np.abs(array)) < 2**53:
        return array.astype(np.int64).tolist()
    return array.tolist()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def encode_sketch(sketch: Sketch) -> bytes:
    """The JSON bytes of one sample (``<key>.json`` member) for ``sketch``."""
    record = {
        "strokes": [_compact(s) for s in sketch.strokes],
        "times": None if sketch.times is None else [_compact(t) for t in sketch.times],
        "label": sketch.label,
        "meta": sketch.meta,
    }
    return json.dumps(record, separators=(",", ":"), default=_json_default, allow_nan=False).encode()


def decode_sketch(data: bytes, *, where: str = "sample") -> Sketch:
    """A :class:`Sketch` from the JSON bytes of one sample.

    Raises:
        DataFormatError: not JSON, or not a sketch record (the message starts with ``where``).
    """
    try:
        record = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(record, dict) or not isinstance(record.get("strokes"), list):
        raise DataFormatError(f"{where}: not a sketch record (expected an object with 'strokes')")
    try:
        strokes = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in record["strokes"]]
        times = record.get("times")
        if times is not None:
            times = [np.asarray(t, dtype=np.float64).reshape(-1) for t in times]
        label = record.get("label")
        meta = record.get("meta") or {}
        return Sketch(strokes, times=times, label=None if label is None else str(label),
                      meta=dict(meta) if isinstance(meta, dict) else {})
    except (ValueError, TypeError) as exc:
        raise DataFormatError(f"{where}: bad sketch record ({exc})") from None


# ------------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------------
def iter_shard(path: str | os.PathLike, *, skip: int = 0, limit: int | None = None,
               with_keys: bool = False) -> Iterator[Any]:
    """Stream the sketches of one shard in file order.

    Args:
        path: a ``.tar`` shard.
        skip: pass over this many samples first (only their tar headers are read).
        limit: yield at most this many sketches.
        with_keys: yield ``(key, sketch)`` pairs instead of sketches.

    Raises:
        DataFormatError: not a tar file, or a bad sample (naming the file and the member).
    """
    path = Path(path)
    if limit is not None and limit <= 0:
        return
    try:
        tf = tarfile.open(path, mode="r:*")  # plain or gzip
    except (tarfile.TarError, OSError) as exc:
        raise DataFormatError(f"{path}: not a readable tar shard ({exc})") from None
    with tf:
        seen = 0
        given = 0
        while True:
            try:
                member = tf.next()
            except tarfile.TarError as exc:
                raise DataFormatError(f"{path}: truncated or corrupt tar ({exc})") from None
            if member is None:
                return
            if not member.isfile() or not member.name.endswith(".json"):
                continue
            if seen < skip:
                seen += 1
                continue
            seen += 1
            f = tf.extractfile(member)
            data = f.read() if f is not None else b""
            sketch = decode_sketch(data, where=f"{path}: {member.name}")
            yield (member.name[:-5], sketch) if with_keys else sketch
            given += 1
            if limit is not None and given >= limit:
                return


def is_shard_folder(path: str | os.PathLike) -> bool:
    """True when ``path`` is a folder holding a sketchkit shard ``manifest.json``."""
    manifest = Path(path) / MANIFEST_NAME
    if not manifest.is_file():
        return False
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT_NAME


def read_manifest(folder: str | os.PathLike) -> dict[str, Any]:
    """The validated manifest of a shard folder.

    Raises:
        InputError: no manifest, unreadable, another format, a newer version, or a listed shard
            missing from the folder.
    """
    folder = Path(folder)
    path = folder / MANIFEST_NAME
    if not path.is_file():
        raise InputError(f"{path}: no such file (not a shard folder; make one with `sketchkit data shard`)")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable manifest ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise InputError(f"{path}: not a sketchkit shard manifest (format is not {FORMAT_NAME!r})")
    if int(data.get("format_version", 0)) > FORMAT_VERSION:
        raise InputError(f"{path}: format_version {data['format_version']} is newer than this sketchkit "
                         f"reads ({FORMAT_VERSION})")
    shards = data.get("shards")
    if not isinstance(shards, list) or not all(isinstance(s, dict) and "name" in s and "count" in s for s in shards):
        raise InputError(f"{path}: 'shards' must be a list of {{name, count, ...}} entries")
    for s in shards:
        if "/" in s["name"] or "\\" in s["name"] or s["name"].startswith("."):
            raise InputError(f"{path}: bad shard name {s['name']!r}")
        if not (folder / s["name"]).is_file():
            raise InputError(f"{folder / s['name']}: listed in {MANIFEST_NAME} but missing")
    return data


def shard_files(folder: str | os.PathLike, split: str = "train") -> list[tuple[Path, int]]:
    """``(path, count)`` of every shard of ``split`` (``"train"`` or ``"val"``), in manifest order."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    return [(folder / s["name"], int(s["count"])) for s in manifest["shards"] if s.get("split", "train") == split]


def iter_shard_folder(folder: str | os.PathLike, split: str | Sequence[str] | None = None) -> Iterator[Sketch]:
    """Every sketch of a shard folder: training shards, then held-out ones (or only ``split``)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    wanted = None if split is None else ({split} if isinstance(split, str) else set(split))
    for s in manifest["shards"]:
        if wanted is None or s.get("split", "train") in wanted:
            yield from iter_shard(folder / s["name"])


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_shards(folder: str | os.PathLike) -> list[str]:
    """Names of the shards whose size or sha256 differs from the manifest (empty: all good)."""
    folder = Path(folder)
    bad = []
    for s in read_manifest(folder)["shards"]:
        p = folder / s["name"]
        if ("bytes" in s and p.stat().st_size != s["bytes"]) or ("sha256" in s and _sha256(p) != s["sha256"]):
            bad.append(s["name"])
    return bad


# ------------------------------------------------------------------------------------------------
# Writing
# ------------------------------------------------------------------------------------------------
class _ShardWriter:
    """Writes one tar shard atomically and records its manifest entry."""

    def __init__(self, folder: Path, name: str, split: str, compress: bool = False) -> None:
        self.name = name
        self.split = split
        self.path = folder / name
        self._ctx = atomic_open(self.path, "wb")
        self._file = self._ctx.__enter__()
        extra = {"compresslevel": 6} if compress else {}
        self._tar = tarfile.open(fileobj=self._file, mode="w:gz" if compress else "w",
                                 format=tarfile.USTAR_FORMAT, **extra)
        self.count = 0
        self.first_key: int | None = None
        self.labels: Counter[str] = Counter()

    def add(self, key: int, sketch: Sketch) -> None:
        data = encode_sketch(sketch)
        info = tarfile.TarInfo(f"{key:0{_KEY_DIGITS}d}.json")
        info.size = len(data)
        info.mode = 0o644
        info.mtime = 0  # byte-identical shards for identical input
        self._tar.addfile(info, io.BytesIO(data))
        if self.first_key is None:
            self.first_key = key
        self.count += 1
        self.labels[str(sketch.label)] += 1

    def close(self) -> dict[str, Any]:
        self._tar.close()
        self._ctx.__exit__(None, None, None)
        return {"name": self.name, "split": self.split, "count": self.count, "first_key": self.first_key,
                "labels": dict(sorted(self.labels.items())), "bytes": self.path.stat().st_size,
                "sha256": _sha256(self.path)}

    def abort(self) -> None:
        try:
            self._tar.close()
        finally:
            self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)


def write_shards(sketches: Iterable[Sketch], out_dir: str | os.PathLike, *, shard_size: int = 10_000,
                 val_size: int = 0, seed: int = 0, sources: Sequence[str] = (), overwrite: bool = False,
                 compress: bool = False) -> dict[str, Any]:
    """Pack ``sketches`` into tar shards of ``shard_size`` sketches plus ``manifest.json``.

    The first ``val_size`` sketches go to held-out ``val-*.tar`` shards, the rest to
    ``shard-*.tar``. Memory holds one sample at a time (the shards are streamed to disk).

    Args:
        sketches: any iterable of :class:`Sketch` (e.g. :func:`sketchkit.data.read`, or
            :func:`shard_inputs`, which mixes files and shuffles).
        out_dir: the shard folder (created). It must be missing or empty unless ``overwrite``.
        shard_size: sketches per shard (>= 1).
        val_size: sketches held out for validation (>= 0).
        seed: recorded in the manifest (the order of ``sketches`` is the caller's).
        sources: recorded in the manifest (input paths).
        overwrite: replace the shards and manifest of an earlier write in ``out_dir``.
        compress: gzip each shard (``.tar.gz``): about 3x smaller, but skipping samples (resume,
            rank ranges) then decompresses them instead of seeking past them.

    Returns:
        The manifest dict (also written to ``out_dir/manifest.json``).

    Raises:
        InputError: bad sizes, no sketches, or an ``out_dir`` holding other files.
    """
    if not isinstance(shard_size, int) or shard_size < 1:
        raise InputError(f"shard_size: expected an integer >= 1, got {shard_size!r}")
    if not isinstance(val_size, int) or val_size < 0:
        raise InputError(f"val_size: expected an integer >= 0, got {val_size!r}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise InputError(f"{out}: is not empty; choose a new folder or pass --overwrite")
        foreign = [p.name for p in out.iterdir()
                   if not (p.is_file() and (p.name == MANIFEST_NAME or p.name.endswith((".tar", ".tar.gz", ".tmp"))))]
        if foreign:
            raise InputError(f"{out}: holds {', '.join(sorted(foreign)[:5])}, which are not shards; "
                             f"--overwrite replaces only shards and manifest.json")
        for p in out.iterdir():
            p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, Any]] = []
    writer: _ShardWriter | None = None
    n_split = {"train": 0, "val": 0}
    key = 0
    try:
        for sketch in sketches:
            split = "val" if key < val_size else "train"
            if writer is not None and (writer.split != split or writer.count >= shard_size):
                entries.append(writer.close())
                writer = None
            if writer is None:
                prefix = "val" if split == "val" else "shard"
                writer = _ShardWriter(out, f"{prefix}-{n_split[split]:06d}.tar{'.gz' if compress else ''}", split,
                                      compress)
                n_split[split] += 1
            writer.add(key, sketch)
            key += 1
        if writer is not None:
            entries.append(writer.close())
            writer = None
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if key == 0:
        raise InputError("no sketches to shard (the inputs are empty)")
    labels: Counter[str] = Counter()
    for e in entries:
        labels.update(e["labels"])
    splits = {name: {"count": sum(e["count"] for e in entries if e["split"] == name),
                     "shards": sum(1 for e in entries if e["split"] == name)} for name in ("train", "val")}
    manifest = {
        "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "sample_encoding": "json",
        "compression": "gzip" if compress else None,
        "shard_size": shard_size, "seed": seed, "total": key, "labels": dict(sorted(labels.items())),
        "splits": splits, "shards": entries, "sources": [str(s) for s in sources],
    }
    write_atomic(out / MANIFEST_NAME, json.dumps(manifest, indent=1))
    return manifest


def shard_inputs(inputs: Sequence[str | os.PathLike], *, seed: int = 0, shuffle_buffer: int = 10_000,
                 limit: int | None = None, **read_opts: Any) -> Iterator[Sketch]:
    """Sketches of every readable file under ``inputs``, mixed across files and shuffled.

    Files are read side by side (one sketch from each in turn, so per-category files end up
    spread over all shards), then pass through a seeded shuffle buffer of ``shuffle_buffer``
    sketches. Memory: the buffer plus one open reader per file. Deterministic for a given
    ``seed`` and input list.

    Args:
        inputs: files or folders in any format :func:`sketchkit.data.read` knows (a shard folder too).
        seed: seeds the shuffle buffer.
        shuffle_buffer: sketches held for shuffling (0 or 1: keep the interleaved order).
        limit: at most this many sketches in all.
        **read_opts: passed to :func:`sketchkit.data.read` (``format``, ``split``, ``on_error``, ...).
    """
    from sketchkit.data import _iter_folder, read

    files: list[Path] = []
    for raw in inputs:
        p = Path(raw)
        if not p.exists():
            raise InputError(f"{p}: no such file or folder")
        if p.is_dir() and not is_shard_folder(p):
            found = [f for f, _ in _iter_folder(p)]
            if not found:
                raise InputError(f"{p}: holds no file of a known format")
            files.extend(found)
        else:
            files.append(p)
    readers = [iter(read(f, **read_opts)) for f in files]

    def interleaved() -> Iterator[Sketch]:
        active = list(readers)
        while active:
            still = []
            for r in active:
                try:
                    yield next(r)
                except StopIteration:
                    continue
                still.append(r)
            active = still

    rng = np.random.default_rng(seed)
    buffer: list[Sketch] = []
    given = 0
    for sketch in interleaved():
        if limit is not None and given >= limit:
            break
        if shuffle_buffer <= 1:
            yield sketch
            given += 1
            continue
        if len(buffer) < shuffle_buffer:
            buffer.append(sketch)
            continue
        i = int(rng.integers(len(buffer)))
        buffer[i], sketch = sketch, buffer[i]
        yield sketch
        given += 1
    rng.shuffle(buffer)
    for sketch in buffer:
        if limit is not None and given >= limit:
            break
        yield sketch
        given += 1


# ------------------------------------------------------------------------------------------------
# Registry adapter: a single shard file read through sketchkit.data.read
# ------------------------------------------------------------------------------------------------
def _read_shard(path: Path, ctx: Any) -> Iterator[Sketch]:
    try:
        yield from iter_shard(path)
    except DataFormatError as exc:
        ctx.bad("shard", str(exc).removeprefix(f"{path}: "))


def _sniff_shard(path: Path, head: bytes) -> bool:
    # a ustar header whose first member is "<digits>.json" (in a gzip stream for .tar.gz)
    if head[:2] == b"\x1f\x8b" and path.name.lower().endswith(".tar.gz"):
        import gzip

        try:
            with gzip.open(path, "rb") as f:
                head = f.read(512)
        except (OSError, EOFError):
            return False
    if len(head) < 263 or head[257:262] != b"ustar":
        return False
    name = head[:100].split(b"\0", 1)[0]
    return name.endswith(b".json") and name[:-5].isdigit()


def _shard_info(path: Path, **_: Any) -> dict[str, Any]:
    labels: Counter[str] = Counter()
    n = 0
    for sk in iter_shard(path):
        n += 1
        labels[str(sk.label)] += 1
    return {"count": n, "labels": dict(sorted(labels.items())), "skipped": 0}


def _register() -> None:
    from sketchkit.data.registry import Format, register_format

    register_format(Format(
        name="sketchkit-shard", description="sketchkit tar shard (WebDataset layout, one <key>.json per sketch)",
        extensions=(".tar", ".tar.gz"), reader=_read_shard, sniff=_sniff_shard, info=_shard_info, options=(),
    ))


_register()
