"""Data benchmarks for shards and streaming training (CPU).

    python scripts/bench_data.py formats [--data ../shared/data/quickdraw/excerpts]
    python scripts/bench_data.py memory  [--data ../shared/data/quickdraw/excerpts] [--base 1000] [--scales 1,10,100]
    python scripts/bench_data.py loader  SHARDS [--batch-size 32]

``formats``: shard encodings compared on the same sketches: tar + one JSON per sample (what
``sketchkit data shard`` writes), tar + one ``.npz`` per sample, and gzip-compressed tar + JSON.
Size on disk, write time, sequential read rate (bytes -> Sketch), and random access (one
sample by position in a shard, as a resumed stream or a validation reader needs).

``memory``: the real drawings of ``--data`` (first ``--base`` of them) replicated 1x, 10x, 100x
(each copy is the same drawings with ``meta["copy"]`` set) into shard folders; for each size,
``sketchkit train bezier`` on the shard folder (streaming) and on the same tar files listed one by
one (in memory): peak RSS of the process (``resource.getrusage`` of the child), wall time to the
first step (a 1-step run) and steps/s of a ``--steps`` run.

``loader``: sketches/s the streaming loader delivers (no model) against the sketches/s a
training run consumes.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sketchkit.data import read  # noqa: E402
from sketchkit.data.shards import decode_sketch, encode_sketch, write_shards  # noqa: E402
from sketchkit.sketch import Sketch  # noqa: E402


def _npz_encode(sk: Sketch) -> bytes:
    arrays = {f"s{i}": s for i, s in enumerate(sk.strokes)}
    if sk.times is not None:
        arrays.update({f"t{i}": t for i, t in enumerate(sk.times)})
    arrays["meta"] = np.frombuffer(json.dumps({"label": sk.label, "meta": sk.meta}).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _npz_decode(data: bytes) -> Sketch:
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        n = sum(1 for k in z.files if k.startswith("s"))
        strokes = [z[f"s{i}"] for i in range(n)]
        times = [z[f"t{i}"] for i in range(n)] if "t0" in z.files else None
        extra = json.loads(bytes(z["meta"]).decode())
    return Sketch(strokes, times=times, label=extra["label"], meta=extra["meta"])


def _write_tar(path: Path, sketches, encode, ext: str, mode: str) -> float:
    t0 = time.perf_counter()
    with tarfile.open(path, mode, format=tarfile.USTAR_FORMAT) as tf:
        for i, sk in enumerate(sketches):
            data = encode(sk)
            info = tarfile.TarInfo(f"{i:09d}.{ext}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return time.perf_counter() - t0


def _read_tar(path: Path, decode, mode: str) -> int:
    n = 0
    with tarfile.open(path, mode) as tf:
        for m in tf:
            decode(tf.extractfile(m).read())
            n += 1
    return n


def _random_access(path: Path, decode, mode: str, positions) -> float:
    """Seconds per sample fetched by position (header walk to it, then decode), fresh open each time."""
    t0 = time.perf_counter()
    for pos in positions:
        with tarfile.open(path, mode) as tf:
            for k, m in enumerate(tf):
                if k == pos:
                    decode(tf.extractfile(m).read())
                    break
    return (time.perf_counter() - t0) / len(positions)


def bench_formats(args) -> dict:
    sketches = list(read(args.data, limit=args.limit))
    out = Path(args.work) / "formats"
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    positions = rng.integers(0, len(sketches), 20).tolist()
    variants = {"tar+json": (encode_sketch, decode_sketch, "json", "w", "r:"),
                "tar+npz": (_npz_encode, _npz_decode, "npz", "w", "r:"),
                "tar.gz+json": (encode_sketch, decode_sketch, "json", "w:gz", "r:gz")}
    results = {"sketches": len(sketches), "data": str(args.data)}
    for name, (enc, dec, ext, wmode, rmode) in variants.items():
        path = out / f"one.{name.replace('+', '_')}"
        write_s = _write_tar(path, sketches, enc, ext, wmode)
        t0 = time.perf_counter()
        n = _read_tar(path, dec, rmode)
        read_s = time.perf_counter() - t0
        results[name] = {
            "bytes": path.stat().st_size, "bytes_per_sketch": round(path.stat().st_size / n, 1),
            "write_sketches_per_s": round(n / write_s), "read_sketches_per_s": round(n / read_s),
            "random_access_ms": round(1000 * _random_access(path, dec, rmode, positions), 2),
        }
        print(name, results[name], flush=True)
    return results


def _replicated(base: list, copies: int):
    for c in range(copies):
        for sk in base:
            yield Sketch(sk.strokes, times=sk.times, label=sk.label, meta={**sk.meta, "copy": c})


TRAIN_SETTINGS = ["--set", "train.batch_size=32", "--set", "train.val_every=0", "--set", "train.num_samples=0",
                  "--set", "train.checkpoint_every=0", "--set", "model.embed_hidden=32", "--set", "model.enc_hidden=32",
                  "--set", "model.dec_hidden=64", "--quiet", "--device", "cpu"]


def _run_train(data_args: list[str], out: Path, steps: int) -> dict:
    """One `sketchkit train bezier` child: wall time and its peak RSS (MiB)."""
    cmd = [sys.executable, "-m", "sketchkit.cli.app", "train", "bezier", *data_args, "--out", str(out),
           "--set", f"train.stage_steps=embedder:{steps},generator:0", *TRAIN_SETTINGS]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # max over children so far (KiB)
    return {"wall_s": round(wall, 2), "peak_rss_mib": round(peak / 1024, 1), "rss_is_new_max": peak > before}


def _peak_rss_of(cmd_args: list[str], out: Path, steps: int) -> dict:
    """Run through /usr/bin/time -v when present (per-child peak), else getrusage."""
    if Path("/usr/bin/time").exists():
        cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "sketchkit.cli.app", "train", "bezier", *cmd_args,
               "--out", str(out), "--set", f"train.stage_steps=embedder:{steps},generator:0", *TRAIN_SETTINGS]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-3000:])
        rss = next(int(line.split()[-1]) for line in proc.stderr.splitlines() if "Maximum resident" in line)
        return {"wall_s": round(wall, 2), "peak_rss_mib": round(rss / 1024, 1)}
    return _run_train(cmd_args, out, steps)


def bench_memory(args) -> dict:
    import shutil

    base = list(read(args.data, limit=args.base))
    work = Path(args.work) / "memory"
    results: dict = {"base_sketches": len(base), "data": str(args.data), "steps": args.steps, "sizes": {}}
    for scale in [int(s) for s in args.scales.split(",")]:
        shards = work / f"x{scale}"
        if not (shards / "manifest.json").is_file():
            shutil.rmtree(shards, ignore_errors=True)
            t0 = time.perf_counter()
            write_shards(_replicated(base, scale), shards, shard_size=args.shard_size, val_size=0)
            print(f"x{scale}: sharded {len(base) * scale} sketches in {time.perf_counter() - t0:.1f}s", flush=True)
        tars = [str(p) for p in sorted(shards.glob("shard-*.tar"))]
        row = {"sketches": len(base) * scale, "disk_mib": round(sum(Path(t).stat().st_size for t in tars) / 2**20, 1)}
        for name, data_args in (("stream", ["--data", str(shards)]),
                                ("in_memory", ["--data", *tars, "--val-fraction", "0"])):
            if args.only and name != args.only:
                continue
            runs = work / "runs"
            shutil.rmtree(runs, ignore_errors=True)
            first = _peak_rss_of(data_args, runs / "first", 1)
            full = _peak_rss_of(data_args, runs / "full", args.steps)
            metrics = [json.loads(line) for line in (runs / "full" / "metrics.jsonl").read_text().splitlines()]
            rates = [m["steps_per_s"] for m in metrics if m.get("type") == "train"]
            row[name] = {"startup_to_first_step_s": first["wall_s"], "peak_rss_mib": full["peak_rss_mib"],
                         "wall_s": full["wall_s"], "steps_per_s": round(float(np.median(rates)), 2) if rates else None}
            print(f"x{scale} {name}: {row[name]}", flush=True)
        results["sizes"][f"x{scale}"] = row
    return results


def bench_loader(args) -> dict:
    from sketchkit.train.stream import ShardStream

    stream = ShardStream(args.shards)
    it = stream.batches(seed=0, stage_index=0, start_step=0, rank=0, world=1, batch_size=args.batch_size,
                        buffer=args.buffer, workers=args.workers)
    t0 = time.perf_counter()
    n = 0
    for _ in range(args.steps):
        n += len(next(it))
    it.close()
    rate = n / (time.perf_counter() - t0)
    res = {"sketches_per_s": round(rate), "batch_size": args.batch_size, "workers": args.workers}
    print(res)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    f = sub.add_parser("formats")
    f.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "quickdraw" / "excerpts"))
    f.add_argument("--limit", type=int, default=None)
    m = sub.add_parser("memory")
    m.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "quickdraw" / "excerpts"))
    m.add_argument("--base", type=int, default=1000)
    m.add_argument("--scales", default="1,10,100")
    m.add_argument("--steps", type=int, default=200)
    m.add_argument("--shard-size", type=int, default=5000)
    m.add_argument("--only", choices=["stream", "in_memory"], help="measure only this path")
    ld = sub.add_parser("loader")
    ld.add_argument("shards")
    ld.add_argument("--batch-size", type=int, default=32)
    ld.add_argument("--steps", type=int, default=200)
    ld.add_argument("--buffer", type=int, default=1024)
    ld.add_argument("--workers", type=int, default=0)
    for p in (f, m, ld):
        p.add_argument("--work", default="/tmp/sketchkit_bench_data")
        p.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    res = {"formats": bench_formats, "memory": bench_memory, "loader": bench_loader}[args.what](args)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
