"""Bad-input benchmark: each hostile or broken input of issue 9 (parts 3 and 4), its outcome, peak RSS and time.

Every input is built in a temp folder (by a child process, so that this process stays small:
Linux carries a parent's RSS at fork into the child's max RSS), then the relevant command runs in
a subprocess (the installed ``sketchkit`` CLI, as a user would run it); peak memory is that
process's max RSS (``os.wait4``), time is wall time. The first row is a good file, for scale. Expected outcome for every case: one line ``error: ...``
and exit 2 (or exit 0 with the bad records skipped under ``--skip-bad``), in bounded memory.

Usage: python scripts/bench_bad_inputs.py [--keep DIR] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

SKETCHKIT = [sys.executable, "-m", "sketchkit.cli.app"] if not shutil.which("sketchkit") else ["sketchkit"]
GOOD = {"word": "cat", "drawing": [[[0, 10, 20], [0, 5, 0]]]}


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("sketchkit")
    return [str(exe)] if exe.exists() else SKETCHKIT


# ----------------------------------------------------------------------------- input builders
def npz_stream_zeros(path: Path, key: str, shape: tuple[int, ...], dtype: str) -> None:
    """An npz whose member really holds ``prod(shape)`` zero items, compressed as it is written
    (the builder never holds the array; 1 GiB of zeros is ~1 MB on disk)."""
    import numpy as np

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": np.dtype(dtype).str, "fortran_order": False,
                                                  "shape": shape})
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open(key + ".npy", "w", force_zip64=True) as f:
            f.write(header.getvalue())
            chunk = bytes(1 << 22)
            left = nbytes
            while left:
                f.write(chunk[:min(left, len(chunk))])
                left -= min(left, len(chunk))


def npz_header_only(path: Path, key: str, shape: tuple[int, ...], dtype: str) -> None:
    """An npz whose header declares ``shape`` but holds only a few bytes of data (a tiny file)."""
    import numpy as np

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": np.dtype(dtype).str, "fortran_order": False,
                                                  "shape": shape})
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(key + ".npy", header.getvalue() + bytes(64))


def npz_objects(path: Path, arrays: list) -> None:
    import numpy as np

    obj = np.empty(len(arrays), dtype=object)
    for i, a in enumerate(arrays):
        obj[i] = a
    np.savez(path, train=obj, valid=np.empty(0, dtype=object), test=np.empty(0, dtype=object))


def ndjson(path: Path, records: list[str]) -> None:
    with open(path, "w") as f:
        for r in records:
            f.write(r + "\n")


def svg(path: Path, body: str) -> None:
    path.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">{body}</svg>')


def build(d: Path) -> list[tuple[str, list[str], str]]:
    """(case name, command, what it shows) for every bad input, built under ``d``."""
    import numpy as np  # only the builder needs numpy

    g = json.dumps(GOOD)
    cases: list[tuple[str, list[str], str]] = []
    ndjson(d / "good.ndjson", [g] * 100)
    cases.append(("baseline: good 100-line ndjson", ["data", "info", str(d / "good.ndjson")], ""))

    npz_stream_zeros(d / "zeros.npz", "train", ((1 << 30) // 6, 3), "<i2")
    cases.append(("npz 1 GiB zeros (sketch-rnn key)", ["data", "info", str(d / "zeros.npz")], "header size check"))
    npz_stream_zeros(d / "kmnist-zeros-imgs.npz", "arr_0", ((1 << 30) // 784, 28, 28), "|u1")
    cases.append(("K-MNIST npz 1 GiB zeros", ["data", "info", str(d / "kmnist-zeros-imgs.npz")], "header size check"))
    npz_header_only(d / "kmnist-claim-imgs.npz", "arr_0", (10**9, 28, 28), "|u1")
    cases.append(("K-MNIST header claims 784 GB", ["data", "info", str(d / "kmnist-claim-imgs.npz")], "tiny file"))
    import gzip
    with gzip.open(d / "claim-images-idx3-ubyte.gz", "wb") as f:
        f.write(b"\x00\x00\x08\x03" + (10**9).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + bytes(784))
    cases.append(("MNIST idx header claims 784 GB", ["data", "info", str(d / "claim-images-idx3-ubyte.gz")], "tiny file"))

    npz_objects(d / "overflow.npz", [np.array([[1e308, 0, 0], [1e308, 0, 1]]), np.array([[1, 2, 0], [3, 4, 1]], np.int16)])
    cases.append(("npz deltas 1e308 (cumsum overflows)", ["data", "info", str(d / "overflow.npz")], ""))
    cases.append(("  same, --skip-bad", ["data", "info", "--skip-bad", str(d / "overflow.npz")], "1 kept"))

    deep = '{"word": "x", "drawing": ' + "[" * 100_000 + "]" * 100_000 + "}"
    ndjson(d / "deep.ndjson", [g, deep, g])
    cases.append(("ndjson nested 100k deep", ["data", "info", str(d / "deep.ndjson")], ""))
    cases.append(("  same, --skip-bad", ["data", "info", "--skip-bad", str(d / "deep.ndjson")], "2 kept"))
    ndjson(d / "digits.ndjson", [g, '{"word": "x", "drawing": [[[' + "9" * 5000 + "], [1]]]}", g])
    cases.append(("ndjson 5000-digit integer", ["data", "info", str(d / "digits.ndjson")], ""))
    with open(d / "digits50m.ndjson", "w") as f:
        f.write(g + "\n" + '{"word": "x", "drawing": [[[')
        for _ in range(50):
            f.write("9" * 1_000_000)
        f.write("], [1]]]}\n" + g + "\n")
    cases.append(("ndjson 50M-digit integer", ["data", "info", str(d / "digits50m.ndjson")], "line limit"))
    with open(d / "longline.ndjson", "w") as f:
        f.write(g + "\n" + '{"word": "x", "drawing": [[[')
        f.write(",".join(["1"] * 25_000_000))
        f.write("], [1]]]}\n" + g + "\n")
    cases.append(("ndjson 50 MB line", ["data", "info", str(d / "longline.ndjson")], "line limit"))
    cases.append(("  same, --skip-bad", ["data", "info", "--skip-bad", str(d / "longline.ndjson")], "2 kept"))
    ndjson(d / "huge.ndjson", [json.dumps({"word": "x", "drawing": [[[1e308, -1e308, 0], [5, 6, 7]]]})])
    cases.append(("convert coords ~1e308 -> .npz", ["convert", str(d / "huge.ndjson"), "-o", str(d / "x.npz")], "refused"))
    cases.append(("render coords ~1e308 -> .png", ["render", str(d / "huge.ndjson"), "-o", str(d / "x.png")], "refused"))
    ndjson(d / "ok.ndjson", [g])
    cases.append(("render --size 100000", ["render", str(d / "ok.ndjson"), "-o", str(d / "y.png"), "--size", "100000"], ""))

    svg(d / "inf.svg", '<path d="M 0 0 L 1e400 5"/><path d="M 0 0 L 5 5"/>')
    cases.append(("SVG L 1e400 5", ["data", "info", str(d / "inf.svg")], ""))
    cases.append(("  same, --skip-bad", ["data", "info", "--skip-bad", str(d / "inf.svg")], "1 path kept"))
    svg(d / "scale.svg", '<g transform="scale(1e300)"><path d="M 0 0 L 1e10 5"/></g><path d="M 0 0 L 5 5"/>')
    cases.append(("SVG scale(1e300)", ["data", "info", str(d / "scale.svg")], ""))
    svg(d / "nested.svg", "<g>" * 5000 + '<path d="M 0 0 L 5 5"/>' + "</g>" * 5000 + '<path d="M 0 0 L 5 5"/>')
    cases.append(("SVG 5000 nested <g>", ["data", "info", str(d / "nested.svg")], ""))
    arcs = "".join(f'<path d="M 0 {i} A 1e6 1e6 0 1 1 1 {i}"/>' for i in range(2000))
    svg(d / "arcs.svg", arcs)
    cases.append(("SVG 2000 arcs (40 KB)", ["data", "info", str(d / "arcs.svg")], "file point limit"))
    cases.append(("  same, convert -> .npz", ["convert", str(d / "arcs.svg"), "-o", str(d / "arcs.npz")], ""))
    one = '<path d="' + " ".join(f"M 0 {i} A 1e6 1e6 0 1 1 1 {i}" for i in range(20000)) + '"/>'
    svg(d / "arcs400k.svg", one)
    cases.append(("SVG 20000 arcs in one path (400 KB)", ["data", "info", str(d / "arcs400k.svg")], "element limit"))

    (d / "empty").mkdir()
    cases.append(("convert empty folder", ["convert", str(d / "empty"), "-o", str(d / "e.ndjson")], ""))
    return cases


def run(cmd: list[str], timeout: float = 300.0) -> tuple[int, str, float, float]:
    """(exit code, last stderr/stdout line, peak RSS MB, seconds) of one CLI run."""
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(_cli() + cmd, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "OMP_NUM_THREADS": "1"})
        deadline = t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        secs = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        lines = [ln for ln in out.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    n_lines = len(lines)
    shown = lines[-1] if lines else ""
    if proc.returncode == 0:
        shown = next((ln for ln in lines if ln.startswith(("count", "wrote"))), shown)
    if n_lines > 1 and proc.returncode != 0:
        shown = f"[{n_lines} lines] " + shown
    return proc.returncode, shown, usage.ru_maxrss / 1024, secs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=Path, help="build the inputs here and keep them")
    ap.add_argument("--only", nargs="*", help="run only cases whose name contains one of these")
    ap.add_argument("--build", type=Path, help=argparse.SUPPRESS)  # child mode: build, print the cases as JSON
    args = ap.parse_args()
    if args.build is not None:
        print(json.dumps(build(args.build)))
        return
    d = args.keep or Path(tempfile.mkdtemp(prefix="sketchkit-bad-"))
    d.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        cases = json.loads(subprocess.run([sys.executable, __file__, "--build", str(d)], check=True,
                                          capture_output=True, text=True).stdout)
        print(f"built {len(cases)} cases in {time.perf_counter() - t0:.1f} s under {d}")
        print(f"{'case':<38} {'exit':>4} {'peak RSS':>9} {'time':>7}  outcome")
        for name, cmd, note in cases:
            if args.only and not any(o in name for o in args.only):
                continue
            code, line, rss, secs = run(cmd)
            line = line if len(line) <= 150 else line[:147] + "..."
            print(f"{name:<38} {code:>4} {rss:>6.0f} MB {secs:>6.2f}s  {line}" + (f"  [{note}]" if note else ""))
    finally:
        if args.keep is None:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
