"""vectorize refuses what is not a line drawing, validates its numeric options, and folder mode
survives a failing file or output (issue 9, part 5). No wall-clock assertions: the time and
memory per case are in scripts/bench_vectorize_bounds.py."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from sketchkit.cli.app import main
from sketchkit.errors import InputError
from sketchkit.geometry.skeleton import line_statistics, trace_paths
from sketchkit.vectorize import vectorize

EXAMPLES = Path(__file__).resolve().parents[1] / "sketchkit" / "examples"


def _noise(n: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, n)) * 255).astype(np.uint8)


def _blobs(n: int, sigma: float = 12.0) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    b = gaussian_filter(np.random.default_rng(1).random((n, n)), sigma)
    return ((b - b.min()) / np.ptp(b) * 255).astype(np.uint8)


def _lines(size: int = 96) -> np.ndarray:
    im = Image.new("L", (size, size), 255)
    d = ImageDraw.Draw(im)
    d.line([(10, 20), (85, 30)], fill=0, width=3)
    d.line([(20, 80), (70, 15)], fill=0, width=3)
    return np.asarray(im)


# -------------------------------------------------------------------- not line drawings: refused


def test_noise_is_refused_as_not_a_line_drawing(tmp_path):
    path = tmp_path / "noise.jpg"
    Image.fromarray(_noise(256)).save(path, quality=90)
    with pytest.raises(InputError, match=r"noise.jpg: .*ink.*does not look like a line drawing.*max_ink_fraction"):
        vectorize(path)
    # the next rule catches the texture when the ink rule is switched off
    with pytest.raises(InputError, match="junctions .*max_junction_density"):
        vectorize(path, max_ink_fraction=1.0)


def test_noise_refusal_through_the_cli_is_one_line_exit_2(tmp_path, capsys):
    Image.fromarray(_noise(256)).save(tmp_path / "noise.jpg", quality=90)
    assert main(["vectorize", str(tmp_path / "noise.jpg"), "-o", str(tmp_path / "n.svg")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "noise.jpg" in err and "line drawing" in err and "\n" not in err
    assert not (tmp_path / "n.svg").exists()


def test_speckle_is_refused_by_its_number_of_regions():
    # a high threshold leaves thousands of separate specks of noise (none blank, few junctions)
    with pytest.raises(InputError, match="separate ink regions .*max_components"):
        vectorize(_noise(512), threshold=0.7)


def test_smooth_blobs_and_near_blank_paper_are_refused():
    with pytest.raises(InputError, match="line drawing"):
        vectorize(_blobs(384))
    # white paper with faint grain: Otsu splits the grain in half, which is no drawing
    paper = (245 + np.random.default_rng(2).random((384, 384)) * 10).astype(np.uint8)
    paper[0, 0] = 200  # enough contrast not to count as blank
    with pytest.raises(InputError, match="line drawing"):
        vectorize(paper)


def test_a_filled_shape_is_refused_by_its_stroke_width():
    im = Image.new("L", (256, 256), 255)
    ImageDraw.Draw(im).ellipse([70, 70, 190, 190], fill=0)  # 17% ink: under the ink limit
    with pytest.raises(InputError, match="stroke width .*max_width_fraction"):
        vectorize(np.asarray(im))
    out = vectorize(np.asarray(im), max_width_fraction=1e3)  # switched off: traced as a dot or so
    assert out.meta["line_statistics"]["width_fraction"] > 0.25


def test_the_work_bound_names_its_option():
    with pytest.raises(InputError, match="px of centreline .*max_skeleton_pixels"):
        vectorize(EXAMPLES / "cat.png", max_skeleton_pixels=500)


def test_line_statistics_separate_lines_from_noise():
    from skimage.morphology import skeletonize

    lines = _lines() < 128
    noise = _noise(128) > 127
    a = line_statistics(lines, skeletonize(lines))
    b = line_statistics(noise, skeletonize(noise))
    assert a["junction_density"] < 0.3 < b["junction_density"]
    assert a["ink_fraction"] < 0.1 and 0.4 < b["ink_fraction"] < 0.6
    assert 2.0 <= a["mean_width"] <= 4.5
    assert a["components"] == 1 and b["components"] > 1


# -------------------------------------------------------------------- real line drawings still pass


@pytest.mark.parametrize("name", ["cat.png", "kmnist.png"])
def test_shipped_examples_still_vectorise(name):
    out = vectorize(EXAMPLES / name)
    assert out.num_curves > 0
    stats = out.meta["line_statistics"]
    assert stats["ink_fraction"] < 0.45 and stats["width_fraction"] < 0.25


def test_quickdraw_renders_pass_the_check():
    """Every rule passes on real doodles of every category (dense scribbles included), and a few
    vectorise end to end."""
    from skimage.morphology import skeletonize

    from sketchkit.geometry.raster import ink_mask
    from sketchkit.vectorize import options as vopts
    from tests.conftest import shared_path

    limits = {k: getattr(vopts, "DEFAULT_" + k.upper()) for k in vopts._LIMIT_NAMES}
    for category in ("apple", "bicycle", "bird", "cat", "face", "house", "pig", "sheep"):
        lines = shared_path("quickdraw", "simplified", f"{category}.ndjson").read_text().splitlines()[:25]
        for k, line in enumerate(lines):
            im = Image.new("L", (256, 256), 255)
            d = ImageDraw.Draw(im)
            for s in json.loads(line)["drawing"]:
                d.line(list(zip(s[0], s[1])), fill=0, width=3)
            mask = ink_mask(np.asarray(im))
            vopts._check_line_drawing(f"{category}:{k}", line_statistics(mask, skeletonize(mask)), limits, 1.0)
            if k < 1:
                assert vectorize(np.asarray(im)).num_curves > 0


# -------------------------------------------------------------------- numeric options


@pytest.mark.parametrize("option", ["stroke_width", "tolerance", "threshold", "refine", "max_degree", "max_strokes",
                                    "max_ink_fraction", "max_junction_density", "max_width_fraction",
                                    "max_components", "max_skeleton_pixels", "work_pixels", "max_pixels"])
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, -1, True])
def test_non_finite_negative_or_boolean_options_raise_a_clear_value_error(option, value):
    with pytest.raises(ValueError, match=f"^{option}: expected"):
        vectorize(_lines(), **{option: value})


def test_out_of_range_options_raise_and_good_ones_work():
    for bad in (dict(stroke_width=0), dict(threshold=1.0), dict(refine=2.5), dict(max_degree=8),
                dict(max_ink_fraction=1.5), dict(max_components=0), dict(stroke_width="inf")):
        with pytest.raises(InputError):
            vectorize(_lines(), **bad)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "no ink found" on a valid, fixed width
        out = vectorize(_lines(), stroke_width=3.0, tolerance=0.5, threshold=0.5, refine=np.int64(2))
    assert out.meta["stroke_width"] == 3.0 and out.num_curves >= 2


def test_cli_rejects_bad_numbers_with_one_line(tmp_path, capsys):
    Image.fromarray(_lines()).save(tmp_path / "x.png")
    for argv, word in ((["--stroke-width", "inf"], "stroke_width"), (["--tolerance", "nan"], "tolerance"),
                       (["--max-ink-fraction", "-1"], "max_ink_fraction"), (["--jobs", "0"], "--jobs")):
        capsys.readouterr()
        assert main(["vectorize", str(tmp_path / "x.png"), "-o", str(tmp_path / "x.svg"), *argv]) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and word in err and "\n" not in err, err


# -------------------------------------------------------------------- folder mode


def _folder(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    for stem in ("a", "b", "c", "d"):
        Image.fromarray(_lines()).save(src / f"{stem}.png")
    Image.fromarray(_noise(128)).save(src / "noise.png")
    return src


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_folder_mode_writes_every_other_file_and_names_the_failures(tmp_path, capsys, jobs):
    src = _folder(tmp_path)
    out = tmp_path / "out"
    (out / "b.svg").mkdir(parents=True)  # an output path that is a folder: b cannot be written
    (out / "b.svg" / "keep.txt").write_text("x")
    assert main(["vectorize", str(src), "-o", str(out), "--jobs", jobs, "--quiet"]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    summary = lines[-1]
    assert "3/5" in summary and "2 failed" in summary and "b.png" in summary and "noise.png" in summary, summary
    assert any(line.startswith("error: ") and "b.svg" in line for line in lines)
    assert any(line.startswith("error: ") and "noise.png" in line and "line drawing" in line for line in lines)
    for stem in ("a", "c", "d"):
        assert (out / f"{stem}.svg").read_text().count("<path") == 2
    assert (out / "b.svg" / "keep.txt").read_text() == "x"  # nothing of the user's was touched
    assert not (out / "noise.svg").exists()


@pytest.mark.parametrize("jobs,quiet", [("1", True), ("2", False)])
def test_folder_mode_switches_the_compiled_loops_on_from_enough_files(tmp_path, capsys, monkeypatch, jobs, quiet):
    from sketchkit.geometry import compiled
    from sketchkit.vectorize import folder

    if not compiled.available():
        pytest.skip("numba is not installed")
    src = _folder(tmp_path)
    (src / "noise.png").unlink()
    quiet_flag = ["--quiet"] if quiet else []
    assert main(["vectorize", str(src), "-o", str(tmp_path / "numpy"), "--jobs", jobs, *quiet_flag]) == 0
    assert not compiled.active()  # 4 files: under COMPILED_FROM_FILES
    monkeypatch.setattr(folder, "COMPILED_FROM_FILES", 4)
    assert main(["vectorize", str(src), "-o", str(tmp_path / "compiled"), "--jobs", jobs, *quiet_flag]) == 0
    assert compiled.active()  # switched on in this process, before any worker forked
    assert "4/4" in capsys.readouterr().err
    for stem in ("a", "b", "c", "d"):  # plain lines: no rounding tie, the same SVG either way
        assert (tmp_path / "compiled" / f"{stem}.svg").read_text() == (tmp_path / "numpy" / f"{stem}.svg").read_text()


def test_single_file_output_that_is_a_folder_is_a_one_line_error(tmp_path, capsys):
    Image.fromarray(_lines()).save(tmp_path / "x.png")
    (tmp_path / "x.svg").mkdir()
    assert main(["vectorize", str(tmp_path / "x.png"), "-o", str(tmp_path / "x.svg")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "x.svg" in err and "\n" not in err, err


# -------------------------------------------------------------------- the skeleton graph stays linear


def test_a_junction_with_too_many_ends_pairs_none_of_them():
    # 20 rays from one centre: no pen stroke crosses 20 others at one point
    im = Image.new("L", (200, 200), 0)
    d = ImageDraw.Draw(im)
    for k in range(20):
        a = 2 * math.pi * k / 20
        d.line([(100, 100), (100 + 90 * math.cos(a), 100 + 90 * math.sin(a))], fill=255, width=1)
    from skimage.morphology import skeletonize

    skel = skeletonize(np.asarray(im) > 127)
    assert len(trace_paths(skel, width=1.0)) >= 20
    paired = trace_paths(skel, width=1.0, max_junction_ends=64)  # the old, quadratic pairing
    assert len(paired) < len(trace_paths(skel, width=1.0))


def test_a_dead_worker_fails_its_files_not_the_run():
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    from sketchkit.vectorize.folder import _outcomes

    f: Future = Future()
    f.set_exception(BrokenProcessPool("a child process terminated abruptly"))
    chunk = [(Path(f"in/{n}.png"), Path(f"out/{n}.svg"), "svg", {}, None) for n in ("x", "y")]
    results = _outcomes(f, chunk)
    assert [r.name for r in results] == ["x.png", "y.png"]
    for r in results:
        assert r.name in r.error and "worker process failed" in r.error and r.warnings == []


def test_folder_jobs_go_in_chunks_that_still_spread_over_the_workers():
    from sketchkit.vectorize.folder import _chunks

    for n, jobs in ((1, 2), (5, 2), (31, 2), (1000, 2), (1000, 16), (3, 8)):
        work = list(range(n))
        chunks = _chunks(work, jobs)
        assert [j for c in chunks for j in c] == work  # every job once, in order
        assert max(map(len, chunks)) <= 8
        assert len(chunks) >= min(n, 16 * jobs)  # enough chunks to keep every worker busy to the end
