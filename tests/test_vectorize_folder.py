"""sketchkit.vectorize.folder: many files from Python, as folder mode runs them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from sketchkit.errors import InputError
from sketchkit.vectorize.folder import FileOutcome, image_files, vectorize_files


def _lines(size: int = 96, shift: int = 0) -> np.ndarray:
    im = Image.new("L", (size, size), 255)
    d = ImageDraw.Draw(im)
    d.line([(10, 20 + shift), (85, 30 + shift)], fill=0, width=3)
    d.line([(20, 80), (70, 50 + shift)], fill=0, width=3)
    return np.asarray(im)


def _folder(tmp_path: Path, n: int = 5) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    for k in range(n):
        Image.fromarray(_lines(shift=k)).save(src / f"{k:02d}.png")
    (src / "notes.txt").write_text("not an image")
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return src


@pytest.mark.parametrize("jobs", [1, 2])
def test_outcomes_come_in_file_order_and_failures_do_not_stop_the_rest(tmp_path, jobs):
    files = image_files(_folder(tmp_path))
    assert [f.name for f in files] == ["00.png", "01.png", "02.png", "03.png", "04.png", "broken.png"]
    outcomes = [o for chunk in vectorize_files(files, tmp_path / "out", jobs=jobs) for o in chunk]
    assert all(isinstance(o, FileOutcome) for o in outcomes)
    assert [o.name for o in outcomes] == [f.name for f in files]
    assert [o.error is None for o in outcomes] == [True] * 5 + [False]
    assert "broken.png" in outcomes[-1].error and "\n" not in outcomes[-1].error
    for k in range(5):
        assert (tmp_path / "out" / f"{k:02d}.svg").read_text().count("<path") == 2
    assert not (tmp_path / "out" / "broken.svg").exists()


def test_bad_options_fail_at_once_before_any_work(tmp_path):
    files = image_files(_folder(tmp_path, 2))
    with pytest.raises(InputError, match="max_degree"):
        vectorize_files(files, tmp_path / "out", options={"max_degree": 0})
    with pytest.raises(InputError, match="format"):
        vectorize_files(files, tmp_path / "out", fmt="pdf")
    with pytest.raises(InputError, match="jobs"):
        vectorize_files(files, tmp_path / "out", jobs=0)
    assert not (tmp_path / "out").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no image files"):
        image_files(empty)


def test_closing_early_stops_the_run(tmp_path):
    files = image_files(_folder(tmp_path, 5))[:5]
    run = vectorize_files(files, tmp_path / "out", jobs=1)
    first = next(run)
    assert first[0].name == "00.png" and first[0].error is None
    run.close()  # the files not yet started are not written
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["00.svg"]


def test_json_output_and_a_loading_context(tmp_path, monkeypatch):
    from sketchkit.geometry import compiled
    from sketchkit.vectorize import folder

    if not compiled.available():
        pytest.skip("numba is not installed")
    monkeypatch.setattr(folder, "COMPILED_FROM_FILES", 2)
    shown = []

    class Spinner:
        def __init__(self, message):
            shown.append(message)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    files = image_files(_folder(tmp_path, 3))[:3]
    outcomes = [o for chunk in vectorize_files(files, tmp_path / "out", fmt="json", jobs=1, loading=Spinner)
                for o in chunk]
    assert [o.error for o in outcomes] == [None] * 3
    assert len(shown) == 1 and "compiled" in shown[0]
    assert compiled.active()
    assert (tmp_path / "out" / "00.json").read_text().startswith("{")
