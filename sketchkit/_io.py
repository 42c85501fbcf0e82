"""Atomic file writes (torch-free; shared by data writers, the renderer, checkpoints and the CLI)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator

__all__ = ["write_atomic", "atomic_open"]


def _umask() -> int:
    # Linux reports the umask in /proc without changing it; os.umask() must set it to read it,
    # which races with other threads creating files.
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def _default_mode() -> int:
    """The mode ``open()`` gives a new file: ``0o666`` less the umask."""
    return 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temp file beside ``path`` for streaming writes; on success fsync and rename it to ``path``.

    The file gets the usual mode for new files (``0o666 & ~umask``), like :func:`write_atomic`;
    on any error the temp file is removed and ``path`` is untouched. Text modes write UTF-8 with
    ``\n`` line ends.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _default_mode())  # mkstemp makes the file owner-only (0600)
        with os.fdopen(fd, mode, **({"encoding": "utf-8", "newline": "\n"} if "b" not in mode else {})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_atomic(path: str | os.PathLike, data: bytes | str, *, durable: bool = True) -> Path:
    """Write ``data`` to ``path`` through a temp file in the same folder, fsync, then ``os.replace``.

    A crash at any moment leaves either the old file or the new one, never a partial file.
    Parent folders are created; text is encoded as UTF-8.

    Args:
        path: destination file.
        data: bytes, or text.
        durable: fsync before the rename (default). ``False`` still replaces atomically (an
            interrupted or crashed process never leaves a partial file) but skips the fsync
            (~2 ms a file here), so only a power cut could lose the newest files: for many
            outputs that can be made again from their inputs (folder-mode vectorising).

    Returns:
        The destination as a ``Path``.
    """
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file owner-only (0600); give it the usual mode for new files.
        os.chmod(tmp, _default_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path
